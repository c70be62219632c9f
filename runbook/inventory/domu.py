"""Section "domu": the cluster's DomUs ("Using XEN-tools to install DomU").

The DomUs belong to the cluster, not to a node: both nodes must carry the same list, and it
lands in :attr:`ClusterInventory.domus`. Sizes and distribution left out default to the home
node's xen_tools, so this section implies "xen_tools".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Final

from runbook.inventory.base import Interface
from runbook.inventory.errors import InventoryError, KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.lvm import LvmSettings
from runbook.inventory.values import (
    DIST,
    ENV_NAME,
    MISSING,
    kind,
    read_integer,
    read_ipv4,
    read_label,
    read_mapping,
    read_size,
    read_text,
    size_to_mib,
    unknown_keys,
)
from runbook.inventory.xen_tools import XenToolsSettings

_KEYS: Final = (
    "name",
    "ip",
    "home",
    "memory",
    "size",
    "swap",
    "dist",
    "password_env",
    "password_file",
    "boot_timeout_s",
)
BOOT_TIMEOUT_DEFAULT_S: Final = 120
# A root password a guess finds is no password; the length also keeps the redaction of the
# secret in logs and reports from masking every common letter of the output.
MIN_PASSWORD_LENGTH: Final = 8
_SECRET_KEYS: Final = ("password", "passwd")
_SECRET_PROBLEM: Final = (
    "passwords never go in the inventory: name an environment variable in password_env "
    "or a file in password_file"
)


@dataclass(frozen=True)
class DomU:
    """A virtual machine of the cluster (an entry of ``data.domus``).

    ``memory``, ``size``, ``swap`` and ``dist`` are resolved: left out in the inventory, they
    are the values of the home node's xen_tools. The root password is not here: exactly one of
    ``password_env`` and ``password_file`` says where it is, and :meth:`password` reads it.
    """

    name: str  # the DomU's host name: `xen-create-image --hostname=test`, LVs test-disk/-swap
    ip: IPv4Address  # `--ip=`, on the nodes' LAN
    home: str  # the inventory host that creates it (xen-create-image) and normally runs it
    memory: str
    size: str
    swap: str
    dist: str
    password_env: str | None = None  # name of the environment variable holding the password
    password_file: Path | None = None  # as written: relative to the inventory folder, ~ expanded
    # How long a boot test waits for the DomU to answer ping after `xm create` (a real guest
    # takes seconds to boot; a re-created image gets a new MAC the LAN must learn).
    boot_timeout_s: int = BOOT_TIMEOUT_DEFAULT_S

    def password(self, folder: Path) -> str:
        """The DomU's root password, from its environment variable or its file.

        ``folder`` is the inventory folder (:attr:`ClusterInventory.folder`), against which a
        relative ``password_file`` is read. A file's trailing line break is dropped. Raises
        InventoryError naming the variable or the file when it is unset, missing or empty.
        """
        if self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise InventoryError(
                    f"DomU {self.name!r}: environment variable {self.password_env} is not set "
                    "(or empty); it must hold the DomU's root password",
                    key="data.domus.password_env",
                )
            if len(value) < MIN_PASSWORD_LENGTH:
                raise InventoryError(
                    f"DomU {self.name!r}: the root password in {self.password_env} is shorter "
                    f"than {MIN_PASSWORD_LENGTH} characters",
                    key="data.domus.password_env",
                )
            return value
        if self.password_file is None:
            raise InventoryError(
                f"DomU {self.name!r}: no root password: set password_env or password_file",
                key="data.domus",
            )
        return self._password_from_file(Path(folder) / self.password_file)

    def _password_from_file(self, path: Path) -> str:
        def refuse(problem: str) -> InventoryError:
            return InventoryError(
                f"DomU {self.name!r}: {problem}", file=path, key="data.domus.password_file"
            )

        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise refuse(f"cannot read the root password file: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise refuse("the root password file is not UTF-8 text") from exc
        password = text.removesuffix("\n").removesuffix("\r")
        if not password:
            raise refuse("the root password file is empty")
        if "\n" in password or "\r" in password:
            raise refuse("the root password file holds more than one line")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise refuse(f"the root password is shorter than {MIN_PASSWORD_LENGTH} characters")
        return password


@dataclass(frozen=True)
class _DomUEntry:
    """A DomU as written; None for the values left to xen_tools."""

    name: str
    ip: IPv4Address
    home: str
    memory: str | None
    size: str | None
    swap: str | None
    dist: str | None
    password_env: str | None
    password_file: Path | None
    boot_timeout_s: int


def _password_source(
    h: HostView, key: KeyPath, entry: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The DomU's password_env and password_file as written, checked.

    A bad password_env is never echoed: it may be the password itself, in the wrong place.
    """
    env = read_text(
        h,
        (*key, "password_env"),
        entry.get("password_env"),
        "the name of an environment variable",
        required=False,
    )
    if env is not None and not ENV_NAME.fullmatch(env):
        h.problem(
            (*key, "password_env"),
            "not an environment variable name (letters, digits and _, not starting with a digit)",
        )
    file = read_text(
        h, (*key, "password_file"), entry.get("password_file"), "a file path", required=False
    )
    if entry.get("password_env") is None and entry.get("password_file") is None:
        h.problem(
            key,
            "no root password: set password_env (an environment variable's name) or "
            "password_file (a file, relative to the inventory folder)",
        )
    elif entry.get("password_env") is not None and entry.get("password_file") is not None:
        h.problem((*key, "password_file"), "set password_env or password_file, not both")
    return env, file


