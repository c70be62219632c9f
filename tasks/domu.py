"""The guide's "Using XEN-tools to install DomU", and the same disk layout on the peer.

Steps share what they learn through the run context (runbook.context) across the step
barrier: the placement step records where each DomU runs on every node, the image step
records the home node's LV sizes, and the peer step reads them from there.
xen-create-image 3.8 exits 0 on most failures, so an image counts as created only when
its LVs and cfg are read back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from runbook import interrupt, remote
from runbook.engine import Refused, StepFailed
from runbook.facts import FactFailed, Facts
from runbook.facts.domu import (
    MARKER_DIR,
    Placement,
    cfg_exists,
    cfg_path,
    first_boot_marker,
    lv_names,
    placement,
    placement_facts,
)
from runbook.facts.lvm import LVS, lv_sizes
from runbook.facts.packages import missing, packages
from runbook.facts.system import UNAME_R, ping
from runbook.facts.xen import XM_LIST, xm_listed
from runbook.inventory import DomU, InventoryError, size_to_mib
from runbook.parsers.xen import running
from runbook.plan import NodeChanger, NodeReader, Plan, plan_of, planned, required, unmet

BOOT_WAIT_S = 60.0
XM_CREATE_WAIT_S = 180.0


def vg_name(node: NodeReader) -> str:
    return required(node.settings.xen_tools, "xen_tools").lvm


def read_placement(node: NodeReader) -> tuple[Placement, list[str]]:
    """This node's placement, and what a dry run had to predict (before Xen or LVM exist)."""
    domus = node.context.cluster.domus
    suffix = node.settings.xen.kernel_suffix if node.settings.xen else "-xen"
    facts = node.facts(*placement_facts(domus), UNAME_R, packages(["lvm2"]))
    return placement_from(facts, domus, vg_name(node), suffix, node.dry_run)


def placement_from(facts: Facts, domus: tuple[DomU, ...], vg: str, xen_suffix: str,
                   dry_run: bool) -> tuple[Placement, list[str]]:
    """`xm list` must answer on the Xen kernel; off it (before 02-xen's reboot) only a dry
    run may go on, predicting that no DomU runs. The same for LVs before lvm2 is installed."""
    predictions = []
    kernel = facts.get(UNAME_R)
    try:
        guests = frozenset(running(facts.get(XM_LIST)))
    except FactFailed:
        if kernel.endswith(xen_suffix):
            raise
        predictions.append(unmet(dry_run, f"not running the Xen kernel ({kernel})",
                                 "no DomU runs here"))
        guests = frozenset()
    if missing(facts.get(packages(["lvm2"])), ["lvm2"]):
        predictions.append(unmet(dry_run, "lvm2 is not installed", "no LV exists here"))
        lvs: dict[str, float] = {}
    else:
        lvs = lv_sizes(facts.get(LVS), vg)
    cfgs = frozenset(d.name for d in domus if facts.get(cfg_exists(d)))
    return Placement(guests, lvs, cfgs), predictions


def find(node: NodeReader) -> Plan:
    """Where each DomU runs and which of its LVs and cfg files exist, on every node."""
    where, predictions = read_placement(node)
    node.context.placements[node.name] = where
    names = ", ".join(sorted(where.running)) or "no DomU"
    return plan_of(notes=[f"{names} running here"], predictions=predictions)


def own_domus(node: NodeReader) -> list[DomU]:
    return [d for d in node.context.cluster.domus if d.home == node.name]


def create_command(domu: DomU, vg: str) -> str:
    return remote.quote(
        "xen-create-image", f"--hostname={domu.name}", f"--ip={domu.ip}",
        f"--memory={domu.memory}", f"--size={domu.size}", f"--swap={domu.swap}",
        f"--dist={domu.dist}", f"--lvm={vg}",
    )


