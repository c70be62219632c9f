"""Section "drbd": /etc/drbd.conf and its resources ("Install and configure DRBD").

The settings belong to the cluster (both nodes write the same drbd.conf), so both nodes must
carry the same ``data.drbd``. Every key has the guide's value as its default except
``after_sb_1pri`` (see DrbdSettings). The resources are not written: there is one per LV of
each DomU (``NAME-disk``, ``NAME-swap``), named after its LV as the guide does, with minors
from ``first_minor`` on (``minors`` may set some), meta-data index 0, 1, ... on the meta LV
and ports ``port_base``, ``port_base + 1``, ... This section implies "domu" (and so
"xen_tools") and reads "lvm" and the crossover addresses of "base" when they are loaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from runbook.inventory.domu import DomU
from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.lvm import LvmSettings
from runbook.inventory.values import (
    MISSING,
    kind,
    read_boolean,
    read_choice,
    read_integer,
    read_lvm_name,
    read_settings,
    read_size,
    size_to_mib,
)

#: Room of one index of indexed external meta-data (``meta-disk /dev/vg/meta[N]``): 128 MiB.
META_INDEX_MIB: Final = 128

AFTER_SB_0PRI: Final = ("disconnect", "discard-younger-primary", "discard-older-primary",
                        "discard-zero-changes", "discard-least-changes", "discard-local",
                        "discard-remote")
AFTER_SB_1PRI: Final = ("disconnect", "consensus", "violently-as0p", "discard-secondary",
                        "call-pri-lost-after-sb")
AFTER_SB_2PRI: Final = ("disconnect", "violently-as0p", "call-pri-lost-after-sb")
ON_IO_ERROR: Final = ("detach", "pass_on", "call-local-io-error")
_RATE: Final = re.compile(r"[1-9]\d*[KMG]?")

# key -> (default, low, high, what) of the integer settings
_INTEGERS: Final[dict[str, tuple[int, int, int, str]]] = {
    "wfc_timeout": (120, 0, 86400, "seconds the init script waits for the peer (0: forever)"),
    "degr_wfc_timeout": (120, 0, 86400, "seconds it waits when the cluster was degraded"),
    "timeout": (60, 1, 600, "tenths of a second before the peer is declared dead"),
    "connect_int": (10, 1, 120, "seconds between connection attempts"),
    "ping_int": (10, 1, 120, "seconds between keep-alive pings"),
    "max_buffers": (2048, 32, 131072, "buffers DRBD may allocate"),
    "max_epoch_size": (2048, 1, 20000, "write requests between two barriers"),
    "port_base": (7788, 1024, 65535, "the TCP port of the first resource"),
    "first_minor": (1, 0, 255, "the minor of the first resource (/dev/drbdN)"),
}
_KEYS: Final = (
    "usage_count", "protocol", "syncer_rate", "on_io_error", "after_sb_0pri", "after_sb_1pri",
    "after_sb_2pri", "allow_two_primaries", "meta_lv", "meta_size", "minors", *_INTEGERS,
)


@dataclass(frozen=True)
class DrbdResource:
    """One DRBD resource: a DomU's LV replicated between the nodes."""

    name: str  # the resource, named after its LV as the guide does: test-disk
    lv: str  # the LV on both nodes (in the lvm section's VG)
    domu: str  # the DomU whose disk it is
    minor: int  # /dev/drbdN
    meta_index: int  # meta-disk /dev/VG/META[index]
    port: int  # TCP port on both nodes' crossover addresses

    @property
    def device(self) -> str:
        return f"/dev/drbd{self.minor}"


