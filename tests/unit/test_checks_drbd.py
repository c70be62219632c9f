"""The 06-drbd checks on gathered output: each fails with findings that name the resource or
file, the node, what was expected and what was found (never an assert dump), passes on a
healthy cluster, and a fact that cannot be read still fails the check with its output."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from runbook import checking
from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.drbd import (
    DRBD_CONF,
    LAB_MAGIC,
    PROC_DRBD,
    cfg_text,
    drbdadm_cstate,
    drbdadm_pair,
    meta_slot,
)
from runbook.facts.system import MISSING
from runbook.facts.xen import XM_LIST
from runbook.findings import Finding, FindingFailed
from runbook.inventory import ClusterInventory, DrbdResource, NodeSettings
from runbook.remote import CommandResult
from runbook.tasks.drbd import conf_text
from tests.unit.test_facts import XM_OK, check_module, result

DRBD = check_module("test_06_drbd")

Answer = str | CommandResult  # stdout of an exit 0, or the whole result


def facts_of(per_host: dict[str, dict[Fact[Any], Answer]]) -> Gathered:
    return Gathered(facts={host: HostFacts(host, {
        f.name: a if isinstance(a, CommandResult) else result(f.command, a, host=host)
        for f, a in answers.items()}) for host, answers in per_host.items()})


def missing(fact: Fact[Any], host: str) -> CommandResult:
    """The answer of a file or device that does not exist (file_content's exit 3)."""
    return result(fact.command, rc=MISSING, host=host)


def failed_with(check: Any, *args: Any) -> list[Finding]:
    checking.begin_evidence()
    with pytest.raises(FindingFailed) as failed:
        check(*args)
    return list(failed.value.findings)


def evidence_hosts() -> set[str]:
    return {r.host for r in checking.collected_evidence()}


def proc(*minors: str) -> str:
    """/proc/drbd of DRBD 8.0 (Ubuntu 8.04) with these minor lines."""
    return ("version: 8.0.11 (api:86/proto:86)\n"
            "GIT-hash: b3fe2bdfd3b9f7c2f923186883eb9e2a0d3a5b1b build by phil@mescal, "
            "2008-02-12 11:56:43\n" + "".join(f" {line}\n" for line in minors))


def resource(cluster: ClusterInventory, name: str) -> DrbdResource:
    drbd = cluster.nodes["ha1"].drbd
    assert drbd is not None
    return next(r for r in drbd.resources if r.name == name)


def node(cluster: ClusterInventory, name: str) -> NodeSettings:
    return cluster.nodes[name]


# -- connection and disk state --------------------------------------------------------------


WF_CONNECTION = "1: cs:WFConnection st:Secondary/Unknown ds:UpToDate/DUnknown C r---"
CONNECTED = "1: cs:Connected st:Secondary/Primary ds:UpToDate/UpToDate C r---"


def test_a_resource_waiting_for_its_peer(cluster: ClusterInventory) -> None:
    disk = resource(cluster, "test-disk")
    gathered = facts_of({"ha2": {drbdadm_cstate("test-disk"): "WFConnection\n",
                                 PROC_DRBD: proc(WF_CONNECTION)}})
    (found,) = failed_with(DRBD.test_connected, node(cluster, "ha2"), disk, gathered)
    assert found == Finding("test-disk", "cs Connected", "WFConnection", "ha2",
                            note="/proc/drbd: cs:WFConnection ro:Secondary/Unknown "
                                 "ds:UpToDate/DUnknown")
    assert found.sentence().startswith(
        "test-disk on ha2: expected cs Connected, found WFConnection; /proc/drbd: ")
    assert {r.command for r in checking.collected_evidence()} == {
        drbdadm_cstate("test-disk").command, PROC_DRBD.command}
    DRBD.test_connected(node(cluster, "ha2"), disk, facts_of({"ha2": {
        drbdadm_cstate("test-disk"): "Connected\n", PROC_DRBD: proc(CONNECTED)}}))


def test_drbdadm_and_proc_drbd_disagreeing_name_both(cluster: ClusterInventory) -> None:
    gathered = facts_of({"ha1": {drbdadm_cstate("test-disk"): "Connected\n",
                                 PROC_DRBD: proc(WF_CONNECTION.replace("WFConnection",
                                                                       "StandAlone"))}})
    (found,) = failed_with(DRBD.test_connected, node(cluster, "ha1"),
                           resource(cluster, "test-disk"), gathered)
    assert (found.node, found.expected, found.found) == (
        "ha1", "cs Connected", "Connected (drbdadm), StandAlone (/proc/drbd)")


def test_no_drbd_module_and_a_missing_minor(cluster: ClusterInventory) -> None:
    swap = resource(cluster, "test-swap")
    unloaded = facts_of({"ha1": {drbdadm_cstate("test-swap"): "Unconfigured\n",
                                 PROC_DRBD: missing(PROC_DRBD, "ha1")}})
    assert failed_with(DRBD.test_connected, node(cluster, "ha1"), swap, unloaded) == [
        Finding("/proc/drbd", "the file", "no such file", "ha1",
                note="the drbd module is not loaded"),
        Finding("test-swap", "cs Connected", "Unconfigured", "ha1")]
    # drbdadm says Connected, yet /proc/drbd has no line for the minor: still a failure
    no_minor = facts_of({"ha1": {drbdadm_cstate("test-swap"): "Connected\n",
                                 PROC_DRBD: proc(CONNECTED)}})
    assert failed_with(DRBD.test_connected, node(cluster, "ha1"), swap, no_minor) == [
        Finding("/proc/drbd", "a line for /dev/drbd2 (test-swap)", "none (minors: 1)", "ha1",
                key="minor 2")]


def test_a_diskless_disk(cluster: ClusterInventory) -> None:
    line = "1: cs:Connected st:Secondary/Primary ds:Diskless/UpToDate C r---"
    gathered = facts_of({"ha2": {drbdadm_pair("dstate", "test-disk"): "Diskless/UpToDate\n",
                                 PROC_DRBD: proc(line)}})
    assert failed_with(DRBD.test_up_to_date, node(cluster, "ha2"),
                       resource(cluster, "test-disk"), gathered) == [
        Finding("test-disk", "ds UpToDate/UpToDate", "Diskless/UpToDate", "ha2",
                note="/proc/drbd: cs:Connected ro:Secondary/Primary ds:Diskless/UpToDate")]


def test_an_inconsistent_disk_shows_the_resync(cluster: ClusterInventory) -> None:
    lines = ("1: cs:SyncTarget st:Secondary/Primary ds:Inconsistent/UpToDate C r---",
             "   ns:0 nr:917504 dw:917504 dr:0 al:0 bm:56 lo:0 pe:0 ua:0 ap:0",
             "\t[================>...] sync'ed: 87.5% (131072/1048576)K",
             "\tfinish: 0:00:12 speed: 10,240 (10,000) K/sec")
    gathered = facts_of({"ha2": {drbdadm_pair("dstate", "test-disk"): "Inconsistent/UpToDate\n",
                                 PROC_DRBD: proc(*lines)}})
    (found,) = failed_with(DRBD.test_up_to_date, node(cluster, "ha2"),
                           resource(cluster, "test-disk"), gathered)
    assert (found.subject, found.node, found.expected, found.found) == (
        "test-disk", "ha2", "ds UpToDate/UpToDate", "Inconsistent/UpToDate")
    assert found.note == ("/proc/drbd: cs:SyncTarget ro:Secondary/Primary "
                          "ds:Inconsistent/UpToDate, resync 87.5% done, finish 0:00:12")
    healthy = facts_of({"ha2": {drbdadm_pair("dstate", "test-disk"): "UpToDate/UpToDate\n",
                                PROC_DRBD: proc(CONNECTED)}})
    DRBD.test_up_to_date(node(cluster, "ha2"), resource(cluster, "test-disk"), healthy)


def test_a_failed_drbdadm_fails_with_its_output(cluster: ClusterInventory) -> None:
    fact = drbdadm_cstate("test-disk")
    broken = result(fact.command, rc=10, stderr="Command 'drbdsetup /dev/drbd1 cstate' "
                    "terminated with exit code 10\n", host="ha1")
    gathered = facts_of({"ha1": {fact: broken, PROC_DRBD: proc(CONNECTED)}})
    checking.begin_evidence()
    with pytest.raises(pytest.fail.Exception, match="exited 10: Command 'drbdsetup"):
        DRBD.test_connected(node(cluster, "ha1"), resource(cluster, "test-disk"), gathered)
    assert broken in checking.collected_evidence()


# -- roles where the DomU runs ------------------------------------------------------------------


XM_NO_DOMU = "".join(XM_OK.splitlines(True)[:2])  # Domain-0 only


def roles(ha1: str, ha2: str, xm_ha1: Answer = XM_OK, xm_ha2: Answer = XM_NO_DOMU,
          ) -> Gathered:
    role = drbdadm_pair("role", "test-disk")
    return facts_of({"ha1": {XM_LIST: xm_ha1, role: ha1, PROC_DRBD: proc(CONNECTED)},
                     "ha2": {XM_LIST: xm_ha2, role: ha2, PROC_DRBD: proc(CONNECTED)}})


def test_roles_that_disagree_with_where_the_domu_runs(cluster: ClusterInventory) -> None:
    disk = resource(cluster, "test-disk")
    gathered = roles("Secondary/Primary\n", "Primary/Secondary\n")  # test runs on ha1
    assert failed_with(DRBD.test_roles_follow_the_domu, node(cluster, "ha1"), disk,
                       cluster, gathered) == [
        Finding("test-disk", "ro Primary/Secondary", "Secondary/Primary", "ha1",
                note="DomU test runs on ha1; /proc/drbd: cs:Connected ro:Secondary/Primary "
                     "ds:UpToDate/UpToDate")]
    assert evidence_hosts() == {"ha1", "ha2"}  # where the DomU runs is read on both
    (peer,) = failed_with(DRBD.test_roles_follow_the_domu, node(cluster, "ha2"), disk,
                          cluster, gathered)
    assert (peer.node, peer.expected, peer.found) == ("ha2", "ro Secondary/Primary",
                                                      "Primary/Secondary")
    right = roles("Primary/Secondary\n", "Secondary/Primary\n")
    for name in ("ha1", "ha2"):
        DRBD.test_roles_follow_the_domu(node(cluster, name), disk, cluster, right)


def test_a_primary_left_behind_by_a_stopped_domu(cluster: ClusterInventory) -> None:
    gathered = roles("Primary/Secondary\n", "Secondary/Primary\n", xm_ha1=XM_NO_DOMU)
    (found,) = failed_with(DRBD.test_roles_follow_the_domu, node(cluster, "ha1"),
                           resource(cluster, "test-disk"), cluster, gathered)
    assert (found.expected, found.found) == ("ro Secondary/Secondary", "Primary/Secondary")
    assert found.note.startswith("DomU test runs on no node; ")


def test_roles_fail_when_xm_list_fails_on_the_peer(cluster: ClusterInventory) -> None:
    broken = result("xm list", rc=1, stderr="Error: Unable to connect to xend\n", host="ha2")
    gathered = roles("Primary/Secondary\n", "Secondary/Primary\n", xm_ha2=broken)
    checking.begin_evidence()
    with pytest.raises(pytest.fail.Exception, match="`xm list` exited 1"):
        DRBD.test_roles_follow_the_domu(node(cluster, "ha1"), resource(cluster, "test-disk"),
                                        cluster, gathered)
    assert broken in checking.collected_evidence()


# -- drbd.conf ----------------------------------------------------------------------------------


def conf(cluster: ClusterInventory) -> str:
    drbd = cluster.nodes["ha1"].drbd
    assert drbd is not None
    return conf_text(cluster, drbd)


def short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16] + "…"


