"""Acceptance checks of 02-xen: each node runs the Xen kernel as the guide's dom0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.system import UNAME_R
from runbook.facts.xen import MAX_LOOP, MODULES_FILE, XM_INFO, XM_LIST, dom0_memory
from runbook.inventory import ClusterInventory, NodeSettings, XenSettings


def xen_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [UNAME_R, XM_INFO, XM_LIST, MAX_LOOP, MODULES_FILE]


@pytest.fixture(scope="module")
def xen(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(xen_facts)


def settings(node: NodeSettings) -> XenSettings:
    assert node.xen is not None, "no xen settings in the inventory"
    return node.xen


def test_running_the_xen_kernel(node: NodeSettings, xen: Gathered) -> None:
    """`uname -r` shows the kernel of the inventory's suffix (the node rebooted into Xen)."""
    release = xen[node].get(UNAME_R)
    assert release.endswith(settings(node).kernel_suffix), f"running {release}"


def test_xm_info_works(node: NodeSettings, xen: Gathered) -> None:
    """`xm info` answers under the Xen kernel `uname -r` shows, with the inventory's Xen version."""
    info = xen[node].get(XM_INFO)
    release = xen[node].get(UNAME_R)
    assert info["release"] == release, f"xm info says release {info['release']}, uname {release}"
    assert info["release"].endswith(settings(node).kernel_suffix), info["release"]
    running = f"{info.get('xen_major')}.{info.get('xen_minor')}"
    assert running == settings(node).version, (
        f"xm info reports Xen {running}{info.get('xen_extra', '')}, the inventory expects "
        f"{settings(node).version} (xen.version)")


def test_domain0_memory_as_configured(node: NodeSettings, xen: Gathered) -> None:
    """`xm list` shows Domain-0 with the dom0 memory of the inventory."""
    memory = dom0_memory(xen[node].get(XM_LIST))
    assert memory is not None, "no Domain-0 in xm list"
    assert memory == settings(node).dom0_memory_mb


def test_loop_devices_extended(node: NodeSettings, xen: Gathered) -> None:
    """`loop max_loop=N` is in /etc/modules and active (/sys/module/loop/parameters)."""
    wanted = settings(node).max_loop
    modules = xen[node].get(MODULES_FILE) or ""
    assert f"loop max_loop={wanted}" in modules.splitlines()
    assert xen[node].get(MAX_LOOP) == wanted
