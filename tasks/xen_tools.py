"""The guide's "Configure XEN-tools": /etc/xen-tools/xen-tools.conf from the inventory."""

from __future__ import annotations

from nornir.core.task import Result, Task

from runbook.engine import Refused
from runbook.inventory import XenToolsSettings
from runbook.tasks.base import settings
from runbook.tasks.files import ensure_file, render
from runbook.tasks.packages import ensure_packages

XEN_TOOLS_CONF = "/etc/xen-tools/xen-tools.conf"


def xen_tools_settings(task: Task) -> XenToolsSettings:
    values = settings(task).xen_tools
    if values is None:
        raise Refused("the inventory has no xen_tools settings for this host")
    return values


def install_xen_tools(task: Task) -> Result:
    """xen-tools (normally already there with the Xen packages) and debootstrap."""
    installed = ensure_packages(task, ["xen-tools", "debootstrap"])
    if not installed:
        return Result(host=task.host, result="xen-tools already installed")
    return Result(host=task.host, changed=True, result=f"installed {', '.join(installed)}")


def configure_xen_tools(task: Task) -> Result:
    """LVM, sizes, networking, passwd, arch and mirrors of the guide, on both nodes alike."""
    wanted = render("xen-tools.conf.j2", t=xen_tools_settings(task))
    change = ensure_file(task, XEN_TOOLS_CONF, wanted)
    if not change.changed:
        return Result(host=task.host, result=f"{XEN_TOOLS_CONF} already matches the inventory")
    return Result(host=task.host, changed=True, diff=change.diff, result=f"wrote {XEN_TOOLS_CONF}")
