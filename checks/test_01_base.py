"""Acceptance checks of 01-base: the guide's base configuration on every node, and the
cluster-wide ones it establishes: one ntp version, clocks that agree."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import consistency, remote
from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact, commands
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
from runbook.findings import Finding, expect, fail, fail_if, finding
from runbook.inventory import ClusterInventory, NodeSettings
from runbook.parsers import parse_interfaces, parse_ntp_servers
from runbook.report_overview import CLOCK_END, CLOCK_START, NodeState, peer_offset
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
    gathered: Gathered = gather(base_facts)
    return gathered


def test_hostname_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname` prints the node's FQDN."""
    expect(base[node].get(HOSTNAME), node.fqdn, node=node, subject="`hostname`")


def test_hostname_f_is_fqdn(node: NodeSettings, base: Gathered) -> None:
    """`hostname -f` prints the node's FQDN."""
    expect(base[node].get(HOSTNAME_F), node.fqdn, node=node, subject="`hostname -f`")


def test_cluster_names_resolve(node: NodeSettings, cluster: ClusterInventory,
                               base: Gathered) -> None:
    """Both nodes' FQDNs and short names and both crossover names resolve to the inventory's
    addresses (a node's own names may resolve to 127.0.1.1, as the guide's /etc/hosts has)."""
    resolved = base[node].get(getent_hosts(names(cluster)))
    problems = []
    for other in cluster.nodes.values():
        own = {str(other.lan.address)} | ({"127.0.1.1"} if other.name == node.name else set())
        for name, wanted in ((other.fqdn, own), (other.short_name, own),
                             (other.crossover_name, {str(other.crossover.address)})):
            got = resolved.get(name.lower())
            if got not in wanted:
                problems.append(finding(subject="`getent hosts`", key=name, node=node,
                                        expected=" or ".join(sorted(wanted)),
                                        found=got or "no address (does not resolve)"))
    fail_if(problems)


def test_peer_reachable_over_crossover(node: NodeSettings, cluster: ClusterInventory,
                                       base: Gathered) -> None:
    """The peer answers ping on its crossover name, from its crossover address."""
    peer = cluster.nodes[node.peer]
    answer = base[node].get(ping(peer.crossover_name))
    subject = f"ping {peer.crossover_name}"
    if answer.received == 0:
        fail(finding(subject=subject, node=node, expected=f"a reply from {peer.name}",
                     found="no reply over the crossover link"))
    expect(str(answer.reply_from), str(peer.crossover.address), node=node, subject=subject,
           key="reply from")


def _stanza_findings(node: NodeSettings, text: str) -> list[Finding]:
    stanzas = parse_interfaces(text)
    found: list[Finding] = []
    for iface in (node.lan, node.crossover):
        stanza = stanzas.get(iface.name)
        if stanza is None:
            found.append(finding(subject=INTERFACES, key=iface.name, node=node,
                                 expected="an iface stanza", found="none"))
            continue
        gateway = str(iface.gateway) if iface.gateway else None
        for key, wanted, got in (("auto", True, stanza.auto),
                                 ("method", "static", stanza.method),
                                 ("address", str(iface.address), stanza.options.get("address")),
                                 ("netmask", str(iface.netmask), stanza.options.get("netmask")),
                                 ("gateway", gateway, stanza.options.get("gateway"))):
            if got != wanted:
                found.append(finding(subject=INTERFACES, key=f"{iface.name} {key}", node=node,
                                     expected=wanted, found=got))
    return found


def test_interfaces_file_matches_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/network/interfaces has static eth0 and eth1 with the inventory's addresses."""
    text = base[node].get(file_content(INTERFACES))
    if text is None:
        fail(finding(subject=INTERFACES, node=node, expected="the file", found="no such file"))
    fail_if(_stanza_findings(node, text))


def test_interfaces_up_with_inventory_addresses(node: NodeSettings, base: Gathered) -> None:
    """eth0 and eth1 carry the inventory's addresses and prefixes right now."""
    live = base[node].get(IP_ADDR)
    problems = []
    for iface in (node.lan, node.crossover):
        wanted = f"{iface.address}/{iface.prefixlen}"
        have = [str(a) for a in live.get(iface.name, [])]
        if wanted not in have:
            problems.append(finding(subject="`ip addr`", key=iface.name, node=node,
                                    expected=wanted, found=", ".join(have) or "no address"))
    fail_if(problems)


