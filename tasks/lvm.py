"""The guide's "Configure LVM": lvm2, and the volume group "vg" on the third partition.

pvcreate destroys whatever the partition held, so the step first reads the
partition (signatures, LVM metadata, the bytes of its first MiB) and refuses a
partition that holds anything but its own PV, unless the operator forces that
host explicitly. Only what Ubuntu 8.04 has is used: `blkid -c /dev/null DEVICE`
(e2fsprogs 1.40.8 has no `-p`/`-o export`), and existence is read from `pvs`,
never from `vgdisplay`'s exit status (0 for a missing VG in lvm2 2.02.26).
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook import remote
from runbook.engine import Refused, StepFailed
from runbook.facts import Facts
from runbook.facts.lvm import PVS, first_mib_blank, signature, size_bytes
from runbook.facts.packages import missing, packages
from runbook.inventory import LvmSettings
from runbook.plan import NodeChanger, NodeReader, Plan, plan_of, planned, required, unmet
from runbook.tasks.packages import plan_packages

SIZE_TOLERANCE = 0.02  # the partition may differ this much from the inventory's size


def lvm_settings(node: NodeReader) -> LvmSettings:
    return required(node.settings.lvm, "lvm")


def lvm2_plan(node: NodeReader) -> Plan:
    """The lvm2 package."""
    return plan_packages(node, ["lvm2"])


@dataclass(frozen=True)
class DiskFacts:
    partition: str
    size_bytes: int | None  # None when the partition does not exist
    signature: dict[str, str]  # blkid's tags: TYPE, UUID, ...; empty when none
    pv_vg: str | None  # VG of this PV ("" for a PV in no VG), None when it is no PV
    vg_pvs: tuple[str, ...]  # every PV of the configured VG
    has_data: bool  # the first MiB is not all zero bytes


def disk_facts(facts: Facts, lvm: LvmSettings, dry_run: bool) -> tuple[DiskFacts, list[str]]:
    """The partition as the facts show it, and what a dry run had to predict."""
    part = lvm.partition
    predictions = []
    if missing(facts.get(packages(["lvm2"])), ["lvm2"]):
        predictions.append(unmet(dry_run, "lvm2 is not installed yet",
                                 f"no PV exists, so none on {part}"))
        pvs = []
    else:
        pvs = facts.get(PVS)
    mine = next((pv for pv in pvs if pv.name == part), None)
    disk = DiskFacts(
        partition=part,
        size_bytes=facts.get(size_bytes(part)),
        signature=facts.get(signature(part)),
        pv_vg=mine.vg if mine is not None else None,
        vg_pvs=tuple(pv.name for pv in pvs if pv.vg == lvm.vg),
        has_data=not facts.get(first_mib_blank(part)),
    )
    return disk, predictions


@dataclass(frozen=True)
class CreateVolumeGroup:
    """pvcreate (unless the partition is a PV already) and vgcreate; then read pvs back."""

    partition: str
    vg: str
    pvcreate: tuple[str, ...] | None  # pvcreate's options; None: the partition is a PV already
    summary: str

    @property
    def commands(self) -> tuple[str, ...]:
        vgcreate = remote.quote("vgcreate", self.vg, self.partition)
        if self.pvcreate is None:
            return (vgcreate,)
        return (remote.quote("pvcreate", *self.pvcreate, self.partition), vgcreate)

    def describe(self) -> str:
        return f"run: {' && '.join(self.commands)}"

    def apply(self, node: NodeChanger) -> str:
        for command in self.commands:
            node.change(command)
        pvs = node.fact(PVS)
        if not any(pv.name == self.partition and pv.vg == self.vg for pv in pvs):
            seen = ", ".join(f"{pv.name} in {pv.vg or 'no VG'}" for pv in pvs) or "no PV"
            raise StepFailed(f"{self.partition} is not a PV of {self.vg} after vgcreate ({seen})")
        return self.summary


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
        return plan_of(notes=[f"{part} is already the PV of volume group {vg}"])
    if facts.vg_pvs:
        raise Refused(f"volume group {vg} already exists on {', '.join(facts.vg_pvs)}, "
                      f"not on {part}: fix the inventory or the node by hand")
    if facts.pv_vg == "":
        return plan_of([CreateVolumeGroup(part, vg, None,
                                          f"{part} is a PV in no volume group: created {vg}")])
    held = holding(facts)
    if held is None:
        return plan_of([CreateVolumeGroup(part, vg, (), f"created {vg} on {part}")])
    if not force:
        raise Refused(f"{part} holds {held}; pvcreate would destroy it. If that is really "
                      "intended, force this host (inventory lvm_pv.force: true, or --force HOST)")
    return plan_of([CreateVolumeGroup(part, vg, ("-ff", "-y"),
                                      f"FORCED: overwrote {held} on {part}, created {vg}")])


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


def volume_group(node: NodeReader) -> Plan:
    """pvcreate the configured partition and vgcreate the volume group on it."""
    lvm = lvm_settings(node)
    part = lvm.partition
    facts = node.facts(packages(["lvm2"]), PVS, size_bytes(part), signature(part),
                       first_mib_blank(part))
    disk, predictions = disk_facts(facts, lvm, node.dry_run)
    forced = lvm.force or node.name in node.context.forced
    return plan_volume_group(disk, lvm, forced) + plan_of(predictions=predictions)


install_lvm = planned(lvm2_plan)
create_volume_group = planned(volume_group)
