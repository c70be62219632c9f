"""Acceptance checks of 02-xen: each node runs the Xen kernel as the guide's dom0."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runbook.checking import Gathered
from runbook.inventory import ClusterInventory, NodeSettings, XenSettings
from runbook.parsers.xen import parse_colon_table, parse_xm_list


def xen_commands(node: NodeSettings, cluster: ClusterInventory) -> Mapping[str, str]:
    return {
        "uname -r": "uname -r",
        "xm info": "xm info",
        "xm list": "xm list",
        "max_loop": "cat /sys/module/loop/parameters/max_loop",
        "modules": "cat /etc/modules",
    }


@pytest.fixture(scope="module")
def xen(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(xen_commands)


def settings(node: NodeSettings) -> XenSettings:
    assert node.xen is not None, "no xen settings in the inventory"
    return node.xen


def test_running_the_xen_kernel(node: NodeSettings, xen: Gathered) -> None:
    """`uname -r` shows the -xen kernel (the node rebooted into Xen)."""
    release = xen[node]["uname -r"].stdout.strip()
    assert release.endswith(settings(node).kernel_suffix), f"running {release}"


def test_xm_info_works(node: NodeSettings, xen: Gathered) -> None:
    """`xm info` answers: the hypervisor and xend run, on the kernel `uname -r` shows."""
    result = xen[node]["xm info"]
    assert result.ok, result.stderr.strip() or result.stdout.strip()
    info = parse_colon_table(result.stdout)
    assert info.get("release") == xen[node]["uname -r"].stdout.strip()
    assert info.get("xen_major") == "3", f"xen_major is {info.get('xen_major')}"


def test_domain0_memory_as_configured(node: NodeSettings, xen: Gathered) -> None:
    """`xm list` shows Domain-0 with the dom0 memory of the inventory."""
    result = xen[node]["xm list"]
    assert result.ok, result.stderr.strip()
    dom0 = [d for d in parse_xm_list(result.stdout) if d.name == "Domain-0"]
    assert dom0, "no Domain-0 in xm list"
    assert dom0[0].memory_mb == settings(node).dom0_memory_mb


def test_loop_devices_extended(node: NodeSettings, xen: Gathered) -> None:
    """`loop max_loop=N` is in /etc/modules and active (/sys/module/loop/parameters)."""
    wanted = settings(node).max_loop
    assert f"loop max_loop={wanted}" in xen[node]["modules"].stdout.splitlines()
    assert xen[node]["max_loop"].stdout.strip() == str(wanted)
