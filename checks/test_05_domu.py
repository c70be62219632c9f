"""Acceptance checks of 05-domu: each DomU's disks on both nodes, its cfg, and one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.domu import cfg, cfg_path, lv_names
from runbook.facts.lvm import LVS, lv_sizes
from runbook.facts.xen import XM_LIST
from runbook.inventory import ClusterInventory, DomU, NodeSettings, size_to_mib
from runbook.parsers.xen import cfg_vif_ips, running


def domu_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [LVS, XM_LIST, *(cfg(d) for d in cluster.domus)]


@pytest.fixture(scope="module")
def domus(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(domu_facts)


def test_lvs_on_both_nodes_with_equal_sizes(domu: DomU, cluster: ClusterInventory,
                                           domus: Gathered) -> None:
    """NAME-disk and NAME-swap exist on both nodes with exactly the same sizes."""
    home = cluster.nodes[domu.home]
    assert home.xen_tools is not None
    vg = home.xen_tools.lvm
    sizes = {name: lv_sizes(domus[name].get(LVS), vg) for name in cluster.nodes}
    disk, swap = lv_names(domu)
    for lv in (disk, swap):
        per_node = {name: found.get(lv) for name, found in sizes.items()}
        assert None not in per_node.values(), f"{lv} missing: {per_node}"
        assert len(set(per_node.values())) == 1, f"{lv} sizes differ: {per_node}"
    assert sizes[domu.home][disk] >= size_to_mib(domu.size)


def test_cfg_on_home_node(domu: DomU, domus: Gathered) -> None:
    """/etc/xen/NAME.cfg exists on the home node with the inventory's IP and memory."""
    parsed = domus[domu.home].get(cfg(domu))
    assert parsed is not None, f"no {cfg_path(domu)} on {domu.home}"
    assert parsed.get("name") == domu.name
    assert cfg_vif_ips(parsed) == [str(domu.ip)]
    assert int(str(parsed.get("memory"))) == size_to_mib(domu.memory)


def test_not_running_on_both_nodes(domu: DomU, cluster: ClusterInventory,
                                   domus: Gathered) -> None:
    """The DomU runs on at most one node (never on both: that corrupts its disks). A node
    whose `xm list` fails fails this check: it cannot say where the DomU runs."""
    where = [name for name in cluster.nodes if domu.name in running(domus[name].get(XM_LIST))]
    assert len(where) <= 1, f"{domu.name} runs on {' and '.join(where)}"
