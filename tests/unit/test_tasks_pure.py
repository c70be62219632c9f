"""Plans of 01-base, 02-xen and 03-lvm as tables: facts in, actions (or a refusal) out.

No root, no lab, no node: the plan functions are pure.
"""

from __future__ import annotations

from typing import Any

import pytest

from runbook.engine import Refused, StepFailed
from runbook.facts import Fact, FactFailed, Facts
from runbook.facts.lvm import PVS, first_mib_blank, signature, size_bytes
from runbook.facts.packages import packages
from runbook.inventory import ClusterInventory, LvmSettings, XenSettings
from runbook.plan import InstallPackages, Plan, RunCommand, WriteFile
from runbook.remote import CommandResult
from runbook.tasks import base
from runbook.tasks.files import render
from runbook.tasks.lvm import CreateVolumeGroup, DiskFacts, disk_facts, plan_volume_group
from runbook.tasks.xen import (
    BootIntoXen,
    BootState,
    plan_boot,
    plan_dom0_memory,
    plan_loop,
    reboot_reasons,
    with_loop_line,
)

LVM = LvmSettings(partition="/dev/sda3", partition_size_gb=40, vg="vg")
GIB40 = 40 * 2**30


def disk(**change: object) -> DiskFacts:
    values: dict[str, object] = dict(partition="/dev/sda3", size_bytes=GIB40, signature={},
                                     pv_vg=None, vg_pvs=(), has_data=False)
    values.update(change)
    return DiskFacts(**values)  # type: ignore[arg-type]


def commands(plan: Plan) -> tuple[str, ...]:
    return tuple(c for a in plan.actions if isinstance(a, CreateVolumeGroup) for c in a.commands)


# 03-lvm: volume group -------------------------------------------------------------------
@pytest.mark.parametrize(("case", "facts", "force", "expected"), [
    ("fresh partition", disk(), False, ("pvcreate /dev/sda3", "vgcreate vg /dev/sda3")),
    ("already done", disk(pv_vg="vg", vg_pvs=("/dev/sda3",), has_data=True), False, ()),
    ("PV in no VG (stopped halfway)", disk(pv_vg="", has_data=True), False,
     ("vgcreate vg /dev/sda3",)),
    ("forced over ext3", disk(signature={"TYPE": "ext3"}, has_data=True), True,
     ("pvcreate -ff -y /dev/sda3", "vgcreate vg /dev/sda3")),
    ("forced over another VG", disk(pv_vg="othervg", has_data=True), True,
     ("pvcreate -ff -y /dev/sda3", "vgcreate vg /dev/sda3")),
    ("forced over data", disk(has_data=True), True,
     ("pvcreate -ff -y /dev/sda3", "vgcreate vg /dev/sda3")),
    ("forced, but blank", disk(), True, ("pvcreate /dev/sda3", "vgcreate vg /dev/sda3")),
    ("size within 2%", disk(size_bytes=int(GIB40 * 0.99)), False,
     ("pvcreate /dev/sda3", "vgcreate vg /dev/sda3")),
])
def test_volume_group_plans(case: str, facts: DiskFacts, force: bool,
                            expected: tuple[str, ...]) -> None:
    plan = plan_volume_group(facts, LVM, force)
    assert commands(plan) == expected, case
    assert bool(plan) == bool(expected), case


