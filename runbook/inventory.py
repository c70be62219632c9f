"""Load and validate the cluster inventory, a Nornir SimpleInventory folder.

The folder holds ``hosts.yaml`` (required), ``groups.yaml`` and ``defaults.yaml``. This module
reads the files itself, so every problem can name the file (and line) where the offending value
was written, resolves each host's settings as Nornir does (the host, then its groups in order,
then the defaults; a top-level ``data`` key found first hides the others' whole value), checks
them, and returns typed settings (:class:`NodeSettings`, :class:`SshSettings`).

All problems are collected and raised together as one :class:`InventoryError`, one per line::

    inventory/lab/hosts.yaml, line 19: host 'ha1': key 'data.interfaces.eth1.address': \
not an IPv4 address: '10.0.0.300'

Settings are grouped in sections (:data:`SECTIONS`). ``base`` (names, interfaces, NTP) is always
checked; runbooks that need more ask for their sections through ``load_inventory(require=...)``,
so validating the first runbooks does not demand the keys of the later ones. The sections:

- ``base``: names, interfaces and NTP (:class:`NodeSettings`);
- ``xen``: the Xen packages, Dom0 memory, loop devices, the reboot (:class:`XenSettings`);
- ``lvm``: the partition for the volume group and the VG name (:class:`LvmSettings`);
- ``xen_tools``: /etc/xen-tools/xen-tools.conf (:class:`XenToolsSettings`);
- ``domu``: the DomUs of the cluster (:class:`DomU`, in :attr:`ClusterInventory.domus`);
  implies ``xen_tools``, whose values are the DomUs' defaults.

Secrets are never part of the inventory: the files name environment variables (or, for a DomU's
root password, a file) and only the runbook that needs a secret reads it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import os
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Final

import yaml
from nornir import InitNornir
from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions

HOSTS_FILE: Final = "hosts.yaml"
GROUPS_FILE: Final = "groups.yaml"
DEFAULTS_FILE: Final = "defaults.yaml"
CLUSTER_SIZE: Final = 2

#: Where a value sits inside a YAML file or a host's settings: ("data", "ntp_servers", 0).
KeyPath = tuple[str | int, ...]


class InventoryError(Exception):
    """One or more inventory problems; ``str()`` gives one line per problem.

    The attributes describe the first problem; ``problems`` holds all of them, each an
    ``InventoryError`` of its own. ``line`` and ``column`` are 1-based, None when unknown.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Path | None = None,
        host: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.file = file
        self.host = host
        self.key = key
        self.line = line
        self.column = column
        self.problems: tuple[InventoryError, ...] = (self,)

    @classmethod
    def collect(cls, problems: Sequence[InventoryError]) -> InventoryError:
        """One error standing for ``problems`` (not empty)."""
        first = problems[0]
        error = cls(
            first.problem,
            file=first.file,
            host=first.host,
            key=first.key,
            line=first.line,
            column=first.column,
        )
        error.problems = tuple(problems)
        return error

    def describe(self) -> str:
        """This problem alone, on one line: ``file, line N: host 'x': key 'k': problem``."""
        parts = []
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f", line {self.line}"
                if self.column is not None:
                    where += f", column {self.column}"
            parts.append(where)
        if self.host is not None:
            parts.append(f"host {self.host!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        parts.append(self.problem)
        return ": ".join(parts)

    def __str__(self) -> str:
        return "\n".join(p.describe() for p in self.problems)


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


@dataclass(frozen=True)
class NodeSettings:
    """The validated settings of one node, as the runbooks and checks use them.

    Sections other than ``base`` add their fields here with a default of None (set only
    when that section was required).
    """

    name: str  # the inventory host name
    fqdn: str
    short_name: str = field(init=False)  # the fqdn's first label
    crossover_name: str
    lan: Interface
    crossover: Interface
    ntp_servers: tuple[str, ...]
    peer: str  # the other node's inventory host name
    xen: XenSettings | None = None  # section "xen"
    lvm: LvmSettings | None = None  # section "lvm"
    xen_tools: XenToolsSettings | None = None  # section "xen_tools"

    def __post_init__(self) -> None:
        object.__setattr__(self, "short_name", self.fqdn.split(".", 1)[0])


@dataclass(frozen=True)
class XenSettings:
    """Installing Xen on a node (inventory ``data.xen``)."""

    packages: tuple[str, ...]  # apt-get install these, e.g. ("ubuntu-xen-server",)
    kernel_suffix: str  # `uname -r` ends with it once the node runs the Xen kernel: "-xen"
    dom0_memory_mb: int  # Dom0's memory (the guide: 512, the size of its swap partition)
    max_loop: int  # `loop max_loop=64` in /etc/modules
    reboot_timeout_s: int  # how long to wait for the node to come back after the reboot


@dataclass(frozen=True)
class LvmSettings:
    """The volume group for the DomUs' disks (``data.lvm_pv`` per host, ``data.lvm.vg``)."""

    partition: str  # the guide's third partition, e.g. /dev/sda3 (pvcreate, vgcreate)
    partition_size_gb: float  # its expected size, in GB as fdisk -l / vgdisplay show it
    vg: str  # the volume group's name, "vg" in the guide
    # An operator's explicit decision that 03-lvm may overwrite the partition even though it
    # holds data (a file system, another VG, a partition table). Off unless written.
    force: bool = False


@dataclass(frozen=True)
class XenToolsSettings:
    """The values the guide sets in /etc/xen-tools/xen-tools.conf (``data.xen_tools``).

    Sizes are xen-tools' strings ("5Gb", "384Mb"); :func:`size_to_mib` converts them.
    """

    lvm: str  # the volume group xen-create-image makes the DomUs' LVs in
    size: str  # the DomU's disk ("5Gb")
    memory: str  # its memory ("384Mb")
    swap: str  # its swap LV ("384Mb")
    fs: str  # ext2, ext3, ext4, xfs or reiserfs
    dist: str  # default distribution ("hardy")
    image: str  # "sparse" or "full"
    gateway: IPv4Address
    netmask: IPv4Address
    broadcast: IPv4Address
    passwd: bool  # `passwd = 1`: xen-create-image asks for the DomU's root password
    arch: str  # "amd64" or "i386"
    mirror: str  # the default mirror (http, https or ftp URL)
    mirrors: dict[str, str]  # per-distribution mirrors: {"mirror_etch": URL}, maybe empty
    install_method: str = "debootstrap"  # or "rinse" (Fedora, CentOS)

    def __hash__(self) -> int:  # mirrors is a dict: hash its items (equal objects, equal hash)
        return hash((self.lvm, self.size, self.dist, self.mirror, tuple(self.mirrors.items())))

    @property
    def network(self) -> IPv4Network:
        """The DomUs' network: gateway/netmask, e.g. 192.168.1.0/24."""
        return IPv4Network(f"{self.gateway}/{self.netmask}", strict=False)


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
            return value
        if self.password_file is None:
            raise InventoryError(
                f"DomU {self.name!r}: no root password: set password_env or password_file",
                key="data.domus",
            )
        path = Path(folder) / self.password_file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InventoryError(
                f"DomU {self.name!r}: cannot read the root password file: {exc.strerror}",
                file=path,
                key="data.domus.password_file",
            ) from exc
        except UnicodeDecodeError as exc:
            raise InventoryError(
                f"DomU {self.name!r}: the root password file is not UTF-8 text",
                file=path,
                key="data.domus.password_file",
            ) from exc
        password = text.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InventoryError(
                f"DomU {self.name!r}: the root password file is empty",
                file=path,
                key="data.domus.password_file",
            )
        if "\n" in password or "\r" in password:
            raise InventoryError(
                f"DomU {self.name!r}: the root password file holds more than one line",
                file=path,
                key="data.domus.password_file",
            )
        return password


@dataclass(frozen=True)
class SshSettings:
    """How the tool logs in to one node."""

    hostname: str
    port: int
    username: str
    key_file: Path | None  # absolute: resolved against the inventory folder, ~ expanded
    known_hosts: Path | None  # same
    password_env: str | None  # name of the environment variable holding the password
    strict_host_key_checking: bool


@dataclass
class ClusterInventory:
    """A loaded, validated inventory folder."""

    folder: Path
    files_sha256: str  # over the inventory files, for the audit report
    nodes: dict[str, NodeSettings]
    ssh: dict[str, SshSettings]
    domus: tuple[DomU, ...] = ()  # section "domu": the cluster's DomUs, in inventory order


# --------------------------------------------------------------------------------------------
# Reading the YAML files


@dataclass
class _Doc:
    path: Path
    raw: bytes
    data: Any
    lines: dict[KeyPath, int]  # 1-based line of every mapping key and sequence item


class _Problems:
    """Problems found so far, located with the line numbers of the files read."""

    def __init__(self) -> None:
        self.items: list[InventoryError] = []
        self.lines: dict[Path, dict[KeyPath, int]] = {}

    def add(
        self,
        problem: str,
        *,
        file: Path | None = None,
        host: str | None = None,
        key: KeyPath | None = None,
        at: KeyPath = (),
    ) -> None:
        """Record a problem; ``at`` is the value's path inside ``file`` (for its line)."""
        line = None
        lines = self.lines.get(file) if file is not None else None
        if lines:
            for end in range(len(at), 0, -1):  # the value, else its closest written parent
                if at[:end] in lines:
                    line = lines[at[:end]]
                    break
        self.items.append(
            InventoryError(
                problem, file=file, host=host, key=_key_name(key) if key else None, line=line
            )
        )


def _key_name(path: KeyPath) -> str:
    """("data", "ntp_servers", 0) -> "data.ntp_servers[0]"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _read_yaml(path: Path, problems: _Problems) -> _Doc | None:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        problems.add(f"cannot read: {exc.strerror}", file=path)
        return None
    except UnicodeDecodeError as exc:
        problems.add(f"not UTF-8 text (byte {exc.start})", file=path)
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            _index_lines(node, (), lines, path, problems, frozenset())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(m for m in (exc.context, exc.problem) if m) or "invalid YAML"
        problems.items.append(
            InventoryError(
                what,
                file=path,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            )
        )
        return None
    except yaml.YAMLError as exc:
        problems.add(f"invalid YAML: {exc}", file=path)
        return None
    finally:
        loader.dispose()
    problems.lines[path] = lines
    return _Doc(path, raw, data, lines)


def _index_lines(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    file: Path,
    problems: _Problems,
    parents: frozenset[int],
) -> None:
    """Record the line of every key and item below ``node``; report duplicate keys.

    PyYAML silently keeps the last of two equal keys (Nornir's loader refuses them), which
    would hide a host or a setting: that is reported here.
    """
    if id(node) in parents:  # a recursive alias
        return
    parents = parents | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if (*path, key) in lines:
                problems.items.append(
                    InventoryError(
                        f"duplicate key {key!r} (first on line {lines[(*path, key)]})",
                        file=file,
                        line=line,
                        column=key_node.start_mark.column + 1,
                    )
                )
                continue
            lines[(*path, key)] = line
            _index_lines(value_node, (*path, key), lines, file, problems, parents)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_lines(item, (*path, index), lines, file, problems, parents)


def _files_sha256(docs: Sequence[_Doc]) -> str:
    """SHA-256 over the inventory files, by name, each as name, size and content."""
    digest = hashlib.sha256()
    for doc in sorted(docs, key=lambda d: d.path.name):
        digest.update(f"{doc.path.name}\0{len(doc.raw)}\0".encode())
        digest.update(doc.raw)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The structure of the files: hosts, groups and defaults entries

_ATTRIBUTES: Final = ("hostname", "port", "username")
_ENTRY_KEYS: Final = ("hostname", "port", "username", "platform", "groups", "data")
_REFUSED_KEYS: Final = {
    "password": "passwords never go in the inventory: name an environment variable in "
    "data.ssh.password_env",
    "connection_options": "not supported: the tool builds the connection options from data.ssh",
}


@dataclass
class _Entry:
    """A host, a group or the defaults, as written in its file."""

    name: str | None  # None for the defaults
    file: Path
    at: KeyPath  # where the entry sits in its file: ("ha1",), or () for the defaults
    attributes: dict[str, Any]
    data: dict[str, Any]
    groups: list[str]


def _entries(doc: _Doc | None, kind: str, problems: _Problems) -> list[_Entry]:
    """The entries of hosts.yaml or groups.yaml (``kind`` "host" or "group")."""
    if doc is None or doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        problems.add(
            f"expected a mapping of {kind} name to {kind} settings, got {_kind(doc.data)}",
            file=doc.path,
        )
        return []
    found = []
    for name, body in doc.data.items():
        if not isinstance(name, str):
            problems.add(f"{kind} names must be strings, got {name!r}", file=doc.path, at=(name,))
            continue
        host = name if kind == "host" else None
        entry = _entry(doc, name, (name,), body, host, problems)
        if entry is not None:
            found.append(entry)
    return found


def _entry(
    doc: _Doc, name: str | None, at: KeyPath, body: Any, host: str | None, problems: _Problems
) -> _Entry | None:
    def refuse(key: KeyPath, problem: str) -> None:
        problems.add(problem, file=doc.path, host=host, key=key if host else at + key, at=at + key)

    if body is None:
        body = {}
    if not isinstance(body, dict):
        refuse((), f"expected a mapping of settings, got {_kind(body)}")
        return None
    known = _ENTRY_KEYS if name is not None else tuple(k for k in _ENTRY_KEYS if k != "groups")
    start = len(problems.items)
    for key in body:
        if key in _REFUSED_KEYS:
            refuse((key,), _REFUSED_KEYS[key])
        elif key not in known:
            refuse(
                (key,), f"unknown key (expected {', '.join(known)}; node settings go under 'data')"
            )
    if body.get("platform") not in (None, "linux"):
        refuse(("platform",), f"must be 'linux' or left out, got {body['platform']!r}")
    data = body.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        refuse(("data",), f"expected a mapping of setting name to value, got {_kind(data)}")
    elif any(not isinstance(k, str) for k in data):
        refuse(("data",), "setting names must be strings")
    groups = body.get("groups")
    if groups is None:
        groups = []
    elif not isinstance(groups, list) or any(not isinstance(g, str) for g in groups):
        refuse(("groups",), f"expected a list of group names, got {groups!r}")
    if len(problems.items) > start:
        return None
    attributes = {k: body[k] for k in _ATTRIBUTES if body.get(k) is not None}
    return _Entry(name, doc.path, at, attributes, data, groups)


def _extended_groups(entry: _Entry, groups: dict[str, _Entry]) -> list[_Entry]:
    """The groups ``entry`` inherits from, in Nornir's order (depth first, no repeats)."""
    found: list[_Entry] = []

    def visit(current: _Entry, trail: tuple[str, ...]) -> None:
        for name in current.groups:
            group = groups.get(name)
            if group is None or name in trail:  # unknown groups and cycles are reported apart
                continue
            if group not in found:
                found.append(group)
            visit(group, (*trail, name))

    visit(entry, (entry.name or "",))
    return found


def _check_group_references(
    entries: Sequence[_Entry], groups: dict[str, _Entry], problems: _Problems
) -> None:
    for entry in entries:
        for index, name in enumerate(entry.groups):
            if name not in groups:
                host = entry.name if entry.file.name == HOSTS_FILE else None
                key: KeyPath = ("groups", index) if host else (*entry.at, "groups", index)
                where = "groups.yaml" if groups else "groups.yaml (which is missing or empty)"
                problems.add(
                    f"unknown group {name!r}: not defined in {where}",
                    file=entry.file,
                    host=host,
                    key=key,
                    at=(*entry.at, "groups", index),
                )
            elif entry.name is not None and entry in _extended_groups(groups[name], groups):
                problems.add(
                    f"group {name!r} inherits back from {entry.name!r} (a cycle)",
                    file=entry.file,
                    key=(*entry.at, "groups", index),
                    at=(*entry.at, "groups", index),
                )


# --------------------------------------------------------------------------------------------
# One host's resolved settings


_MISSING: Final = object()


@dataclass
class _Value:
    value: Any
    file: Path
    at: KeyPath  # where the entry holding it sits in its file


class HostView:
    """One host's settings as Nornir resolves them, remembering where each came from.

    Section parsers read values with :meth:`get` and report with :meth:`problem`, always
    with the key's path in the host's settings: ``("port",)`` or ``("data", "fqdn")``.
    """

    def __init__(
        self, host: _Entry, groups: Sequence[_Entry], defaults: _Entry, problems: _Problems
    ) -> None:
        assert host.name is not None
        self.name = host.name
        self.folder = host.file.parent
        self.fields: dict[str, Any] = {}  # NodeSettings fields parsed by the sections
        self.shared: dict[str, Any] = {}  # ClusterInventory fields (the same on every host)
        self._host = host
        self._problems = problems
        self._values: dict[KeyPath, _Value] = {}
        for entry in (host, *groups, defaults):
            for attribute, value in entry.attributes.items():
                self._values.setdefault((attribute,), _Value(value, entry.file, entry.at))
            for key, value in entry.data.items():
                self._values.setdefault(("data", key), _Value(value, entry.file, entry.at))

    def get(self, key: KeyPath) -> Any:
        """The effective value of a host attribute or top-level data key, else ``_MISSING``."""
        found = self._values.get(key)
        return _MISSING if found is None else found.value

    def problem(self, key: KeyPath, problem: str) -> None:
        """Report a problem with ``key``, blamed on the file its top-level value came from.

        A missing top-level key is blamed on hosts.yaml, where a host's own settings go.
        """
        top = key[:2] if key[0] == "data" else key[:1]
        found = self._values.get(top)
        file, at = (found.file, found.at) if found else (self._host.file, self._host.at)
        self._problems.add(problem, file=file, host=self.name, key=key, at=at + key)

    def problem_count(self) -> int:
        return len(self._problems.items)


# --------------------------------------------------------------------------------------------
# Value checks: each reports its problems on the host and returns None when the value is bad

_LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_IFNAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _kind(value: Any) -> str:
    """How a YAML value reads in a message: "a list", "a string: '22'"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean: {value!r}"
    if isinstance(value, int | float):
        return f"a number: {value!r}"
    if isinstance(value, str):
        return f"a string: {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__}: {value!r}"


def _is_hostname(text: str, *, min_labels: int = 1) -> bool:
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= min_labels
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _text(h: HostView, key: KeyPath, value: Any, what: str, *, required: bool = True) -> str | None:
    if value is _MISSING or value is None:
        if required:
            h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, str) or not value.strip():
        h.problem(key, f"expected {what}, got {_kind(value)}")
        return None
    return value


def _mapping(h: HostView, key: KeyPath, value: Any, what: str) -> dict[str, Any] | None:
    if value is _MISSING or value is None:
        h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, dict):
        h.problem(key, f"expected {what}, got {_kind(value)}")
        return None
    return value


def _unknown_keys(h: HostView, key: KeyPath, value: dict[str, Any], known: Sequence[str]) -> None:
    for name in value:
        if name not in known:
            h.problem((*key, name), f"unknown key (expected one of: {', '.join(known)})")


def _fqdn(h: HostView, key: KeyPath, value: Any) -> str | None:
    what = "the node's fully qualified domain name, e.g. ha1.domain.local"
    text = _text(h, key, value, what)
    if text is not None and not _is_hostname(text, min_labels=2):
        h.problem(key, f"not a fully qualified domain name (name.domain): {text!r}")
        return None
    return text


def _label(h: HostView, key: KeyPath, value: Any, what: str) -> str | None:
    text = _text(h, key, value, what)
    if text is not None and not (_LABEL.fullmatch(text) and not text.isdigit()):
        h.problem(key, f"not a host name without dots (letters, digits, '-'): {text!r}")
        return None
    return text


def _interface_name(h: HostView, key: KeyPath, value: Any, role: str) -> str | None:
    text = _text(h, key, value, f"the name of the {role} interface, e.g. eth0")
    if text is not None and not _IFNAME.fullmatch(text):
        h.problem(key, f"not a network interface name: {text!r}")
        return None
    return text


def _ipv4(h: HostView, key: KeyPath, value: Any, what: str) -> IPv4Address | None:
    text = _text(h, key, value, what)
    if text is None:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        h.problem(key, f"not an IPv4 address: {text!r}")
        return None


def _netmask(h: HostView, key: KeyPath, value: Any, room: str = "two nodes") -> IPv4Address | None:
    mask = _ipv4(h, key, value, "a netmask, e.g. 255.255.255.0")
    if mask is None:
        return None
    inverted = ~int(mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        h.problem(key, f"not a valid netmask (its one bits must come first): '{mask}'")
        return None
    if not 1 <= 32 - inverted.bit_length() <= 30:
        h.problem(key, f"netmask '{mask}' leaves no room for {room} (use /1 to /30)")
        return None
    return mask


def _interface(h: HostView, key: KeyPath, value: Any, role: str) -> Interface | None:
    """The interface at ``key`` (``data.interfaces.<name>``); ``role`` "LAN" or "crossover"."""
    start = h.problem_count()
    what = f"the {role} interface's address, netmask" + (" and gateway" if role == "LAN" else "")
    settings = _mapping(h, key, value, f"a mapping of {what}")
    if settings is None:
        return None
    _unknown_keys(h, key, settings, ("address", "netmask", "gateway"))
    address = _ipv4(h, (*key, "address"), settings.get("address", _MISSING), "an IPv4 address")
    netmask = _netmask(h, (*key, "netmask"), settings.get("netmask", _MISSING))
    gateway = None
    if settings.get("gateway") is not None:
        if role == "crossover":
            h.problem(
                (*key, "gateway"),
                "the crossover link takes no gateway: the default "
                "route goes through the LAN interface",
            )
        else:
            gateway = _ipv4(h, (*key, "gateway"), settings["gateway"], "an IPv4 address")
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
    if value is _MISSING or value is None:
        h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, list) or not value:
        h.problem(key, f"expected {what}, got {'an empty list' if value == [] else _kind(value)}")
        return None
    start = h.problem_count()
    for index, server in enumerate(value):
        if not isinstance(server, str) or not (_is_ip(server) or _is_hostname(server)):
            h.problem((*key, index), f"not a host name or IP address: {server!r}")
        elif server in value[:index]:
            h.problem((*key, index), f"listed twice: {server!r}")
    return tuple(value) if h.problem_count() == start else None


# --------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class Section:
    """Settings some runbooks need, checked only when one of them is selected.

    ``parse_host`` checks one host, reports problems on its :class:`HostView` and returns the
    :class:`NodeSettings` fields it provides (None for a bad value); ``check_cluster``
    compares the hosts, skipping the fields that are None. A section of cluster-wide values
    leaves them in each host's ``shared`` (:class:`ClusterInventory` fields) instead.

    Sections are checked in the order of :data:`SECTIONS`, so a section's checks can read the
    fields of the sections before it (None when that section was not required or is bad).
    ``implies`` names the sections this one needs loaded too.
    """

    description: str
    parse_host: Callable[[HostView], dict[str, Any]]
    check_cluster: Callable[[Sequence[HostView]], None] | None = None
    implies: tuple[str, ...] = ()


def _parse_base(h: HostView) -> dict[str, Any]:
    fqdn = _fqdn(h, ("data", "fqdn"), h.get(("data", "fqdn")))
    crossover_name = _label(
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
    interfaces = _mapping(
        h,
        ("data", "interfaces"),
        h.get(("data", "interfaces")),
        "a mapping of interface name to its address settings",
    )
    lan = crossover = None
    if interfaces is not None:
        if lan_name is not None:
            lan = _interface(
                h, ("data", "interfaces", lan_name), interfaces.get(lan_name, _MISSING), "LAN"
            )
        if crossover_if is not None and crossover_if != lan_name:
            crossover = _interface(
                h,
                ("data", "interfaces", crossover_if),
                interfaces.get(crossover_if, _MISSING),
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


def _check_base_cluster(hosts: Sequence[HostView]) -> None:
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


# --------------------------------------------------------------------------------------------
# More value checks, for the sections after base

_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(Mb|Gb|M|G|MB|GB)", re.IGNORECASE)
_LVM_NAME: Final = re.compile(r"(?!-)[A-Za-z0-9+_.-]{1,127}")
_PACKAGE: Final = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_KERNEL_SUFFIX: Final = re.compile(r"[A-Za-z0-9._+-]+")
_DEVICE: Final = re.compile(r"/dev/[A-Za-z0-9_.:+-]+(?:/[A-Za-z0-9_.:+-]+)*")
_DIST: Final = re.compile(r"[a-z][a-z0-9.-]*")
_MIRROR_KEY: Final = re.compile(r"mirror_[a-z][a-z0-9.-]*")
_SECRET_KEYS: Final = ("password", "passwd")
_SECRET_PROBLEM: Final = (
    "passwords never go in the inventory: name an environment variable in password_env "
    "or a file in password_file"
)


def size_to_mib(text: str) -> int:
    """A xen-tools size in MiB: "384Mb" -> 384, "5Gb" -> 5120, "1.5G" -> 1536.

    The units, in any case: Mb, M, MB (MiB) and Gb, G, GB (1024 MiB), after an optional space.
    Raises ValueError for any other text and for a size that is not a whole number of MiB.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a size such as 5Gb or 384Mb: {text!r}")
    mib = Decimal(match[1]) * (1024 if match[2].upper().startswith("G") else 1)
    if mib != mib.to_integral_value():
        raise ValueError(f"not a whole number of MiB: {text!r}")
    return int(mib)


def _size(h: HostView, key: KeyPath, value: Any, *, required: bool = True) -> str | None:
    text = _text(h, key, value, "a size such as 5Gb or 384Mb", required=required)
    if text is None:
        return None
    try:
        mib = size_to_mib(text)
    except ValueError as exc:
        h.problem(key, str(exc))
        return None
    if mib == 0:
        h.problem(key, f"must be more than 0: {text!r}")
        return None
    return text


def _integer(h: HostView, key: KeyPath, value: Any, low: int, high: int, what: str) -> int | None:
    if value is _MISSING or value is None:
        h.problem(key, f"missing: expected {what}, an integer from {low} to {high}")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        h.problem(key, f"expected an integer from {low} to {high}, got {_kind(value)}")
        return None
    return value


def _boolean(h: HostView, key: KeyPath, value: Any, default: bool | None = None) -> bool | None:
    if value is _MISSING or value is None:
        if default is None:
            h.problem(key, "missing: expected true or false")
        return default
    if not isinstance(value, bool):
        h.problem(key, f"expected true or false, got {_kind(value)}")
        return None
    return value


def _choice(
    h: HostView, key: KeyPath, value: Any, choices: Sequence[str], default: str | None = None
) -> str | None:
    what = "one of " + ", ".join(choices)
    if (value is _MISSING or value is None) and default is not None:
        return default
    text = _text(h, key, value, what)
    if text is not None and text not in choices:
        h.problem(key, f"expected {what}, got {text!r}")
        return None
    return text


def _lvm_name(h: HostView, key: KeyPath, value: Any) -> str | None:
    text = _text(h, key, value, "a volume group name, e.g. vg")
    if text is not None and (not _LVM_NAME.fullmatch(text) or text in (".", "..")):
        h.problem(
            key,
            f"not a valid LVM name (letters, digits and + _ . -, not starting with '-', "
            f"not '.' or '..'): {text!r}",
        )
        return None
    return text


def _url(h: HostView, key: KeyPath, value: Any) -> str | None:
    text = _text(h, key, value, "a mirror URL, e.g. http://archive.ubuntu.com/ubuntu/")
    if text is None:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https", "ftp") or not parts.hostname or " " in text:
        h.problem(key, f"not an http, https or ftp URL: {text!r}")
        return None
    return text


def _settings(h: HostView, key: KeyPath, known: Sequence[str], what: str) -> dict[str, Any] | None:
    """The mapping at ``key`` (a top-level data key), its unknown keys reported."""
    value = _mapping(h, key, h.get(key), what)
    if value is not None:
        _unknown_keys(h, key, value, known)
    return value


# --------------------------------------------------------------------------------------------
# Section "xen": Installing XEN

_XEN_KEYS: Final = ("packages", "kernel_suffix", "dom0_memory_mb", "max_loop", "reboot_timeout_s")


def _parse_xen(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "xen")
    xen = _settings(h, key, _XEN_KEYS, "a mapping of Xen settings (" + ", ".join(_XEN_KEYS) + ")")
    if xen is None:
        return {"xen": None}
    start = h.problem_count()
    packages = xen.get("packages", _MISSING)
    what = "a list of Debian package names, e.g. [ubuntu-xen-server]"
    if packages is _MISSING or packages is None:
        h.problem((*key, "packages"), f"missing: expected {what}")
    elif not isinstance(packages, list) or not packages:
        got = "an empty list" if packages == [] else _kind(packages)
        h.problem((*key, "packages"), f"expected {what}, got {got}")
    else:
        for index, name in enumerate(packages):
            if not isinstance(name, str) or not _PACKAGE.fullmatch(name):
                h.problem((*key, "packages", index), f"not a Debian package name: {name!r}")
            elif name in packages[:index]:
                h.problem((*key, "packages", index), f"listed twice: {name!r}")
    suffix = _text(
        h,
        (*key, "kernel_suffix"),
        xen.get("kernel_suffix", _MISSING),
        "the end of the Xen kernel's `uname -r`, e.g. -xen",
    )
    if suffix is not None and not _KERNEL_SUFFIX.fullmatch(suffix):
        h.problem((*key, "kernel_suffix"), f"not the end of a kernel release: {suffix!r}")
    memory = _integer(
        h,
        (*key, "dom0_memory_mb"),
        xen.get("dom0_memory_mb", _MISSING),
        64,
        1048576,
        "Dom0's memory in MB",
    )
    max_loop = _integer(
        h, (*key, "max_loop"), xen.get("max_loop", _MISSING), 8, 255, "the number of loop devices"
    )
    timeout = _integer(
        h,
        (*key, "reboot_timeout_s"),
        xen.get("reboot_timeout_s", _MISSING),
        10,
        3600,
        "seconds to wait for the node after its reboot",
    )
    if h.problem_count() > start:
        return {"xen": None}
    assert suffix is not None and memory is not None and max_loop is not None
    assert timeout is not None
    return {"xen": XenSettings(tuple(packages), suffix, memory, max_loop, timeout)}


# --------------------------------------------------------------------------------------------
# Section "lvm": Configure LVM

_LVM_PV_KEYS: Final = ("partition", "partition_size_gb", "force")


def _parse_lvm(h: HostView) -> dict[str, Any]:
    start = h.problem_count()
    pv_key: KeyPath = ("data", "lvm_pv")
    pv = _settings(
        h,
        pv_key,
        _LVM_PV_KEYS,
        "a mapping of this node's partition for the volume group "
        "(partition, partition_size_gb, force)",
    )
    partition: str | None = None
    size: Any = None
    force: bool | None = None
    if pv is not None:
        partition = _text(
            h,
            (*pv_key, "partition"),
            pv.get("partition", _MISSING),
            "the partition for the volume group, e.g. /dev/sda3",
        )
        if partition is not None and (
            not _DEVICE.fullmatch(partition) or ".." in partition.split("/")
        ):
            h.problem((*pv_key, "partition"), f"not an absolute /dev path: {partition!r}")
        size = pv.get("partition_size_gb", _MISSING)
        if size is _MISSING or size is None:
            h.problem(
                (*pv_key, "partition_size_gb"),
                "missing: expected the partition's size in GB, e.g. 225",
            )
        elif isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            h.problem(
                (*pv_key, "partition_size_gb"),
                f"expected a number of GB greater than 0, got {_kind(size)}",
            )
        force = _boolean(h, (*pv_key, "force"), pv.get("force"), default=False)
    vg_key: KeyPath = ("data", "lvm")
    lvm = _settings(h, vg_key, ("vg",), "a mapping with the volume group's name (vg)")
    vg = _lvm_name(h, (*vg_key, "vg"), lvm.get("vg", _MISSING)) if lvm is not None else None
    if h.problem_count() > start:
        return {"lvm": None}
    assert partition is not None and vg is not None and force is not None
    return {"lvm": LvmSettings(partition, float(size), vg, force)}


# --------------------------------------------------------------------------------------------
# Section "xen_tools": Configure XEN-tools

_XEN_TOOLS_KEYS: Final = (
    "lvm",
    "size",
    "memory",
    "swap",
    "fs",
    "dist",
    "image",
    "gateway",
    "netmask",
    "broadcast",
    "passwd",
    "arch",
    "mirror",
    "mirrors",
    "install_method",
)


def _parse_xen_tools(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "xen_tools")
    conf = _settings(
        h, key, _XEN_TOOLS_KEYS, "a mapping of the settings of /etc/xen-tools/xen-tools.conf"
    )
    if conf is None:
        return {"xen_tools": None}
    start = h.problem_count()

    def get(name: str) -> Any:
        return conf.get(name, _MISSING)

    lvm = _lvm_name(h, (*key, "lvm"), get("lvm"))
    lvm_settings: LvmSettings | None = h.fields.get("lvm")
    if lvm is not None and lvm_settings is not None and lvm != lvm_settings.vg:
        h.problem(
            (*key, "lvm"),
            f"{lvm!r} is not the node's volume group {lvm_settings.vg!r} (data.lvm.vg): "
            "xen-create-image would make the DomUs' LVs in another volume group",
        )
    sizes = {name: _size(h, (*key, name), get(name)) for name in ("size", "memory", "swap")}
    fs = _choice(h, (*key, "fs"), get("fs"), ("ext2", "ext3", "ext4", "xfs", "reiserfs"))
    dist = _text(h, (*key, "dist"), get("dist"), "a distribution, e.g. hardy")
    if dist is not None and not _DIST.fullmatch(dist):
        h.problem((*key, "dist"), f"not a distribution name: {dist!r}")
    image = _choice(h, (*key, "image"), get("image"), ("sparse", "full"))
    gateway = _ipv4(h, (*key, "gateway"), get("gateway"), "the DomUs' gateway, an IPv4 address")
    netmask = _netmask(h, (*key, "netmask"), get("netmask"), "DomUs")
    broadcast = _ipv4(h, (*key, "broadcast"), get("broadcast"), "the DomUs' broadcast address")
    if gateway is not None and netmask is not None:
        network = IPv4Network(f"{gateway}/{netmask}", strict=False)
        if gateway in (network.network_address, network.broadcast_address):
            h.problem((*key, "gateway"), f"'{gateway}' cannot be the gateway of {network}")
        elif broadcast is not None and broadcast != network.broadcast_address:
            h.problem(
                (*key, "broadcast"),
                f"'{broadcast}' is not the broadcast address of {network} "
                f"(gateway/netmask): expected '{network.broadcast_address}'",
            )
        lan: Interface | None = h.fields.get("lan")
        if lan is not None and gateway not in lan.network:
            h.problem(
                (*key, "gateway"),
                f"'{gateway}' is outside the node's LAN network {lan.network}: the DomUs are "
                "bridged onto the LAN",
            )
        elif lan is not None and netmask != lan.netmask:
            h.problem(
                (*key, "netmask"),
                f"'{netmask}' differs from the LAN netmask '{lan.netmask}': the DomUs are "
                "bridged onto the LAN",
            )
    passwd = get("passwd")
    if isinstance(passwd, str) and passwd.strip():  # never echo what may be a password
        h.problem(
            (*key, "passwd"),
            "expected true or false (true: xen-create-image asks for the root password); "
            "passwords never go in the inventory",
        )
        passwd = None
    else:
        passwd = _boolean(h, (*key, "passwd"), passwd)
    arch = _choice(h, (*key, "arch"), get("arch"), ("amd64", "i386"))
    mirror = _url(h, (*key, "mirror"), get("mirror"))
    mirrors: dict[str, str] = {}
    value = get("mirrors")
    if value is not _MISSING and value is not None:
        if not isinstance(value, dict):
            h.problem(
                (*key, "mirrors"),
                f"expected a mapping of per-distribution mirrors (mirror_etch: URL), "
                f"got {_kind(value)}",
            )
        else:
            for name, url in value.items():
                if not isinstance(name, str) or not _MIRROR_KEY.fullmatch(name):
                    h.problem(
                        (*key, "mirrors", name),
                        f"not a per-distribution mirror setting such as mirror_etch: {name!r}",
                    )
                else:
                    checked = _url(h, (*key, "mirrors", name), url)
                    if checked is not None:
                        mirrors[name] = checked
    method = _choice(
        h,
        (*key, "install_method"),
        get("install_method"),
        ("debootstrap", "rinse"),
        default="debootstrap",
    )
    if h.problem_count() > start:
        return {"xen_tools": None}
    assert lvm is not None and fs is not None and dist is not None and image is not None
    assert gateway is not None and netmask is not None and broadcast is not None
    assert passwd is not None and arch is not None and mirror is not None and method is not None
    return {
        "xen_tools": XenToolsSettings(
            lvm=lvm,
            size=str(sizes["size"]),
            memory=str(sizes["memory"]),
            swap=str(sizes["swap"]),
            fs=fs,
            dist=dist,
            image=image,
            gateway=gateway,
            netmask=netmask,
            broadcast=broadcast,
            passwd=passwd,
            arch=arch,
            mirror=mirror,
            mirrors=mirrors,
            install_method=method,
        )
    }


# --------------------------------------------------------------------------------------------
# Section "domu": Using XEN-tools to install DomU

_DOMU_KEYS: Final = (
    "name",
    "ip",
    "home",
    "memory",
    "size",
    "swap",
    "dist",
    "password_env",
    "password_file",
)


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


def _parse_domu(h: HostView, key: KeyPath, value: Any) -> _DomUEntry | None:
    start = h.problem_count()
    entry = _mapping(h, key, value, "a mapping of the DomU's settings (name, ip, home, ...)")
    if entry is None:
        return None
    for secret in _SECRET_KEYS:
        if secret in entry:  # whatever its value: never echoed
            h.problem((*key, secret), _SECRET_PROBLEM)
    _unknown_keys(h, key, {k: v for k, v in entry.items() if k not in _SECRET_KEYS}, _DOMU_KEYS)
    name = _label(h, (*key, "name"), entry.get("name", _MISSING), "the DomU's host name, e.g. test")
    ip = _ipv4(h, (*key, "ip"), entry.get("ip", _MISSING), "the DomU's IPv4 address")
    home = _text(
        h,
        (*key, "home"),
        entry.get("home", _MISSING),
        "the inventory host that creates and normally runs the DomU, e.g. ha1",
    )
    sizes = {
        part: _size(h, (*key, part), entry.get(part), required=False)
        for part in ("memory", "size", "swap")
    }
    dist = _text(h, (*key, "dist"), entry.get("dist"), "a distribution", required=False)
    if dist is not None and not _DIST.fullmatch(dist):
        h.problem((*key, "dist"), f"not a distribution name: {dist!r}")
    env = _text(
        h,
        (*key, "password_env"),
        entry.get("password_env"),
        "the name of an environment variable",
        required=False,
    )
    if env is not None and not _ENV_NAME.fullmatch(env):  # never echoed: it may be the password
        h.problem(
            (*key, "password_env"),
            "not an environment variable name (letters, digits and _, not starting with a digit)",
        )
    file = _text(
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
    )


def _parse_domus(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "domus")
    value = h.get(key)
    what = "a list of DomUs (each with name, ip, home and password_env or password_file)"
    if value is _MISSING or value is None:
        h.problem(key, f"missing: expected {what}; [] for none")
        return {}
    if not isinstance(value, list):
        h.problem(key, f"expected {what}, got {_kind(value)}")
        return {}
    start = h.problem_count()
    entries = [_parse_domu(h, (*key, index), item) for index, item in enumerate(value)]
    if h.problem_count() == start:
        h.shared["domus"] = tuple(entries)
    return {}


def _check_domus(hosts: Sequence[HostView]) -> None:
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
    names = {h.name: h for h in hosts}
    taken: dict[IPv4Address, str] = {}  # address -> what uses it
    node_names: dict[str, str] = {}  # lower-cased name -> what it is
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
    if first.problem_count() > start:
        return

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


#: The setting sections, by the name runbooks require them with. "base" is always checked.
SECTIONS: dict[str, Section] = {
    "base": Section(
        "fqdn, crossover_name, lan_interface and crossover_interface with their interfaces, "
        "ntp_servers",
        _parse_base,
        _check_base_cluster,
    ),
    "xen": Section(
        "data.xen: packages, kernel_suffix, dom0_memory_mb, max_loop, reboot_timeout_s",
        _parse_xen,
    ),
    "lvm": Section(
        "data.lvm_pv (partition, partition_size_gb, force) and data.lvm (vg)", _parse_lvm
    ),
    "xen_tools": Section("data.xen_tools: the settings of xen-tools.conf", _parse_xen_tools),
    "domu": Section(
        "data.domus: the DomUs (name, ip, home, sizes, root password source)",
        _parse_domus,
        _check_domus,
        implies=("xen_tools",),
    ),
}


# --------------------------------------------------------------------------------------------
# SSH settings, always checked


def _parse_ssh(h: HostView) -> SshSettings | None:
    start = h.problem_count()
    hostname = _text(h, ("hostname",), h.get(("hostname",)), "the address to connect to")
    if hostname is not None and not (_is_ip(hostname) or _is_hostname(hostname)):
        h.problem(("hostname",), f"not a host name or IP address: {hostname!r}")
    port = h.get(("port",))
    if port is _MISSING:
        h.problem(("port",), "missing: expected the SSH port, e.g. 22")
    elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        h.problem(("port",), f"expected an integer from 1 to 65535, got {_kind(port)}")
    username = _text(h, ("username",), h.get(("username",)), "the user to log in as, e.g. root")
    if username is not None and any(c.isspace() for c in username):
        h.problem(("username",), f"not a user name: {username!r}")

    key: KeyPath = ("data", "ssh")
    ssh = h.get(key)
    if ssh is _MISSING or ssh is None:
        ssh = {}
    elif not isinstance(ssh, dict):
        h.problem(key, f"expected a mapping of SSH settings, got {_kind(ssh)}")
        ssh = {}
    _unknown_keys(
        h, key, ssh, ("key_file", "known_hosts", "password_env", "strict_host_key_checking")
    )
    paths: dict[str, Path | None] = {}
    for name in ("key_file", "known_hosts"):
        text = _text(h, (*key, name), ssh.get(name), "a file path", required=False)
        paths[name] = (h.folder / Path(text).expanduser()).resolve() if text else None
    password_env = _text(
        h,
        (*key, "password_env"),
        ssh.get("password_env"),
        "the name of an environment variable",
        required=False,
    )
    if password_env is not None and not _ENV_NAME.fullmatch(password_env):
        h.problem((*key, "password_env"), f"not an environment variable name: {password_env!r}")
    strict = ssh.get("strict_host_key_checking", True)
    if not isinstance(strict, bool):
        h.problem(
            (*key, "strict_host_key_checking"), f"expected true or false, got {_kind(strict)}"
        )
    if h.problem_count() == start and paths["key_file"] is None and password_env is None:
        h.problem(key, "no way to log in: set key_file, password_env or both")
    if h.problem_count() > start:
        return None
    assert hostname is not None and username is not None
    return SshSettings(
        hostname, port, username, paths["key_file"], paths["known_hosts"], password_env, strict
    )


# --------------------------------------------------------------------------------------------
# Loading


def load_inventory(folder: Path, *, require: Sequence[str] = ("base",)) -> ClusterInventory:
    """Load and validate the inventory in ``folder``; raise InventoryError listing all problems.

    ``require`` names the :data:`SECTIONS` the selected runbooks need ("base" always applies,
    and a section's ``implies`` come with it); they are checked in the order of SECTIONS.
    An unknown section name is a programming error (ValueError).
    """
    unknown = [name for name in require if name not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown inventory sections {unknown}, known: {sorted(SECTIONS)}")
    folder = Path(folder)
    if not folder.is_dir():
        exists = "not a folder" if folder.exists() else "no such folder"
        raise InventoryError(
            f"{exists}: expected an inventory folder holding {HOSTS_FILE}", file=folder
        )
    if not (folder / HOSTS_FILE).is_file():
        raise InventoryError(
            f"missing: every inventory folder needs {HOSTS_FILE} "
            f"({GROUPS_FILE} and {DEFAULTS_FILE} are optional)",
            file=folder / HOSTS_FILE,
        )

    problems = _Problems()
    docs: dict[str, _Doc | None] = dict.fromkeys((HOSTS_FILE, GROUPS_FILE, DEFAULTS_FILE))
    unreadable = False
    for name in docs:
        if name == HOSTS_FILE or (folder / name).exists():
            docs[name] = _read_yaml(folder / name, problems)
            unreadable = unreadable or docs[name] is None
    if unreadable:
        raise InventoryError.collect(problems.items)

    hosts = _entries(docs[HOSTS_FILE], "host", problems)
    groups = {g.name: g for g in _entries(docs[GROUPS_FILE], "group", problems) if g.name}
    defaults_doc = docs[DEFAULTS_FILE]
    defaults = _Entry(None, folder / DEFAULTS_FILE, (), {}, {}, [])
    if defaults_doc is not None and defaults_doc.data is not None:
        defaults = _entry(defaults_doc, None, (), defaults_doc.data, None, problems) or defaults
    _check_group_references([*hosts, *groups.values()], groups, problems)
    if problems.items:
        raise InventoryError.collect(problems.items)
    if len(hosts) != CLUSTER_SIZE:
        found = ", ".join(h.name or "" for h in hosts) or "none"
        problems.add(
            f"expected exactly {CLUSTER_SIZE} hosts (the guide's two-node cluster), "
            f"found {len(hosts)}: {found}",
            file=folder / HOSTS_FILE,
        )

    views = [HostView(h, _extended_groups(h, groups), defaults, problems) for h in hosts]
    ssh = {h.name: _parse_ssh(h) for h in views}
    needed = {"base", *require}
    pending = list(needed)
    while pending:
        for implied in SECTIONS[pending.pop()].implies:
            if implied not in needed:
                needed.add(implied)
                pending.append(implied)
    sections = [section for name, section in SECTIONS.items() if name in needed]
    for section in sections:
        for h in views:
            h.fields.update(section.parse_host(h))
        if section.check_cluster is not None:
            section.check_cluster(views)
    if problems.items:
        rank = {folder / HOSTS_FILE: 0, folder / GROUPS_FILE: 1, folder / DEFAULTS_FILE: 2}
        problems.items.sort(key=lambda p: (rank.get(p.file, 3) if p.file else 3, p.line or 0))
        raise InventoryError.collect(problems.items)

    names = [h.name for h in views]
    nodes = {
        h.name: NodeSettings(name=h.name, peer=next(n for n in names if n != h.name), **h.fields)
        for h in views
    }
    return ClusterInventory(
        folder=folder,
        files_sha256=_files_sha256([d for d in docs.values() if d is not None]),
        nodes=nodes,
        ssh={name: s for name, s in ssh.items() if s is not None},
        domus=views[0].shared.get("domus", ()) if views else (),
    )


# --------------------------------------------------------------------------------------------
# Nornir


def netmiko_extras(ssh: SshSettings, *, strict_host_keys: bool = True) -> dict[str, Any]:
    """The ConnectHandler arguments (netmiko 4) for one node, without the password.

    With strict host keys the node's key must be in ``known_hosts`` (or, when the inventory
    names none, in the user's own known_hosts file); otherwise any key is accepted.
    """
    strict = strict_host_keys and ssh.strict_host_key_checking
    return {
        "device_type": "linux",
        "use_keys": ssh.key_file is not None,
        "key_file": str(ssh.key_file) if ssh.key_file is not None else None,
        "allow_agent": False,
        "ssh_strict": strict,
        "system_host_keys": strict and ssh.known_hosts is None,
        "alt_host_keys": strict and ssh.known_hosts is not None,
        "alt_key_file": str(ssh.known_hosts) if strict and ssh.known_hosts is not None else "",
        "conn_timeout": 5,
        "auth_timeout": 10,
        "banner_timeout": 10,
        "fast_cli": True,
        "session_log": None,
    }


def open_nornir(
    inv: ClusterInventory, *, num_workers: int | None = None, strict_host_keys: bool = True
) -> Nornir:
    """A Nornir object over ``inv``'s folder, with each host's netmiko options set.

    Each host gets its :class:`NodeSettings` in ``host.data["settings"]`` and both nodes' in
    ``host.data["cluster_nodes"]`` (inventory order). Passwords are read
    from the environment variables named by ``password_env`` (InventoryError if one is unset).
    No connection is opened here.
    """
    passwords: dict[str, str | None] = {}
    missing = []
    for name, ssh in inv.ssh.items():
        passwords[name] = os.environ.get(ssh.password_env) if ssh.password_env else None
        if ssh.password_env and not passwords[name]:
            missing.append(
                InventoryError(
                    f"environment variable {ssh.password_env} is not set (or empty)",
                    host=name,
                    key="data.ssh.password_env",
                )
            )
    if missing:
        raise InventoryError.collect(missing)

    nr = InitNornir(
        runner={
            "plugin": "threaded",
            "options": {"num_workers": max(len(inv.nodes), num_workers or 0, 2)},
        },
        inventory={
            "plugin": "SimpleInventory",
            "options": {  # Nornir skips a missing groups or defaults file
                "host_file": str(inv.folder / HOSTS_FILE),
                "group_file": str(inv.folder / GROUPS_FILE),
                "defaults_file": str(inv.folder / DEFAULTS_FILE),
            },
        },
        logging={"enabled": False},
    )
    if set(nr.inventory.hosts) != set(inv.nodes):
        raise InventoryError(
            "the hosts changed since the inventory was validated; load it again",
            file=inv.folder / HOSTS_FILE,
        )
    for name, host in nr.inventory.hosts.items():
        ssh = inv.ssh[name]
        host.data["settings"] = inv.nodes[name]
        host.data["cluster_nodes"] = list(inv.nodes.values())  # for files alike on both nodes
        host.data["cluster"] = inv  # cluster-wide settings (DomUs), the inventory folder
        host.hostname, host.port, host.username = ssh.hostname, ssh.port, ssh.username
        host.platform = "linux"
        host.connection_options["netmiko"] = ConnectionOptions(
            password=passwords[name],
            extras=netmiko_extras(ssh, strict_host_keys=strict_host_keys),
        )
    return nr