@dataclass(frozen=True)
class DrbdSettings:
    """/etc/drbd.conf (inventory ``data.drbd``), alike on both nodes."""

    usage_count: bool = True  # "usage-count yes": drbdadm reports to usage.drbd.org
    protocol: str = "C"  # synchronous: a write completes once both disks have it
    syncer_rate: str = "90M"  # resync bandwidth, bytes per second (K, M, G)
    wfc_timeout: int = 120
    degr_wfc_timeout: int = 120
    on_io_error: str = "detach"  # a failing disk leaves the node Diskless; the peer serves
    after_sb_0pri: str = "discard-zero-changes"
    # The guide writes discard-secondary: after a split brain the node that is Secondary at
    # reconnection loses everything it wrote meanwhile, silently. "consensus" does that only
    # when discard-zero-changes agrees (it wrote nothing), otherwise both stay disconnected.
    after_sb_1pri: str = "consensus"
    after_sb_2pri: str = "disconnect"
    timeout: int = 60
    connect_int: int = 10
    ping_int: int = 10
    max_buffers: int = 2048
    max_epoch_size: int = 2048
    allow_two_primaries: bool = True  # 07-migration: a live migration needs both Primary
    meta_lv: str = "meta"
    meta_size: str = "1Gb"  # the guide's 1 GB; 128 MiB per resource is what DRBD uses
    port_base: int = 7788
    first_minor: int = 1
    resources: tuple[DrbdResource, ...] = ()  # one per DomU LV, from the DomU list

    @property
    def meta_size_mib(self) -> int:
        return size_to_mib(self.meta_size)

    @property
    def syncer_rate_kib_s(self) -> int:
        """The resync rate in KiB/s (DRBD's units: a bare number is KiB/s)."""
        factor = {"K": 1, "M": 1024, "G": 1024 * 1024}.get(self.syncer_rate[-1], 1)
        return int(self.syncer_rate.rstrip("KMG")) * factor

    def resource(self, name: str) -> DrbdResource:
        return next(r for r in self.resources if r.name == name)

    def of_domu(self, domu: str) -> tuple[DrbdResource, ...]:
        return tuple(r for r in self.resources if r.domu == domu)


def _text_choice(h: HostView, key: KeyPath, value: Any, choices: Sequence[str],
                 default: str) -> str | None:
    return read_choice(h, key, value, choices, default)


def _rate(h: HostView, key: KeyPath, value: Any) -> str | None:
    if value is MISSING or value is None:
        return "90M"
    if isinstance(value, bool) or not isinstance(value, str | int) or not _RATE.fullmatch(
            str(value)):
        h.problem(key, f"expected a rate such as 90M, 10240K or 1G, got {kind(value)}")
        return None
    return str(value)


def _minors(h: HostView, key: KeyPath, value: Any) -> dict[str, int] | None:
    if value is MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        h.problem(key, f"expected a mapping of resource name to minor, got {kind(value)}")
        return None
    start = h.problem_count()
    minors = {str(name): read_integer(h, (*key, str(name)), number, 0, 255, "a minor")
              for name, number in value.items()}
    if h.problem_count() > start:
        return None
    return {name: number for name, number in minors.items() if number is not None}


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "drbd")
    drbd = read_settings(h, key, _KEYS, "a mapping of DRBD settings ({} for the guide's)")
    if drbd is None:
        return {"drbd": None}
    start = h.problem_count()
    values: dict[str, Any] = {}
    for name, (default, low, high, what) in _INTEGERS.items():
        raw = drbd.get(name, MISSING)
        values[name] = default if raw is MISSING else read_integer(
            h, (*key, name), raw, low, high, what)
    values["usage_count"] = read_boolean(h, (*key, "usage_count"), drbd.get("usage_count"),
                                         default=True)
    values["allow_two_primaries"] = read_boolean(
        h, (*key, "allow_two_primaries"), drbd.get("allow_two_primaries"), default=True)
    values["protocol"] = _text_choice(h, (*key, "protocol"), drbd.get("protocol"),
                                      ("A", "B", "C"), "C")
    values["on_io_error"] = _text_choice(h, (*key, "on_io_error"), drbd.get("on_io_error"),
                                         ON_IO_ERROR, "detach")
    for name, choices, choice in (("after_sb_0pri", AFTER_SB_0PRI, "discard-zero-changes"),
                                  ("after_sb_1pri", AFTER_SB_1PRI, "consensus"),
                                  ("after_sb_2pri", AFTER_SB_2PRI, "disconnect")):
        values[name] = _text_choice(h, (*key, name), drbd.get(name), choices, choice)
    values["syncer_rate"] = _rate(h, (*key, "syncer_rate"), drbd.get("syncer_rate"))
    meta_lv = drbd.get("meta_lv", MISSING)
    values["meta_lv"] = "meta" if meta_lv is MISSING else read_lvm_name(
        h, (*key, "meta_lv"), meta_lv)
    meta_size = drbd.get("meta_size", MISSING)
    values["meta_size"] = "1Gb" if meta_size is MISSING else read_size(
        h, (*key, "meta_size"), meta_size)
    minors = _minors(h, (*key, "minors"), drbd.get("minors"))
    if h.problem_count() > start or minors is None:
        return {"drbd": None}
    timeout = values["timeout"]
    for other in ("ping_int", "connect_int"):
        if timeout >= values[other] * 10:
            h.problem((*key, "timeout"), f"{timeout} tenths of a second is not less than "
                      f"{other} ({values[other]} s): DRBD refuses such a net section")
    if h.problem_count() > start:
        return {"drbd": None}
    h.shared["drbd_minors"] = minors
    return {"drbd": DrbdSettings(**values)}


