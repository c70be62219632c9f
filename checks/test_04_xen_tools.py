"""Acceptance checks of 04-xen-tools: xen-tools.conf says what the inventory says, and both
nodes have the same xen-tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook import consistency
from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.packages import missing, packages
from runbook.facts.system import file_content
from runbook.findings import expect, fail, fail_if, finding, shown
from runbook.inventory import ClusterInventory, NodeSettings, XenToolsSettings
from runbook.parsers.xen import parse_key_values
from runbook.tasks.xen_tools import XEN_TOOLS_CONF

CONF = file_content(XEN_TOOLS_CONF)
XEN_TOOLS = packages(["xen-tools"])


def tools_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [CONF, XEN_TOOLS]


@pytest.fixture(scope="module")
def tools(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(tools_facts)
    return gathered


def expected(t: XenToolsSettings) -> dict[str, str]:
    return {
        "lvm": t.lvm, "size": t.size, "memory": t.memory, "swap": t.swap, "fs": t.fs,
        "dist": t.dist, "image": t.image, "gateway": str(t.gateway), "netmask": str(t.netmask),
        "broadcast": str(t.broadcast), "passwd": "1" if t.passwd else "0", "arch": t.arch,
        "mirror": t.mirror, "install-method": t.install_method,
    }


def effective(facts: HostFacts) -> dict[str, str]:
    """The settings in effect (the last assignment wins); no file fails the check."""
    __tracebackhide__ = True
    conf = facts.get(CONF)
    if conf is None:
        fail(finding(subject=XEN_TOOLS_CONF, node=facts.host, expected="the file",
                     found="no such file"))
    return parse_key_values(conf)


def inventory(node: NodeSettings) -> XenToolsSettings:
    assert node.xen_tools is not None, "no xen_tools settings"  # the inventory's job
    return node.xen_tools


def test_xen_tools_installed(node: NodeSettings, tools: Gathered) -> None:
    """The xen-tools package (xen-create-image) is installed."""
    if missing(tools[node].get(XEN_TOOLS), ["xen-tools"]):
        fail(finding(subject="package", key="xen-tools", node=node, expected="installed",
                     found="not installed"))


@pytest.mark.parametrize("key", [
    "lvm", "size", "memory", "swap", "fs", "dist", "image", "gateway", "netmask", "broadcast",
    "passwd", "arch", "mirror", "install-method",
])
def test_effective_setting(node: NodeSettings, tools: Gathered, key: str) -> None:
    """The effective value in xen-tools.conf (the last assignment wins) is the inventory's."""
    expect(effective(tools[node]).get(key), expected(inventory(node))[key], node=node,
           subject=XEN_TOOLS_CONF, key=key)


def test_per_distribution_mirrors(node: NodeSettings, tools: Gathered) -> None:
    """The per-distribution mirrors (mirror_DIST) in effect are exactly the inventory's:
    none missing, and none the inventory does not list (with none listed, none at all)."""
    found = {k: v for k, v in effective(tools[node]).items() if k.startswith("mirror_")}
    wanted = dict(inventory(node).mirrors)
    fail_if(finding(subject=XEN_TOOLS_CONF, key=key, node=node,
                    expected=shown(wanted.get(key)), found=shown(found.get(key)))
            for key in sorted(set(found) | set(wanted)) if found.get(key) != wanted.get(key))


def test_xen_tools_version_alike(cluster: ClusterInventory, tools: Gathered) -> None:
    """Both nodes have the same version of xen-tools."""
    versions: dict[str, dict[str, str | None]] = {}
    for host in cluster.nodes:
        states = tools[host].get(XEN_TOOLS)
        versions[host] = {"xen-tools": states["xen-tools"].version
                          if "xen-tools" in states and states["xen-tools"].installed else None}
    fail_if(consistency.package_versions(versions))
