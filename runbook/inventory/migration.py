"""Section "migration": xend's relocation server and the live migration test ("Configure Live
Migration").

The guide enables relocation on port 8002 and comments out xend-relocation-hosts-allow, which
lets any host that reaches the port push a domain into dom0. The defaults here are narrower:
relocation listens on the node's crossover address only and accepts only the peer (its crossover
name and address). ``hosts_allow: any`` and ``relocation_address: any`` are the guide's open
settings, kept as an explicit choice that the 07 checks flag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address
from typing import Any, Final

from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import MISSING, kind, read_choice, read_integer, read_settings

_KEYS: Final = ("relocation_port", "relocation_address", "hosts_allow", "prober",
                "max_gap_s", "max_lost", "migrate_timeout_s")
_PROBER_KEYS: Final = ("from", "interval_s", "host", "port")
#: Where the prober pings from: the node that sends the DomU (over its LAN interface), the
#: machine that runs `runbook` (it must reach the DomUs' network), or a named host that the
#: control machine reaches with its own ssh client (key-based).
PROBER_FROM: Final = ("source", "control", "host")
_SSH_TARGET: Final = re.compile(r"([a-z_][a-z0-9_-]*@)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
ANY: Final = "any"


@dataclass(frozen=True)
class MigrationSettings:
    """Relocation and the live migration test (inventory ``data.migration``), alike on both."""

    relocation_port: int = 8002  # "(xend-relocation-port 8002)"
    # "crossover": this node's crossover address; "any": every interface (the guide's '')
    relocation_address: str = "crossover"
    # "peer": the other node's crossover name and address only; "any": every host (the
    # guide's commented-out line); or explicit regexes, matched as xend does (re.match)
    hosts_allow: tuple[str, ...] | str = "peer"
    prober_from: str = "source"
    prober_host: str = ""  # [user@]host of the prober when prober_from is "host"
    prober_port: int = 22
    probe_interval_s: float = 0.2  # one ping every this many seconds while a DomU moves
    # The guide: "I lose no packets or maximum 1 packet" pinging once a second, so at most
    # about two seconds without an answer.
    max_gap_s: float = 2.0
    max_lost: int = 9  # at 0.2 s a ping, a two-second gap loses up to 9
    migrate_timeout_s: int = 300  # one `xm migrate --live`, at most

    @property
    def open_hosts(self) -> bool:
        return self.hosts_allow == ANY

    @property
    def open_address(self) -> bool:
        return self.relocation_address == ANY


def _seconds(h: HostView, key: KeyPath, value: Any, default: float, low: float,
             high: float) -> float | None:
    if value is MISSING or value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        h.problem(key, f"expected seconds from {low:g} to {high:g}, got {kind(value)}")
        return None
    return float(value)


def _address(h: HostView, key: KeyPath, value: Any) -> str | None:
    if value is MISSING or value is None:
        return "crossover"
    if value in ("crossover", ANY):
        return str(value)
    try:
        return str(IPv4Address(str(value))) if isinstance(value, str) else None
    except ValueError:
        pass
    h.problem(key, f"expected crossover, any or an IPv4 address of this node, got {kind(value)}")
    return None


def _hosts_allow(h: HostView, key: KeyPath, value: Any) -> tuple[str, ...] | str | None:
    if value is MISSING or value is None:
        return "peer"
    if value in ("peer", ANY):
        return str(value)
    what = "peer, any, or a list of regexes (matched with re.match to the peer's FQDN or IP)"
    if not isinstance(value, list) or not value:
        h.problem(key, f"expected {what}, got {kind(value)}")
        return None
    for index, regex in enumerate(value):
        if not isinstance(regex, str) or not regex or " " in regex:
            h.problem((*key, index), f"expected a regex without spaces, got {kind(regex)}")
            return None
        try:
            re.compile(regex)
        except re.error as exc:
            h.problem((*key, index), f"not a regex ({exc}): {regex!r}")
            return None
    return tuple(value)


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "migration")
    raw = h.get(key)
    if raw is MISSING or raw is None:
        return {"migration": MigrationSettings()}
    found = read_settings(h, key, _KEYS, "a mapping of migration settings ({} for the defaults)")
    if found is None:
        return {"migration": None}
    start = h.problem_count()
    port = found.get("relocation_port", MISSING)
    prober = found.get("prober", MISSING)
    prober = {} if prober is MISSING or prober is None else prober
    if not isinstance(prober, dict):
        h.problem((*key, "prober"), f"expected a mapping ({', '.join(_PROBER_KEYS)}), got "
                  f"{kind(prober)}")
        prober = {}
    for name in prober:
        if name not in _PROBER_KEYS:
            h.problem((*key, "prober", name),
                      f"unknown key (expected one of: {', '.join(_PROBER_KEYS)})")
    lost = found.get("max_lost", MISSING)
    timeout = found.get("migrate_timeout_s", MISSING)
    values: dict[str, Any] = {
        "relocation_port": 8002 if port is MISSING else read_integer(
            h, (*key, "relocation_port"), port, 1, 65535, "xend's relocation port"),
        "relocation_address": _address(h, (*key, "relocation_address"),
                                       found.get("relocation_address", MISSING)),
        "hosts_allow": _hosts_allow(h, (*key, "hosts_allow"), found.get("hosts_allow", MISSING)),
        "prober_from": read_choice(h, (*key, "prober", "from"), prober.get("from"), PROBER_FROM,
                                   "source"),
        "probe_interval_s": _seconds(h, (*key, "prober", "interval_s"),
                                     prober.get("interval_s"), 0.2, 0.01, 5.0),
        "max_gap_s": _seconds(h, (*key, "max_gap_s"), found.get("max_gap_s"), 2.0, 0.1, 600.0),
        "max_lost": 9 if lost is MISSING else read_integer(
            h, (*key, "max_lost"), lost, 0, 100000, "the pings a migration may lose"),
        "migrate_timeout_s": 300 if timeout is MISSING else read_integer(
            h, (*key, "migrate_timeout_s"), timeout, 10, 3600, "seconds for one migration"),
    }
    host, port = prober.get("host", MISSING), prober.get("port", MISSING)
    values["prober_host"] = "" if host is MISSING or host is None else str(host)
    if values["prober_from"] == "host" and not (
            isinstance(host, str) and _SSH_TARGET.fullmatch(host)):
        h.problem((*key, "prober", "host"), "with from: host, expected [user@]host of the "
                  f"prober (reached with ssh from this machine), got {kind(host)}")
    elif values["prober_from"] != "host" and values["prober_host"]:
        h.problem((*key, "prober", "host"), "only used with from: host")
    values["prober_port"] = 22 if port is MISSING else read_integer(
        h, (*key, "prober", "port"), port, 1, 65535, "the prober host's SSH port")
    if h.problem_count() > start:
        return {"migration": None}
    return {"migration": MigrationSettings(**values)}


def check_cluster(views: Sequence[HostView]) -> None:
    """Both nodes relocate alike: one port, one policy, one prober, one limit. Only an explicit
    relocation_address (each node's own IP) may differ between them."""
    parsed = [v for v in views if v.fields.get("migration") is not None]
    if len(parsed) < 2:
        return
    first: MigrationSettings = parsed[0].fields["migration"]
    for view in parsed[1:]:
        other: MigrationSettings = view.fields["migration"]
        words = {first.relocation_address, other.relocation_address} & {"crossover", ANY}
        if replace(other, relocation_address="") != replace(first, relocation_address="") or (
                words and other.relocation_address != first.relocation_address):
            view.problem(("data", "migration"), f"differs from the migration settings of host "
                         f"{parsed[0].name!r}: relocation works alike on both nodes (set it "
                         "once, in groups.yaml; only an explicit relocation_address may differ)")


SECTION: Final = Section(
    "data.migration: relocation_port, relocation_address, hosts_allow, prober (from, "
    "interval_s, host, port), max_gap_s, max_lost, migrate_timeout_s",
    parse_host,
    check_cluster,
    implies=("domu", "drbd"),
)
