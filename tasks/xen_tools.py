"""The guide's "Configure XEN-tools": /etc/xen-tools/xen-tools.conf from the inventory."""

from __future__ import annotations

from runbook.facts.system import file_content
from runbook.inventory import XenToolsSettings
from runbook.plan import NodeReader, Plan, plan_of, planned, required, write_file
from runbook.tasks.files import render
from runbook.tasks.packages import plan_packages

XEN_TOOLS_CONF = "/etc/xen-tools/xen-tools.conf"


def xen_tools_settings(node: NodeReader) -> XenToolsSettings:
    return required(node.settings.xen_tools, "xen_tools")


def packages_plan(node: NodeReader) -> Plan:
    """xen-tools (normally already there with the Xen packages) and debootstrap."""
    return plan_packages(node, ["xen-tools", "debootstrap"])


def plan_config(current: str | None, tools: XenToolsSettings) -> Plan:
    """LVM, sizes, networking, passwd, arch and mirrors of the guide, on both nodes alike."""
    return plan_of(write_file(XEN_TOOLS_CONF, current, render("xen-tools.conf.j2", t=tools)),
                   notes=[f"{XEN_TOOLS_CONF} already matches the inventory"])


def config(node: NodeReader) -> Plan:
    current = node.fact(file_content(XEN_TOOLS_CONF))
    return plan_config(current, xen_tools_settings(node))


install_xen_tools = planned(packages_plan)
configure_xen_tools = planned(config)