@dataclass(frozen=True)
class CreateImage:
    """xen-create-image (root password on stdin), judged by the LVs and cfg it leaves."""

    domu: DomU
    vg: str
    password: str = field(repr=False, compare=False)

    def describe(self) -> str:
        return f"run: {create_command(self.domu, self.vg)} (root password on stdin)"

    def apply(self, node: NodeChanger) -> str:
        node.note(f"xen-create-image {self.domu.name} (takes a while)")
        created = node.change(create_command(self.domu, self.vg), timeout=3600,
                              stdin=f"{self.password}\n{self.password}\n")
        after = placement(node.facts(*placement_facts((self.domu,))), (self.domu,), self.vg)
        disk, swap = lv_names(self.domu)
        left = [lv for lv in (disk, swap) if lv not in after.lvs]
        left += [cfg_path(self.domu)] if self.domu.name not in after.cfgs else []
        if left:
            raise StepFailed(f"xen-create-image {self.domu.name} ran but {', '.join(left)} "
                             "do(es) not exist (see its output and /var/log/xen-tools/)")
        said = password_outcome(created.stdout + created.stderr)
        if said is not None:
            raise StepFailed(
                f"xen-create-image made {self.domu.name} ({disk}, {swap}, {cfg_path(self.domu)}) "
                f"but did not set its root password (passwd: {said}); xen-tools 3.8 exits 0 "
                f"anyway. Remove the image (xen-delete-image {self.domu.name}, or lvremove "
                f"{self.vg}/{disk} {self.vg}/{swap} and rm {cfg_path(self.domu)}) and run again")
        node.context.home_lvs.setdefault(node.name, {}).update(
            {lv: after.lvs[lv] for lv in (disk, swap)})
        return f"{self.domu.name}: created with xen-create-image ({disk}, {swap}, " \
               f"{cfg_path(self.domu)})"


def password_outcome(output: str) -> str | None:
    """None when passwd set the password; else what it said (3.8 ignores passwd's status)."""
    if "passwd: password updated successfully" in output:
        return None
    # The prompts have no newline, so passwd's words may follow them on the same line.
    said = [line.split("passwd: ", 1)[1].strip() for line in output.splitlines()
            if "passwd: " in line]
    return "; ".join(said) or "no word from passwd at all"


def plan_image(domu: DomU, here: Placement, peer: Placement | None, peer_name: str, vg: str,
               password: Callable[[], str]) -> Plan:
    """xen-create-image for one DomU; refuses to overwrite LVs or a cfg left from before.

    ``password`` is asked only when the image is to be made (a created image needs none).
    """
    disk, swap = lv_names(domu)
    present = [lv for lv in (disk, swap) if lv in here.lvs]
    has_cfg = domu.name in here.cfgs
    if len(present) == 2 and has_cfg:
        return plan_of(notes=[f"{domu.name}: image already created ({disk}, {swap}, "
                              f"{cfg_path(domu)})"])
    if present or has_cfg:
        left = [*present, *([cfg_path(domu)] if has_cfg else [])]
        raise Refused(f"{domu.name}: {', '.join(left)} already exist(s) without the rest of the "
                      "image (an earlier xen-create-image stopped halfway?). They may hold data: "
                      "inspect them and remove them by hand (lvremove) before running again")
    if peer is not None and domu.name in peer.running:
        raise Refused(f"{domu.name} is running on {peer_name} but has no image here")
    return plan_of([CreateImage(domu, vg, password())])


def password_of(node: NodeReader, domu: DomU) -> Callable[[], str]:
    """The DomU's root password from its secret, kept out of the node's journal."""
    def password() -> str:
        try:
            value = domu.password(node.context.cluster.folder)
        except InventoryError as exc:
            raise StepFailed(str(exc)) from None
        node.secret(value)
        return value

    return password


def images(node: NodeReader) -> Plan:
    """On each DomU's home node only: xen-create-image; record the LV sizes it has."""
    mine = own_domus(node)
    if not mine:
        return plan_of(notes=["no DomU has this node as home"])
    here = node.context.placements.get(node.name)
    predictions: list[str] = []
    if here is None:
        here, predictions = read_placement(node)
    peer = node.context.placements.get(node.peer)
    vg = vg_name(node)
    plan = plan_of(predictions=predictions)
    for domu in mine:
        plan += plan_image(domu, here, peer, node.peer, vg, password_of(node, domu))
    node.context.home_lvs[node.name] = {
        lv: size for d in mine for lv in lv_names(d) if (size := here.lvs.get(lv)) is not None}
    return plan