def test_drbd_conf_differing_between_the_nodes(cluster: ClusterInventory) -> None:
    rendered = conf(cluster)
    edited = rendered.replace("rate 90M;", "rate 10M;")
    assert edited != rendered
    line = rendered.splitlines().index(next(x for x in rendered.splitlines() if "rate 90M" in x))
    gathered = facts_of({"ha1": {DRBD_CONF: rendered}, "ha2": {DRBD_CONF: edited}})
    (found,) = failed_with(DRBD.test_drbd_conf_identical_on_both_nodes, cluster, gathered)
    assert (found.subject, found.node, found.expected, found.found) == (
        "/etc/drbd.conf", "ha2", f"SHA-256 {short(rendered)} (as on ha1)",
        f"SHA-256 {short(edited)}")
    assert found.note == (f'line {line + 1}: ha1 has "syncer {{ rate 90M; }}", '
                          f'ha2 has "syncer {{ rate 10M; }}"')
    assert evidence_hosts() == {"ha1", "ha2"}  # both files are the check's evidence
    same = facts_of({"ha1": {DRBD_CONF: rendered}, "ha2": {DRBD_CONF: rendered}})
    DRBD.test_drbd_conf_identical_on_both_nodes(cluster, same)


def test_drbd_conf_missing_on_one_node_or_both(cluster: ClusterInventory) -> None:
    one = facts_of({"ha1": {DRBD_CONF: conf(cluster)},
                    "ha2": {DRBD_CONF: missing(DRBD_CONF, "ha2")}})
    assert failed_with(DRBD.test_drbd_conf_identical_on_both_nodes, cluster, one) == [
        Finding("/etc/drbd.conf", "the file (as on ha1)", "no such file", "ha2")]
    none = facts_of({h: {DRBD_CONF: missing(DRBD_CONF, h)} for h in ("ha1", "ha2")})
    assert failed_with(DRBD.test_drbd_conf_identical_on_both_nodes, cluster, none) == [
        Finding("/etc/drbd.conf", "the file", "no such file", h) for h in ("ha1", "ha2")]


