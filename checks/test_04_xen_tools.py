"""Acceptance checks of 04-xen-tools: xen-tools.conf says what the inventory says."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runbook.checking import Gathered
from runbook.inventory import ClusterInventory, NodeSettings, XenToolsSettings
from runbook.parsers.xen import parse_key_values


def tools_commands(node: NodeSettings, cluster: ClusterInventory) -> Mapping[str, str]:
    return {"xen-tools.conf": "cat /etc/xen-tools/xen-tools.conf",
            "xen-create-image": "command -v xen-create-image"}


@pytest.fixture(scope="module")
def tools(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(tools_commands)


def expected(t: XenToolsSettings) -> dict[str, str]:
    values = {
        "lvm": t.lvm, "size": t.size, "memory": t.memory, "swap": t.swap, "fs": t.fs,
        "dist": t.dist, "image": t.image, "gateway": str(t.gateway), "netmask": str(t.netmask),
        "broadcast": str(t.broadcast), "passwd": "1" if t.passwd else "0", "arch": t.arch,
        "mirror": t.mirror, "install-method": t.install_method,
    }
    return values | dict(t.mirrors)


def test_xen_create_image_installed(node: NodeSettings, tools: Gathered) -> None:
    """xen-create-image is installed."""
    assert tools[node]["xen-create-image"].ok


@pytest.mark.parametrize("key", [
    "lvm", "size", "memory", "swap", "fs", "dist", "image", "gateway", "netmask", "broadcast",
    "passwd", "arch", "mirror", "install-method",
])
def test_effective_setting(node: NodeSettings, tools: Gathered, key: str) -> None:
    """The effective value in xen-tools.conf (the last assignment wins) is the inventory's."""
    assert node.xen_tools is not None, "no xen_tools settings in the inventory"
    effective = parse_key_values(tools[node]["xen-tools.conf"].stdout)
    assert effective.get(key) == expected(node.xen_tools)[key]


def test_per_distribution_mirrors(node: NodeSettings, tools: Gathered) -> None:
    """Every per-distribution mirror of the inventory is set."""
    assert node.xen_tools is not None
    effective = parse_key_values(tools[node]["xen-tools.conf"].stdout)
    for key, url in node.xen_tools.mirrors.items():
        assert effective.get(key) == url, f"{key} is {effective.get(key)!r}"
