"""Acceptance checks of 01-base: the guide's base configuration on every node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered
from runbook.facts import Fact
from runbook.facts.packages import missing, packages
from runbook.facts.system import (
    HOSTNAME,
    HOSTNAME_F,
    IP_ADDR,
    file_content,
    getent_hosts,
    ping,
    service_running,
)
from runbook.inventory import ClusterInventory, NodeSettings
from runbook.parsers import parse_interfaces, parse_ntp_servers
from runbook.tasks.base import INTERFACES, NTP_CONF

NTP = packages(["ntp"])


def names(cluster: ClusterInventory) -> list[str]:
    return [name for n in cluster.nodes.values()
            for name in (n.fqdn, n.short_name, n.crossover_name)]


def base_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    """Everything the 01-base checks read from a node, asked in one round trip."""
    return [HOSTNAME, HOSTNAME_F, getent_hosts(names(cluster)),
            ping(cluster.nodes[node.peer].crossover_name), file_content(INTERFACES), IP_ADDR,
            NTP, service_running("ntp"), file_content(NTP_CONF)]


@pytest.fixture(scope="module")
def base(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(base_facts)


def test_hostname_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname` prints the node's FQDN."""
    assert base[node].get(HOSTNAME) == node.fqdn


def test_hostname_f_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname -f` prints the node's FQDN."""
    assert base[node].get(HOSTNAME_F) == node.fqdn


def test_cluster_names_resolve(node: NodeSettings, cluster: ClusterInventory,
                               base: Gathered) -> None:
    """Both nodes' FQDNs and short names and both crossover names resolve to the inventory's
    addresses (a node's own names may resolve to 127.0.1.1, as the guide's /etc/hosts has)."""
    resolved = base[node].get(getent_hosts(names(cluster)))
    problems = []
    for other in cluster.nodes.values():
        own = {str(other.lan.address)} | ({"127.0.1.1"} if other.name == node.name else set())
        for name, expected in ((other.fqdn, own), (other.short_name, own),
                               (other.crossover_name, {str(other.crossover.address)})):
            got = resolved.get(name.lower())
            if got not in expected:
                problems.append(f"{name} -> {got or 'does not resolve'} "
                                f"(expected {' or '.join(sorted(expected))})")
    assert not problems, "; ".join(problems)


def test_peer_reachable_over_crossover(node: NodeSettings, cluster: ClusterInventory,
                                       base: Gathered) -> None:
    """The peer answers ping on its crossover name, from its crossover address."""
    peer = cluster.nodes[node.peer]
    answer = base[node].get(ping(peer.crossover_name))
    assert answer.received > 0, f"no reply from {peer.crossover_name} over the crossover link"
    assert answer.reply_from == peer.crossover.address


def test_interfaces_file_matches_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/network/interfaces has static eth0 and eth1 with the inventory's addresses."""
    stanzas = parse_interfaces(base[node].get(file_content(INTERFACES)) or "")
    for iface in (node.lan, node.crossover):
        stanza = stanzas.get(iface.name)
        assert stanza is not None, f"no iface stanza for {iface.name}"
        assert stanza.auto, f"{iface.name} is not marked auto"
        assert stanza.method == "static", f"{iface.name} is {stanza.method}, not static"
        assert stanza.options.get("address") == str(iface.address)
        assert stanza.options.get("netmask") == str(iface.netmask)
        expected_gateway = str(iface.gateway) if iface.gateway else None
        assert stanza.options.get("gateway") == expected_gateway


def test_interfaces_up_with_inventory_addresses(node: NodeSettings, base: Gathered) -> None:
    """eth0 and eth1 carry the inventory's addresses and prefixes right now."""
    live = base[node].get(IP_ADDR)
    for iface in (node.lan, node.crossover):
        expected = f"{iface.address}/{iface.prefixlen}"
        assert expected in [str(a) for a in live.get(iface.name, [])], (
            f"{iface.name} has {[str(a) for a in live.get(iface.name, [])] or 'no address'}, "
            f"expected {expected}"
        )


def test_ntp_installed(node: NodeSettings, base: Gathered) -> None:
    """The ntp package is installed."""
    assert not missing(base[node].get(NTP), ["ntp"]), "ntp is not installed"


def test_ntp_running(node: NodeSettings, base: Gathered) -> None:
    """ntpd is running (`/etc/init.d/ntp status` exits 0)."""
    assert base[node].get(service_running("ntp")), "`/etc/init.d/ntp status`: not running"


def test_ntp_servers_from_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/ntp.conf uses exactly the inventory's NTP servers."""
    conf = base[node].get(file_content(NTP_CONF))
    assert conf is not None, f"no {NTP_CONF}"
    assert parse_ntp_servers(conf) == list(node.ntp_servers)