def _resources(settings: DrbdSettings, domus: Sequence[DomU],
               minors: dict[str, int]) -> list[DrbdResource]:
    lvs = [(f"{d.name}-{part}", d.name) for d in domus for part in ("disk", "swap")]
    return [DrbdResource(lv, lv, domu, minors.get(lv, settings.first_minor + index), index,
                         settings.port_base + index)
            for index, (lv, domu) in enumerate(lvs)]


def _check_resources(h: HostView, settings: DrbdSettings, resources: Sequence[DrbdResource],
                     minors: dict[str, int]) -> None:
    key: KeyPath = ("data", "drbd")
    names = {r.name for r in resources}
    for name in minors:
        if name not in names:
            h.problem((*key, "minors", name), f"not a resource of this cluster: {name!r} "
                      f"(one per DomU LV: {', '.join(sorted(names)) or 'none'})")
    seen: dict[int, str] = {}
    for res in resources:
        if res.minor > 255:
            h.problem((*key, "first_minor"), f"{res.name} would get minor {res.minor}; "
                      "minors go up to 255")
        elif res.minor in seen:
            h.problem((*key, "minors"), f"{res.name} and {seen[res.minor]} both use "
                      f"/dev/drbd{res.minor}")
        seen.setdefault(res.minor, res.name)
    if resources and resources[-1].port > 65535:
        h.problem((*key, "port_base"), f"{len(resources)} resources need ports up to "
                  f"{resources[-1].port}, beyond 65535")
    need = META_INDEX_MIB * len(resources)
    if settings.meta_size_mib < need:
        h.problem((*key, "meta_size"), f"{settings.meta_size} is too small for {len(resources)} "
                  f"resources: each index of external meta-data takes {META_INDEX_MIB} MiB, "
                  f"so at least {need} MiB")
    if settings.meta_lv in names:
        h.problem((*key, "meta_lv"), f"{settings.meta_lv!r} is a DomU's LV, not a meta LV")


def check_cluster(hosts: Sequence[HostView]) -> None:
    """Both nodes alike; the resources from the DomUs; room for them on the meta LV."""
    parsed = [h for h in hosts if h.fields.get("drbd") is not None]
    if not parsed:
        return
    first = parsed[0]
    settings: DrbdSettings = first.fields["drbd"]
    for h in parsed[1:]:
        if h.fields["drbd"] != settings or h.shared["drbd_minors"] != first.shared["drbd_minors"]:
            h.problem(("data", "drbd"), f"differs from the DRBD settings of host {first.name!r}: "
                      "drbd.conf is identical on both nodes (set it once, in groups.yaml)")
            return
    domus: tuple[DomU, ...] | None = first.shared.get("domus")
    if domus is None:  # the DomU list is bad: already reported
        return
    start = first.problem_count()
    minors: dict[str, int] = first.shared["drbd_minors"]
    resources = _resources(settings, domus, minors)
    _check_resources(first, settings, resources, minors)
    for h in hosts:
        lvm: LvmSettings | None = h.fields.get("lvm")
        if lvm is None:
            continue
        room = lvm.partition_size_gb * 1024
        need = settings.meta_size_mib + sum(
            size_to_mib(d.size) + size_to_mib(d.swap) for d in domus)
        if need > room:
            h.problem(("data", "drbd", "meta_size"), f"the meta LV ({settings.meta_size}) and "
                      f"the DomUs' LVs need {need} MiB, more than the {room:g} MiB of "
                      f"{lvm.partition}")
    if first.problem_count() > start:
        return
    for h in parsed:
        h.fields["drbd"] = replace(settings, resources=tuple(resources))


SECTION: Final = Section(
    "data.drbd: drbd.conf settings, the meta LV, ports and minors of the DomUs' resources",
    parse_host,
    check_cluster,
    implies=("domu", "lvm"),
)
