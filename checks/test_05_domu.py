"""Acceptance checks of 05-domu: each DomU's disks on both nodes, its cfg, and one place; and
for the cluster, room for every DomU on either node and no LV that nothing uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook import consistency
from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.domu import cfg, cfg_path, lv_names
from runbook.facts.lvm import LVS, lv_sizes
from runbook.facts.system import file_content
from runbook.facts.xen import XM_INFO, XM_LIST
from runbook.findings import fail, fail_if, finding
from runbook.inventory import ClusterInventory, DomU, NodeSettings, size_to_mib
from runbook.parsers.xen import cfg_disks, cfg_vif_ips, running
from runbook.report_overview import parse_drbd_devices

DRBD_CONF = file_content("/etc/drbd.conf")  # 06-drbd's resources use LVs too


def domu_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    return [LVS, XM_LIST, XM_INFO, DRBD_CONF, *(cfg(d) for d in cluster.domus)]


@pytest.fixture(scope="module")
def domus(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(domu_facts)
    return gathered


def volume_group(cluster: ClusterInventory) -> str:
    home = next(iter(cluster.nodes.values()))
    assert home.xen_tools is not None, "no xen_tools settings"  # the inventory's job
    return home.xen_tools.lvm


def test_lvs_on_both_nodes_with_equal_sizes(domu: DomU, cluster: ClusterInventory,
                                           domus: Gathered) -> None:
    """NAME-disk and NAME-swap exist on both nodes with exactly the same sizes."""
    vg = volume_group(cluster)
    sizes = {name: lv_sizes(domus[name].get(LVS), vg) for name in cluster.nodes}
    problems = []
    for lv in lv_names(domu):
        home_size = sizes[domu.home].get(lv)
        for name, found in sizes.items():
            if lv not in found:
                problems.append(finding(subject=f"LV {vg}/{lv}", node=name,
                                        expected="the LV", found="none"))
            elif name != domu.home and home_size is not None and found[lv] != home_size:
                problems.append(finding(subject=f"LV {vg}/{lv}", key="size", node=name,
                                        expected=f"{home_size:g} MiB (as on {domu.home})",
                                        found=f"{found[lv]:g} MiB"))
    disk = sizes[domu.home].get(lv_names(domu)[0])
    if disk is not None and disk < size_to_mib(domu.size):
        problems.append(finding(subject=f"LV {vg}/{lv_names(domu)[0]}", key="size",
                                node=domu.home, expected=f"at least {domu.size}",
                                found=f"{disk:g} MiB"))
    fail_if(problems)


def test_cfg_on_home_node(domu: DomU, domus: Gathered) -> None:
    """/etc/xen/NAME.cfg exists on the home node with the inventory's IP and memory."""
    parsed = domus[domu.home].get(cfg(domu))
    path = cfg_path(domu)
    if parsed is None:
        fail(finding(subject=path, node=domu.home, expected="the file", found="no such file"))
    ips = cfg_vif_ips(parsed)
    fail_if(finding(subject=path, key=key, node=domu.home, expected=wanted, found=got)
            for key, wanted, got in (
                ("name", domu.name, parsed.get("name")),
                ("vif ip", str(domu.ip), ", ".join(ips) if ips else None),
                ("memory", str(size_to_mib(domu.memory)), str(parsed.get("memory"))))
            if got != wanted)


def test_not_running_on_both_nodes(domu: DomU, cluster: ClusterInventory,
                                   domus: Gathered) -> None:
    """The DomU runs on at most one node (never on both: that corrupts its disks).

    A node whose `xm list` fails fails this check: it cannot say where the DomU runs.
    """
    where = [name for name in cluster.nodes if domu.name in running(domus[name].get(XM_LIST))]
    if len(where) > 1:
        fail(finding(subject=f"DomU {domu.name}", node=None, expected="running on one node",
                     found=f"running on {' and '.join(where)}",
                     note="both write its disks: stop one now"))


def domu_memory(cluster: ClusterInventory, domus: Gathered) -> dict[str, float]:
    """DomU -> MiB: as it runs where it runs, else as the inventory configures it."""
    memory = {d.name: float(size_to_mib(d.memory)) for d in cluster.domus}
    for host in cluster.nodes:
        for name, dom in running(domus[host].get(XM_LIST)).items():
            if name in memory:
                memory[name] = float(dom.memory_mb)
    return memory


def test_either_node_can_run_every_domu(cluster: ClusterInventory, domus: Gathered) -> None:
    """Each node has the free memory for every DomU it does not run yet, should the other
    node fail (N+1, from `xm info` and `xm list` on both nodes)."""
    free: dict[str, float] = {}
    here: dict[str, dict[str, float]] = {}
    for host in cluster.nodes:
        info = domus[host].get(XM_INFO)
        if not info.get("free_memory", "").isdigit():
            fail(finding(subject="`xm info`", key="free_memory", node=host,
                         expected="MiB free", found=info.get("free_memory")))
        free[host] = float(info["free_memory"])
        here[host] = {n: float(d.memory_mb) for n, d in running(domus[host].get(XM_LIST)).items()}
    fail_if(consistency.n_plus_one(free, here, domu_memory(cluster, domus)))


def test_no_unused_lvs(cluster: ClusterInventory, domus: Gathered) -> None:
    """Every LV of the DomUs' volume group belongs to a DomU or a DRBD resource, on both
    nodes (a left-over LV holds space and, often, an old copy of a disk)."""
    vg = volume_group(cluster)
    lvs: dict[str, list[str]] = {}
    used: list[str] = []
    for host in cluster.nodes:
        facts = domus[host]
        lvs[host] = [lv.name for lv in facts.get(LVS) if lv.vg == vg]
        for d in cluster.domus:
            parsed = facts.get(cfg(d))
            used += cfg_disks(parsed) if parsed is not None else []
        conf = facts.get(DRBD_CONF)
        used += [dev for devs in parse_drbd_devices(conf or "").values() for dev in devs]
    owned = [lv for d in cluster.domus for lv in lv_names(d)]
    fail_if(consistency.unused_lvs(vg, lvs, used, owned))
