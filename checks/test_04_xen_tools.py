"""Acceptance checks of 04-xen-tools: xen-tools.conf says what the inventory says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.packages import missing, packages
from runbook.facts.system import file_content
from runbook.inventory import ClusterInventory, NodeSettings, XenToolsSettings
from runbook.parsers.xen import parse_key_values
from runbook.tasks.xen_tools import XEN_TOOLS_CONF

CONF = file_content(XEN_TOOLS_CONF)
XEN_TOOLS = packages(["xen-tools"])


def tools_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [CONF, XEN_TOOLS]


@pytest.fixture(scope="module")
def tools(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(tools_facts)


def expected(t: XenToolsSettings) -> dict[str, str]:
    return {
        "lvm": t.lvm, "size": t.size, "memory": t.memory, "swap": t.swap, "fs": t.fs,
        "dist": t.dist, "image": t.image, "gateway": str(t.gateway), "netmask": str(t.netmask),
        "broadcast": str(t.broadcast), "passwd": "1" if t.passwd else "0", "arch": t.arch,
        "mirror": t.mirror, "install-method": t.install_method,
    }


def effective(facts: HostFacts) -> dict[str, str]:
    conf = facts.get(CONF)
    assert conf is not None, f"no {XEN_TOOLS_CONF}"
    return parse_key_values(conf)


def test_xen_tools_installed(node: NodeSettings, tools: Gathered) -> None:
    """The xen-tools package (xen-create-image) is installed."""
    assert not missing(tools[node].get(XEN_TOOLS), ["xen-tools"]), "xen-tools is not installed"


@pytest.mark.parametrize("key", [
    "lvm", "size", "memory", "swap", "fs", "dist", "image", "gateway", "netmask", "broadcast",
    "passwd", "arch", "mirror", "install-method",
])
def test_effective_setting(node: NodeSettings, tools: Gathered, key: str) -> None:
    """The effective value in xen-tools.conf (the last assignment wins) is the inventory's."""
    assert node.xen_tools is not None, "no xen_tools settings in the inventory"
    assert effective(tools[node]).get(key) == expected(node.xen_tools)[key]


def test_per_distribution_mirrors(node: NodeSettings, tools: Gathered) -> None:
    """The per-distribution mirrors (mirror_DIST) in effect are exactly the inventory's:
    none missing, and none the inventory does not list (with none listed, none at all)."""
    assert node.xen_tools is not None, "no xen_tools settings in the inventory"
    found = {k: v for k, v in effective(tools[node]).items() if k.startswith("mirror_")}
    assert found == dict(node.xen_tools.mirrors)
