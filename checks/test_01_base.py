"""Acceptance checks of 01-base: the guide's base configuration on every node."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from runbook.checking import Gathered
from runbook.inventory import ClusterInventory, NodeSettings
from runbook.parsers import (
    package_installed,
    parse_getent_hosts,
    parse_interfaces,
    parse_ip_addr,
    parse_ntp_servers,
    parse_ping,
)


def base_commands(node: NodeSettings, cluster: ClusterInventory) -> Mapping[str, str]:
    """Everything the 01-base checks read from a node, asked in one round trip."""
    peer = cluster.nodes[node.peer]
    names = " ".join(
        name for n in cluster.nodes.values() for name in (n.fqdn, n.short_name, n.crossover_name)
    )
    return {
        "hostname": "hostname",
        "hostname -f": "hostname -f",
        "getent": f"getent hosts {names}",
        "ping peer crossover": f"ping -c 2 -i 0.2 -W 2 {peer.crossover_name}",
        "interfaces file": "cat /etc/network/interfaces",
        "ip addr": "ip -o -4 addr show",
        "ntp package": "dpkg-query -W -f='${Status}\\t${Version}\\n' ntp",
        "ntp status": "/etc/init.d/ntp status",
        "ntp.conf": "cat /etc/ntp.conf",
    }


@pytest.fixture(scope="module")
def base(gather) -> Gathered:  # type: ignore[no-untyped-def]
    return gather(base_commands)


def test_hostname_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname` prints the node's FQDN."""
    assert base[node]["hostname"].stdout.strip() == node.fqdn


def test_hostname_f_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname -f` prints the node's FQDN."""
    result = base[node]["hostname -f"]
    assert result.ok, result.stderr
    assert result.stdout.strip() == node.fqdn


def test_cluster_names_resolve(node: NodeSettings, cluster: ClusterInventory,
                               base: Gathered) -> None:
    """Both nodes' FQDNs and short names and both crossover names resolve to the inventory's
    addresses (a node's own names may resolve to 127.0.1.1, as the guide's /etc/hosts has)."""
    resolved = parse_getent_hosts(base[node]["getent"].stdout)
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
    ping = parse_ping(base[node]["ping peer crossover"].stdout)
    assert ping.received > 0, f"no reply from {peer.crossover_name} over the crossover link"
    assert ping.reply_from == peer.crossover.address


def test_interfaces_file_matches_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/network/interfaces has static eth0 and eth1 with the inventory's addresses."""
    stanzas = parse_interfaces(base[node]["interfaces file"].stdout)
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
    live = parse_ip_addr(base[node]["ip addr"].stdout)
    for iface in (node.lan, node.crossover):
        expected = f"{iface.address}/{iface.prefixlen}"
        assert expected in [str(a) for a in live.get(iface.name, [])], (
            f"{iface.name} has {[str(a) for a in live.get(iface.name, [])] or 'no address'}, "
            f"expected {expected}"
        )


def test_ntp_installed(node: NodeSettings, base: Gathered) -> None:
    """The ntp package is installed."""
    assert package_installed(base[node]["ntp package"].stdout), "ntp is not installed"


def test_ntp_running(node: NodeSettings, base: Gathered) -> None:
    """ntpd is running (`/etc/init.d/ntp status` exits 0)."""
    result = base[node]["ntp status"]
    assert result.ok, f"ntp status exited {result.exit_status}: {result.stdout.strip()}"


def test_ntp_servers_from_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/ntp.conf uses exactly the inventory's NTP servers."""
    assert parse_ntp_servers(base[node]["ntp.conf"].stdout) == list(node.ntp_servers)
