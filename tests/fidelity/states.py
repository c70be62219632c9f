"""The fidelity suite's lab (``rbfi``, ports 2451/2452) and its named states.

States are prepared in one fixed order, each on top of the ones before it, with the commands
the guide has an admin type (never through the runbook engine): a transcript that needs a
state runs after every transcript that needs only earlier ones. ``fresh`` is the lab as it
comes up. Add a state by appending it to STATES (name, what it is, how to prepare it).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.integration.labtools import ssh
from xenlab import manager

LAB = "rbfi"
PORT_BASE = 2451
NODES = ("ha1", "ha2")

XEN_TOOLS_CONF = (  # the guide's "Configure XEN-tools" edits
    "sed -i -e 's/^# lvm = .*/lvm = vg/' -e 's/^size   = .*/size   = 5Gb/' "
    "-e 's/^memory = .*/memory = 384Mb/' -e 's/^swap   = .*/swap   = 384Mb/' "
    "-e 's/^dist   = .*/dist   = hardy/' -e 's/^# passwd = 1/passwd = 1/' "
    "/etc/xen-tools/xen-tools.conf"
)


def _boot_id(lab: manager.LabInfo, node: str) -> str:
    result = ssh(lab, node, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=15)
    return result.stdout.strip() if result.returncode == 0 else ""


def _reboot(lab: manager.LabInfo, node: str) -> None:
    before = _boot_id(lab, node)
    ssh(lab, node, "reboot", check=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(1)
        if _boot_id(lab, node) not in ("", before):
            return
    pytest.fail(f"{node} did not come back from reboot within 120 s")


def _xen(lab: manager.LabInfo) -> None:
    for node in NODES:
        ssh(lab, node, "apt-get install -y ubuntu-xen-server", timeout=300)
        ssh(lab, node, "sed -i 's/^# xenhopt=$/# xenhopt=dom0_mem=512M/' /boot/grub/menu.lst && "
                       "update-grub && echo 'loop max_loop=64' >> /etc/modules")
    for node in NODES:
        _reboot(lab, node)


def _lvm(lab: manager.LabInfo) -> None:
    for node in NODES:
        ssh(lab, node, "apt-get install -y lvm2 && pvcreate /dev/sda3 && vgcreate vg /dev/sda3")


def _xen_tools(lab: manager.LabInfo) -> None:
    for node in NODES:
        ssh(lab, node, f"apt-get install -y xen-tools && {XEN_TOOLS_CONF}")


def _domu(lab: manager.LabInfo) -> None:
    password = secrets.token_urlsafe(12)  # on stdin only, never in an argument or a log
    ssh(lab, "ha1", "xen-create-image --hostname=test --ip=192.168.1.50",
        stdin=f"{password}\n{password}\n", timeout=300)
    lvs = ssh(lab, "ha1", "lvs --noheadings -o lv_name vg").stdout.split()
    if lvs != ["test-disk", "test-swap"]:  # xen-create-image 3.8 exits 0 even when it failed
        pytest.fail(f"xen-create-image left LVs {lvs}, not test-disk and test-swap")


def _domu_running(lab: manager.LabInfo) -> None:
    ssh(lab, "ha1", "xm create /etc/xen/test.cfg")


STATES: tuple[tuple[str, str, Callable[[manager.LabInfo], None]], ...] = (
    ("fresh", "the lab as it comes up: Ubuntu 8.04 after install + ssh", lambda lab: None),
    ("xen", "ubuntu-xen-server, dom0_mem=512M, max_loop=64, rebooted into -xen", _xen),
    ("lvm", "lvm2, pvcreate /dev/sda3, vgcreate vg (both nodes)", _lvm),
    ("xen-tools", "xen-tools with the guide's xen-tools.conf (both nodes)", _xen_tools),
    ("domu", "xen-create-image of DomU test on ha1 (LVs test-disk, test-swap)", _domu),
    ("domu-running", "DomU test running on ha1", _domu_running),
)
STATE_NAMES = tuple(name for name, _, _ in STATES)


def level(needs: tuple[str, ...]) -> int:
    """The index of the last state a transcript needs (0: fresh)."""
    return max((STATE_NAMES.index(n) for n in needs), default=0)


@dataclass
class Lab:
    """The suite's lab and how far it has been prepared."""

    info: manager.LabInfo
    reached: int = 0
    broken: str = ""

    def reach(self, wanted: int) -> None:
        if self.broken:
            pytest.fail(f"lab state preparation failed earlier: {self.broken}")
        if wanted < self.reached:
            pytest.fail(f"state {STATE_NAMES[wanted]} is behind the lab "
                        f"({STATE_NAMES[self.reached]}): transcripts must run in state order")
        while self.reached < wanted:
            name, _, prepare = STATES[self.reached + 1]
            try:
                prepare(self.info)
            except BaseException as exc:
                self.broken = f"{name}: {exc}"
                raise
            self.reached += 1
