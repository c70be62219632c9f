"""Xen: the hypervisor packages, loop devices, dom0 memory, reboot into the Xen kernel.

The guide's "Installing XEN": install the Xen packages (ubuntu-xen-server brings
the hypervisor, the -xen kernel, xm and xen-tools), `loop max_loop=64` in
/etc/modules, Dom0 limited to its memory (dom0_mem on GRUB's Xen line), then a
reboot: both nodes reboot in parallel and each is waited for until it answers
SSH with a new boot and `uname -r` shows the -xen kernel.
"""

from runbook.engine import Step
from runbook.tasks import xen

REQUIRES = ("base", "xen")

STEPS = [
    Step("packages", xen.install_xen, "the Xen packages"),
    Step("loop", xen.enable_loop_devices, "loop max_loop=64 in /etc/modules"),
    Step("dom0-memory", xen.set_dom0_memory, "dom0_mem on the Xen boot line (update-grub)"),
    Step("reboot", xen.boot_into_xen, "reboot into the Xen kernel and wait for SSH"),
]
