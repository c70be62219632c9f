"""Section "lvm": the partition for the volume group and the VG's name ("Configure LVM")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import (
    MISSING,
    kind,
    read_boolean,
    read_lvm_name,
    read_settings,
    read_text,
)

_PV_KEYS: Final = ("partition", "partition_size_gb", "force")
_DEVICE: Final = re.compile(r"/dev/[A-Za-z0-9_.:+-]+(?:/[A-Za-z0-9_.:+-]+)*")


@dataclass(frozen=True)
class LvmSettings:
    """The volume group for the DomUs' disks (``data.lvm_pv`` per host, ``data.lvm.vg``)."""

    partition: str  # the guide's third partition, e.g. /dev/sda3 (pvcreate, vgcreate)
    partition_size_gb: float  # its expected size, in GB as fdisk -l / vgdisplay show it
    vg: str  # the volume group's name, "vg" in the guide
    # An operator's explicit decision that 03-lvm may overwrite the partition even though it
    # holds data (a file system, another VG, a partition table). Off unless written.
    force: bool = False


def parse_host(h: HostView) -> dict[str, Any]:
    start = h.problem_count()
    pv_key: KeyPath = ("data", "lvm_pv")
    pv = read_settings(
        h,
        pv_key,
        _PV_KEYS,
        "a mapping of this node's partition for the volume group "
        "(partition, partition_size_gb, force)",
    )
    partition: str | None = None
    size: Any = None
    force: bool | None = None
    if pv is not None:
        partition = read_text(
            h,
            (*pv_key, "partition"),
            pv.get("partition", MISSING),
            "the partition for the volume group, e.g. /dev/sda3",
        )
        if partition is not None and (
            not _DEVICE.fullmatch(partition) or ".." in partition.split("/")
        ):
            h.problem((*pv_key, "partition"), f"not an absolute /dev path: {partition!r}")
        size = pv.get("partition_size_gb", MISSING)
        if size is MISSING or size is None:
            h.problem(
                (*pv_key, "partition_size_gb"),
                "missing: expected the partition's size in GB, e.g. 225",
            )
        elif isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            h.problem(
                (*pv_key, "partition_size_gb"),
                f"expected a number of GB greater than 0, got {kind(size)}",
            )
        force = read_boolean(h, (*pv_key, "force"), pv.get("force"), default=False)
    vg_key: KeyPath = ("data", "lvm")
    lvm = read_settings(h, vg_key, ("vg",), "a mapping with the volume group's name (vg)")
    vg = read_lvm_name(h, (*vg_key, "vg"), lvm.get("vg", MISSING)) if lvm is not None else None
    if h.problem_count() > start:
        return {"lvm": None}
    assert partition is not None and vg is not None and force is not None
    return {"lvm": LvmSettings(partition, float(size), vg, force)}


SECTION: Final = Section(
    "data.lvm_pv (partition, partition_size_gb, force) and data.lvm (vg)", parse_host
)
