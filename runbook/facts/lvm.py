"""Facts of LVM and block devices: PVs, VGs, LVs, signatures, sizes, blank bytes.

Only what lvm2 2.02.26 and e2fsprogs 1.40.8 (Ubuntu 8.04) have: report commands with
``--noheadings --units m --nosuffix --separator``, and ``blkid -c /dev/null DEVICE``.
Existence is told by reports, never by `vgdisplay`'s exit status (0 for a missing VG there).
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.facts import Fact, stdout_fact
from runbook.parsers.lvm import mib, parse_blkid, parse_report, report_command
from runbook.remote import CommandResult, quote

PV_FIELDS = ["pv_name", "vg_name", "pv_size"]
VG_FIELDS = ["vg_name", "vg_size", "pv_count"]
LV_FIELDS = ["lv_name", "vg_name", "lv_size"]


@dataclass(frozen=True)
class PhysicalVolume:
    name: str
    vg: str  # "" for a PV in no volume group
    size_mib: float


@dataclass(frozen=True)
class VolumeGroup:
    name: str
    size_mib: float
    pv_count: int


@dataclass(frozen=True)
class LogicalVolume:
    name: str
    vg: str
    size_mib: float


def _pvs(text: str) -> list[PhysicalVolume]:
    return [PhysicalVolume(r["pv_name"], r["vg_name"], mib(r["pv_size"]))
            for r in parse_report(text, PV_FIELDS)]


def _vgs(text: str) -> dict[str, VolumeGroup]:
    return {r["vg_name"]: VolumeGroup(r["vg_name"], mib(r["vg_size"]), int(r["pv_count"]))
            for r in parse_report(text, VG_FIELDS)}


def _lvs(text: str) -> list[LogicalVolume]:
    return [LogicalVolume(r["lv_name"], r["vg_name"], mib(r["lv_size"]))
            for r in parse_report(text, LV_FIELDS)]


PVS: Fact[list[PhysicalVolume]] = stdout_fact("pvs", report_command("pvs", PV_FIELDS), _pvs)
VGS: Fact[dict[str, VolumeGroup]] = stdout_fact("vgs", report_command("vgs", VG_FIELDS), _vgs)
# Every LV of every VG: `lvs VG` of a missing VG exits 5, and the caller filters anyway.
LVS: Fact[list[LogicalVolume]] = stdout_fact("lvs", report_command("lvs", LV_FIELDS), _lvs)


def lv_sizes(lvs: list[LogicalVolume], vg: str) -> dict[str, float]:
    """LV name -> size in MiB, of the LVs of ``vg``."""
    return {lv.name: lv.size_mib for lv in lvs if lv.vg == vg}


NOTHING_FOUND = 2  # blkid's exit status when the device holds no known signature


def signature(device: str) -> Fact[dict[str, str]]:
    """``blkid -c /dev/null DEVICE`` (no cache: read the device now): TYPE, UUID...; {} if none."""
    def parse(result: CommandResult) -> dict[str, str]:
        return {} if result.exit_status == NOTHING_FOUND else parse_blkid(result.stdout, device)

    return Fact(f"blkid {device}", f"blkid -c /dev/null {quote(device)}", parse,
                frozenset({0, NOTHING_FOUND}))


def _size(text: str) -> int | None:
    value = text.strip()
    if value == "":
        return None
    if not value.isdigit():
        raise ValueError(f"not a size in bytes: {value!r}")
    return int(value)


def size_bytes(device: str) -> Fact[int | None]:
    """The device's size in bytes, or None when it does not exist."""
    dev = quote(device)
    # stat for a device backed by a plain file (the lab's), where blockdev has no ioctl
    command = (f"if [ -e {dev} ]; then blockdev --getsize64 {dev} 2>/dev/null "
               f"|| stat -L -c %s {dev}; fi")
    return stdout_fact(f"size {device}", command, _size)


def first_mib_blank(device: str) -> Fact[bool]:
    """Whether the device's first MiB is all zero bytes (cmp: 0 same, 1 differs, 2 error)."""
    return Fact(f"blank {device}", f"cmp -s -n 1048576 {quote(device)} /dev/zero",
                lambda r: r.exit_status == 0, frozenset({0, 1}))
