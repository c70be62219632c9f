"""The guide's "Using XEN-tools to install DomU", and the same disk layout on the peer.

Steps share what they learn through ``host.data`` across the step barrier: the
placement step records where each DomU runs on every node, the image step
records the home node's LV sizes, and the peer step reads them from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nornir.core.task import Result, Task

from runbook import progress, remote
from runbook.engine import Refused, StepFailed
from runbook.inventory import ClusterInventory, DomU, InventoryError, size_to_mib
from runbook.parsers.lvm import mib, parse_report, report_command
from runbook.parsers.xen import parse_xm_list, running
from runbook.tasks.base import settings

LV_FIELDS = ["lv_name", "vg_name", "lv_size"]
MARKER_DIR = "/var/lib/runbook"
BOOT_WAIT_S = 60.0


def cluster(task: Task) -> ClusterInventory:
    inv: ClusterInventory = task.host.data["cluster"]
    return inv


def vg_name(task: Task) -> str:
    tools = settings(task).xen_tools
    if tools is None:
        raise Refused("the inventory has no xen_tools settings for this host")
    return tools.lvm


def lv_names(domu: DomU) -> tuple[str, str]:
    return f"{domu.name}-disk", f"{domu.name}-swap"


def cfg_path(domu: DomU) -> str:
    return f"/etc/xen/{domu.name}.cfg"


@dataclass(frozen=True)
class Placement:
    """What one node has of the DomUs: which run there, their LVs and cfg files."""

    running: frozenset[str]
    lvs: dict[str, float]  # LV name -> size in MiB, in the DomUs' volume group
    cfgs: frozenset[str]  # DomU names with /etc/xen/NAME.cfg


def read_placement(task: Task) -> Placement:
    domus = cluster(task).domus
    vg = vg_name(task)
    cfg_tests = " ".join(f"[ -e {remote.quote(cfg_path(d))} ] && echo {d.name};" for d in domus)
    facts = remote.run_many(task, {
        "xm list": "xm list",
        "lvs": report_command("lvs", LV_FIELDS, remote.quote(vg)),
        "cfgs": cfg_tests or "true",
    })
    if not facts["xm list"].ok and not task.is_dry_run():
        raise StepFailed(f"`xm list` failed: {facts['xm list'].stderr.strip()} (is Xen running?)")
    # A dry run before 02-xen has run: no xm yet, so no DomU can be running.
    rows = parse_report(facts["lvs"].stdout, LV_FIELDS) if facts["lvs"].ok else []
    return Placement(
        running=frozenset(running(parse_xm_list(facts["xm list"].stdout)))
        if facts["xm list"].ok else frozenset(),
        lvs={row["lv_name"]: mib(row["lv_size"]) for row in rows},
        cfgs=frozenset(facts["cfgs"].stdout.split()),
    )


def peer_placement(task: Task) -> Placement | None:
    peer = task.nornir.inventory.hosts.get(settings(task).peer)
    found = peer.data.get("placement") if peer is not None else None
    return found if isinstance(found, Placement) else None


def find_domus(task: Task) -> Result:
    """Where each DomU runs and which of its LVs and cfg files exist, on every node."""
    placement = read_placement(task)
    task.host.data["placement"] = placement
    names = ", ".join(sorted(placement.running)) or "no DomU"
    return Result(host=task.host, result=f"{names} running here")


def refuse_if_running_on_peer(task: Task, domu: DomU) -> None:
    peer = peer_placement(task)
    if peer is None:
        raise Refused(f"cannot tell whether {domu.name} runs on {settings(task).peer} "
                      f"(no placement from it); not starting {domu.name}")
    if domu.name in peer.running:
        raise Refused(f"{domu.name} is running on {settings(task).peer}: starting it here too "
                      "would run it twice on the same disks. Shut it down there first")


def own_domus(task: Task) -> list[DomU]:
    return [d for d in cluster(task).domus if d.home == task.host.name]


def create_image(task: Task, domu: DomU, placement: Placement) -> str:
    """xen-create-image for one DomU; refuses to overwrite LVs or a cfg left from before."""
    disk, swap = lv_names(domu)
    present = [lv for lv in (disk, swap) if lv in placement.lvs]
    has_cfg = domu.name in placement.cfgs
    if len(present) == 2 and has_cfg:
        return f"{domu.name}: image already created ({disk}, {swap}, {cfg_path(domu)})"
    if present or has_cfg:
        left = [*present, *([cfg_path(domu)] if has_cfg else [])]
        raise Refused(f"{domu.name}: {', '.join(left)} already exist(s) without the rest of the "
                      "image (an earlier xen-create-image stopped halfway?). They may hold data: "
                      "inspect them and remove them by hand (lvremove) before running again")
    peer = peer_placement(task)
    if peer is not None and domu.name in peer.running:
        raise Refused(f"{domu.name} is running on {settings(task).peer} but has no image here")
    command = remote.quote(
        "xen-create-image", f"--hostname={domu.name}", f"--ip={domu.ip}",
        f"--memory={domu.memory}", f"--size={domu.size}", f"--swap={domu.swap}",
        f"--dist={domu.dist}", f"--lvm={vg_name(task)}",
    )
    password = None
    if not task.is_dry_run():
        try:
            password = domu.password(cluster(task).folder)
        except InventoryError as exc:
            raise StepFailed(str(exc)) from None
        remote.register_secret(task.host.name, password)
    progress.note(task.host.name, f"xen-create-image {domu.name} (takes a while)")
    remote.run(task, command, changes=True, timeout=3600,
               stdin=f"{password}\n{password}\n" if password else None)
    return f"{domu.name}: created with xen-create-image ({disk}, {swap}, {cfg_path(domu)})"


def create_images(task: Task) -> Result:
    """On each DomU's home node only: xen-create-image, then record its LV sizes."""
    placement = task.host.data.get("placement") or read_placement(task)
    done = [create_image(task, domu, placement) for domu in own_domus(task)]
    after = read_placement(task) if not task.is_dry_run() else placement
    task.host.data["home_lvs"] = {
        lv: size for d in own_domus(task) for lv in lv_names(d) if (size := after.lvs.get(lv))
    }
    if not done:
        return Result(host=task.host, result="no DomU has this node as home")
    changed = any("created with" in line for line in done)
    return Result(host=task.host, changed=changed, result="; ".join(done))


