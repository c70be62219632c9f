"""Section "heartbeat": Heartbeat with v1 files and the xendomains resource groups
("Install and Configure Heartbeat").

The settings belong to the cluster (ha.cf, authkeys and haresources are identical on both
nodes), so both nodes must carry the same ``data.heartbeat``. Every key but ``authkey_env`` /
``authkey_file`` has the guide's value as its default. The shared key itself is never here:
exactly one of ``authkey_env`` (an environment variable's name) and ``authkey_file`` (a file,
relative to the inventory folder) says where it is, and :meth:`HeartbeatSettings.authkey`
reads it. Each node's resource group (``resource_groups``: host -> suffix, the guide's HA1 and
HA2) names the resource script ``/etc/ha.d/resource.d/xendomainsHA1``, its settings
``/etc/default/xendomainsHA1``, its lock and its auto folder ``/etc/xen/auto/HA1``; a DomU's
cfg is linked in the folder of its home node's group. This section implies "domu".
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from runbook.inventory.base import Interface
from runbook.inventory.errors import InventoryError, KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import (
    ENV_NAME,
    MISSING,
    kind,
    read_boolean,
    read_choice,
    read_integer,
    read_mapping,
    read_settings,
    read_text,
    unknown_keys,
)

LOG_FACILITIES: Final = ("none", "auth", "authpriv", "daemon", "syslog", "user",
                         *(f"local{n}" for n in range(8)))
_SUFFIX: Final = re.compile(r"[A-Za-z0-9_]{1,16}")
_PATH: Final = re.compile(r"/[A-Za-z0-9._/+-]*")
_XM_OPTIONS: Final = re.compile(r"[A-Za-z0-9 =_-]*")
_KEYS: Final = (
    "logfacility", "udpport", "keepalive", "deadtime", "warntime", "initdead", "ucast_interface",
    "auto_failback", "watchdog", "debugfile", "logfile", "authkey_env", "authkey_file",
    "resource_groups", "xendomains", "start_timeout_s",
)
_XENDOMAINS_KEYS: Final = (
    "migrate", "live", "save", "shutdown", "shutdown_all", "restore", "auto_only", "stop_maxwait",
)
_SECRET_KEYS: Final = ("authkey", "key", "auth_key", "secret")
_SECRET_PROBLEM: Final = (
    "the Heartbeat key never goes in the inventory: name an environment variable in "
    "authkey_env or a file in authkey_file"
)


@dataclass(frozen=True)
class XendomainsSettings:
    """/etc/default/xendomainsHA1 and HA2: what each resource script does with its DomUs."""

    migrate: bool = True  # XENDOMAINS_MIGRATE="<the OTHER node's crossover name> --live"
    live: bool = True  # `xm migrate --live` (a paused copy otherwise)
    save: str = ""  # XENDOMAINS_SAVE: the guide disables saving
    shutdown: str = "--halt --wait"  # XENDOMAINS_SHUTDOWN: when a migration fails
    shutdown_all: str = ""  # XENDOMAINS_SHUTDOWN_ALL: empty, or it stops the other group's too
    restore: bool = False  # XENDOMAINS_RESTORE: nothing is saved, nothing to restore
    auto_only: bool = True  # XENDOMAINS_AUTO_ONLY: only the DomUs of this group's auto folder
    stop_maxwait: int = 300  # XENDOMAINS_STOP_MAXWAIT: seconds per xm command on stop


@dataclass(frozen=True)
class ResourceGroup:
    """One haresources line: a node and the xendomains copy that runs its DomUs."""

    node: str  # the inventory host whose group it is (its home DomUs)
    suffix: str  # HA1: xendomainsHA1, /etc/xen/auto/HA1

    @property
    def resource(self) -> str:
        return f"xendomains{self.suffix}"

    @property
    def script(self) -> str:
        return f"/etc/ha.d/resource.d/{self.resource}"

    @property
    def config(self) -> str:
        return f"/etc/default/{self.resource}"

    @property
    def lockfile(self) -> str:
        return f"/var/lock/subsys/{self.resource}"

    @property
    def auto_folder(self) -> str:
        return f"/etc/xen/auto/{self.suffix}"


@dataclass(frozen=True)
class HeartbeatSettings:
    """ha.cf, authkeys and haresources (inventory ``data.heartbeat``), alike on both nodes."""

    authkey_env: str | None = None  # the environment variable holding the shared key
    authkey_file: Path | None = None  # or a file holding it, relative to the inventory folder
    logfacility: str = "local0"
    udpport: int = 694
    keepalive: int = 1  # seconds between heartbeats
    deadtime: int = 10  # seconds of silence before the peer is declared dead
    warntime: int = 3  # seconds of silence before a late-heartbeat warning
    initdead: int = 20  # deadtime right after start (the network may come up slowly)
    ucast_interface: str = "eth0"  # `ucast eth0 ADDR` for both nodes' addresses on it
    auto_failback: bool = True  # a returning node takes its group back
    watchdog: str | None = "/dev/watchdog"  # None: no watchdog line
    debugfile: str | None = "/var/log/ha-debug"
    logfile: str | None = None
    start_timeout_s: int = 120  # how long `heartbeat start` may take to both nodes active
    groups: tuple[ResourceGroup, ...] = ()  # in inventory host order
    xendomains: XendomainsSettings = XendomainsSettings()
    ucast_addresses: tuple[str, ...] = ()  # each node's address on ucast_interface

    def group_of(self, node: str) -> ResourceGroup:
        return next(g for g in self.groups if g.node == node)

    def authkey(self, folder: Path) -> str:
        """The shared key, from its environment variable or its file (``folder``: the inventory
        folder). Raises InventoryError naming the variable or file when unset, missing, empty,
        or not one word (authkeys reads ``1 sha1 KEY``)."""
        if self.authkey_env is not None:
            value = os.environ.get(self.authkey_env, "")
            where = f"environment variable {self.authkey_env}"
            key = "data.heartbeat.authkey_env"
            file = None
        elif self.authkey_file is not None:
            file = Path(folder) / self.authkey_file
            where, key = f"file {file}", "data.heartbeat.authkey_file"
            try:
                value = file.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise InventoryError(f"cannot read the Heartbeat key: {reason}", file=file,
                                     key=key) from exc
        else:
            raise InventoryError("no Heartbeat key: set authkey_env or authkey_file",
                                 key="data.heartbeat")
        if not value:
            raise InventoryError(f"the Heartbeat key is not set: {where} is unset or empty",
                                 file=file, key=key)
        if any(c.isspace() for c in value) or not value.isprintable():
            raise InventoryError(f"the Heartbeat key in {where} must be one word of printable "
                                 "characters (authkeys reads `1 sha1 KEY`)", file=file, key=key)
        return value


def _optional_path(h: HostView, key: KeyPath, value: Any, default: str | None) -> str | None:
    if value is MISSING:
        return default
    if value is None or value == "":
        return None
    text = read_text(h, key, value, "an absolute path, or null for none")
    if text is not None and not _PATH.fullmatch(text):
        h.problem(key, f"not an absolute path: {text!r}")
    return text


def _authkey_source(h: HostView, key: KeyPath, hb: dict[str, Any]) -> dict[str, Any]:
    """authkey_env or authkey_file as written; a bad value is never echoed (it may be the key)."""
    for secret in _SECRET_KEYS:
        if secret in hb:
            h.problem((*key, secret), _SECRET_PROBLEM)
    env, file = hb.get("authkey_env"), hb.get("authkey_file")
    if env is None and file is None:
        h.problem(key, "no Heartbeat key: set authkey_env (an environment variable's name) or "
                       "authkey_file (a file, relative to the inventory folder)")
    elif env is not None and file is not None:
        h.problem((*key, "authkey_file"), "set authkey_env or authkey_file, not both")
    if env is not None and (not isinstance(env, str) or not ENV_NAME.fullmatch(env)):
        h.problem((*key, "authkey_env"), "not an environment variable name (letters, digits "
                                         "and _, not starting with a digit)")
    path = read_text(h, (*key, "authkey_file"), file, "a file path", required=False)
    return {"authkey_env": env if isinstance(env, str) else None,
            "authkey_file": Path(path).expanduser() if path is not None else None}


def _xendomains(h: HostView, key: KeyPath, value: Any) -> XendomainsSettings | None:
    if value is MISSING or value is None:
        return XendomainsSettings()
    xd = read_mapping(h, key, value, "a mapping of xendomains settings")
    if xd is None:
        return None
    unknown_keys(h, key, xd, _XENDOMAINS_KEYS)
    start = h.problem_count()
    defaults = XendomainsSettings()
    values: dict[str, Any] = {}
    for name in ("migrate", "live", "restore", "auto_only"):
        values[name] = read_boolean(h, (*key, name), xd.get(name), getattr(defaults, name))
    for name in ("shutdown", "shutdown_all"):
        raw = xd.get(name, getattr(defaults, name))
        if raw is None:
            raw = ""
        if not isinstance(raw, str) or not _XM_OPTIONS.fullmatch(raw):
            h.problem((*key, name), f"expected xm shutdown options such as \"--halt --wait\", "
                                    f"or \"\" for none, got {kind(raw)}")
        values[name] = raw
    save = xd.get("save", "")
    values["save"] = "" if save in (None, "") else _optional_path(h, (*key, "save"), save, "")
    raw_wait = xd.get("stop_maxwait", MISSING)
    values["stop_maxwait"] = defaults.stop_maxwait if raw_wait is MISSING else read_integer(
        h, (*key, "stop_maxwait"), raw_wait, 0, 86400, "seconds per xm command on stop (0: none)")
    if values["restore"] and not values["save"]:
        h.problem((*key, "restore"), "true needs a save folder: nothing is saved to restore")
    if h.problem_count() > start:
        return None
    return XendomainsSettings(**values)


def _integers(h: HostView, key: KeyPath, hb: dict[str, Any]) -> dict[str, int | None]:
    limits = {"udpport": (694, 1, 65535, "the UDP port of the heartbeats"),
              "keepalive": (1, 1, 60, "seconds between heartbeats"),
              "deadtime": (10, 2, 600, "seconds before the peer is declared dead"),
              "warntime": (3, 1, 600, "seconds before a late heartbeat is logged"),
              "initdead": (20, 2, 3600, "the deadtime right after start, in seconds"),
              "start_timeout_s": (120, 10, 3600, "seconds to wait for both nodes active")}
    values: dict[str, int | None] = {}
    for name, (default, low, high, what) in limits.items():
        raw = hb.get(name, MISSING)
        values[name] = default if raw is MISSING else read_integer(h, (*key, name), raw, low,
                                                                   high, what)
    keepalive, deadtime = values["keepalive"], values["deadtime"]
    warntime, initdead = values["warntime"], values["initdead"]
    if keepalive is not None and deadtime is not None and deadtime <= 2 * keepalive:
        h.problem((*key, "deadtime"), f"{deadtime} s is too small compared to keepalive "
                  f"({keepalive} s): heartbeat needs more than two keepalives")
    if deadtime is not None and warntime is not None and not warntime < deadtime:
        h.problem((*key, "warntime"), f"{warntime} s is not less than deadtime ({deadtime} s)")
    if deadtime is not None and initdead is not None and initdead < deadtime:
        h.problem((*key, "initdead"), f"{initdead} s is less than deadtime ({deadtime} s): "
                                      "heartbeat refuses it")
    return values


def _resource_groups(h: HostView, key: KeyPath, value: Any) -> dict[str, str] | None:
    what = "a mapping of inventory host to its resource group's suffix, e.g. {ha1: HA1, ha2: HA2}"
    groups = read_mapping(h, key, value, what)
    if groups is None:
        return None
    start = h.problem_count()
    for host, suffix in groups.items():
        if not isinstance(suffix, str) or not _SUFFIX.fullmatch(suffix):
            h.problem((*key, str(host)), f"not a resource group suffix (letters, digits and _, "
                                         f"up to 16): {suffix!r}")
    return None if h.problem_count() > start else {str(k): v for k, v in groups.items()}


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "heartbeat")
    hb = read_settings(h, key, (*_KEYS, *_SECRET_KEYS),
                       "a mapping of Heartbeat settings (authkey_env or authkey_file at least)")
    if hb is None:
        return {"heartbeat": None}
    start = h.problem_count()
    values: dict[str, Any] = {**_integers(h, key, hb), **_authkey_source(h, key, hb)}
    values["logfacility"] = read_choice(h, (*key, "logfacility"), hb.get("logfacility"),
                                        LOG_FACILITIES, "local0")
    values["auto_failback"] = read_boolean(h, (*key, "auto_failback"), hb.get("auto_failback"),
                                           True)
    values["ucast_interface"] = read_text(h, (*key, "ucast_interface"),
                                          hb.get("ucast_interface", "eth0"),
                                          "the interface the heartbeats go over, e.g. eth0")
    for name, default in (("watchdog", "/dev/watchdog"), ("debugfile", "/var/log/ha-debug"),
                          ("logfile", None)):
        values[name] = _optional_path(h, (*key, name), hb.get(name, MISSING), default)
    values["xendomains"] = _xendomains(h, (*key, "xendomains"), hb.get("xendomains", MISSING))
    groups = _resource_groups(h, (*key, "resource_groups"), hb.get("resource_groups", MISSING))
    if h.problem_count() > start or groups is None:
        return {"heartbeat": None}
    h.shared["heartbeat_groups"] = groups
    return {"heartbeat": HeartbeatSettings(**values)}


def _ucast_address(h: HostView, interface: str) -> str | None:
    """The host's address on ``interface`` (its LAN or crossover interface), if known."""
    for role in ("lan", "crossover"):
        found: Interface | None = h.fields.get(role)
        if found is not None and found.name == interface:
            return str(found.address)
    return None