def test_drbd_conf_edited_by_hand(cluster: ClusterInventory) -> None:
    rendered = conf(cluster)
    edited = rendered.replace("    allow-two-primaries;", "    # allow-two-primaries;")
    gathered = facts_of({"ha2": {DRBD_CONF: edited}})
    (found,) = failed_with(DRBD.test_drbd_conf_as_in_the_inventory, node(cluster, "ha2"),
                           cluster, gathered)
    assert (found.subject, found.node, found.expected, found.found) == (
        "/etc/drbd.conf", "ha2", f"SHA-256 {short(rendered)} (as the inventory renders it)",
        f"SHA-256 {short(edited)}")
    assert found.note.startswith("edited by hand or stale: line ")
    lines = [n + 1 for n, x in enumerate(rendered.splitlines()) if "allow-two-primaries" in x]
    assert len(lines) == 2  # one per resource
    hunk = ('the inventory renders "allow-two-primaries;", ha2 has "# allow-two-primaries;  '
            '# 07-migration: a live migration needs Primary…"')
    assert found.note == (f"edited by hand or stale: line {lines[0]}: {hunk}; "
                          f"line {lines[1]}: {hunk}")
    DRBD.test_drbd_conf_as_in_the_inventory(node(cluster, "ha2"), cluster,
                                            facts_of({"ha2": {DRBD_CONF: rendered}}))
    absent = facts_of({"ha2": {DRBD_CONF: missing(DRBD_CONF, "ha2")}})
    assert failed_with(DRBD.test_drbd_conf_as_in_the_inventory, node(cluster, "ha2"), cluster,
                       absent) == [Finding("/etc/drbd.conf", "the file 06-drbd writes",
                                           "no such file", "ha2")]