def predicted_sizes(domu: DomU) -> dict[str, float]:
    disk, swap = lv_names(domu)
    return {disk: float(size_to_mib(domu.size)), swap: float(size_to_mib(domu.swap))}


def replicate_lvs(task: Task) -> Result:
    """On the peer: LVs of exactly the home node's sizes (read from its LVs, not guessed)."""
    placement = read_placement(task)
    vg = vg_name(task)
    done = []
    for domu in cluster(task).domus:
        if domu.home == task.host.name:
            continue
        home = task.nornir.inventory.hosts.get(domu.home)
        sizes = home.data.get("home_lvs", {}) if home is not None else {}
        wanted = {lv: sizes[lv] for lv in lv_names(domu) if lv in sizes}
        if len(wanted) < 2:
            if not task.is_dry_run():
                raise StepFailed(f"{domu.home} did not report the sizes of {domu.name}'s LVs")
            wanted = predicted_sizes(domu)  # dry run: the image is not created yet
        for lv, size in wanted.items():
            have = placement.lvs.get(lv)
            if have == size:
                done.append(f"{lv} already {size:g} MiB")
                continue
            if have is not None:
                raise Refused(f"{lv} exists here with {have:g} MiB but {domu.home} has "
                              f"{size:g} MiB; not resizing a volume that may hold data")
            remote.run(task, remote.quote("lvcreate", "-L", f"{size:g}m", "-n", lv, vg),
                       changes=True)
            done.append(f"created {lv} ({size:g} MiB)")
    if not done:
        return Result(host=task.host, result="every DomU has this node as home")
    return Result(host=task.host, changed=any(x.startswith("created") for x in done),
                  result="; ".join(done))


def wait_for_domain(task: Task, name: str, present: bool, timeout: float) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        listed = remote.run(task, remote.quote("xm", "list", name), ok_codes=(0, 1))
        if listed.ok == present:
            return
        time.sleep(0.5)
    state = "start" if present else "stop"
    raise StepFailed(f"{name} did not {state} within {timeout:.0f}s")


def first_boot(task: Task, domu: DomU) -> str:
    marker = f"{MARKER_DIR}/first-boot-{domu.name}"
    if remote.run(task, remote.quote("test", "-e", marker), ok_codes=(0, 1)).ok:
        return f"{domu.name}: first boot already passed"
    refuse_if_running_on_peer(task, domu)
    placement = task.host.data.get("placement")
    if isinstance(placement, Placement) and domu.name in placement.running:
        raise Refused(f"{domu.name} is already running here; the first-boot test starts it "
                      "from scratch: shut it down first")
    progress.note(task.host.name, f"first boot of {domu.name}")
    remote.run(task, remote.quote("xm", "create", cfg_path(domu)), changes=True)
    if not task.is_dry_run():
        wait_for_domain(task, domu.name, True, BOOT_WAIT_S)
        remote.run(task, remote.quote("ping", "-c", "3", "-W", "2", str(domu.ip)),
                   ok_codes=(0,), timeout=30)
    remote.run(task, remote.quote("xm", "shutdown", "-w", domu.name), changes=True, timeout=120)
    remote.run(task, f"mkdir -p {MARKER_DIR} && touch {remote.quote(marker)}", changes=True)
    return f"{domu.name}: started, answered ping at {domu.ip}, shut down"


def first_boot_test(task: Task) -> Result:
    """The guide's test: xm create NAME.cfg, see it in xm list (and on the LAN), shut it down."""
    done = [first_boot(task, domu) for domu in own_domus(task)]
    if not done:
        return Result(host=task.host, result="no DomU has this node as home")
    changed = any(line.endswith("shut down") for line in done)
    return Result(host=task.host, changed=changed, result="; ".join(done))
