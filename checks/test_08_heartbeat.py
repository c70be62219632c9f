"""Acceptance checks of 08-heartbeat: heartbeat running on both nodes, each seeing the other
active, each node holding its own resource group with its home DomUs running there only, and
ha.cf, haresources and authkeys identical across the nodes (authkeys by hash and mode only:
its text is never read off a node)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.heartbeat import (
    AUTHKEYS,
    AUTHKEYS_PATH,
    HA_CF,
    HA_CF_TEXT,
    HARESOURCES,
    HARESOURCES_TEXT,
    HB_STATUS,
    RSC_STATUS,
    UNAME_N,
    nodestatus,
    resource_status,
)
from runbook.facts.xen import XM_LIST
from runbook.findings import expect, fail, fail_if, finding
from runbook.inventory import ClusterInventory, DomU, HeartbeatSettings, NodeSettings
from runbook.parsers.heartbeat import parse_ha_cf
from runbook.parsers.xen import running
from runbook.plan import unified_diff


def settings(node: NodeSettings) -> HeartbeatSettings:
    assert node.heartbeat is not None, "no heartbeat settings in the inventory"
    return node.heartbeat


def heartbeat_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    hb = settings(node)
    return [HB_STATUS, UNAME_N, RSC_STATUS, XM_LIST, HA_CF_TEXT, HARESOURCES_TEXT, AUTHKEYS,
            *(nodestatus(n.fqdn) for n in cluster.nodes.values()),
            *(resource_status(g.script) for g in hb.groups)]


@pytest.fixture(scope="module")
def hb(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(heartbeat_facts)
    return gathered


def test_heartbeat_running(node: NodeSettings, hb: Gathered) -> None:
    """`cl_status hbstatus`: Heartbeat is running on this machine."""
    expect(hb[node].get(HB_STATUS), True, node=node, subject="heartbeat running (cl_status)")


def test_sees_both_nodes_active(node: NodeSettings, cluster: ClusterInventory,
                                hb: Gathered) -> None:
    """`cl_status nodestatus` says active for this node and for the other."""
    fail_if(finding(subject=f"cl_status nodestatus {n.fqdn}", expected="active", found=state,
                    node=node)
            for n in cluster.nodes.values()
            if (state := hb[node].get(nodestatus(n.fqdn))) != "active")


def test_node_lines_match_uname(node: NodeSettings, hb: Gathered) -> None:
    """This node's `uname -n` is a `node` of its ha.cf (heartbeat's own name for it)."""
    text = hb[node].get(HA_CF_TEXT)
    if text is None:
        fail(finding(subject=HA_CF, expected="a file", found="no file", node=node))
    declared = parse_ha_cf(text).nodes
    uname = hb[node].get(UNAME_N).lower()
    if uname not in declared:
        fail(finding(subject="uname -n in ha.cf's node lines", expected=", ".join(declared),
                     found=uname, node=node))


def test_holds_its_own_group(node: NodeSettings, cluster: ClusterInventory,
                             hb: Gathered) -> None:
    """`cl_status rscstatus` is local; this node's group says [running] (heartbeat's test of
    ownership) when it has DomUs, the other group is [unused] here."""
    expect(hb[node].get(RSC_STATUS), "local", node=node, subject="cl_status rscstatus")
    problems = []
    for group in settings(node).groups:
        state = hb[node].get(resource_status(group.script)).state
        wanted: tuple[str, ...]
        if group.node != node.name:
            wanted = ("unused",)
        elif any(d.home == node.name for d in cluster.domus):
            wanted = ("running",)
        else:  # xendomains start with an empty auto folder leaves no lock: nothing to hold
            wanted = ("running", "unused")
        if state not in wanted:
            problems.append(finding(subject=f"{group.script} status",
                                    expected=" or ".join(wanted), found=state, node=node))
    fail_if(problems)


def test_domu_runs_on_its_home_node_only(domu: DomU, cluster: ClusterInventory,
                                         hb: Gathered) -> None:
    """Each DomU runs on its home node, and not on the other."""
    where = [n for n in cluster.nodes if domu.name in running(hb[n].get(XM_LIST))]
    expect(where, [domu.home], node=domu.home, subject=f"{domu.name} running on (xm list)")


@pytest.mark.parametrize(("path", "fact"), [(HA_CF, HA_CF_TEXT),
                                            (HARESOURCES, HARESOURCES_TEXT)],
                         ids=["ha.cf", "haresources"])
def test_file_identical_on_both_nodes(path: str, fact: Fact[str | None],
                                      cluster: ClusterInventory, hb: Gathered) -> None:
    """ha.cf and haresources are the same on both nodes (the diff when not)."""
    first, *others = cluster.nodes
    base = hb[first].get(fact)
    for name in others:
        text = hb[name].get(fact)
        if text != base:
            diff = unified_diff(path, base, text or "")
            fail(finding(subject=path, expected=f"as on {first}", found="different",
                         node=name, note=diff))


def test_authkeys_identical_on_both_nodes(cluster: ClusterInventory, hb: Gathered) -> None:
    """authkeys is the same on both nodes (compared by sha256: the key is never shown)."""
    states = {name: hb[name].get(AUTHKEYS) for name in cluster.nodes}
    missing = [name for name, state in states.items() if state is None]
    fail_if(finding(subject=AUTHKEYS_PATH, expected="a file", found="no file", node=name)
            for name in missing)
    digests = {name: state.sha256 for name, state in states.items() if state is not None}
    first = next(iter(digests))
    fail_if(finding(subject=f"{AUTHKEYS_PATH} sha256", expected=digests[first][:16],
                    found=digest[:16], node=name)
            for name, digest in digests.items() if digest != digests[first])


def test_authkeys_mode_600(node: NodeSettings, hb: Gathered) -> None:
    """authkeys is readable by root only (heartbeat refuses it otherwise)."""
    state = hb[node].get(AUTHKEYS)
    if state is None:
        fail(finding(subject=AUTHKEYS_PATH, expected="a file", found="no file", node=node))
    expect(f"{state.mode:o}", "600", node=node, subject=f"{AUTHKEYS_PATH} mode")