def _parse_domu(h: HostView, key: KeyPath, value: Any) -> _DomUEntry | None:
    start = h.problem_count()
    entry = read_mapping(h, key, value, "a mapping of the DomU's settings (name, ip, home, ...)")
    if entry is None:
        return None
    for secret in _SECRET_KEYS:
        if secret in entry:  # whatever its value: never echoed
            h.problem((*key, secret), _SECRET_PROBLEM)
    unknown_keys(h, key, {k: v for k, v in entry.items() if k not in _SECRET_KEYS}, _KEYS)
    name = read_label(
        h, (*key, "name"), entry.get("name", MISSING), "the DomU's host name, e.g. test"
    )
    ip = read_ipv4(h, (*key, "ip"), entry.get("ip", MISSING), "the DomU's IPv4 address")
    home = read_text(
        h,
        (*key, "home"),
        entry.get("home", MISSING),
        "the inventory host that creates and normally runs the DomU, e.g. ha1",
    )
    sizes = {
        part: read_size(h, (*key, part), entry.get(part), required=False)
        for part in ("memory", "size", "swap")
    }
    dist = read_text(h, (*key, "dist"), entry.get("dist"), "a distribution", required=False)
    if dist is not None and not DIST.fullmatch(dist):
        h.problem((*key, "dist"), f"not a distribution name: {dist!r}")
    env, file = _password_source(h, key, entry)
    boot_timeout: int | None = BOOT_TIMEOUT_DEFAULT_S
    if entry.get("boot_timeout_s") is not None:
        boot_timeout = read_integer(h, (*key, "boot_timeout_s"), entry["boot_timeout_s"], 5, 3600,
                                    "seconds a boot test waits for the DomU to answer ping")
    if h.problem_count() > start:
        return None
    assert name is not None and ip is not None and home is not None
    return _DomUEntry(
        name,
        ip,
        home,
        sizes["memory"],
        sizes["size"],
        sizes["swap"],
        dist,
        env,
        Path(file).expanduser() if file is not None else None,
        boot_timeout or BOOT_TIMEOUT_DEFAULT_S,
    )


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "domus")
    value = h.get(key)
    what = "a list of DomUs (each with name, ip, home and password_env or password_file)"
    if value is MISSING or value is None:
        h.problem(key, f"missing: expected {what}; [] for none")
        return {}
    if not isinstance(value, list):
        h.problem(key, f"expected {what}, got {kind(value)}")
        return {}
    start = h.problem_count()
    entries = [_parse_domu(h, (*key, index), item) for index, item in enumerate(value)]
    if h.problem_count() == start:
        h.shared["domus"] = tuple(entries)
    return {}


def _taken_addresses_and_names(
    hosts: Sequence[HostView],
) -> tuple[dict[IPv4Address, str], dict[str, str]]:
    """The nodes' addresses (address -> what uses it) and names (lower-cased -> what it is)."""
    taken: dict[IPv4Address, str] = {}
    node_names: dict[str, str] = {}
    for h in hosts:
        for role in ("lan", "crossover"):
            interface: Interface | None = h.fields.get(role)
            if interface is not None:
                taken.setdefault(interface.address, f"the {role} address of host {h.name!r}")
                if interface.gateway is not None:
                    taken.setdefault(interface.gateway, f"the gateway of host {h.name!r}")
        tools: XenToolsSettings | None = h.fields.get("xen_tools")
        if tools is not None:
            taken.setdefault(tools.gateway, f"the DomUs' gateway (xen_tools of host {h.name!r})")
        if h.fields.get("fqdn"):
            node_names.setdefault(h.fields["fqdn"].split(".")[0].lower(), f"host {h.name!r}")
        if h.fields.get("crossover_name"):
            node_names.setdefault(
                h.fields["crossover_name"].lower(), f"the crossover name of host {h.name!r}"
            )
    return taken, node_names