def test_ntp_installed(node: NodeSettings, base: Gathered) -> None:
    """The ntp package is installed."""
    if missing(base[node].get(NTP), ["ntp"]):
        fail(finding(subject="package", key="ntp", node=node, expected="installed",
                     found="not installed"))


def test_ntp_running(node: NodeSettings, base: Gathered) -> None:
    """ntpd is running (`/etc/init.d/ntp status` exits 0)."""
    if not base[node].get(service_running("ntp")):
        fail(finding(subject="`/etc/init.d/ntp status`", node=node, expected="running",
                     found="not running"))


def test_ntp_servers_from_inventory(node: NodeSettings, base: Gathered) -> None:
    """/etc/ntp.conf uses exactly the inventory's NTP servers."""
    conf = base[node].get(file_content(NTP_CONF))
    if conf is None:
        fail(finding(subject=NTP_CONF, node=node, expected="the file", found="no such file"))
    expect(", ".join(parse_ntp_servers(conf)), ", ".join(node.ntp_servers), node=node,
           subject=NTP_CONF, key="server")


# -- cluster-wide: what 01-base makes equal on both nodes -------------------------------------


def versions_of(gathered: Gathered, cluster: ClusterInventory, fact: Fact[Any],
                names: Sequence[str]) -> dict[str, dict[str, str | None]]:
    """node -> package -> installed version (None: not installed), read from every node."""
    versions: dict[str, dict[str, str | None]] = {}
    for host in cluster.nodes:
        states = gathered[host].get(fact)
        versions[host] = {n: states[n].version if n in states and states[n].installed
                          else None for n in names}
    return versions


def test_ntp_version_alike(cluster: ClusterInventory, base: Gathered) -> None:
    """Both nodes run the same version of ntp."""
    fail_if(consistency.package_versions(versions_of(base, cluster, NTP, ["ntp"])))


def _read_clock(task: Task) -> Result:
    sent = time.time()
    results = remote.run_many(task, commands([CLOCK_START, CLOCK_END]))
    return Result(host=task.host, result=(sent, time.time(), results))


Clock = tuple[float, float, HostFacts]  # this machine's time before and after, the answers


@pytest.fixture(scope="module")
def clocks(nornir: Nornir) -> dict[str, Clock | str]:
    """Each node's clock, read between two readings of this machine's clock (so the offset
    is known to within the round trip); or why the node could not be read."""
    before = set(nornir.data.failed_hosts)
    done = nornir.run(task=_read_clock, name="clock", on_failed=True)
    nornir.data.failed_hosts.clear()
    nornir.data.failed_hosts.update(before)
    read: dict[str, Clock | str] = {}
    for host, multi in done.items():
        if multi[0].failed:
            read[host] = str(multi[0].exception or multi[0].result)
        else:
            sent, received, results = multi[0].result
            read[host] = (sent, received, HostFacts(host, results))
    return read


def clock_state(host: str, clocks: dict[str, Clock | str]) -> NodeState:
    """The node's clock readings (they become the check's evidence as they are read)."""
    __tracebackhide__ = True
    read = clocks.get(host)
    if read is None:
        pytest.skip(f"{host} is not part of this run (--limit)")
    if isinstance(read, str):
        pytest.fail(f"{host} could not be read: {read}", pytrace=False)
    sent, received, facts = read
    return NodeState(host, clock_start=facts.get(CLOCK_START), clock_end=facts.get(CLOCK_END),
                     sent=sent, received=received)


def test_clocks_agree(cluster: ClusterInventory, clocks: dict[str, Clock | str]) -> None:
    """The nodes' clocks agree within 1 s (Heartbeat's and DRBD's logs must line up)."""
    first, second = cluster.nodes
    offset = peer_offset(clock_state(first, clocks), clock_state(second, clocks))
    assert offset is not None  # both clocks were read: a fact that fails fails the check
    fail_if(consistency.clock_skew(offset.offset_s, offset.uncertainty_s,
                                   consistency.DEFAULT_CLOCK_SKEW_LIMIT_S, (first, second)))
