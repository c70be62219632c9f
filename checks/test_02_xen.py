"""Acceptance checks of 02-xen: each node runs the Xen kernel as the guide's dom0, and both
nodes have the same Xen packages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook import consistency
from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.packages import packages
from runbook.facts.system import UNAME_R
from runbook.facts.xen import MAX_LOOP, MODULES, MODULES_FILE, XM_INFO, XM_LIST, dom0_memory
from runbook.findings import expect, fail, fail_if, finding
from runbook.inventory import ClusterInventory, NodeSettings, XenSettings


def settings(node: NodeSettings) -> XenSettings:
    assert node.xen is not None, "no xen settings in the inventory"  # the inventory's job
    return node.xen


def xen_packages(node: NodeSettings) -> Fact[Any]:
    return packages(list(settings(node).packages))


def xen_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [UNAME_R, XM_INFO, XM_LIST, MAX_LOOP, MODULES_FILE, xen_packages(node)]


@pytest.fixture(scope="module")
def xen(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(xen_facts)
    return gathered


def test_running_the_xen_kernel(node: NodeSettings, xen: Gathered) -> None:
    """`uname -r` shows the kernel of the inventory's suffix (the node rebooted into Xen)."""
    release = xen[node].get(UNAME_R)
    suffix = settings(node).kernel_suffix
    if not release.endswith(suffix):
        fail(finding(subject="`uname -r`", node=node, expected=f"a kernel ending in {suffix}",
                     found=release, note="the node has not rebooted into Xen"))


def test_xm_info_works(node: NodeSettings, xen: Gathered) -> None:
    """`xm info` answers under the Xen kernel `uname -r` shows, with the inventory's Xen version."""
    info = xen[node].get(XM_INFO)
    release = xen[node].get(UNAME_R)
    running = f"{info.get('xen_major')}.{info.get('xen_minor')}"
    problems = []
    if info.get("release") != release:
        problems.append(finding(subject="`xm info`", key="release", node=node,
                                expected=f"{release} (as `uname -r`)", found=info.get("release")))
    if running != settings(node).version:
        problems.append(finding(subject="`xm info`", key="Xen version", node=node,
                                expected=f"{settings(node).version} (xen.version)",
                                found=f"{running}{info.get('xen_extra', '')}"))
    fail_if(problems)


def test_domain0_memory_as_configured(node: NodeSettings, xen: Gathered) -> None:
    """`xm list` shows Domain-0 with the dom0 memory of the inventory."""
    memory = dom0_memory(xen[node].get(XM_LIST))
    if memory is None:
        fail(finding(subject="`xm list`", key="Domain-0", node=node, expected="a row",
                     found="none"))
    expect(memory, settings(node).dom0_memory_mb, node=node,
           subject="Domain-0 memory (MiB, `xm list`)")


def test_loop_devices_extended(node: NodeSettings, xen: Gathered) -> None:
    """`loop max_loop=N` is in /etc/modules and active (/sys/module/loop/parameters)."""
    wanted = settings(node).max_loop
    modules = xen[node].get(MODULES_FILE) or ""
    active = xen[node].get(MAX_LOOP)
    loop_lines = [line.strip() for line in modules.splitlines()
                  if line.split("#", 1)[0].split()[:1] == ["loop"]]
    problems = []
    if f"loop max_loop={wanted}" not in loop_lines:
        problems.append(finding(
            subject=MODULES, node=node, expected=f'"loop max_loop={wanted}"',
            found=" and ".join(f'"{line}"' for line in loop_lines) or "no loop line",
            note=f"running max_loop is {active}"))
    if active != wanted:
        problems.append(finding(subject="/sys/module/loop/parameters/max_loop", node=node,
                                expected=wanted, found=active,
                                note="/etc/modules applies at the next boot"))
    fail_if(problems)


def test_xen_packages_alike(cluster: ClusterInventory, xen: Gathered) -> None:
    """Both nodes have the same versions of the inventory's Xen packages."""
    names = list(settings(next(iter(cluster.nodes.values()))).packages)
    versions: dict[str, dict[str, str | None]] = {}
    for host, node in cluster.nodes.items():
        states = xen[host].get(xen_packages(node))
        versions[host] = {n: states[n].version if n in states and states[n].installed else None
                          for n in names}
    fail_if(consistency.package_versions(versions))
