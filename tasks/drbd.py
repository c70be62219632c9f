"""The guide's "Install and configure DRBD", "Configure DomU to use your DRBD device" and
"Configure DomU on your other Dom0 node".

Every plan reads the node's DRBD state from /proc/drbd (and markers this tool leaves in
/var/lib/runbook), never from what an earlier step said it did. What the dangerous
commands need, each plan checks first and refuses otherwise:

- ``drbdsetup /dev/drbdN primary -o`` (the initial sync) makes this node's data the truth
  and overwrites the peer's: only on the DomU's home node, which holds its image, only
  while both disks are Inconsistent and connected, and only once;
- ``drbdadm create-md`` over meta data that this tool did not write, only on a forced host;
- ``xm create`` only when the DomU runs nowhere else and its resources are Connected and
  UpToDate/UpToDate here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runbook import remote
from runbook.engine import Refused, StepFailed
from runbook.facts import Fact
from runbook.facts.domu import Placement, cfg_path
from runbook.facts.drbd import (
    CONF_PATH,
    DRBD_CONF,
    PROC_DRBD,
    MetaSlot,
    boot_marker,
    boot_marker_path,
    cfg_text,
    md_marker,
    md_marker_path,
    meta_slot,
    sync_marker,
    sync_marker_path,
)
from runbook.facts.lvm import LVS, lv_sizes, signature
from runbook.facts.packages import missing, packages
from runbook.facts.xen import XM_LIST
from runbook.inventory import (
    ClusterInventory,
    DomU,
    DrbdResource,
    DrbdSettings,
    size_to_mib,
)
from runbook.inventory.drbd import META_INDEX_MIB
from runbook.parsers.drbd import DrbdDevice, ProcDrbd
from runbook.parsers.xen import running
from runbook.plan import (
    NodeChanger,
    NodeReader,
    Plan,
    RunCommand,
    plan_of,
    planned,
    required,
    write_file,
)
from runbook.tasks.domu import (
    BOOT_WAIT_S,
    CreateLV,
    read_placement,
    refuse_a_second_start,
    shut_down_after_failure,
    wait_for_domain,
    wait_for_ping,
)
from runbook.tasks.files import render
from runbook.tasks.packages import plan_packages

PACKAGE = "drbd8-utils"
INIT = "/etc/init.d/drbd"
# While one of these, a resource is connected to its peer (a resync included).
LINKED = frozenset({"Connected", "SyncSource", "SyncTarget", "StartingSyncS", "StartingSyncT",
                    "WFBitMapS", "WFBitMapT", "WFSyncUUID", "PausedSyncS", "PausedSyncT",
                    "VerifyS", "VerifyT"})
POLL_S = 1.0
DEMOTE_WAIT_S = 20.0
# After the init script returns: its wait ends once no resource is WFConnection, and a
# resource may still be handshaking (WFReportParams) for a moment.
CONNECT_GRACE_S = 30.0


def drbd_settings(node: NodeReader) -> DrbdSettings:
    return required(node.settings.drbd, "drbd")


def vg_of(node: NodeReader) -> str:
    return required(node.settings.lvm, "lvm").vg


def meta_device(drbd: DrbdSettings, vg: str) -> str:
    return f"/dev/{vg}/{drbd.meta_lv}"


def home_of_domus(cluster: ClusterInventory) -> str:
    """The node the initial sync is forced on: the home of the DomUs (OneNode's chooser)."""
    homes = sorted({d.home for d in cluster.domus})
    if len(homes) != 1:
        raise ValueError("the DomUs have no single home node "
                         f"({', '.join(homes) or 'no DomU'}); force each resource by hand")
    return homes[0]


def device_of(proc: ProcDrbd | None, res: DrbdResource) -> DrbdDevice | None:
    """The resource's minor in /proc/drbd; None when the module or the minor is not there."""
    if proc is None:
        return None
    found = proc.devices.get(res.minor)
    return found if found is not None and found.configured else None


def state_words(dev: DrbdDevice | None) -> str:
    if dev is None:
        return "not configured"
    return f"{dev.cstate} {dev.role}/{dev.peer_role} {dev.disk}/{dev.peer_disk}"


def in_sync(dev: DrbdDevice | None) -> bool:
    return (dev is not None and dev.cstate == "Connected"
            and (dev.disk, dev.peer_disk) == ("UpToDate", "UpToDate"))


def mark(path: str, text: str = "") -> str:
    """The command that leaves a marker of what this tool did."""
    return (f"mkdir -p /var/lib/runbook && printf '%s\\n' {remote.quote(text)} > "
            f"{remote.quote(path)}")


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- drbd8-utils -------------------------------------------------------------------------
def utils(node: NodeReader) -> Plan:
    """apt-get install drbd8-utils."""
    return plan_packages(node, [PACKAGE])


# -- the meta LV -------------------------------------------------------------------------
def plan_meta_lv(drbd: DrbdSettings, vg: str, lvs: dict[str, float] | None,
                 holds: dict[str, str]) -> Plan:
    """lvcreate the meta LV; never touches one that exists (it may hold data).

    ``lvs`` None: lvm2 is not installed (a dry run before 03-lvm). ``holds``: blkid's tags.
    """
    name, dev = drbd.meta_lv, meta_device(drbd, vg)
    need = META_INDEX_MIB * len(drbd.resources)
    have = (lvs or {}).get(name)
    if have is None:
        return plan_of([CreateLV(name, vg, float(drbd.meta_size_mib))])
    if holds.get("TYPE"):
        raise Refused(f"{dev} holds a {holds['TYPE']} signature: it is not DRBD meta data. "
                      "Name another LV in data.drbd.meta_lv, or move that data away first")
    if have < need:
        raise Refused(f"{dev} has {have:g} MiB, too small for {len(drbd.resources)} resources "
                      f"({need} MiB); not resizing an LV that may hold data")
    return plan_of(notes=[f"{dev} already exists ({have:g} MiB)"])


def meta_lv(node: NodeReader) -> Plan:
    drbd, vg = drbd_settings(node), vg_of(node)
    dev = meta_device(drbd, vg)
    facts = node.facts(packages(["lvm2"]), LVS, signature(dev))
    predictions = []
    if missing(facts.get(packages(["lvm2"])), ["lvm2"]):
        predictions.append(node.unmet("lvm2 is not installed", f"no LV exists, so no {dev}"))
        lvs = None
    else:
        lvs = lv_sizes(facts.get(LVS), vg)
    return plan_meta_lv(drbd, vg, lvs, facts.get(signature(dev))) + plan_of(
        predictions=predictions)


# -- /etc/drbd.conf ----------------------------------------------------------------------
def conf_text(cluster: ClusterInventory, drbd: DrbdSettings) -> str:
    """drbd.conf from the template: the same text whichever node renders it."""
    resources = []
    for res in drbd.resources:
        nodes = []
        for node in cluster.nodes.values():
            assert node.lvm is not None, "the drbd section implies lvm"
            nodes.append({"fqdn": node.fqdn, "disk": f"/dev/{node.lvm.vg}/{res.lv}",
                          "address": str(node.crossover.address),
                          "meta_disk": meta_device(drbd, node.lvm.vg)})
        resources.append({"name": res.name, "device": res.device, "port": res.port,
                          "meta_index": res.meta_index, "nodes": nodes})
    return render("drbd.conf.j2", drbd=drbd, resources=resources)


def plan_conf(current: str | None, wanted: str, running: bool) -> Plan:
    """Write drbd.conf; while DRBD runs, `drbdadm adjust all` makes it take the change."""
    write = write_file(CONF_PATH, current, wanted)
    adjust = [RunCommand("drbdadm adjust all", "applied it: drbdadm adjust all")]
    return plan_of([*write, *(adjust if write and running else [])],
                   notes=[f"{CONF_PATH} already as in the inventory"])


def conf(node: NodeReader) -> Plan:
    """/etc/drbd.conf, rendered from the inventory, so identical on both nodes."""
    wanted = conf_text(node.context.cluster, drbd_settings(node))
    facts = node.facts(DRBD_CONF, PROC_DRBD)
    return plan_conf(facts.get(DRBD_CONF), wanted, facts.get(PROC_DRBD) is not None)


# -- create-md ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CreateMetaData:
    """drbdadm create-md RES (``-- --force`` on a forced host), then read the meta LV back."""

    res: DrbdResource
    meta: str  # the meta LV's device
    force: bool = False

    @property
    def command(self) -> str:
        force = ("--", "--force") if self.force else ()
        return remote.quote("drbdadm", *force, "create-md", self.res.name)

    def describe(self) -> str:
        return f"run: {self.command}"

    def apply(self, node: NodeChanger) -> str:
        # A RETURN for drbdadm's usage dialog; never the 'yes' that overwrites meta data.
        node.change(self.command, stdin="\n", timeout=120)
        slot = node.fact(meta_slot(self.meta, self.res.meta_index))
        if not slot.present:
            raise StepFailed(f"create-md {self.res.name} ran but {self.meta}"
                             f"[{self.res.meta_index}] holds no meta data")
        node.change(mark(md_marker_path(self.res.name), now_utc()))
        forced = "FORCED: overwrote the meta data there; " if self.force else ""
        return f"{forced}{self.res.name}: meta data created on {self.meta}[{self.res.meta_index}]"


def plan_create_md(res: DrbdResource, meta: str, slot: MetaSlot, dev: DrbdDevice | None,
                   ours: bool, forced: bool, prediction: str) -> Plan:
    """create-md for one resource; refuses meta data this tool did not write unless forced.

    ``dev``: the resource as /proc/drbd shows it; ``ours``: this tool's create-md marker;
    ``prediction``: set in a dry run made before the meta LV exists (the plan goes on).
    """
    where = f"{meta}[{res.meta_index}]"
    if dev is not None and dev.disk != "Diskless":
        return plan_of(notes=[f"{res.name}: meta data in use (attached, {dev.disk})"])
    if prediction:
        return plan_of([CreateMetaData(res, meta)], predictions=[prediction])
    if not slot.device_exists:
        raise StepFailed(f"{meta} does not exist (the meta-lv step makes it)")
    if slot.present and ours:
        return plan_of(notes=[f"{res.name}: meta data already present on {where}"])
    if slot.present and not forced:
        raise Refused(f"{where} already holds {slot.kind} that this tool did not create "
                      f"(another resource's, or an earlier cluster's): create-md would destroy "
                      "it. If that is really intended, force this host (--force HOST)")
    return plan_of([CreateMetaData(res, meta, force=slot.present)])


def create_md(node: NodeReader) -> Plan:
    drbd, vg = drbd_settings(node), vg_of(node)
    meta = meta_device(drbd, vg)
    wanted: list[Fact[Any]] = [PROC_DRBD, *(meta_slot(meta, r.meta_index) for r in drbd.resources),
              *(md_marker(r.name) for r in drbd.resources)]
    facts = node.facts(*wanted)
    proc = facts.get(PROC_DRBD)
    forced = node.name in node.context.forced
    plan = plan_of()
    for res in drbd.resources:
        slot = facts.get(meta_slot(meta, res.meta_index))
        prediction = ""
        if not slot.device_exists:
            prediction = node.unmet(f"{meta} does not exist", f"the meta-lv step creates it "
                                    f"and {res.name}'s index holds no meta data")
        plan += plan_create_md(res, meta, slot, device_of(proc, res),
                               facts.get(md_marker(res.name)), forced, prediction)
    return plan


# -- start DRBD --------------------------------------------------------------------------
@dataclass(frozen=True)
class StartDrbd:
    """/etc/init.d/drbd start (it waits up to wfc-timeout for the peer); then every
    resource must be connected."""

    resources: tuple[DrbdResource, ...]
    wfc_timeout: int

    def describe(self) -> str:
        return f"run: {INIT} start"

    def apply(self, node: NodeChanger) -> str:
        node.note(f"{INIT} start (waits up to {self.wfc_timeout} s for the peer)")
        node.change(f"{INIT} start", timeout=self.wfc_timeout + 120)
        wait_connected(node, self.resources, CONNECT_GRACE_S)
        return f"started DRBD: {', '.join(r.name for r in self.resources)} connected"


@dataclass(frozen=True)
class WaitForPeer:
    """DRBD is up here, the peer is coming up in this same step: wait for it, bounded."""

    resources: tuple[DrbdResource, ...]
    timeout_s: float

    def describe(self) -> str:
        return f"wait up to {self.timeout_s:.0f} s for the peer to connect"

    def apply(self, node: NodeChanger) -> str:
        node.note("waiting for the peer to connect")
        waited = wait_connected(node, self.resources, self.timeout_s)
        return f"the peer connected after {waited:.0f} s"


def wait_connected(node: NodeReader, resources: Sequence[DrbdResource],
                   timeout_s: float) -> float:
    """Seconds until every resource is connected; StepFailed with the states after the bound."""
    began = time.monotonic()
    while True:
        proc = node.fact(PROC_DRBD)
        apart = [f"{r.name} {state_words(d)}" for r in resources
                 if (d := device_of(proc, r)) is None or d.cstate not in LINKED]
        waited = time.monotonic() - began
        if not apart:
            return waited
        if waited > timeout_s:
            raise StepFailed(f"not connected to the peer after {waited:.0f} s: "
                             f"{'; '.join(apart)} (is the peer up? the crossover link, "
                             "addresses and ports; see /var/log/kern.log)")
        time.sleep(POLL_S)


def plan_start(resources: Sequence[DrbdResource], proc: ProcDrbd | None,
               wfc_timeout: int) -> Plan:
    """Start DRBD unless every resource is up; up but waiting for the peer: wait for it."""
    devices = {r.name: device_of(proc, r) for r in resources}
    down = [name for name, d in devices.items() if d is None or d.disk == "Diskless"
            or d.cstate == "StandAlone"]
    if down:
        return plan_of([StartDrbd(tuple(resources), wfc_timeout)])
    if any(d is not None and d.cstate not in LINKED for d in devices.values()):
        return plan_of([WaitForPeer(tuple(resources), float(wfc_timeout))])
    return plan_of(notes=[f"DRBD running, connected: {', '.join(devices)}"])


def start(node: NodeReader) -> Plan:
    drbd = drbd_settings(node)
    return plan_start(drbd.resources, node.fact(PROC_DRBD), drbd.wfc_timeout)


# -- the initial sync --------------------------------------------------------------------
@dataclass(frozen=True)
class ForcePrimary:
    """The guide's ``drbdsetup /dev/drbdN primary -o``: this node's data overwrites the peer's."""

    res: DrbdResource

    @property
    def command(self) -> str:
        return remote.quote("drbdsetup", self.res.device, "primary", "-o")

    def describe(self) -> str:
        return f"run: {self.command}"

    def apply(self, node: NodeChanger) -> str:
        # The marker first: were the command to half-work, a later run must not force again.
        node.change(mark(sync_marker_path(self.res.name), now_utc()))
        node.change(self.command)
        return f"{self.res.name}: forced primary, initial sync to the peer began"


def plan_initial_sync(res: DrbdResource, domu: DomU, here: str, dev: DrbdDevice | None,
                      forced_at: str | None, has_image: bool, prediction: str) -> Plan:
    """Force the initial sync of one resource from this node, or say why not."""
    name = res.name
    if domu.home != here:
        raise Refused(f"{name}: {here} is not the home of {domu.name} ({domu.home}): forcing "
                      f"primary here would overwrite {domu.home}'s data with this node's")
    if prediction:
        return plan_of([ForcePrimary(res)], predictions=[prediction])
    if dev is None:
        raise StepFailed(f"{name} is not configured here (the start step brings it up)")
    if in_sync(dev):
        return plan_of(notes=[f"{name}: initial sync done (UpToDate/UpToDate)"])
    if dev.cstate == "SyncSource" and dev.disk == "UpToDate":
        done = f", {dev.sync.percent:g}%" if dev.sync else ""
        return plan_of(notes=[f"{name}: initial sync running from here{done}"])
    if dev.peer_disk == "UpToDate" or dev.cstate == "SyncTarget":
        raise Refused(f"{name}: the peer already holds UpToDate data ({state_words(dev)}): "
                      "forcing primary here would overwrite it")
    if forced_at is not None:
        raise Refused(f"{name}: the initial sync was already forced here ({forced_at.strip()}); "
                      f"now {state_words(dev)}. Forcing again would overwrite whatever the "
                      f"peer holds: find out why first ({sync_marker_path(name)})")
    if dev.cstate != "Connected":
        raise Refused(f"{name} is {dev.cstate} ({state_words(dev)}): the initial sync needs "
                      "the peer connected")
    if (dev.disk, dev.peer_disk) != ("Inconsistent", "Inconsistent"):
        raise Refused(f"{name} is {dev.disk}/{dev.peer_disk}, not Inconsistent/Inconsistent: "
                      "not a fresh pair, not forcing")
    if not has_image:
        raise Refused(f"{name}: /dev/.../{res.lv} holds no filesystem or swap here, so "
                      f"{domu.name}'s image was not made on this node: forcing would replicate "
                      "an empty disk over the peer's")
    return plan_of([ForcePrimary(res)])


def domus_by_name(cluster: ClusterInventory) -> dict[str, DomU]:
    return {d.name: d for d in cluster.domus}


def initial_sync(node: NodeReader) -> Plan:
    drbd = drbd_settings(node)
    domus = domus_by_name(node.context.cluster)
    mine = [r for r in drbd.resources if domus[r.domu].home == node.name]
    if not mine:
        return plan_of(notes=["no DomU has this node as home"])
    vg = vg_of(node)
    facts = node.facts(PROC_DRBD, *(sync_marker(r.name) for r in mine),
                       *(signature(f"/dev/{vg}/{r.lv}") for r in mine))
    proc = facts.get(PROC_DRBD)
    plan = plan_of()
    for res in mine:
        dev = device_of(proc, res)
        prediction = "" if dev is not None else node.unmet(
            f"{res.name} is not configured here", "the start step brings it up connected, "
            "Inconsistent/Inconsistent")
        domu = domus[res.domu]
        image = bool(facts.get(signature(f"/dev/{vg}/{res.lv}")).get("TYPE"))
        plan += plan_initial_sync(res, domu, node.name, dev, facts.get(sync_marker(res.name)),
                                  image, prediction)
    return plan


# -- wait for the sync -------------------------------------------------------------------
def sync_bound_s(drbd: DrbdSettings, domus: Sequence[DomU]) -> float:
    """How long the sync may take: three times the data at the syncer rate, and a minute."""
    mib = sum(size_to_mib(d.size) + size_to_mib(d.swap) for d in domus)
    return 60.0 + 3 * mib * 1024 / drbd.syncer_rate_kib_s


def progress_text(proc: ProcDrbd | None, resources: Sequence[DrbdResource]) -> str:
    words = []
    for res in resources:
        dev = device_of(proc, res)
        if dev is not None and dev.sync is not None:
            words.append(f"{res.name} {dev.sync.percent:g}% ({dev.sync.left_kib // 1024} MiB "
                         f"left, finish {dev.sync.finish or '?'})")
        elif not in_sync(dev):
            words.append(f"{res.name} {state_words(dev)}")
    return "syncing: " + ("; ".join(words) or "done")


@dataclass(frozen=True)
class WaitForSync:
    """Poll /proc/drbd until every resource is UpToDate/UpToDate, within a bound."""

    resources: tuple[DrbdResource, ...]
    bound_s: float

    def describe(self) -> str:
        names = ", ".join(r.name for r in self.resources)
        return f"wait up to {self.bound_s:.0f} s for {names} to be UpToDate/UpToDate"

    def apply(self, node: NodeChanger) -> str:
        began = time.monotonic()
        while True:
            proc = node.fact(PROC_DRBD)
            if all(in_sync(device_of(proc, r)) for r in self.resources):
                return f"UpToDate/UpToDate after {time.monotonic() - began:.0f} s"
            lost = [f"{r.name} {state_words(d)}" for r in self.resources
                    if (d := device_of(proc, r)) is None or d.cstate not in LINKED]
            if lost:
                raise StepFailed(f"the sync stopped: {'; '.join(lost)}")
            if time.monotonic() - began > self.bound_s:
                raise StepFailed(f"not in sync after {self.bound_s:.0f} s: "
                                 f"{progress_text(proc, self.resources)}")
            node.note(progress_text(proc, self.resources))
            time.sleep(POLL_S)


@dataclass(frozen=True)
class Demote:
    """drbdadm secondary RES: the guide's state once the DomU is down (Secondary/Secondary)."""

    res: DrbdResource

    def describe(self) -> str:
        return f"run: drbdadm secondary {self.res.name}"

    def apply(self, node: NodeChanger) -> str:
        node.change(remote.quote("drbdadm", "secondary", self.res.name))
        return f"{self.res.name}: Secondary"


def plan_wait(resources: Sequence[DrbdResource], proc: ProcDrbd | None, bound_s: float,
              running_here: frozenset[str], prediction: str) -> Plan:
    """Wait for the sync unless done; then demote what no running DomU needs Primary."""
    devices = {r.name: device_of(proc, r) for r in resources}
    actions: list[WaitForSync | Demote] = []
    if prediction or not all(in_sync(d) for d in devices.values()):
        actions.append(WaitForSync(tuple(resources), bound_s))
    actions += [Demote(r) for r in resources if (d := devices[r.name]) is not None
                and d.role == "Primary" and r.domu not in running_here]
    return plan_of(actions, notes=["every resource UpToDate/UpToDate"],
                   predictions=[prediction] if prediction else [])


def wait_sync(node: NodeReader) -> Plan:
    drbd = drbd_settings(node)
    proc = node.fact(PROC_DRBD)
    prediction = "" if proc is not None else node.unmet(
        "the drbd module is not loaded", "the sync starts and ends within the bound")
    primary = [r for r in drbd.resources if (d := device_of(proc, r)) is not None
               and d.role == "Primary"]
    here = frozenset(running(node.fact(XM_LIST))) if primary else frozenset()
    bound = sync_bound_s(drbd, node.context.cluster.domus)
    return plan_wait(drbd.resources, proc, bound, here, prediction)


# -- the DomU's cfg on DRBD --------------------------------------------------------------
def drbd_cfg(text: str, vg: str, resources: Sequence[DrbdResource]) -> str:
    """The cfg with each ``phy:`` disk on one of the resources' LVs turned ``drbd:RES``.

    xen-tools writes ``'phy:/dev/vg/test-disk,sda2,w'``; it becomes ``'drbd:test-disk,sda2,w'``
    (the guide's "disk = ['drbd:test-disk,...']"); the guest's device names and modes stay.
    """
    for res in resources:
        lv_paths = (f"/dev/{vg}/{res.lv}",
                    f"/dev/mapper/{vg.replace('-', '--')}-{res.lv.replace('-', '--')}")
        for path in lv_paths:
            text = re.sub(rf"(['\"])phy:{re.escape(path)},", rf"\g<1>drbd:{res.name},", text)
    return text


def missing_drbd_disks(text: str, resources: Sequence[DrbdResource]) -> list[str]:
    """The resources that the cfg's disk list does not use as ``drbd:RES``."""
    return [r.name for r in resources if not re.search(rf"['\"]drbd:{re.escape(r.name)},", text)]


def plan_cfg(domu: DomU, text: str | None, vg: str, resources: Sequence[DrbdResource],
             runs_here: bool, prediction: str) -> Plan:
    path = cfg_path(domu)
    if text is None:
        if prediction:
            return plan_of(predictions=[prediction])
        raise StepFailed(f"{path} does not exist here (05-domu makes it)")
    wanted = drbd_cfg(text, vg, resources)
    left = missing_drbd_disks(wanted, resources)
    if left:
        raise StepFailed(f"{path} has no phy: or drbd: disk for {', '.join(left)}: "
                         "edit its disk list by hand")
    if wanted != text and runs_here:
        raise Refused(f"{domu.name} runs here on its LVs directly: shut it down before its "
                      "disks move to DRBD (the guide: xm shutdown test)")
    return plan_of(write_file(path, text, wanted),
                   notes=[f"{path} already uses drbd: disks"])


def cfg_to_drbd(node: NodeReader) -> Plan:
    """On each DomU's home node: its cfg's disks become drbd:RES."""
    drbd, vg = drbd_settings(node), vg_of(node)
    mine = [d for d in node.context.cluster.domus if d.home == node.name]
    if not mine:
        return plan_of(notes=["no DomU has this node as home"])
    facts = node.facts(*(cfg_text(d) for d in mine))
    plan = plan_of()
    for domu in mine:
        text = facts.get(cfg_text(domu))
        prediction = "" if text is not None else node.unmet(
            f"{cfg_path(domu)} does not exist", "05-domu makes it; its phy: disks become drbd:")
        runs = False
        if text is not None and drbd_cfg(text, vg, drbd.of_domu(domu.name)) != text:
            runs = domu.name in running(node.fact(XM_LIST))
        plan += plan_cfg(domu, text, vg, drbd.of_domu(domu.name), runs, prediction)
    return plan


# -- placement: where each DomU runs, and the home's cfg for the peer --------------------
def find(node: NodeReader) -> Plan:
    """Where each DomU runs here; on a home node, its cfg (the peer copies it)."""
    where, predictions = read_placement(node)
    node.context.placements[node.name] = where
    mine = [d for d in node.context.cluster.domus if d.home == node.name]
    if mine:
        drbd, vg = drbd_settings(node), vg_of(node)
        facts = node.facts(*(cfg_text(d) for d in mine))
        for domu in mine:
            text = facts.get(cfg_text(domu))
            if text is not None and node.dry_run:  # cfg-drbd changed nothing: its prediction
                text = drbd_cfg(text, vg, drbd.of_domu(domu.name))
            if text is not None:
                node.context.domu_cfgs[domu.name] = text
    names = ", ".join(sorted(where.running)) or "no DomU"
    return plan_of(notes=[f"{names} running here"], predictions=predictions)


# -- the cfg on the peer -----------------------------------------------------------------
def plan_cfg_copy(domu: DomU, home_text: str | None, current: str | None,
                  resources: Sequence[DrbdResource], prediction: str) -> Plan:
    """The home's cfg, copied as is, once it uses DRBD for every LV."""
    path = cfg_path(domu)
    if home_text is None:
        return plan_of(predictions=[prediction] if prediction else [])
    left = missing_drbd_disks(home_text, resources)
    if left:
        raise Refused(f"{domu.home}'s {path} does not use drbd: for {', '.join(left)}: a copy "
                      "would boot this node's own, stale LVs")
    return plan_of(write_file(path, current, home_text),
                   notes=[f"{path} is {domu.home}'s copy"])


def cfg_to_peer(node: NodeReader) -> Plan:
    """The guide: "copying the /etc/xen/test.cfg from ha1 to ha2"."""
    drbd = drbd_settings(node)
    others = [d for d in node.context.cluster.domus if d.home != node.name]
    if not others:
        return plan_of(notes=["every DomU has this node as home"])
    facts = node.facts(*(cfg_text(d) for d in others))
    plan = plan_of()
    for domu in others:
        home_text = node.context.domu_cfgs.get(domu.name)
        prediction = "" if home_text is not None else node.unmet(
            f"{domu.home} did not report {cfg_path(domu)}",
            f"write {cfg_path(domu)}, a copy of {domu.home}'s")
        plan += plan_cfg_copy(domu, home_text, facts.get(cfg_text(domu)),
                              drbd.of_domu(domu.name), prediction)
    return plan


# -- boot tests on DRBD ------------------------------------------------------------------
@dataclass(frozen=True)
class DrbdBootTest:
    """xm create (the resources go Primary), xm list, ping, xm shutdown (Secondary again)."""

    domu: DomU
    resources: tuple[DrbdResource, ...]

    def describe(self) -> str:
        return (f"boot test: xm create {cfg_path(self.domu)}, ping {self.domu.ip}, "
                f"xm shutdown -w {self.domu.name}, then Secondary/Secondary")

    def apply(self, node: NodeChanger) -> str:
        name = self.domu.name
        node.note(f"booting {name} on DRBD")
        node.change(remote.quote("xm", "create", cfg_path(self.domu)))
        try:
            wait_for_domain(node, name, True, BOOT_WAIT_S)
            waited = wait_for_ping(node, name, str(self.domu.ip), self.domu.boot_timeout_s)
        except StepFailed as exc:
            raise StepFailed(f"{exc}; {shut_down_after_failure(node, name)}") from None
        node.change(remote.quote("xm", "shutdown", "-w", name), timeout=120)
        self.wait_secondary(node)
        node.change(mark(boot_marker_path(self.domu), now_utc()))
        return (f"{name}: started on DRBD, answered ping after {waited:.0f}s, shut down; "
                "Secondary/Secondary")

    def wait_secondary(self, node: NodeChanger) -> None:
        began = time.monotonic()
        while True:
            proc = node.fact(PROC_DRBD)
            left = [r for r in self.resources if (d := device_of(proc, r)) is None
                    or d.role != "Secondary" or d.peer_role != "Secondary"]
            if not left:
                return
            if time.monotonic() - began > DEMOTE_WAIT_S:
                states = "; ".join(f"{r.name} {state_words(device_of(proc, r))}" for r in left)
                raise StepFailed(f"after xm shutdown, not Secondary/Secondary: {states}")
            time.sleep(0.5)


def plan_boot(domu: DomU, resources: Sequence[DrbdResource], passed: bool,
              here: Placement | None, peer: Placement | None, peer_name: str,
              proc: ProcDrbd | None, prediction: str) -> Plan:
    """The boot test on DRBD disks, once per node; never while the DomU runs elsewhere or
    while its resources are not Connected and UpToDate/UpToDate here."""
    if passed:
        return plan_of(notes=[f"{domu.name}: boot test on DRBD already passed here"])
    refuse_a_second_start(domu, here, peer, peer_name, "boot test",
                          "data (never on both nodes at the same time)")
    if prediction:
        return plan_of([DrbdBootTest(domu, tuple(resources))], predictions=[prediction])
    unready = [f"{r.name} {state_words(device_of(proc, r))}" for r in resources
               if not in_sync(device_of(proc, r))]
    if unready:
        raise Refused(f"not starting {domu.name}: its resources must be Connected and "
                      f"UpToDate/UpToDate here: {'; '.join(unready)}")
    return plan_of([DrbdBootTest(domu, tuple(resources))])


def boot(node: NodeReader, home: bool) -> Plan:
    drbd = drbd_settings(node)
    domus = [d for d in node.context.cluster.domus if (d.home == node.name) == home]
    if not domus:
        return plan_of(notes=["no DomU to boot here in this step"])
    facts = node.facts(PROC_DRBD, *(boot_marker(d) for d in domus))
    proc = facts.get(PROC_DRBD)
    prediction = "" if proc is not None else node.unmet(
        "the drbd module is not loaded", "the resources are Connected, UpToDate/UpToDate")
    plan = plan_of()
    for domu in domus:
        plan += plan_boot(domu, drbd.of_domu(domu.name), facts.get(boot_marker(domu)),
                          node.context.placements.get(node.name),
                          node.context.placements.get(node.peer), node.peer, proc, prediction)
    return plan


def boot_home(node: NodeReader) -> Plan:
    """The guide: "Try to start your DomU again: xm create test.cfg", on its home node."""
    return boot(node, home=True)


def boot_peer(node: NodeReader) -> Plan:
    """The guide: "Then go to ha2 and start it", with test shut down on ha1."""
    return boot(node, home=False)


install_utils = planned(utils)
create_meta_lv = planned(meta_lv)
write_conf = planned(conf)
create_metadata = planned(create_md)
start_drbd = planned(start)
force_initial_sync = planned(initial_sync)
wait_for_sync = planned(wait_sync)
switch_cfg = planned(cfg_to_drbd)
find_domus = planned(find)
copy_cfg = planned(cfg_to_peer)
boot_on_home = planned(boot_home)
boot_on_peer = planned(boot_peer)