def test_differences_in_one_line() -> None:
    old = "a\nb\nc\nd\n"
    assert DRBD.differences(old, "a\nB\nc\nd\n", "ha1 has", "ha2 has") == (
        'line 2: ha1 has "b", ha2 has "B"')
    assert DRBD.differences(old, "a\nc\nd\n", "ha1 has", "ha2 has") == 'line 2: only ha1 has "b"'
    assert DRBD.differences(old, "new\nand\na\nb\nc\nd\n", "x", "ha2 has") == (
        'at the top: only ha2 has "new" (+1 lines)')
    assert DRBD.differences(old, "a\n  b\nc\nd", "ha1 has", "ha2 has") == (
        "line 2: whitespace differs")
    assert DRBD.differences("a\n", "a", "ha1 has", "ha2 has") == "line endings differ"
    assert DRBD.differences("x;  # one\n", "x;  # two\n", "ha1 has", "ha2 has") == (
        'line 1: ha1 has "x;  # one", ha2 has "x;  # two"')  # only the comment differs
    many = DRBD.differences(old, "A\nb\nC\nd\ne\nf\n", "ha1 has", "ha2 has", limit=2)
    assert many == 'line 1: ha1 has "a", ha2 has "A"; line 3: ha1 has "c", ha2 has "C"; and 1 more'
    secret = DRBD.differences("net {\n}\n", "net {\n  shared-secret s3cr3t;\n}\n", "a has",
                              "ha2 has")
    assert secret == 'after line 1: only ha2 has "shared-secret (hidden)"'