def _groups(first: HostView, hosts: Sequence[HostView],
            written: dict[str, str]) -> tuple[ResourceGroup, ...] | None:
    key: KeyPath = ("data", "heartbeat", "resource_groups")
    start = first.problem_count()
    names = [h.name for h in hosts]
    for host in written:
        if host not in names:
            first.problem((*key, host), f"not a host of this inventory (expected one of "
                                        f"{', '.join(names)})")
    for host in names:
        if host not in written:
            first.problem(key, f"no resource group for host {host!r}: each node runs its home "
                               "DomUs as a group of its own (the guide's HA1 and HA2)")
    suffixes = [s.lower() for s in written.values()]
    if len(set(suffixes)) != len(suffixes):
        first.problem(key, "two hosts share a resource group suffix: each needs its own "
                           "script, settings, lock and auto folder")
    if first.problem_count() > start:
        return None
    return tuple(ResourceGroup(host, written[host]) for host in names)


def check_cluster(hosts: Sequence[HostView]) -> None:
    """Both nodes alike; one group per node; each node's address on the ucast interface."""
    parsed = [h for h in hosts if h.fields.get("heartbeat") is not None]
    if not parsed:
        return
    first = parsed[0]
    settings: HeartbeatSettings = first.fields["heartbeat"]
    written: dict[str, str] = first.shared["heartbeat_groups"]
    for h in parsed[1:]:
        if h.fields["heartbeat"] != settings or h.shared["heartbeat_groups"] != written:
            h.problem(("data", "heartbeat"), f"differs from the Heartbeat settings of host "
                      f"{first.name!r}: ha.cf, authkeys and haresources are identical on both "
                      "nodes (set them once, in groups.yaml)")
            return
    groups = _groups(first, hosts, written)
    addresses = []
    for h in hosts:
        address = _ucast_address(h, settings.ucast_interface)
        if address is None and h.fields.get("lan") is not None:
            h.problem(("data", "heartbeat", "ucast_interface"),
                      f"{settings.ucast_interface!r} is neither the LAN nor the crossover "
                      f"interface of host {h.name!r}: the heartbeats need its address")
        addresses.append(address)
    if groups is None or None in addresses:
        return
    final = replace(settings, groups=groups,
                    ucast_addresses=tuple(a for a in addresses if a is not None))
    for h in parsed:
        h.fields["heartbeat"] = final


SECTION: Final = Section(
    "data.heartbeat: ha.cf timings and links, the authkey source, the resource groups and "
    "their xendomains settings",
    parse_host,
    check_cluster,
    implies=("domu",),
)
