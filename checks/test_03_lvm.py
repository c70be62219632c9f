"""Acceptance checks of 03-lvm: the volume group on its partition, at the expected size."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runbook.checking import Gathered
from runbook.inventory import ClusterInventory, LvmSettings, NodeSettings
from runbook.parsers.lvm import mib, parse_report, report_command

PV_FIELDS = ["pv_name", "vg_name", "pv_size"]
VG_FIELDS = ["vg_name", "vg_size", "pv_count"]


def lvm_commands(node: NodeSettings, cluster: ClusterInventory) -> Mapping[str, str]:
    return {
        "pvs": report_command("pvs", PV_FIELDS),
        "vgs": report_command("vgs", VG_FIELDS),
        "lvm2": "dpkg-query -W -f='${Status}\\n' lvm2",
    }


@pytest.fixture(scope="module")
def lvm(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(lvm_commands)


def settings(node: NodeSettings) -> LvmSettings:
    assert node.lvm is not None, "no lvm settings in the inventory"
    return node.lvm


def test_lvm2_installed(node: NodeSettings, lvm: Gathered) -> None:
    """The lvm2 package is installed."""
    assert lvm[node]["lvm2"].stdout.strip() == "install ok installed"


def test_volume_group_on_its_partition(node: NodeSettings, lvm: Gathered) -> None:
    """The configured partition is a PV of the configured VG, its only PV."""
    want = settings(node)
    pvs = parse_report(lvm[node]["pvs"].stdout, PV_FIELDS)
    assert {"pv_name": want.partition, "vg_name": want.vg} in [
        {"pv_name": r["pv_name"], "vg_name": r["vg_name"]} for r in pvs
    ], f"{want.partition} is not a PV of {want.vg}: {pvs}"
    assert [r["pv_name"] for r in pvs if r["vg_name"] == want.vg] == [want.partition]


def test_volume_group_size(node: NodeSettings, lvm: Gathered) -> None:
    """The VG is as large as the partition of the inventory (less LVM metadata, < 1%)."""
    want = settings(node)
    vgs = {r["vg_name"]: r for r in parse_report(lvm[node]["vgs"].stdout, VG_FIELDS)}
    assert want.vg in vgs, f"no volume group {want.vg}"
    expected = want.partition_size_gb * 1024
    size = mib(vgs[want.vg]["vg_size"])
    assert 0.99 * expected <= size <= expected, (
        f"{want.vg} has {size:g} MiB, expected about {expected:g} MiB")