def _check_entries(
    first: HostView, hosts: Sequence[HostView], entries: Sequence[_DomUEntry]
) -> None:
    """Names, homes and addresses of the DomUs, against each other and the nodes.

    The list is the cluster's, so its problems are reported on ``first``, the first host
    that carries it.
    """
    names = [h.name for h in hosts]
    taken, node_names = _taken_addresses_and_names(hosts)
    seen: dict[str, int] = {}
    for index, domu in enumerate(entries):
        key: KeyPath = ("data", "domus", index)
        if domu.name.lower() in seen:
            first.problem(
                (*key, "name"),
                f"DomU name {domu.name!r} is already used by data.domus[{seen[domu.name.lower()]}]",
            )
        else:
            seen[domu.name.lower()] = index
        if domu.name.lower() in node_names:
            first.problem(
                (*key, "name"), f"{domu.name!r} is the name of {node_names[domu.name.lower()]}"
            )
        if domu.home not in names:
            first.problem(
                (*key, "home"),
                f"not a host of this inventory: {domu.home!r} (expected one of {', '.join(names)})",
            )
        for h in hosts:
            lan: Interface | None = h.fields.get("lan")
            if lan is None:
                continue
            if domu.ip not in lan.network:
                first.problem(
                    (*key, "ip"),
                    f"'{domu.ip}' is outside the LAN network {lan.network} of host {h.name!r}: "
                    "the DomU is bridged onto the LAN and migrates between the nodes",
                )
                break
            if domu.ip in (lan.network.network_address, lan.network.broadcast_address):
                first.problem((*key, "ip"), f"'{domu.ip}' is not a host address of {lan.network}")
                break
        if domu.ip in taken:
            first.problem((*key, "ip"), f"'{domu.ip}' is already used: {taken[domu.ip]}")
        else:
            taken[domu.ip] = f"DomU {domu.name!r} (data.domus[{index}])"


def check_cluster(hosts: Sequence[HostView]) -> None:
    """One DomU list for the cluster: names, homes and addresses; defaults from xen_tools."""
    parsed = [h for h in hosts if "domus" in h.shared]
    if not parsed:
        return
    first = parsed[0]
    entries: tuple[_DomUEntry, ...] = first.shared["domus"]
    for h in parsed[1:]:
        if h.shared["domus"] != entries:
            h.problem(
                ("data", "domus"),
                f"differs from the DomU list of host {first.name!r}: the DomUs belong to the "
                "cluster, so both nodes need the same list (set it once, in groups.yaml)",
            )
    start = first.problem_count()
    _check_entries(first, hosts, entries)
    if first.problem_count() > start:
        return

    names = {h.name: h for h in hosts}
    domus = []
    for domu in entries:
        defaults: XenToolsSettings | None = names[domu.home].fields.get("xen_tools")
        if defaults is None:  # xen_tools of the home node is bad: already reported
            return
        domus.append(
            DomU(
                name=domu.name,
                ip=domu.ip,
                home=domu.home,
                memory=domu.memory or defaults.memory,
                size=domu.size or defaults.size,
                swap=domu.swap or defaults.swap,
                dist=domu.dist or defaults.dist,
                password_env=domu.password_env,
                password_file=domu.password_file,
                boot_timeout_s=domu.boot_timeout_s,
            )
        )
    needed = sum(size_to_mib(d.size) + size_to_mib(d.swap) for d in domus)
    for h in hosts:
        lvm: LvmSettings | None = h.fields.get("lvm")
        if lvm is not None and needed > lvm.partition_size_gb * 1024:
            h.problem(
                ("data", "domus"),
                f"the DomUs' disks and swap need {needed / 1024:g} GB, more than the "
                f"{lvm.partition_size_gb:g} GB of {lvm.partition} (data.lvm_pv): both nodes "
                "hold every DomU's LVs",
            )
    for h in hosts:
        h.shared["domus"] = tuple(domus)


SECTION: Final = Section(
    "data.domus: the DomUs (name, ip, home, sizes, root password source)",
    parse_host,
    check_cluster,
    implies=("xen_tools",),
)
