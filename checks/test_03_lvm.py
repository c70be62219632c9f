"""Acceptance checks of 03-lvm: the volume group on its partition, at the expected size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.lvm import PVS, VGS
from runbook.facts.packages import missing, packages
from runbook.inventory import ClusterInventory, LvmSettings, NodeSettings

LVM2 = packages(["lvm2"])


def lvm_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [PVS, VGS, LVM2]


@pytest.fixture(scope="module")
def lvm(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(lvm_facts)


def settings(node: NodeSettings) -> LvmSettings:
    assert node.lvm is not None, "no lvm settings in the inventory"
    return node.lvm


def test_lvm2_installed(node: NodeSettings, lvm: Gathered) -> None:
    """The lvm2 package is installed."""
    assert not missing(lvm[node].get(LVM2), ["lvm2"]), "lvm2 is not installed"


def test_volume_group_on_its_partition(node: NodeSettings, lvm: Gathered) -> None:
    """The configured partition is a PV of the configured VG, its only PV."""
    want = settings(node)
    pvs = lvm[node].get(PVS)
    mine = [pv for pv in pvs if pv.name == want.partition]
    assert mine and mine[0].vg == want.vg, f"{want.partition} is not a PV of {want.vg}: {pvs}"
    assert [pv.name for pv in pvs if pv.vg == want.vg] == [want.partition]


def test_volume_group_size(node: NodeSettings, lvm: Gathered) -> None:
    """The VG is as large as the partition of the inventory (less LVM metadata, < 1%)."""
    want = settings(node)
    vgs = lvm[node].get(VGS)
    assert want.vg in vgs, f"no volume group {want.vg}"
    expected = want.partition_size_gb * 1024
    size = vgs[want.vg].size_mib
    assert 0.99 * expected <= size <= expected, (
        f"{want.vg} has {size:g} MiB, expected about {expected:g} MiB")
