"""DRBD 8.0 to 8.4 output: /proc/drbd, `/etc/init.d/drbd status`, drbdadm queries.

Shapes (see shared/guide/drbd-heartbeat-xen.md 1.4, 1.5): 8.0-8.2 put the roles under
``st:``, 8.3 and 8.4 under ``ro:``; 8.2.7 and later add ``ep: wo: oos:`` counters; a device
that is not configured shows only ``cs:Unconfigured``; StandAlone has no protocol letter.
While a resync runs, two more lines follow: the bar with ``sync'ed: P% (left/total)K`` (or
``M``), and ``finish: H:MM:SS speed: N (N) K/sec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(r"^version: (?P<version>\S+) \(api:(?P<api>[^/]+)/proto:(?P<proto>[^)]+)\)")
_MINOR = re.compile(
    r"^\s*(?P<minor>\d+):\s*cs:(?P<cs>\S+)"
    r"(?:\s+(?:st|ro):(?P<role>[^/\s]+)/(?P<peer_role>\S+)"
    r"\s+ds:(?P<disk>[^/\s]+)/(?P<peer_disk>\S+)"
    r"(?:\s+(?P<protocol>[ABC]))?\s+(?P<flags>[-a-z]+))?\s*$"
)
_SYNCED = re.compile(
    r"sync'ed:\s*(?P<percent>[\d.]+)% \((?P<left>\d+)/(?P<total>\d+)\)(?P<unit>[KM])"
)
_FINISH = re.compile(r"finish:\s*(?P<finish>\S+) speed:\s*(?P<speed>[\d,]+)")
_COUNTER = re.compile(r"\b(?P<key>[a-z]+):(?P<value>\d+)\b")


@dataclass(frozen=True)
class SyncProgress:
    percent: float
    left_kib: int
    total_kib: int
    finish: str = ""  # "0:01:23", or "stalled"
    speed_kib_s: int | None = None


@dataclass(frozen=True)
class DrbdDevice:
    """One minor of /proc/drbd as its node sees it (``peer_*`` is the node's view of the peer)."""

    minor: int
    cstate: str
    role: str = "Unknown"
    peer_role: str = "Unknown"
    disk: str = "Diskless"
    peer_disk: str = "DUnknown"
    protocol: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    sync: SyncProgress | None = None

    @property
    def configured(self) -> bool:
        return self.cstate != "Unconfigured"

    @property
    def out_of_sync_kib(self) -> int | None:
        """8.2.7+ ``oos:`` counter: KiB known to differ from the peer (None before 8.2.7)."""
        return self.counters.get("oos")


@dataclass(frozen=True)
class ProcDrbd:
    version: str
    api: str
    proto: str
    devices: dict[int, DrbdDevice]


class DrbdParseError(ValueError):
    """The text is not /proc/drbd of any DRBD 8 version."""


def _unit_kib(value: int, unit: str) -> int:
    return value * 1024 if unit == "M" else value


def parse_proc_drbd(text: str) -> ProcDrbd:
    """/proc/drbd of DRBD 8.0 to 8.4; raises DrbdParseError when there is no version line."""
    lines = text.splitlines()
    version = next((m for m in map(_VERSION.match, lines) if m), None)
    if version is None:
        raise DrbdParseError("no 'version:' line: is the drbd module loaded?")
    devices: dict[int, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in lines:
        minor = _MINOR.match(line)
        if minor is not None:
            current = {key: value for key, value in minor.groupdict().items() if value}
            current["counters"] = {}
            devices[int(minor["minor"])] = current
            continue
        if current is None:
            continue
        synced = _SYNCED.search(line)
        if synced is not None:
            unit = synced["unit"]
            current["sync"] = SyncProgress(
                percent=float(synced["percent"]),
                left_kib=_unit_kib(int(synced["left"]), unit),
                total_kib=_unit_kib(int(synced["total"]), unit),
            )
            continue
        finish = _FINISH.search(line)
        if finish is not None and isinstance(current.get("sync"), SyncProgress):
            progress = current["sync"]
            assert isinstance(progress, SyncProgress)
            current["sync"] = SyncProgress(progress.percent, progress.left_kib,
                                           progress.total_kib, finish["finish"],
                                           int(finish["speed"].replace(",", "")))
            continue
        if "ns:" in line or "oos:" in line:
            counters = current["counters"]
            assert isinstance(counters, dict)
            counters.update({m["key"]: int(m["value"]) for m in _COUNTER.finditer(line)})
    return ProcDrbd(
        version=version["version"],
        api=version["api"],
        proto=version["proto"],
        devices={n: _device(n, fields) for n, fields in devices.items()},
    )


def _device(minor: int, fields: dict[str, object]) -> DrbdDevice:
    def text(key: str, default: str) -> str:
        value = fields.get(key)
        return value if isinstance(value, str) else default

    counters = fields.get("counters")
    sync = fields.get("sync")
    return DrbdDevice(
        minor=minor,
        cstate=text("cs", "Unconfigured"),
        role=text("role", "Unknown"),
        peer_role=text("peer_role", "Unknown"),
        disk=text("disk", "Diskless"),
        peer_disk=text("peer_disk", "DUnknown"),
        protocol=text("protocol", ""),
        counters=dict(counters) if isinstance(counters, dict) else {},
        sync=sync if isinstance(sync, SyncProgress) else None,
    )


@dataclass(frozen=True)
class InitStatusRow:
    """A row of `/etc/init.d/drbd status`: ``1:test-disk  Connected  Primary/Secondary ...``."""

    minor: int
    resource: str
    cstate: str
    roles: str
    disks: str
    protocol: str
    mounted: str = ""
    fstype: str = ""


@dataclass(frozen=True)
class InitStatus:
    loaded: bool
    version: str
    rows: dict[str, InitStatusRow]


def parse_init_status(text: str, exit_status: int) -> InitStatus:
    """`/etc/init.d/drbd status`: exit 3 and "drbd not loaded" when the module is not loaded."""
    if exit_status == 3 or "drbd not loaded" in text:
        return InitStatus(False, "", {})
    version = next((m["version"] for m in map(_VERSION.match, text.splitlines()) if m), "")
    rows: dict[str, InitStatusRow] = {}
    header_seen = False
    for line in text.splitlines():
        words = line.split()
        if words[:2] == ["m:res", "cs"]:
            header_seen = True
            continue
        if not header_seen or not words or ":" not in words[0]:
            continue
        minor, _, resource = words[0].partition(":")
        if not minor.isdigit() or len(words) < 2:
            continue
        rest = [*words[1:], "", "", "", "", "", ""]
        rows[resource] = InitStatusRow(int(minor), resource, rest[0], rest[1], rest[2], rest[3],
                                       rest[4], rest[5])
    return InitStatus(True, version, rows)


def split_pair(text: str) -> tuple[str, str]:
    """``Primary/Secondary`` (drbdadm role, dstate) -> ("Primary", "Secondary")."""
    local, _, peer = text.strip().partition("/")
    return local, peer or "Unknown"
