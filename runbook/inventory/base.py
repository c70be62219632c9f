"""Section "base": names, interfaces and NTP ("Ubuntu - Base configuration"), always checked."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Final

from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import (
    MISSING,
    is_hostname,
    is_ip,
    kind,
    read_ipv4,
    read_label,
    read_mapping,
    read_netmask,
    read_text,
    unknown_keys,
)

_IFNAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}")


@dataclass(frozen=True)
class Interface:
    """A statically addressed network interface of a node (/etc/network/interfaces)."""

    name: str
    address: IPv4Address
    netmask: IPv4Address
    gateway: IPv4Address | None

    @property
    def network(self) -> IPv4Network:
        """The subnet, e.g. 192.168.1.0/24 (``.network_address`` for the bare address)."""
        return IPv4Network(f"{self.address}/{self.netmask}", strict=False)

    @property
    def broadcast(self) -> IPv4Address:
        return self.network.broadcast_address

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen


def _fqdn(h: HostView, key: KeyPath, value: Any) -> str | None:
    what = "the node's fully qualified domain name, e.g. ha1.domain.local"
    text = read_text(h, key, value, what)
    if text is not None and not is_hostname(text, min_labels=2):
        h.problem(key, f"not a fully qualified domain name (name.domain): {text!r}")
        return None
    return text


def _interface_name(h: HostView, key: KeyPath, value: Any, role: str) -> str | None:
    text = read_text(h, key, value, f"the name of the {role} interface, e.g. eth0")
    if text is not None and not _IFNAME.fullmatch(text):
        h.problem(key, f"not a network interface name: {text!r}")
        return None
    return text


def _interface(h: HostView, key: KeyPath, value: Any, role: str) -> Interface | None:
    """The interface at ``key`` (``data.interfaces.<name>``); ``role`` "LAN" or "crossover"."""
    start = h.problem_count()
    what = f"the {role} interface's address, netmask" + (" and gateway" if role == "LAN" else "")
    settings = read_mapping(h, key, value, f"a mapping of {what}")
    if settings is None:
        return None
    unknown_keys(h, key, settings, ("address", "netmask", "gateway"))
    address = read_ipv4(h, (*key, "address"), settings.get("address", MISSING), "an IPv4 address")
    netmask = read_netmask(h, (*key, "netmask"), settings.get("netmask", MISSING))
    gateway = None
    if settings.get("gateway") is not None:
        if role == "crossover":
            h.problem(
                (*key, "gateway"),
                "the crossover link takes no gateway: the default "
                "route goes through the LAN interface",
            )
        else:
            gateway = read_ipv4(h, (*key, "gateway"), settings["gateway"], "an IPv4 address")
    if address is None or netmask is None or h.problem_count() > start:
        return None
    interface = Interface(str(key[-1]), address, netmask, gateway)
    network = interface.network
    if address in (network.network_address, network.broadcast_address):
        which = "network" if address == network.network_address else "broadcast"
        h.problem((*key, "address"), f"'{address}' is the {which} address of {network}")
    if gateway is not None:
        if gateway not in network:
            h.problem(
                (*key, "gateway"), f"'{gateway}' is outside the interface's network {network}"
            )
        elif gateway in (address, network.network_address, network.broadcast_address):
            h.problem((*key, "gateway"), f"'{gateway}' cannot be the gateway of {network}")
    return interface if h.problem_count() == start else None


def _ntp_servers(h: HostView, key: KeyPath, value: Any) -> tuple[str, ...] | None:
    what = "a list of NTP server names or addresses"
    if value is MISSING or value is None:
        h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, list) or not value:
        h.problem(key, f"expected {what}, got {'an empty list' if value == [] else kind(value)}")
        return None
    start = h.problem_count()
    for index, server in enumerate(value):
        if not isinstance(server, str) or not (is_ip(server) or is_hostname(server)):
            h.problem((*key, index), f"not a host name or IP address: {server!r}")
        elif server in value[:index]:
            h.problem((*key, index), f"listed twice: {server!r}")
    return tuple(value) if h.problem_count() == start else None


def parse_host(h: HostView) -> dict[str, Any]:
    fqdn = _fqdn(h, ("data", "fqdn"), h.get(("data", "fqdn")))
    crossover_name = read_label(
        h,
        ("data", "crossover_name"),
        h.get(("data", "crossover_name")),
        "the node's name on the crossover link, e.g. ha1X",
    )
    lan_name = _interface_name(
        h, ("data", "lan_interface"), h.get(("data", "lan_interface")), "LAN"
    )
    crossover_if = _interface_name(
        h, ("data", "crossover_interface"), h.get(("data", "crossover_interface")), "crossover"
    )
    if lan_name is not None and lan_name == crossover_if:
        h.problem(("data", "crossover_interface"), f"same interface as lan_interface: {lan_name!r}")
    interfaces = read_mapping(
        h,
        ("data", "interfaces"),
        h.get(("data", "interfaces")),
        "a mapping of interface name to its address settings",
    )
    lan = crossover = None
    if interfaces is not None:
        if lan_name is not None:
            lan = _interface(
                h, ("data", "interfaces", lan_name), interfaces.get(lan_name, MISSING), "LAN"
            )
        if crossover_if is not None and crossover_if != lan_name:
            crossover = _interface(
                h,
                ("data", "interfaces", crossover_if),
                interfaces.get(crossover_if, MISSING),
                "crossover",
            )
    if lan is not None and crossover is not None and lan.network.overlaps(crossover.network):
        h.problem(
            ("data", "interfaces", crossover.name, "address"),
            f"the crossover network {crossover.network} overlaps the LAN network {lan.network}",
        )
    ntp_servers = _ntp_servers(h, ("data", "ntp_servers"), h.get(("data", "ntp_servers")))
    return {
        "fqdn": fqdn,
        "crossover_name": crossover_name,
        "lan": lan,
        "crossover": crossover,
        "ntp_servers": ntp_servers,
    }


def check_cluster(hosts: Sequence[HostView]) -> None:
    """Names and addresses that must differ between the nodes, and the shared crossover net.

    Names compare without case, as DNS and /etc/hosts do.
    """
    seen: dict[tuple[str, str], HostView] = {}

    def unique(h: HostView, key: KeyPath, what: str, value: str) -> bool:
        other = seen.setdefault((what, value.lower()), h)
        if other is not h:
            h.problem(key, f"{what} {value!r} is already used by host {other.name!r}")
        return other is h

    short_names = {
        h.fields["fqdn"].split(".")[0].lower(): h for h in reversed(hosts) if h.fields.get("fqdn")
    }
    for h in hosts:
        fqdn, crossover_name = h.fields.get("fqdn"), h.fields.get("crossover_name")
        if fqdn and unique(h, ("data", "fqdn"), "fqdn", fqdn):
            unique(h, ("data", "fqdn"), "short name", fqdn.split(".")[0])
        if crossover_name:
            unique(h, ("data", "crossover_name"), "crossover name", crossover_name)
            clash = short_names.get(crossover_name.lower())
            if clash is not None:
                h.problem(
                    ("data", "crossover_name"),
                    f"{crossover_name!r} is also the short name of host {clash.name!r}",
                )
        for interface in (h.fields.get("lan"), h.fields.get("crossover")):
            if interface is not None:
                key: KeyPath = ("data", "interfaces", interface.name, "address")
                unique(h, key, "address", str(interface.address))
    crossovers = [(h, h.fields["crossover"]) for h in hosts if h.fields.get("crossover")]
    for (first, theirs), (h, mine) in itertools.pairwise(crossovers):
        if mine.network != theirs.network:
            h.problem(
                ("data", "interfaces", mine.name, "address"),
                f"crossover network {mine.network} differs from {theirs.network} of host "
                f"{first.name!r}: the crossover cable joins the two nodes directly",
            )


SECTION: Final = Section(
    "fqdn, crossover_name, lan_interface and crossover_interface with their interfaces, "
    "ntp_servers",
    parse_host,
    check_cluster,
)