@pytest.mark.parametrize(("case", "facts", "message"), [
    ("ext3 filesystem", disk(signature={"TYPE": "ext3"}, has_data=True), "holds a ext3 signature"),
    ("swap", disk(signature={"TYPE": "swap"}, has_data=True), "holds a swap signature"),
    ("another VG", disk(pv_vg="othervg", has_data=True), "another volume group (othervg)"),
    ("unknown data", disk(has_data=True), "data (its first MiB is not blank)"),
    ("VG elsewhere", disk(vg_pvs=("/dev/sdb1",)), "already exists on /dev/sdb1"),
    ("wrong size", disk(size_bytes=10 * 2**30), "10.0 GiB but the inventory says 40 GiB"),
])
def test_volume_group_refusals_without_force(case: str, facts: DiskFacts, message: str) -> None:
    with pytest.raises(Refused, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_volume_group(facts, LVM, force=False)


@pytest.mark.parametrize("facts", [disk(vg_pvs=("/dev/sdb1",), has_data=True),
                                   disk(size_bytes=10 * 2**30)])
def test_force_never_overrides_a_wrong_size_or_a_vg_elsewhere(facts: DiskFacts) -> None:
    with pytest.raises(Refused):
        plan_volume_group(facts, LVM, force=True)


def test_missing_partition_fails() -> None:
    with pytest.raises(StepFailed, match="does not exist"):
        plan_volume_group(disk(size_bytes=None), LVM, force=True)


def read(answers: dict[Fact[Any], tuple[str, int]]) -> Facts:
    """Facts as a node would have answered them: fact -> (stdout, exit status)."""
    return Facts("ha1", {f.name: CommandResult("ha1", f.command, out, "", rc, 0.0)
                         for f, (out, rc) in answers.items()})


LVM2 = packages(["lvm2"])
INSTALLED = ("lvm2\tinstall ok installed\t2.02.26-1ubuntu9\n", 0)
NOT_INSTALLED = ("", 1)
PV_LINE = ("  /dev/sda3|vg|40956.00\n", 0)


@pytest.mark.parametrize(("case", "answers", "expected"), [
    ("blank; blkid 1.40.8 finds nothing (exit 2)",
     {signature("/dev/sda3"): ("", 2), PVS: ("", 0), first_mib_blank("/dev/sda3"): ("", 0)},
     disk()),
    ("ext3 in the 1.40.8 format",
     {signature("/dev/sda3"): ('/dev/sda3: UUID="0b5a3cdd" TYPE="ext3" \n', 0), PVS: ("", 0),
      first_mib_blank("/dev/sda3"): ("", 1)},
     disk(signature={"UUID": "0b5a3cdd", "TYPE": "ext3"}, has_data=True)),
    ("ext3 as util-linux prints it (SEC_TYPE)",
     {signature("/dev/sda3"): ('/dev/sda3: UUID="0a02" SEC_TYPE="ext2" TYPE="ext3" \n', 0),
      PVS: ("", 0), first_mib_blank("/dev/sda3"): ("", 1)},
     disk(signature={"UUID": "0a02", "SEC_TYPE": "ext2", "TYPE": "ext3"}, has_data=True)),
    ("the PV of vg",
     {signature("/dev/sda3"): ('/dev/sda3: UUID="x" TYPE="lvm2pv" \n', 0), PVS: PV_LINE,
      first_mib_blank("/dev/sda3"): ("", 1)},
     disk(signature={"UUID": "x", "TYPE": "lvm2pv"}, pv_vg="vg", vg_pvs=("/dev/sda3",),
          has_data=True)),
])
def test_disk_facts_from_what_the_node_printed(case: str, answers: dict[Fact[Any], tuple[str, int]],
                                               expected: DiskFacts) -> None:
    answers |= {LVM2: INSTALLED, size_bytes("/dev/sda3"): (f"{GIB40}\n", 0)}
    assert disk_facts(read(answers), LVM, dry_run=False) == (expected, []), case


def test_blkid_usage_error_is_a_failed_fact_not_a_blank_disk() -> None:
    """blkid 1.40.8 given an option it lacks exits 4: never read as "nothing found"."""
    answers: dict[Fact[Any], tuple[str, int]] = {
               LVM2: INSTALLED, size_bytes("/dev/sda3"): (f"{GIB40}\n", 0), PVS: ("", 0),
               signature("/dev/sda3"): ("", 4), first_mib_blank("/dev/sda3"): ("", 0)}
    with pytest.raises(FactFailed, match=r"blkid .* exited 4"):
        disk_facts(read(answers), LVM, dry_run=False)


def test_before_lvm2_a_dry_run_predicts_and_a_real_run_fails() -> None:
    answers: dict[Fact[Any], tuple[str, int]] = {
               LVM2: NOT_INSTALLED, size_bytes("/dev/sda3"): (f"{GIB40}\n", 0),
               PVS: ("", 127), signature("/dev/sda3"): ("", 2),
               first_mib_blank("/dev/sda3"): ("", 0)}
    facts, predictions = disk_facts(read(answers), LVM, dry_run=True)
    assert facts == disk() and predictions == [
        "predicted (lvm2 is not installed yet): no PV exists, so none on /dev/sda3"]
    with pytest.raises(StepFailed, match="lvm2 is not installed yet"):
        disk_facts(read(answers), LVM, dry_run=False)


# 02-xen ---------------------------------------------------------------------------------
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
    (write,) = plan_loop(before, 64).actions
    assert isinstance(write, WriteFile) and write.content == after
    assert not plan_loop(after, 64)


def test_dom0_memory_writes_menu_lst_then_update_grub() -> None:
    plan = plan_dom0_memory("default 0\n# xenhopt=\n", 512)
    assert plan.describe() == ["write /boot/grub/menu.lst (34 bytes, mode 0644)",
                               "run: update-grub"]
    assert "+# xenhopt=dom0_mem=512M" in plan.diff
    assert not plan_dom0_memory("default 0\n# xenhopt=dom0_mem=512M\n", 512)
    with pytest.raises(Refused, match="GRUB legacy"):
        plan_dom0_memory(None, 512)


XEN = XenSettings(packages=("ubuntu-xen-server",), kernel_suffix="-xen", dom0_memory_mb=512,
                  max_loop=64, reboot_timeout_s=300)
DOM0 = BootState("2.6.24-19-xen", 64, 512, (), True)
FRESH = BootState("2.6.24-19-server", 8, None, (), False, xen_installed=False)


@pytest.mark.parametrize(("state", "reasons"), [
    (DOM0, []),
    (BootState("2.6.24-19-server", 8, None, (), True),
     ["running kernel 2.6.24-19-server is not -xen", "max_loop is 8, not 64"]),
    (BootState("2.6.24-19-xen", 64, 2047, (), True), ["Domain-0 has 2047 MB, not 512 MB"]),
])
def test_reboot_reasons(state: BootState, reasons: list[str]) -> None:
    assert reboot_reasons(state, XEN) == reasons


@pytest.mark.parametrize(("case", "state", "dry_run", "describe"), [
    ("already dom0", DOM0, False, []),
    ("installed, not rebooted", BootState("2.6.24-19-server", 64, None, (), True), False,
     ["reboot: running kernel 2.6.24-19-server is not -xen"]),
    ("xend down on the Xen kernel", BootState("2.6.24-19-xen", 64, None, (), True), False,
     ["run: /etc/init.d/xend start (then reboot if Domain-0 is still not right)"]),
    ("dry run before the packages", FRESH, True,
     ["reboot: running kernel 2.6.24-19-server is not -xen; max_loop is 8, not 64",
      "predicted (ubuntu-xen-server not installed yet): the default entry of "
      "/boot/grub/menu.lst starts Xen once they are"]),
])
def test_boot_plans(case: str, state: BootState, dry_run: bool, describe: list[str]) -> None:
    plan = plan_boot(state, XEN, dry_run)
    assert plan.describe() == describe, case
    assert all(isinstance(a, BootIntoXen) for a in plan.actions)


@pytest.mark.parametrize(("case", "state", "dry_run", "message"), [
    ("DomUs run", BootState("2.6.24-19-xen", 64, 2047, ("test",), True), True,
     "DomUs run here \\(test\\)"),
    ("GRUB default is not Xen, Xen installed (dry run too)",
     BootState("2.6.24-19-server", 64, None, (), False), True, "does not start Xen"),
    ("GRUB default is not Xen, real run", FRESH, False, "does not start Xen"),
])
def test_boot_refusals(case: str, state: BootState, dry_run: bool, message: str) -> None:
    with pytest.raises(Refused, match=message):
        plan_boot(state, XEN, dry_run)


# 01-base --------------------------------------------------------------------------------
def test_interfaces_restart_only_what_changed(cluster: ClusterInventory) -> None:
    node = cluster.nodes["ha1"]
    fresh = base.plan_interfaces("auto eth0\niface eth0 inet dhcp\n", node)
    assert [a.describe() for a in fresh.actions][1:] == [
        "run: ifdown --force eth0 2>/dev/null; ifup eth0",
        "run: ifdown --force eth1 2>/dev/null; ifup eth1"]
    (write,) = [a for a in fresh.actions if isinstance(a, WriteFile)]
    only_eth1 = write.content.replace("address 10.0.0.1", "address 10.0.0.9")
    assert [a.describe() for a in base.plan_interfaces(only_eth1, node).actions][1:] == [
        "run: ifdown --force eth1 2>/dev/null; ifup eth1"]
    assert not base.plan_interfaces(write.content, node)


@pytest.mark.parametrize(("case", "installed", "conf", "running", "expected"), [
    ("fresh", False, None, False, [InstallPackages, WriteFile, RunCommand]),
    ("all right", True, "RIGHT", True, []),
    ("stopped", True, "RIGHT", False, [RunCommand]),
    ("wrong servers", True, "server pool.ntp.org\n", True, [WriteFile, RunCommand]),
])
def test_ntp_plans(case: str, installed: bool, conf: str | None, running: bool,
                   expected: list[type]) -> None:
    servers = ("192.168.1.1",)
    right = render("ntp.conf.j2", ntp_servers=servers)
    plan = base.plan_ntp(installed, right if conf == "RIGHT" else conf, running, servers)
    assert [type(a) for a in plan.actions] == expected, case
    verbs = [a.command for a in plan.actions if isinstance(a, RunCommand)]
    assert verbs == (["/etc/init.d/ntp start"] if case == "stopped" else
                     ["/etc/init.d/ntp restart"] if expected else [])


def test_hostname_plan() -> None:
    assert not base.plan_hostname("ha1.domain.local\n", "ha1.domain.local", "ha1.domain.local")
    plan = base.plan_hostname("ha1\n", "ha1", "ha1.domain.local")
    assert plan.describe() == ["write /etc/hostname (17 bytes, mode 0644)",
                               "run: hostname ha1.domain.local"]
