"""06-drbd's plans and refusals as tables: node state in, actions or a refusal out.

The states are those of the cases the runbook meets: fresh (nothing yet), half-done (an
earlier run stopped midway), done, peer ahead (the peer holds the data), one node down.
"""

from __future__ import annotations

import struct
from typing import TypeVar

import pytest
from nornir.core import Nornir

from runbook.engine import Refused, Runbook, RunbookRun, StepFailed, discover
from runbook.facts import Fact, FactFailed, FactUnparsable
from runbook.facts.domu import Placement
from runbook.facts.drbd import PROC_DRBD, MetaSlot, drbdadm_cstate, drbdadm_pair, meta_slot
from runbook.inventory import ClusterInventory, DomU, DrbdResource, DrbdSettings
from runbook.parsers.drbd import DrbdDevice, ProcDrbd, SyncProgress
from runbook.plan import WriteFile
from runbook.remote import CommandResult
from runbook.tasks.domu import CreateLV
from runbook.tasks.drbd import (
    CreateMetaData,
    Demote,
    DrbdBootTest,
    ForcePrimary,
    StartDrbd,
    WaitForPeer,
    WaitForSync,
    conf_text,
    device_of,
    drbd_cfg,
    home_of_domus,
    in_sync,
    plan_boot,
    plan_cfg,
    plan_cfg_copy,
    plan_conf,
    plan_create_md,
    plan_initial_sync,
    plan_meta_lv,
    plan_start,
    plan_wait,
    progress_text,
    sync_bound_s,
)
from tests.unit.fakenode import FakeNode

T = TypeVar("T")
META = "/dev/vg/meta"
XEN_TOOLS_CFG = """kernel      = '/boot/vmlinuz-2.6.24-19-xen'
memory      = '384'
root        = '/dev/sda2 ro'
disk        = [
                  'phy:/dev/vg/test-swap,sda1,w',
                  'phy:/dev/vg/test-disk,sda2,w',
              ]
name        = 'test'
"""
DRBD_CFG = XEN_TOOLS_CFG.replace("'phy:/dev/vg/test-swap,", "'drbd:test-swap,").replace(
    "'phy:/dev/vg/test-disk,", "'drbd:test-disk,")


@pytest.fixture
def drbd(cluster: ClusterInventory) -> DrbdSettings:
    settings = cluster.nodes["ha1"].drbd
    assert settings is not None
    return settings


@pytest.fixture
def domu(cluster: ClusterInventory) -> DomU:
    (only,) = cluster.domus
    return only


@pytest.fixture
def disk(drbd: DrbdSettings) -> DrbdResource:
    return drbd.resource("test-disk")


def dev(cstate: str = "Connected", roles: str = "Secondary/Secondary",
        disks: str = "Inconsistent/Inconsistent", minor: int = 1,
        sync: SyncProgress | None = None) -> DrbdDevice:
    role, peer_role = roles.split("/")
    disk, peer_disk = disks.split("/")
    return DrbdDevice(minor, cstate, role, peer_role, disk, peer_disk, "C", sync=sync)


def proc(*devices: DrbdDevice) -> ProcDrbd:
    return ProcDrbd("8.3.7", "88", "86-91", {d.minor: d for d in devices})


SYNCED = dev(disks="UpToDate/UpToDate")


# inventory -> resources and drbd.conf ---------------------------------------------------
def test_resources_follow_the_guide(drbd: DrbdSettings) -> None:
    assert [(r.name, r.device, r.meta_index, r.port) for r in drbd.resources] == [
        ("test-disk", "/dev/drbd1", 0, 7788), ("test-swap", "/dev/drbd2", 1, 7789)]


def test_conf_is_the_same_whichever_node_renders_it(cluster: ClusterInventory,
                                                     drbd: DrbdSettings) -> None:
    text = conf_text(cluster, drbd)
    assert text == conf_text(cluster, cluster.nodes["ha2"].drbd or drbd)
    for line in ("usage-count yes;", "syncer { rate 90M; }", "after-sb-1pri consensus;",
                 "allow-two-primaries;", "on ha1.domain.local {", "address 10.0.0.2:7789;",
                 "meta-disk /dev/vg/meta[1];", "device /dev/drbd2;", "disk /dev/vg/test-swap;"):
        assert line in text


