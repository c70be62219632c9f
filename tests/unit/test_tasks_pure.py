"""Decisions the Xen and LVM tasks make from facts, as tables: facts in, plan out."""

from __future__ import annotations

import pytest

from runbook.engine import Refused, StepFailed
from runbook.inventory import LvmSettings, XenSettings
from runbook.tasks.lvm import DiskFacts, plan_volume_group
from runbook.tasks.packages import installed_packages
from runbook.tasks.xen import BootState, reboot_reasons, with_loop_line

LVM = LvmSettings(partition="/dev/sda3", partition_size_gb=40, vg="vg")
GIB40 = 40 * 2**30


def facts(**change: object) -> DiskFacts:
    base: dict[str, object] = dict(partition="/dev/sda3", size_bytes=GIB40, signature={},
                                   pv_vg=None, vg_pvs=(), has_data=False)
    base.update(change)
    return DiskFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "disk", "force", "commands"), [
    ("blank partition", facts(), False, ("pvcreate /dev/sda3", "vgcreate vg /dev/sda3")),
    ("already done", facts(pv_vg="vg", vg_pvs=("/dev/sda3",), has_data=True), False, ()),
    ("pv without vg (stopped halfway)", facts(pv_vg="", has_data=True), False,
     ("vgcreate vg /dev/sda3",)),
    ("forced over ext3", facts(signature={"TYPE": "ext3"}, has_data=True), True,
     ("pvcreate -ff -y /dev/sda3", "vgcreate vg /dev/sda3")),
    ("forced over another vg", facts(pv_vg="othervg", has_data=True), True,
     ("pvcreate -ff -y /dev/sda3", "vgcreate vg /dev/sda3")),
])
def test_plans(case: str, disk: DiskFacts, force: bool, commands: tuple[str, ...]) -> None:
    assert plan_volume_group(disk, LVM, force).commands == commands, case


@pytest.mark.parametrize(("case", "disk", "message"), [
    ("ext3 filesystem", facts(signature={"TYPE": "ext3"}, has_data=True), "holds a ext3 signature"),
    ("swap", facts(signature={"TYPE": "swap"}, has_data=True), "holds a swap signature"),
    ("another vg", facts(pv_vg="othervg", has_data=True), "another volume group (othervg)"),
    ("unknown data", facts(has_data=True), "data (its first MiB is not blank)"),
    ("vg elsewhere", facts(vg_pvs=("/dev/sdb1",)), "already exists on /dev/sdb1"),
    ("wrong size", facts(size_bytes=10 * 2**30), "10.0 GiB but the inventory says 40 GiB"),
])
def test_refusals_without_force(case: str, disk: DiskFacts, message: str) -> None:
    with pytest.raises(Refused, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_volume_group(disk, LVM, force=False)


def test_force_never_overrides_a_vg_that_lives_elsewhere() -> None:
    with pytest.raises(Refused):
        plan_volume_group(facts(vg_pvs=("/dev/sdb1",), has_data=True), LVM, force=True)


def test_missing_partition_fails() -> None:
    with pytest.raises(StepFailed, match="does not exist"):
        plan_volume_group(facts(size_bytes=None), LVM, force=True)


@pytest.mark.parametrize(("before", "after"), [
    ("# /etc/modules\nlp\n", "# /etc/modules\nlp\nloop max_loop=64\n"),
    ("lp\nloop\nrtc\n", "lp\nloop max_loop=64\nrtc\n"),
    ("loop max_loop=8\nloop\n", "loop max_loop=64\n"),
    ("", "loop max_loop=64\n"),
    ("# loop is commented\n", "# loop is commented\nloop max_loop=64\n"),
])
def test_loop_line(before: str, after: str) -> None:
    assert with_loop_line(before, 64) == after
    assert with_loop_line(after, 64) == after


XEN = XenSettings(packages=("ubuntu-xen-server",), kernel_suffix="-xen", dom0_memory_mb=512,
                  max_loop=64, reboot_timeout_s=300)


@pytest.mark.parametrize(("state", "reasons"), [
    (BootState("2.6.24-19-xen", 64, 512, (), True), []),
    (BootState("2.6.24-19-server", 8, None, (), True),
     ["running kernel 2.6.24-19-server is not -xen", "max_loop is 8, not 64"]),
    (BootState("2.6.24-19-xen", 64, 2047, (), True), ["Domain-0 has 2047 MB, not 512 MB"]),
])
def test_reboot_reasons(state: BootState, reasons: list[str]) -> None:
    assert reboot_reasons(state, XEN) == reasons


def test_installed_packages_reads_only_installed_ones() -> None:
    out = ("ntp\tinstall ok installed\nlvm2\tdeinstall ok config-files\n"
           "xen-tools\tinstall ok installed\n")
    assert installed_packages(out) == {"ntp", "xen-tools"}