def predicted_sizes(domu: DomU) -> dict[str, float]:
    disk, swap = lv_names(domu)
    return {disk: float(size_to_mib(domu.size)), swap: float(size_to_mib(domu.swap))}


@dataclass(frozen=True)
class CreateLV:
    """lvcreate of an exact size, judged by the size `lvs` shows afterwards."""

    name: str
    vg: str
    size_mib: float

    @property
    def command(self) -> str:
        return remote.quote("lvcreate", "-L", f"{self.size_mib:g}m", "-n", self.name, self.vg)

    def describe(self) -> str:
        return f"run: {self.command}"

    def apply(self, node: NodeChanger) -> str:
        node.change(self.command)
        have = lv_sizes(node.fact(LVS), self.vg).get(self.name)
        if have != self.size_mib:
            raise StepFailed(f"after lvcreate {self.name} has {have} MiB, not {self.size_mib:g}")
        return f"created {self.name} ({self.size_mib:g} MiB)"


def plan_peer_lvs(domus: tuple[DomU, ...], here_name: str, here: Placement,
                  home_lvs: dict[str, dict[str, float]], vg: str, dry_run: bool) -> Plan:
    """On the peer: LVs of exactly the home node's sizes (read from its LVs, not guessed)."""
    actions, notes, predictions = [], [], []
    for domu in domus:
        if domu.home == here_name:
            continue
        sizes = home_lvs.get(domu.home, {})
        wanted = {lv: sizes[lv] for lv in lv_names(domu) if lv in sizes}
        if len(wanted) < 2:
            wanted = predicted_sizes(domu)  # the image is not created yet: a dry run
            predictions.append(unmet(dry_run, f"{domu.home} did not report the sizes of "
                                     f"{domu.name}'s LVs", f"{domu.size} and {domu.swap}"))
        for lv, size in wanted.items():
            have = here.lvs.get(lv)
            if have == size:
                notes.append(f"{lv} already {size:g} MiB")
            elif have is not None:
                raise Refused(f"{lv} exists here with {have:g} MiB but {domu.home} has "
                              f"{size:g} MiB; not resizing a volume that may hold data")
            else:
                actions.append(CreateLV(lv, vg, size))
    if not actions and not notes:
        notes.append("every DomU has this node as home")
    return plan_of(actions, notes=notes, predictions=predictions)


def peer_lvs(node: NodeReader) -> Plan:
    here, predictions = read_placement(node)
    plan = plan_peer_lvs(node.context.cluster.domus, node.name, here, node.context.home_lvs,
                         vg_name(node), node.dry_run)
    return plan + plan_of(predictions=predictions)


@dataclass(frozen=True)
class BootTest:
    """The guide's first boot: xm create, seen in xm list, answers ping, xm shutdown."""

    domu: DomU

    @property
    def marker(self) -> str:
        return f"{MARKER_DIR}/first-boot-{self.domu.name}"

    def describe(self) -> str:
        return (f"boot test: xm create {cfg_path(self.domu)}, ping {self.domu.ip}, "
                f"xm shutdown -w {self.domu.name}")

    def apply(self, node: NodeChanger) -> str:
        name, ip = self.domu.name, str(self.domu.ip)
        node.note(f"first boot of {name}")
        # Xen 3.2 waits up to 100 s for a missing disk's hotplug before it gives up.
        node.change(remote.quote("xm", "create", cfg_path(self.domu)), timeout=XM_CREATE_WAIT_S)
        try:
            wait_for_domain(node, name, True, BOOT_WAIT_S)
            waited = wait_for_ping(node, name, ip, self.domu.boot_timeout_s)
        except StepFailed as exc:
            # Leave the node as it was before the step: a DomU left running would make the
            # next run refuse ("already running here") for a reason the operator never saw.
            raise StepFailed(f"{exc}; {shut_down_after_failure(node, name)}") from None
        except interrupt.Interrupted:
            node.note(shut_down_after_failure(node, name))
            raise
        node.change(remote.quote("xm", "shutdown", "-w", name), timeout=120)
        node.change(f"mkdir -p {MARKER_DIR} && touch {remote.quote(self.marker)}")
        return f"{name}: started, answered ping at {ip} after {waited:.0f}s, shut down"


