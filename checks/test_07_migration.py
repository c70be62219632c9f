"""Acceptance checks of 07-migration: relocation set and served as the inventory says on both
nodes (open relocation is flagged), DRBD ready for a live migration, the last migration test's
downtime within the limit, and every DomU back on its home node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.migration import (
    DRBD_CONF_PATH,
    DRBD_CONF_SECTIONS,
    LISTENING,
    XEND_AGE,
    XEND_CONFIG_PATH,
    XEND_SETTINGS,
    leg_marker,
    marker_path,
)
from runbook.facts.xen import XM_LIST
from runbook.findings import expect, fail, fail_if, finding
from runbook.inventory import ClusterInventory, DomU, MigrationSettings, NodeSettings
from runbook.parsers.migration import allows_two_primaries, host_allowed
from runbook.parsers.xen import running
from runbook.tasks.migration import hosts_allow, relocation_address

STRANGER = ("intruder.example.org", "192.0.2.66")  # a host that must not relocate to a dom0


def settings(node: NodeSettings) -> MigrationSettings:
    assert node.migration is not None, "no migration settings in the inventory"
    return node.migration


def migration_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    legs = [leg_marker(d, "away" if d.home == node.name else "back") for d in cluster.domus]
    return [XEND_SETTINGS, XEND_AGE, LISTENING, XM_LIST, DRBD_CONF_SECTIONS, *legs]


@pytest.fixture(scope="module")
def migration(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(migration_facts)
    return gathered


def test_relocation_settings(node: NodeSettings, cluster: ClusterInventory,
                             migration: Gathered) -> None:
    """xend-config.sxp: relocation server on, the inventory's port and address, and
    hosts-allow limited to the peer (an open relocation server is flagged as a failure)."""
    found = migration[node].get(XEND_SETTINGS)
    assert found is not None, f"no {XEND_CONFIG_PATH} on {node.name}"
    wanted = settings(node)
    peer = cluster.nodes[node.peer]
    problems = [finding(subject=XEND_CONFIG_PATH, key=key, node=node, expected=value,
                        found=found.get(key, "not set"))
                for key, value in (("xend-relocation-server", "yes"),
                                   ("xend-relocation-port", str(wanted.relocation_port)),
                                   ("xend-relocation-address",
                                    relocation_address(wanted, node)))
                if found.get(key, "" if key == "xend-relocation-address" else None) != value]
    allow = found.get("xend-relocation-hosts-allow", "")
    expected_allow = hosts_allow(wanted, peer)
    only_peer = f"only {peer.crossover_name} ({peer.crossover.address})"
    if expected_allow is None:  # the inventory chose the guide's open relocation: flagged
        problems.append(finding(
            subject=XEND_CONFIG_PATH, key="xend-relocation-hosts-allow", node=node,
            expected=only_peer, found=repr(allow) if allow else "commented out: ANY host that "
            "reaches the port may push a domain into this dom0",
            note="inventory migration.hosts_allow is 'any' (the guide's setting)"))
    elif allow != expected_allow:
        problems.append(finding(
            subject=XEND_CONFIG_PATH, key="xend-relocation-hosts-allow", node=node,
            expected=expected_allow, found=repr(allow) if allow else "empty or commented out: "
            "ANY host that reaches the port may push a domain into this dom0"))
    fail_if(problems)


def test_peer_allowed_and_strangers_refused(node: NodeSettings, cluster: ClusterInventory,
                                            migration: Gathered) -> None:
    """hosts-allow as xend 3.2 applies it (re.match on FQDN or IP): the peer's crossover name
    and address get in, a stranger does not."""
    found = migration[node].get(XEND_SETTINGS)
    assert found is not None, f"no {XEND_CONFIG_PATH} on {node.name}"
    allow = found.get("xend-relocation-hosts-allow", "")
    peer = cluster.nodes[node.peer]
    problems = []
    if not host_allowed(allow, peer.crossover_name, str(peer.crossover.address)):
        problems.append(finding(subject="xend-relocation-hosts-allow", node=node,
                                expected=f"{peer.crossover_name} allowed", found="refused",
                                note=f"hosts-allow is {allow!r}"))
    if host_allowed(allow, *STRANGER):
        problems.append(finding(subject="xend-relocation-hosts-allow", node=node,
                                expected=f"{STRANGER[0]} ({STRANGER[1]}) refused",
                                found="allowed", note=f"hosts-allow is {allow!r}"))
    fail_if(problems)


def test_relocation_listens_on_the_crossover_only(node: NodeSettings,
                                                  migration: Gathered) -> None:
    """xend read its current config and listens on the relocation port at the inventory's
    address only (with the default, the crossover address: not 0.0.0.0, not the LAN)."""
    wanted = settings(node)
    age = migration[node].get(XEND_AGE)
    assert age.running, "xend is not running"
    assert not age.stale, (f"xend started before {XEND_CONFIG_PATH} was last written: "
                           "/etc/init.d/xend restart to apply it")
    port = wanted.relocation_port
    on_port = sorted(a for a, p in migration[node].get(LISTENING) if p == port)
    # an open address ('', every interface) is the inventory's explicit choice, flagged here
    expected = [relocation_address(wanted, node) or str(node.crossover.address)]
    expect(on_port, expected, node=node, subject=f"listening on TCP port {port} (netstat -ltn)",
           note="inventory migration.relocation_address is 'any' (the guide's '': every "
                "interface)" if wanted.open_address else "")


def test_drbd_allows_two_primaries(node: NodeSettings, migration: Gathered) -> None:
    """Every DomU resource has allow-two-primaries in /etc/drbd.conf (the target's block-drbd
    makes it Primary while the source still is)."""
    assert node.drbd is not None
    conf = migration[node].get(DRBD_CONF_SECTIONS)
    assert conf is not None, f"no {DRBD_CONF_PATH} on {node.name}"
    fail_if(finding(subject=DRBD_CONF_PATH, key=f"resource {r.name} net", node=node,
                    expected="allow-two-primaries;", found="missing")
            for r in node.drbd.resources if not allows_two_primaries(conf, r.name))


def test_last_migration_within_the_downtime_limit(domu: DomU, cluster: ClusterInventory,
                                                  migration: Gathered) -> None:
    """Both legs of the DomU's last live migration test (home -> peer, peer -> home) were
    measured by the prober and stayed within the inventory's limit (max_gap_s, max_lost)."""
    home = cluster.nodes[domu.home]
    wanted = settings(home)
    problems = []
    for sender, leg in ((home.name, "away"), (home.peer, "back")):
        result = migration[sender].get(leg_marker(domu, leg))
        if result is None:
            problems.append(finding(subject=marker_path(domu, leg), node=sender,
                                    expected="a measured migration", found="no test recorded"))
        elif result.longest_gap_s > wanted.max_gap_s or result.lost > wanted.max_lost:
            problems.append(finding(
                subject=f"{domu.name} live migration {result.source} -> {result.target}",
                node=sender, expected=f"gap <= {wanted.max_gap_s:g} s, lost <= "
                                      f"{wanted.max_lost}",
                found=f"gap {result.longest_gap_s:.2f} s, lost {result.lost} of "
                      f"{result.transmitted}", note=f"measured {result.at}"))
    fail_if(problems)


def test_domu_on_its_home_node(domu: DomU, cluster: ClusterInventory,
                               migration: Gathered) -> None:
    """After the test the DomU runs on its home node, and only there."""
    where = [name for name in cluster.nodes if domu.name in running(migration[name].get(XM_LIST))]
    if where != [domu.home]:
        fail(finding(subject=f"DomU {domu.name}", node=None, expected=f"running on {domu.home}",
                     found=f"running on {' and '.join(where) or 'no node'}"))