@pytest.mark.parametrize(("case", "current", "running", "lines"), [
    ("fresh", None, False, ["write /etc/drbd.conf"]),
    ("done", "WANTED", True, []),
    ("changed while DRBD runs", "OLD", True, ["write /etc/drbd.conf",
                                             "run: drbdadm adjust all"]),
    ("changed, DRBD not started", "OLD", False, ["write /etc/drbd.conf"]),
])
def test_conf(case: str, current: str | None, running: bool, lines: list[str]) -> None:
    plan = plan_conf(current, "WANTED", running)
    assert [line.split(" (")[0] for line in plan.describe()] == lines


def test_home_of_domus(cluster: ClusterInventory) -> None:
    assert home_of_domus(cluster) == "ha1"
    with pytest.raises(ValueError, match="no single home node"):
        home_of_domus(ClusterInventory(cluster.folder, "", cluster.nodes, {}, domus=()))


# meta LV ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "lvs", "holds", "outcome"), [
    ("fresh", {}, {}, "create"),
    ("before lvm2 (dry run)", None, {}, "create"),
    ("done", {"meta": 256.0}, {}, "meta already exists (256 MiB)"),
    ("larger is fine", {"meta": 1024.0}, {}, "already exists (1024 MiB)"),
    ("too small", {"meta": 128.0}, {}, Refused("too small for 2 resources")),
    ("holds a filesystem", {"meta": 256.0}, {"TYPE": "ext3"}, Refused("holds a ext3 signature")),
])
def test_meta_lv(drbd: DrbdSettings, case: str, lvs: dict[str, float] | None,
                 holds: dict[str, str], outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_meta_lv(drbd, "vg", lvs, holds)
        return
    plan = plan_meta_lv(drbd, "vg", lvs, holds)
    if outcome == "create":
        assert plan.actions == (CreateLV("meta", "vg", 256.0),)
        assert plan.describe() == ["run: lvcreate -L 256m -n meta vg"]
    else:
        assert not plan and outcome.split(" ", 1)[1] in plan.notes[0]


# create-md --------------------------------------------------------------------------------
EMPTY, OURS = MetaSlot(True, ""), MetaSlot(True, "DRBD 8 meta data")


@pytest.mark.parametrize(("case", "slot", "device", "ours", "forced", "outcome"), [
    ("fresh", EMPTY, None, False, False, "drbdadm create-md test-disk"),
    ("done by this tool", OURS, None, True, False, "already present"),
    ("attached (running)", OURS, SYNCED, False, False, "in use"),
    ("foreign meta data", OURS, None, False, False, Refused("did not create")),
    ("foreign, forced host", OURS, None, False, True, "drbdadm -- --force create-md test-disk"),
    ("marker but no meta data (LV made again)", EMPTY, None, True, False,
     "drbdadm create-md test-disk"),
    ("no meta LV in a real run", MetaSlot(False, ""), None, False, False,
     StepFailed("does not exist")),
])
def test_create_md(disk: DrbdResource, case: str, slot: MetaSlot, device: DrbdDevice | None,
                   ours: bool, forced: bool, outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_create_md(disk, META, slot, device, ours, forced, "")
        return
    plan = plan_create_md(disk, META, slot, device, ours, forced, "")
    if outcome.startswith("drbdadm"):
        (action,) = plan.actions
        assert isinstance(action, CreateMetaData) and action.command == outcome
    else:
        assert not plan and outcome in plan.notes[0]


def test_create_md_predicted_before_the_meta_lv(disk: DrbdResource) -> None:
    plan = plan_create_md(disk, META, MetaSlot(False, ""), None, False, False, "predicted: x")
    assert plan.describe() == ["run: drbdadm create-md test-disk", "predicted: x"]


# start ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "state", "outcome"), [
    ("fresh: module not loaded", None, "start"),
    ("half-done: one resource down", proc(dev(disks="Inconsistent/Inconsistent")), "start"),
    ("standalone", proc(dev("StandAlone", disks="UpToDate/DUnknown"),
                        dev(minor=2)), "start"),
    ("done", proc(SYNCED, dev(minor=2, disks="UpToDate/UpToDate")), "connected"),
    ("syncing counts as connected", proc(dev("SyncSource", "Primary/Secondary",
                                             "UpToDate/Inconsistent"), dev(minor=2)),
     "connected"),
    ("up, the peer not yet", proc(
        dev("WFConnection", "Secondary/Unknown", "UpToDate/DUnknown"), dev(minor=2)), "wait"),
])
def test_start(drbd: DrbdSettings, case: str, state: ProcDrbd | None,
               outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_start(drbd.resources, state, 120)
        return
    plan = plan_start(drbd.resources, state, 120)
    if outcome == "start":
        assert plan.actions == (StartDrbd(drbd.resources, 120),)
        assert plan.describe() == ["run: /etc/init.d/drbd start"]
    elif outcome == "wait":
        assert plan.actions == (WaitForPeer(drbd.resources, 120.0),)
    else:
        assert not plan and outcome in plan.notes[0]


# initial sync -----------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "here", "device", "forced_at", "image", "outcome"), [
    ("fresh pair on the home node", "ha1", dev(), None, True, "force"),
    ("not the home node", "ha2", dev(), None, True, Refused("ha2 is not the home of test")),
    ("done", "ha1", SYNCED, "2026-11-26", True, "initial sync done"),
    ("running from here", "ha1", dev("SyncSource", "Primary/Secondary", "UpToDate/Inconsistent",
                                     sync=SyncProgress(42.5, 1000, 2000)), "2026-11-26", True,
     "running from here, 42.5%"),
    ("peer ahead: it holds UpToDate data", "ha1", dev(disks="Inconsistent/UpToDate"), None,
     True, Refused("the peer already holds UpToDate data")),
    ("peer ahead: syncing to here", "ha1", dev("SyncTarget", disks="Inconsistent/UpToDate"),
     None, True, Refused("the peer already holds UpToDate data")),
    ("a second time", "ha1", dev(), "2026-11-26 12:00:00 UTC", True,
     Refused("already forced here \\(2026-11-26 12:00:00 UTC\\)")),
    ("one node down", "ha1", dev("WFConnection", "Secondary/Unknown",
                                 "Inconsistent/DUnknown"), None, True,
     Refused("is WFConnection .* needs the peer connected")),
    ("no image here", "ha1", dev(), None, False, Refused("image was not made on this node")),
    ("not configured in a real run", "ha1", None, None, True, StepFailed("not configured")),
])
def test_initial_sync(disk: DrbdResource, domu: DomU, case: str, here: str,
                      device: DrbdDevice | None, forced_at: str | None, image: bool,
                      outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_initial_sync(disk, domu, here, device, forced_at, image, "")
        return
    plan = plan_initial_sync(disk, domu, here, device, forced_at, image, "")
    if outcome == "force":
        assert plan.actions == (ForcePrimary(disk),)
        assert plan.describe() == ["run: drbdsetup /dev/drbd1 primary -o"]
    else:
        assert not plan and outcome in plan.notes[0]


def test_initial_sync_is_predicted_in_a_dry_run_on_fresh_nodes(disk: DrbdResource,
                                                               domu: DomU) -> None:
    plan = plan_initial_sync(disk, domu, "ha1", None, None, False, "predicted (x): y")
    assert plan.describe() == ["run: drbdsetup /dev/drbd1 primary -o", "predicted (x): y"]


# wait for the sync ------------------------------------------------------------------------
def test_wait_and_demote(drbd: DrbdSettings) -> None:
    syncing = proc(dev("SyncSource", "Primary/Secondary", "UpToDate/Inconsistent"),
                   dev(minor=2, roles="Primary/Secondary", disks="UpToDate/UpToDate"))
    plan = plan_wait(drbd.resources, syncing, 100.0, frozenset(), "")
    assert plan.actions == (WaitForSync(drbd.resources, 100.0), Demote(drbd.resources[0]),
                            Demote(drbd.resources[1]))
    assert plan.describe()[1:] == ["run: drbdadm secondary test-disk",
                                   "run: drbdadm secondary test-swap"]


@pytest.mark.parametrize(("case", "state", "running", "actions"), [
    ("done, stopped", proc(SYNCED, dev(minor=2, disks="UpToDate/UpToDate")), frozenset(), 0),
    ("done, the DomU runs here: stays Primary", proc(
        dev(roles="Primary/Secondary", disks="UpToDate/UpToDate"),
        dev(minor=2, roles="Primary/Secondary", disks="UpToDate/UpToDate")),
     frozenset({"test"}), 0),
    ("peer side of a sync", proc(dev("SyncTarget", disks="Inconsistent/UpToDate"),
                                 dev(minor=2, disks="UpToDate/UpToDate")), frozenset(), 1),
])
def test_wait(drbd: DrbdSettings, case: str, state: ProcDrbd, running: frozenset[str],
              actions: int) -> None:
    assert len(plan_wait(drbd.resources, state, 100.0, running, "").actions) == actions


def test_sync_bound_and_progress(drbd: DrbdSettings, domu: DomU) -> None:
    # 5 GiB + 384 MiB at 90 MiB/s, three times, and a minute
    assert sync_bound_s(drbd, [domu]) == pytest.approx(60 + 3 * 5504 / 90)
    state = proc(dev("SyncSource", "Primary/Secondary", "UpToDate/Inconsistent",
                     sync=SyncProgress(12.5, 917504, 1048576, "0:01:23", 10240)),
                 dev(minor=2, disks="UpToDate/UpToDate"))
    assert progress_text(state, drbd.resources) == (
        "syncing: test-disk 12.5% (896 MiB left, finish 0:01:23)")


# the cfg ----------------------------------------------------------------------------------
def test_cfg_disks_become_drbd(drbd: DrbdSettings) -> None:
    assert drbd_cfg(XEN_TOOLS_CFG, "vg", drbd.resources) == DRBD_CFG
    assert drbd_cfg(DRBD_CFG, "vg", drbd.resources) == DRBD_CFG
    mapper = XEN_TOOLS_CFG.replace("/dev/vg/test-disk", "/dev/mapper/vg-test--disk")
    assert drbd_cfg(mapper, "vg", drbd.resources) == DRBD_CFG


@pytest.mark.parametrize(("case", "text", "runs", "outcome"), [
    ("xen-tools' cfg", XEN_TOOLS_CFG, False, "write"),
    ("done", DRBD_CFG, False, "already uses drbd"),
    ("done, running on DRBD", DRBD_CFG, True, "already uses drbd"),
    ("running on its LVs", XEN_TOOLS_CFG, True, Refused("runs here on its LVs directly")),
    ("a disk missing", XEN_TOOLS_CFG.replace("'phy:/dev/vg/test-swap,sda1,w',", ""), False,
     StepFailed("no phy: or drbd: disk for test-swap")),
    ("no cfg in a real run", None, False, StepFailed("does not exist here")),
])
def test_cfg(drbd: DrbdSettings, domu: DomU, case: str, text: str | None, runs: bool,
             outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_cfg(domu, text, "vg", drbd.resources, runs, "")
        return
    plan = plan_cfg(domu, text, "vg", drbd.resources, runs, "")
    if outcome == "write":
        (action,) = plan.actions
        assert isinstance(action, WriteFile) and action.content == DRBD_CFG
        assert "-                  'phy:/dev/vg/test-disk,sda2,w',\n" in plan.diff
        assert "+                  'drbd:test-disk,sda2,w',\n" in plan.diff
    else:
        assert not plan and outcome in plan.notes[0]


@pytest.mark.parametrize(("case", "home", "here", "outcome"), [
    ("fresh peer", DRBD_CFG, None, "write"),
    ("done", DRBD_CFG, DRBD_CFG, "copy"),
    ("a stale copy", DRBD_CFG, XEN_TOOLS_CFG, "write"),
    ("home still on phy:", XEN_TOOLS_CFG, None, Refused("would boot this node's own, stale")),
])
def test_cfg_copy(drbd: DrbdSettings, domu: DomU, case: str, home: str, here: str | None,
                  outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_cfg_copy(domu, home, here, drbd.resources, "")
        return
    plan = plan_cfg_copy(domu, home, here, drbd.resources, "")
    if outcome == "write":
        assert plan.actions == (WriteFile("/etc/xen/test.cfg", DRBD_CFG, plan.diff),)
    else:
        assert not plan and outcome in plan.notes[0]


# boot tests -------------------------------------------------------------------------------
NOWHERE = Placement.empty()
RUNS = Placement(frozenset({"test"}), {}, frozenset({"test"}))
BOTH_SYNCED = proc(SYNCED, dev(minor=2, disks="UpToDate/UpToDate"))


@pytest.mark.parametrize(("case", "passed", "here", "peer", "state", "outcome"), [
    ("ready", False, NOWHERE, NOWHERE, BOTH_SYNCED, "boot"),
    ("done", True, NOWHERE, RUNS, None, "already passed"),
    ("runs on the peer", False, NOWHERE, RUNS, BOTH_SYNCED, Refused("is running on ha2")),
    ("runs here", False, RUNS, NOWHERE, BOTH_SYNCED, Refused("already running here")),
    ("peer unknown (one node down)", False, NOWHERE, None, BOTH_SYNCED,
     Refused("cannot tell whether test runs on ha2")),
    ("not connected", False, NOWHERE, NOWHERE, proc(
        dev("WFConnection", "Secondary/Unknown", "UpToDate/DUnknown"),
        dev(minor=2, disks="UpToDate/UpToDate")),
     Refused("must be Connected and UpToDate/UpToDate here: test-disk WFConnection")),
    ("still syncing", False, NOWHERE, NOWHERE, proc(
        dev("SyncTarget", disks="Inconsistent/UpToDate"), dev(minor=2, disks="UpToDate/UpToDate")),
     Refused("test-disk SyncTarget")),
])
def test_boot(drbd: DrbdSettings, domu: DomU, case: str, passed: bool, here: Placement,
              peer: Placement | None, state: ProcDrbd | None, outcome: str | Exception) -> None:
    if isinstance(outcome, Exception):
        with pytest.raises(type(outcome), match=str(outcome)):
            plan_boot(domu, drbd.resources, passed, here, peer, "ha2", state, "")
        return
    plan = plan_boot(domu, drbd.resources, passed, here, peer, "ha2", state, "")
    if outcome == "boot":
        assert plan.actions == (DrbdBootTest(domu, drbd.resources),)
    else:
        assert not plan and outcome in plan.notes[0]


# the whole runbook on fake nodes ----------------------------------------------------------
def drbd_runbook() -> Runbook:
    return next(rb for rb in discover() if rb.id == "06-drbd")


def test_runbook_on_built_nodes_then_again_without_a_change(
        nr: Nornir, fake_nodes: dict[str, FakeNode], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in fake_nodes:
        fake_nodes[name] = FakeNode.built(name)
        if name == "ha1":
            fake_nodes[name].files["/etc/xen/test.cfg"] = XEN_TOOLS_CFG
        nr.inventory.hosts[name].connections["netmiko"].connection.responder = fake_nodes[name]
    fake_nodes["ha1"].peer, fake_nodes["ha2"].peer = fake_nodes["ha2"], fake_nodes["ha1"]
    monkeypatch.setattr("runbook.tasks.drbd.POLL_S", 0.0)
    runbook = drbd_runbook()
    first = RunbookRun(nr).run(runbook)
    assert not [r for r in first if r.status == "failed"], [
        (r.host, r.step, r.message) for r in first if r.status == "failed"]
    by = {(r.host, r.step): r for r in first}
    assert by["ha1", "initial-sync"].status == "changed"
    assert by["ha2", "initial-sync"].status == "waited"
    assert "drbdsetup /dev/drbd1 primary -o" in fake_nodes["ha1"].log
    assert not [c for c in fake_nodes["ha2"].log if "primary" in c]
    assert fake_nodes["ha2"].files["/etc/xen/test.cfg"] == DRBD_CFG
    assert fake_nodes["ha1"].files["/etc/drbd.conf"] == fake_nodes["ha2"].files["/etc/drbd.conf"]
    logged = {n: len(f.log) for n, f in fake_nodes.items()}
    second = RunbookRun(nr).run(runbook)
    assert {r.status for r in second} == {"ok", "waited"}, [
        (r.host, r.step, r.status, r.message) for r in second if r.status not in ("ok", "waited")]
    assert {n: len(f.log) for n, f in fake_nodes.items()} == logged


def test_one_node_down_fails_the_cluster_steps_on_both(
        nr: Nornir, cluster: ClusterInventory, fake_nodes: dict[str, FakeNode]) -> None:
    for name in fake_nodes:
        fake_nodes[name] = FakeNode.built(name)
        nr.inventory.hosts[name].connections["netmiko"].connection.responder = fake_nodes[name]
    runner = RunbookRun(nr)
    runner.exclude("ha2", "failed at 05-domu · first-boot")
    rows = runner.run(drbd_runbook())
    conf = {r.host: r for r in rows if r.step == "drbd-conf"}
    assert conf["ha1"].status == conf["ha2"].status == "failed"
    assert "ha2 failed at 05-domu · first-boot" in conf["ha1"].message
    assert "drbd.conf must be the same on both nodes" in conf["ha1"].message
    assert fake_nodes["ha1"].log == ["install drbd8-utils", "lvcreate -L 256m -n meta vg"]
    after = [r.status for r in rows if r.host == "ha1"][3:]  # nothing runs after drbd-conf
    assert set(after) == {"skipped"}, after


# facts on captured output -----------------------------------------------------------------
def answer(fact: Fact[T], stdout: str, status: int = 0) -> T:
    return fact.value(CommandResult("ha1", fact.command, stdout, "", status, 0.0))


def od(data: bytes) -> str:
    """What `od -An -tx1 -v -N 64` prints: 16 bytes a line, each with a leading blank."""
    return "".join(" " + " ".join(f"{b:02x}" for b in data[i:i + 16]) + "\n"
                   for i in range(0, len(data), 16))


# drbdmeta's md_on_disk_08 of a fresh 64 MiB device: la_size, 4 UUIDs, device UUID, reserved,
# flags, then the magic 0x8374026b at byte 60 (big-endian), then md_size_sect...
REAL_SUPERBLOCK = (struct.pack(">Q", 131072) + struct.pack(">4Q", 4, 0, 0, 0)
                   + struct.pack(">QQ", 0x1A2B3C4D5E6F7081, 0) + struct.pack(">I", 0)
                   + bytes.fromhex("8374026b") + struct.pack(">I", 262144))[:64]


@pytest.mark.parametrize(("case", "stdout", "status", "present", "kind"), [
    ("DRBD 8.3's superblock", od(REAL_SUPERBLOCK), 0, True, "DRBD 8 meta data"),
    ("8.4 left unclean", od(REAL_SUPERBLOCK[:60] + bytes.fromhex("8374026c")), 0, True,
     "DRBD 8.4 meta data (unclean)"),
    ("the lab's drbdmeta", od(b"DRBD-LAB-META v08\n{\"disk\": \"UpToDate\"".ljust(64, b"\0")),
     0, True, "DRBD 8 meta data (lab)"),
    ("zeros (a fresh LV)", od(bytes(64)), 0, False, ""),
    ("an ext3 LV's first bytes", od(bytes(56) + b"\x53\xef" + bytes(6)), 0, False, ""),
    ("beyond the end of the LV: dd reads nothing", "", 0, False, ""),
    ("no meta LV", "", 3, False, ""),
])
def test_meta_slot(case: str, stdout: str, status: int, present: bool, kind: str) -> None:
    slot = answer(meta_slot("/dev/vg/meta", 1), stdout, status)
    assert (slot.present, slot.kind, slot.device_exists) == (present, kind, status == 0)
    assert "skip=32768 count=1" in meta_slot("/dev/vg/meta", 1).command


def test_meta_slot_refuses_what_is_not_od_output() -> None:
    with pytest.raises(FactUnparsable):
        answer(meta_slot("/dev/vg/meta", 0), "dd: reading `/dev/vg/meta': Input/output error\n")


@pytest.mark.parametrize(("fact", "stdout", "value"), [
    (drbdadm_pair("role", "test-disk"), "Primary/Secondary\n", ("Primary", "Secondary")),
    (drbdadm_pair("dstate", "test-disk"), "UpToDate/DUnknown\n", ("UpToDate", "DUnknown")),
    (drbdadm_pair("role", "test-disk"), "Unconfigured\n", ("Unconfigured", "Unknown")),
    (drbdadm_cstate("test-swap"), "WFConnection\n", "WFConnection"),
])
def test_drbdadm_queries(fact: Fact[object], stdout: str, value: object) -> None:
    assert answer(fact, stdout) == value


def test_a_failed_drbdadm_query_fails_the_fact() -> None:
    fact = drbdadm_cstate("test-disk")
    with pytest.raises(FactFailed, match="exited 20"):
        answer(fact, "", 20)
    with pytest.raises(FactUnparsable):
        answer(fact, "Connected\nConnected\n")


PROC_83 = """version: 8.3.7 (api:88/proto:86-91)
GIT-hash: ea9e28dbff98e331a62bcbcc63a6135808fe2917 build by root@ha1, 2010-01-13 16:24:00
 1: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r----
    ns:22784 nr:0 dw:0 dr:22784 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:42752
\t[=====>..............] sync'ed: 34.8% (42752/65536)K
\tfinish: 0:02:40 speed: 256 (252) K/sec
 2: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r----
    ns:32768 nr:0 dw:0 dr:32768 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0
"""


def test_proc_drbd_fact_and_progress(drbd: DrbdSettings) -> None:
    assert answer(PROC_DRBD, "", 3) is None  # the module is not loaded
    state = answer(PROC_DRBD, PROC_83)
    assert state is not None and device_of(state, drbd.resources[1]) is not None
    assert progress_text(state, drbd.resources) == (
        "syncing: test-disk 34.8% (41 MiB left, finish 0:02:40)")
    assert not in_sync(device_of(state, drbd.resources[0]))
    assert in_sync(device_of(state, drbd.resources[1]))
