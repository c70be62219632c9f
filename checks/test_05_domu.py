"""Acceptance checks of 05-domu: each DomU's disks on both nodes, its cfg, and one place."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runbook.checking import Gathered
from runbook.inventory import ClusterInventory, DomU, NodeSettings, size_to_mib
from runbook.parsers.lvm import mib, parse_report, report_command
from runbook.parsers.xen import cfg_vif_ips, parse_domain_cfg, parse_xm_list, running

LV_FIELDS = ["lv_name", "vg_name", "lv_size"]


def domu_commands(node: NodeSettings, cluster: ClusterInventory) -> Mapping[str, str]:
    commands = {"lvs": report_command("lvs", LV_FIELDS), "xm list": "xm list"}
    for domu in cluster.domus:
        commands[f"cfg {domu.name}"] = f"cat /etc/xen/{domu.name}.cfg"
    return commands


@pytest.fixture(scope="module")
def domus(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(domu_commands)


def lv_sizes(facts: Gathered, node: str, vg: str) -> dict[str, float]:
    rows = parse_report(facts[node]["lvs"].stdout, LV_FIELDS)
    return {r["lv_name"]: mib(r["lv_size"]) for r in rows if r["vg_name"] == vg}


def test_lvs_on_both_nodes_with_equal_sizes(domu: DomU, cluster: ClusterInventory,
                                           domus: Gathered) -> None:
    """NAME-disk and NAME-swap exist on both nodes with exactly the same sizes."""
    home = cluster.nodes[domu.home]
    assert home.xen_tools is not None
    vg = home.xen_tools.lvm
    sizes = {name: lv_sizes(domus, name, vg) for name in cluster.nodes}
    for lv in (f"{domu.name}-disk", f"{domu.name}-swap"):
        per_node = {name: found.get(lv) for name, found in sizes.items()}
        assert None not in per_node.values(), f"{lv} missing: {per_node}"
        assert len(set(per_node.values())) == 1, f"{lv} sizes differ: {per_node}"
    assert sizes[domu.home][f"{domu.name}-disk"] >= size_to_mib(domu.size)


def test_cfg_on_home_node(domu: DomU, domus: Gathered) -> None:
    """/etc/xen/NAME.cfg exists on the home node with the inventory's IP and memory."""
    result = domus[domu.home][f"cfg {domu.name}"]
    assert result.ok, f"/etc/xen/{domu.name}.cfg: {result.stderr.strip()}"
    cfg = parse_domain_cfg(result.stdout)
    assert cfg.get("name") == domu.name
    assert cfg_vif_ips(cfg) == [str(domu.ip)]
    assert int(str(cfg.get("memory"))) == size_to_mib(domu.memory)


def test_not_running_on_both_nodes(domu: DomU, cluster: ClusterInventory,
                                   domus: Gathered) -> None:
    """The DomU runs on at most one node (never on both: that corrupts its disks)."""
    where = [name for name in cluster.nodes
             if domu.name in running(parse_xm_list(domus[name]["xm list"].stdout))]
    assert len(where) <= 1, f"{domu.name} runs on {' and '.join(where)}"
