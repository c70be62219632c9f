"""Acceptance checks of 03-lvm: the volume group on its partition, at the expected size, and
one lvm2 version on both nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook import consistency
from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.lvm import PVS, VGS
from runbook.facts.packages import missing, packages
from runbook.findings import fail, fail_if, finding
from runbook.inventory import ClusterInventory, LvmSettings, NodeSettings

LVM2 = packages(["lvm2"])


def lvm_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [PVS, VGS, LVM2]


@pytest.fixture(scope="module")
def lvm(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(lvm_facts)
    return gathered


def settings(node: NodeSettings) -> LvmSettings:
    assert node.lvm is not None, "no lvm settings in the inventory"  # the inventory's job
    return node.lvm


def test_lvm2_installed(node: NodeSettings, lvm: Gathered) -> None:
    """The lvm2 package is installed."""
    if missing(lvm[node].get(LVM2), ["lvm2"]):
        fail(finding(subject="package", key="lvm2", node=node, expected="installed",
                     found="not installed"))


def test_volume_group_on_its_partition(node: NodeSettings, lvm: Gathered) -> None:
    """The configured partition is a PV of the configured VG, its only PV."""
    want = settings(node)
    pvs = lvm[node].get(PVS)
    mine = next((pv for pv in pvs if pv.name == want.partition), None)
    problems = []
    if mine is None or mine.vg != want.vg:
        problems.append(finding(
            subject="`pvs`", key=want.partition, node=node, expected=f"a PV of {want.vg}",
            found="no PV" if mine is None else f"a PV of {mine.vg or 'no VG'}"))
    others = [pv.name for pv in pvs if pv.vg == want.vg and pv.name != want.partition]
    if others:
        problems.append(finding(subject="`pvs`", key=want.vg, node=node,
                                expected=f"{want.partition} as its only PV",
                                found=f"also {', '.join(others)}"))
    fail_if(problems)


def test_volume_group_size(node: NodeSettings, lvm: Gathered) -> None:
    """The VG is as large as the partition of the inventory (less LVM metadata, < 1%)."""
    want = settings(node)
    vgs = lvm[node].get(VGS)
    if want.vg not in vgs:
        fail(finding(subject="`vgs`", key=want.vg, node=node, expected="the volume group",
                     found=f"none (there are: {', '.join(vgs) or 'no VG'})"))
    expected = want.partition_size_gb * 1024
    size = vgs[want.vg].size_mib
    if not 0.99 * expected <= size <= expected:
        fail(finding(subject="`vgs`", key=f"{want.vg} size", node=node,
                     expected=f"{0.99 * expected:g} to {expected:g} MiB "
                              f"({want.partition_size_gb:g} GB, data.lvm_pv)",
                     found=f"{size:g} MiB"))


def test_lvm2_version_alike(cluster: ClusterInventory, lvm: Gathered) -> None:
    """Both nodes run the same version of lvm2."""
    versions: dict[str, dict[str, str | None]] = {}
    for host in cluster.nodes:
        states = lvm[host].get(LVM2)
        versions[host] = {"lvm2": states["lvm2"].version
                          if "lvm2" in states and states["lvm2"].installed else None}
    fail_if(consistency.package_versions(versions))