# -- meta data and the DomU cfg -----------------------------------------------------------------


META = "/dev/vg/meta"


def od(head: bytes) -> str:
    """``od -An -tx1 -v -N 64`` of the first 64 bytes."""
    data = head.ljust(64, b"\0")
    return "".join(" " + " ".join(f"{b:02x}" for b in data[i:i + 16]) + "\n"
                   for i in range(0, 64, 16))


def test_meta_data_missing_at_the_index(cluster: ClusterInventory) -> None:
    swap = resource(cluster, "test-swap")
    slot = meta_slot(META, swap.meta_index)
    assert swap.meta_index == 1
    gathered = facts_of({"ha2": {slot: od(b"")}})
    assert failed_with(DRBD.test_meta_data_on_the_meta_lv, node(cluster, "ha2"), swap,
                       gathered) == [
        Finding("/dev/vg/meta[1]", "DRBD meta data of test-swap", "none", "ha2",
                note="no DRBD magic at 128 MiB: `drbdadm create-md test-swap` has not run "
                     "here, or was overwritten")]
    no_lv = facts_of({"ha2": {slot: result(slot.command, rc=MISSING, host="ha2")}})
    assert failed_with(DRBD.test_meta_data_on_the_meta_lv, node(cluster, "ha2"), swap,
                       no_lv) == [Finding(META, "the meta LV", "no such device", "ha2")]
    DRBD.test_meta_data_on_the_meta_lv(node(cluster, "ha2"), swap,
                                       facts_of({"ha2": {slot: od(LAB_MAGIC)}}))
    drbd8 = bytes(60) + bytes.fromhex("8374026b")
    DRBD.test_meta_data_on_the_meta_lv(node(cluster, "ha2"), swap,
                                       facts_of({"ha2": {slot: od(drbd8)}}))


def domu_cfg(*disks: str) -> str:
    return f"name = 'test'\nmemory = 384\ndisk = {list(disks)!r}\n"


def test_a_cfg_with_a_phy_disk_left(cluster: ClusterInventory) -> None:
    (domu,) = cluster.domus
    text = domu_cfg("phy:/dev/vg/test-disk,sda2,w", "drbd:test-swap,sda1,w")
    gathered = facts_of({"ha1": {cfg_text(domu): text}})
    assert failed_with(DRBD.test_domu_cfg_uses_drbd, node(cluster, "ha1"), domu, gathered) == [
        Finding("/etc/xen/test.cfg", "drbd:test-disk", "phy:/dev/vg/test-disk", "ha1",
                key="disk", note="its writes bypass DRBD: the peer's copy goes stale")]
    both = domu_cfg("drbd:test-disk,sda2,w", "drbd:test-swap,sda1,w", "phy:/dev/vg/test-swap,sdb,w")
    assert failed_with(DRBD.test_domu_cfg_uses_drbd, node(cluster, "ha1"), domu,
                       facts_of({"ha1": {cfg_text(domu): both}})) == [
        Finding("/etc/xen/test.cfg", "drbd:test-swap only",
                "drbd:test-swap and phy:/dev/vg/test-swap", "ha1", key="disk",
                note="its writes bypass DRBD: the peer's copy goes stale")]
    DRBD.test_domu_cfg_uses_drbd(node(cluster, "ha1"), domu, facts_of({"ha1": {cfg_text(domu): (
        domu_cfg("drbd:test-disk,sda2,w", "drbd:test-swap,sda1,w"))}}))


def test_a_cfg_without_the_disk_or_no_cfg(cluster: ClusterInventory) -> None:
    (domu,) = cluster.domus
    only_disk = facts_of({"ha2": {cfg_text(domu): domu_cfg("drbd:test-disk,sda2,w")}})
    assert failed_with(DRBD.test_domu_cfg_uses_drbd, node(cluster, "ha2"), domu, only_disk) == [
        Finding("/etc/xen/test.cfg", "drbd:test-swap",
                "no disk of test-swap (disks: drbd:test-disk)", "ha2", key="disk")]
    absent = facts_of({"ha2": {cfg_text(domu): missing(cfg_text(domu), "ha2")}})
    assert failed_with(DRBD.test_domu_cfg_uses_drbd, node(cluster, "ha2"), domu, absent) == [
        Finding("/etc/xen/test.cfg", "the file", "no such file", "ha2")]