def wait_for_ping(node: NodeReader, name: str, ip: str, timeout: float) -> float:
    """Seconds until the DomU answered ping; StepFailed after ``timeout`` (a guest boots slowly)."""
    began = time.monotonic()
    while True:
        waited = time.monotonic() - began
        if node.fact(ping(ip)).received > 0:
            return waited
        if waited >= timeout:
            raise StepFailed(f"{name} started but did not answer ping at {ip} within "
                             f"{timeout:.0f}s (inventory: domus[].boot_timeout_s)")
        node.note(f"waiting for {name} to answer ping at {ip}")
        interrupt.check()


def shut_down_after_failure(node: NodeChanger, name: str) -> str:
    """Shut the DomU down after a failed boot test; say plainly what state it is left in."""
    try:
        node.change(remote.quote("xm", "shutdown", "-w", name), timeout=120,
                    ok_codes=(0, 1))
        if not node.fact(xm_listed(name)):
            return f"{name} was shut down again, the node is as before the step"
        node.change(remote.quote("xm", "destroy", name), ok_codes=(0, 1))
        if not node.fact(xm_listed(name)):
            return f"{name} did not shut down cleanly and was destroyed (xm destroy)"
    except (remote.RemoteError, FactFailed) as exc:
        return (f"{name} may STILL BE RUNNING on this node ({exc}); check with `xm list` and "
                f"stop it with `xm shutdown {name}` before running again")
    return (f"{name} is STILL RUNNING on this node; stop it with `xm destroy {name}` before "
            "running again")


def wait_for_domain(node: NodeReader, name: str, present: bool, timeout: float) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if node.fact(xm_listed(name)) == present:
            return
        interrupt.pause(0.5)
    state = "start" if present else "stop"
    raise StepFailed(f"{name} did not {state} within {timeout:.0f}s")


def refuse_a_second_start(domu: DomU, here: Placement | None, peer: Placement | None,
                          peer_name: str, test: str, twice: str) -> None:
    """A boot ``test`` starts ``domu`` from scratch: refused while it may run on the peer
    (``twice``: what two copies would share, and what to do) or runs here already."""
    if peer is None:
        raise Refused(f"cannot tell whether {domu.name} runs on {peer_name} "
                      f"(no placement from it); not starting {domu.name}")
    if domu.name in peer.running:
        raise Refused(f"{domu.name} is running on {peer_name}: starting it here too "
                      f"would run it twice on the same {twice}")
    if here is not None and domu.name in here.running:
        raise Refused(f"{domu.name} is already running here; the {test} starts it "
                      "from scratch: shut it down first")


def plan_first_boot(domu: DomU, passed: bool, here: Placement | None, peer: Placement | None,
                    peer_name: str) -> Plan:
    """Boot test once per DomU; never start one that runs on the other node (or here)."""
    if passed:
        return plan_of(notes=[f"{domu.name}: first boot already passed"])
    refuse_a_second_start(domu, here, peer, peer_name, "first-boot test",
                          "disks. Shut it down there first")
    return plan_of([BootTest(domu)])


def first_boot(node: NodeReader) -> Plan:
    mine = own_domus(node)
    if not mine:
        return plan_of(notes=["no DomU has this node as home"])
    facts = node.facts(*(first_boot_marker(d) for d in mine))
    plan = plan_of()
    for domu in mine:
        plan += plan_first_boot(domu, facts.get(first_boot_marker(domu)),
                                node.context.placements.get(node.name),
                                node.context.placements.get(node.peer), node.peer)
    return plan


find_domus = planned(find)
create_images = planned(images)
replicate_lvs = planned(peer_lvs)
first_boot_test = planned(first_boot)
