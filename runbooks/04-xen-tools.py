"""xen-tools: /etc/xen-tools/xen-tools.conf from the inventory, on both nodes.

The guide's "Configure XEN-tools": LVM volume group, disk/memory/swap sizes,
filesystem, distribution, image type, networking defaults, passwd = 1, arch
and mirrors, identical on both nodes so either can create DomUs.
"""

from runbook.engine import Step
from runbook.tasks import xen_tools

REQUIRES = ("base", "xen_tools")

STEPS = [
    Step("xen-tools", xen_tools.install_xen_tools, "the xen-tools package"),
    Step("config", xen_tools.configure_xen_tools, "xen-tools.conf from the inventory"),
]
