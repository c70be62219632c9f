"""Facts of live migration on one node: xend's config and listener, DRBD's readiness, and
the results of earlier migration tests (their marker files)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from runbook.facts import Fact, stdout_fact
from runbook.facts.system import file_content
from runbook.inventory import DomU
from runbook.parsers.migration import (
    ConfSection,
    parse_drbd_conf,
    parse_listening_tcp,
    parse_xend_config,
)
from runbook.remote import CommandResult, quote

XEND_CONFIG_PATH = "/etc/xen/xend-config.sxp"
XEND_PIDFILE = "/var/run/xend.pid"
DRBD_CONF_PATH = "/etc/drbd.conf"
MARKER_DIR = "/var/lib/runbook"
LEGS = ("away", "back")  # home -> peer, then peer -> home

XEND_CONFIG_TEXT = file_content(XEND_CONFIG_PATH)


def _xend_settings(result: CommandResult) -> dict[str, str] | None:
    text = XEND_CONFIG_TEXT.parse(result)
    return None if text is None else parse_xend_config(text)


#: The active settings of xend-config.sxp, or None when the file does not exist.
XEND_SETTINGS: Fact[dict[str, str] | None] = Fact(
    "xend settings", XEND_CONFIG_TEXT.command, _xend_settings, XEND_CONFIG_TEXT.ok_codes)

#: Listening TCP sockets: (address, port).
LISTENING: Fact[list[tuple[str, int]]] = stdout_fact("netstat -ltn", "netstat -ltn",
                                                     parse_listening_tcp)


@dataclass(frozen=True)
class XendAge:
    """Whether the running xend read the current xend-config.sxp (it reads it at start only)."""

    running: bool  # /var/run/xend.pid names a live process
    config_mtime: int | None
    started: int | None  # the pid file's mtime: when xend started

    @property
    def stale(self) -> bool:
        """xend runs but started before the config was last written: restart it."""
        return (self.running and self.config_mtime is not None and self.started is not None
                and self.started < self.config_mtime)


def _age(text: str) -> XendAge:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    if "running" not in values:
        raise ValueError("no running= line")

    def number(key: str) -> int | None:
        value = values.get(key, "")
        return int(value) if value.isdigit() else None

    return XendAge(values["running"] == "yes", number("config"), number("started"))


_PID = quote(XEND_PIDFILE)
XEND_AGE: Fact[XendAge] = stdout_fact(
    "xend age",
    f"if [ -f {_PID} ] && kill -0 \"$(cat {_PID})\" 2>/dev/null; then echo running=yes; "
    "else echo running=no; fi; "
    f"echo config=$(stat -c %Y {quote(XEND_CONFIG_PATH)} 2>/dev/null); "
    f"echo started=$(stat -c %Y {_PID} 2>/dev/null)",
    _age)

_DRBD_TEXT = file_content(DRBD_CONF_PATH)


def _drbd(result: CommandResult) -> ConfSection | None:
    text = _DRBD_TEXT.parse(result)
    return None if text is None else parse_drbd_conf(text)


#: /etc/drbd.conf's structure, or None when there is none.
DRBD_CONF_SECTIONS: Fact[ConfSection | None] = Fact(
    "drbd.conf sections", _DRBD_TEXT.command, _drbd, _DRBD_TEXT.ok_codes)


def marker_path(domu: DomU, leg: str) -> str:
    return f"{MARKER_DIR}/migration-{domu.name}-{leg}.json"


@dataclass(frozen=True)
class LegResult:
    """A migration test leg as its marker records it (written by the node that sent)."""

    domu: str
    source: str
    target: str
    at: str  # UTC time of the migration
    longest_gap_s: float
    lost: int
    transmitted: int
    interval_s: float
    max_gap_s: float
    max_lost: int

    @property
    def within(self) -> bool:
        return self.longest_gap_s <= self.max_gap_s and self.lost <= self.max_lost

    def summary(self) -> str:
        return (f"{self.domu} {self.source} -> {self.target}: longest gap "
                f"{self.longest_gap_s:.2f} s, {self.lost} of {self.transmitted} pings lost "
                f"(every {self.interval_s:g} s)")

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def parse_leg(text: str) -> LegResult:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a migration marker")
    return LegResult(
        domu=str(data["domu"]), source=str(data["source"]), target=str(data["target"]),
        at=str(data["at"]), longest_gap_s=float(data["longest_gap_s"]), lost=int(data["lost"]),
        transmitted=int(data["transmitted"]), interval_s=float(data["interval_s"]),
        max_gap_s=float(data["max_gap_s"]), max_lost=int(data["max_lost"]))


def leg_marker(domu: DomU, leg: str) -> Fact[LegResult | None]:
    """The last migration test leg ``leg`` of ``domu`` sent from this node, or None."""
    raw = file_content(marker_path(domu, leg))

    def parse(result: CommandResult) -> LegResult | None:
        text = raw.parse(result)
        return None if text is None else parse_leg(text)

    return Fact(f"migration marker {domu.name} {leg}", raw.command, parse, raw.ok_codes)
