"""The guide's "Configure LVM": lvm2, and the volume group "vg" on the third partition.

pvcreate destroys whatever the partition held, so the step first reads the
partition (signatures, LVM metadata, the bytes of its first MiB) and refuses a
partition that holds anything but its own PV, unless the operator forces that
host explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from nornir.core.task import Result, Task

from runbook import remote
from runbook.engine import Refused, StepFailed
from runbook.inventory import LvmSettings
from runbook.parsers.lvm import parse_blkid_export, parse_report, report_command
from runbook.tasks.base import settings
from runbook.tasks.packages import ensure_packages

PV_FIELDS = ["pv_name", "vg_name", "pv_size"]
SIZE_TOLERANCE = 0.02  # the partition may differ this much from the inventory's size


def lvm_settings(task: Task) -> LvmSettings:
    lvm = settings(task).lvm
    if lvm is None:
        raise Refused("the inventory has no lvm settings for this host")
    return lvm


def install_lvm(task: Task) -> Result:
    """The lvm2 package."""
    if not ensure_packages(task, ["lvm2"]):
        return Result(host=task.host, result="lvm2 already installed")
    return Result(host=task.host, changed=True, result="installed lvm2")


@dataclass(frozen=True)
class DiskFacts:
    partition: str
    size_bytes: int | None  # None when the partition does not exist
    signature: dict[str, str]  # `blkid -p -o export`: TYPE, UUID, ...; empty when none
    pv_vg: str | None  # VG of this PV ("" for a PV in no VG), None when it is no PV
    vg_pvs: tuple[str, ...]  # every PV of the configured VG
    has_data: bool  # the first MiB is not all zero bytes


def disk_facts(task: Task, lvm: LvmSettings) -> DiskFacts:
    part = remote.quote(lvm.partition)
    facts = remote.run_many(task, {
        "size": f"blockdev --getsize64 {part} 2>/dev/null || stat -L -c %s {part}",
        "blkid": f"blkid -p -o export {part}",
        "pvs": report_command("pvs", PV_FIELDS),
        "zero": f"cmp -s -n 1048576 {part} /dev/zero",
    })
    size = facts["size"].stdout.strip()
    pvs = parse_report(facts["pvs"].stdout, PV_FIELDS) if facts["pvs"].ok else []
    mine = next((row for row in pvs if row["pv_name"] == lvm.partition), None)
    return DiskFacts(
        partition=lvm.partition,
        size_bytes=int(size) if size.isdigit() else None,
        signature=parse_blkid_export(facts["blkid"].stdout) if facts["blkid"].ok else {},
        pv_vg=mine["vg_name"] if mine is not None else None,
        vg_pvs=tuple(row["pv_name"] for row in pvs if row["vg_name"] == lvm.vg),
        has_data=facts["zero"].exit_status == 1,
    )


@dataclass(frozen=True)
class Plan:
    commands: tuple[str, ...]
    summary: str


def plan_volume_group(facts: DiskFacts, lvm: LvmSettings, force: bool) -> Plan:
    """What to run to make ``lvm.partition`` the sole PV of ``lvm.vg``; Refused when unsafe."""
    part, vg = facts.partition, lvm.vg
    if facts.size_bytes is None:
        raise StepFailed(f"{part} does not exist on this node (check `fdisk -l`)")
    size_gib = facts.size_bytes / 2**30
    if abs(size_gib - lvm.partition_size_gb) > SIZE_TOLERANCE * lvm.partition_size_gb:
        raise Refused(f"{part} has {size_gib:.1f} GiB but the inventory says "
                      f"{lvm.partition_size_gb:g} GiB: is it the right partition?")
    if facts.pv_vg == vg:
        return Plan((), f"{part} is already the PV of volume group {vg}")
    if facts.vg_pvs:
        raise Refused(f"volume group {vg} already exists on {', '.join(facts.vg_pvs)}, "
                      f"not on {part}: fix the inventory or the node by hand")
    vgcreate = remote.quote("vgcreate", vg, part)
    if facts.pv_vg == "":
        return Plan((vgcreate,), f"{part} is a PV in no volume group: created {vg} on it")
    held = holding(facts)
    if held is None:
        return Plan((remote.quote("pvcreate", part), vgcreate), f"created {vg} on {part}")
    if not force:
        raise Refused(f"{part} holds {held}; pvcreate would destroy it. If that is really "
                      "intended, force this host (inventory lvm_pv.force: true, or --force HOST)")
    return Plan((remote.quote("pvcreate", "-ff", "-y", part), vgcreate),
                f"FORCED: overwrote {held} on {part}, created {vg}")


def holding(facts: DiskFacts) -> str | None:
    """What the partition holds that pvcreate would destroy, in words; None when empty."""
    if facts.pv_vg:
        return f"a PV of another volume group ({facts.pv_vg})"
    kind = facts.signature.get("TYPE")
    if kind:
        return f"a {kind} signature"
    if facts.has_data:
        return "data (its first MiB is not blank)"
    return None


def forced(task: Task, lvm: LvmSettings) -> bool:
    return lvm.force or bool(task.host.data.get("force_overwrite"))


def create_volume_group(task: Task) -> Result:
    """pvcreate the configured partition and vgcreate the volume group on it."""
    lvm = lvm_settings(task)
    plan = plan_volume_group(disk_facts(task, lvm), lvm, forced(task, lvm))
    if not plan.commands:
        return Result(host=task.host, result=plan.summary)
    for command in plan.commands:
        remote.run(task, command, changes=True)
    return Result(host=task.host, changed=True, result=plan.summary)
