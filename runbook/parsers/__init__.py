"""Pure parsers for what the nodes print. No I/O: unit-tested on captured output.

Base system parsers live here; Xen, LVM and configuration files in the submodules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface


@dataclass(frozen=True)
class InterfaceStanza:
    name: str
    family: str
    method: str
    options: dict[str, str] = field(default_factory=dict)
    auto: bool = False


def parse_interfaces(text: str) -> dict[str, InterfaceStanza]:
    """/etc/network/interfaces (interfaces(5)): ``iface`` stanzas with their options."""
    stanzas: dict[str, InterfaceStanza] = {}
    auto: set[str] = set()
    current: InterfaceStanza | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        keyword = words[0]
        if keyword in ("auto",) or keyword.startswith("allow-"):
            auto.update(words[1:])
            current = None
        elif keyword == "iface" and len(words) >= 4:
            current = InterfaceStanza(words[1], words[2], words[3])
            stanzas[current.name] = current
        elif keyword in ("mapping", "source", "source-directory"):
            current = None
        elif current is not None:
            current.options[keyword] = " ".join(words[1:])
    return {
        name: InterfaceStanza(s.name, s.family, s.method, s.options, s.name in auto)
        for name, s in stanzas.items()
    }


def parse_getent_hosts(text: str) -> dict[str, str]:
    """``getent hosts NAME...``: ``ADDRESS NAME [ALIAS...]`` -> every name to its address."""
    resolved: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2:
            for name in words[1:]:
                resolved.setdefault(name.lower(), words[0])
    return resolved


def parse_ip_addr(text: str) -> dict[str, list[IPv4Interface]]:
    """``ip -o -4 addr show``: interface -> its IPv4 addresses with prefix."""
    found: dict[str, list[IPv4Interface]] = {}
    for line in text.splitlines():
        match = re.match(r"^\d+:\s+(?P<dev>[^\s:@]+)\S*\s+inet\s+(?P<addr>[\d.]+/\d+)", line)
        if match:
            found.setdefault(match["dev"], []).append(IPv4Interface(match["addr"]))
    return found


@dataclass(frozen=True)
class PingSummary:
    transmitted: int
    received: int
    reply_from: IPv4Address | None

    @property
    def loss_percent(self) -> float:
        if self.transmitted == 0:
            return 100.0
        return 100.0 * (self.transmitted - self.received) / self.transmitted


def parse_ping(text: str) -> PingSummary:
    """iputils ``ping`` output: packets sent and received, and who answered."""
    stats = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    reply = re.search(r"bytes from (?:\S+ \()?(\d+\.\d+\.\d+\.\d+)", text)
    return PingSummary(
        transmitted=int(stats[1]) if stats else 0,
        received=int(stats[2]) if stats else 0,
        reply_from=IPv4Address(reply[1]) if reply else None,
    )


DPKG_FORMAT = "${Package}\\t${Status}\\t${Version}\\n"


@dataclass(frozen=True)
class PackageState:
    status: str  # dpkg's "want flag status", e.g. "install ok installed"
    version: str

    @property
    def installed(self) -> bool:
        return self.status == "install ok installed"


def parse_dpkg_packages(text: str) -> dict[str, PackageState]:
    """``dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' NAME...`` by package name.

    A package dpkg has never heard of is absent (dpkg-query says so on stderr and exits 1).
    """
    found: dict[str, PackageState] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0].strip():
            raise ValueError(f"not a dpkg-query line: {line!r}")
        found[fields[0].strip()] = PackageState(fields[1].strip(), fields[2].strip())
    return found


def parse_ntp_servers(conf: str) -> list[str]:
    """``server`` (and ``pool``) lines of ntp.conf, in order."""
    servers = []
    for raw in conf.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "pool"):
            servers.append(words[1])
    return servers


@dataclass(frozen=True)
class NtpPeer:
    tally: str
    remote: str
    refid: str
    stratum: int
    reach: str


def parse_ntpq_peers(text: str) -> list[NtpPeer]:
    """``ntpq -p``: the peer table below the ``=====`` rule."""
    peers: list[NtpPeer] = []
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("=")) + 1
    except StopIteration:
        return peers
    for line in lines[start:]:
        if not line.strip():
            continue
        tally = line[0] if line[0] in "*#o+x.-| " else " "
        words = line[1:].split() if tally == line[0] else line.split()
        if len(words) < 7:
            continue
        stratum = int(words[2]) if words[2].isdigit() else 16
        peers.append(NtpPeer(tally.strip(), words[0], words[1], stratum, words[6]))
    return peers
