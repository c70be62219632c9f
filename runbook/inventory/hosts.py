"""The hosts, groups and defaults of an inventory folder, and one host's resolved settings.

A host's settings resolve as Nornir resolves them: the host, then its groups (depth first, in
the order listed, no repeats), then the defaults; a top-level ``data`` key found first hides the
others' whole value. :class:`HostView` does that lookup while remembering which file each value
came from, so a problem is blamed on the file (and line) that holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runbook.inventory.errors import KeyPath, Problems
from runbook.inventory.values import MISSING, kind
from runbook.inventory.yamlfile import YamlDoc

HOSTS_FILE: Final = "hosts.yaml"
GROUPS_FILE: Final = "groups.yaml"
DEFAULTS_FILE: Final = "defaults.yaml"

ATTRIBUTES: Final = ("hostname", "port", "username", "platform")  # given to Nornir as is
_ENTRY_KEYS: Final = ("hostname", "port", "username", "platform", "groups", "data")
_REFUSED_KEYS: Final = {
    "password": "passwords never go in the inventory: name an environment variable in "
    "data.ssh.password_env",
    "connection_options": "not supported: the tool builds the connection options from data.ssh",
}


@dataclass
class Entry:
    """A host, a group or the defaults, as written in its file."""

    name: str | None  # None for the defaults
    file: Path
    at: KeyPath  # where the entry sits in its file: ("ha1",), or () for the defaults
    attributes: dict[str, Any]  # those of ATTRIBUTES that are set (platform: only "linux")
    data: dict[str, Any]
    groups: list[str]


@dataclass(frozen=True)
class Layout:
    """The folder's entries as read, once: what both the checks and Nornir are built from."""

    hosts: tuple[Entry, ...]
    groups: dict[str, Entry]
    defaults: Entry


def read_entries(doc: YamlDoc | None, kind_name: str, problems: Problems) -> list[Entry]:
    """The entries of hosts.yaml or groups.yaml (``kind_name`` "host" or "group")."""
    if doc is None or doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        problems.add(
            f"expected a mapping of {kind_name} name to {kind_name} settings, got {kind(doc.data)}",
            file=doc.path,
        )
        return []
    found = []
    for name, body in doc.data.items():
        if not isinstance(name, str):
            problems.add(
                f"{kind_name} names must be strings, got {name!r}", file=doc.path, at=(name,)
            )
            continue
        host = name if kind_name == "host" else None
        entry = read_entry(doc, name, (name,), body, host, problems)
        if entry is not None:
            found.append(entry)
    return found


def read_entry(
    doc: YamlDoc, name: str | None, at: KeyPath, body: Any, host: str | None, problems: Problems
) -> Entry | None:
    """One entry (``name`` None: the defaults), or None after reporting what is wrong."""

    def refuse(key: KeyPath, problem: str) -> None:
        problems.add(problem, file=doc.path, host=host, key=key if host else at + key, at=at + key)

    if body is None:
        body = {}
    if not isinstance(body, dict):
        refuse((), f"expected a mapping of settings, got {kind(body)}")
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
        refuse(("data",), f"expected a mapping of setting name to value, got {kind(data)}")
    elif any(not isinstance(k, str) for k in data):
        refuse(("data",), "setting names must be strings")
    groups = body.get("groups")
    if groups is None:
        groups = []
    elif not isinstance(groups, list) or any(not isinstance(g, str) for g in groups):
        refuse(("groups",), f"expected a list of group names, got {groups!r}")
    if len(problems.items) > start:
        return None
    attributes = {k: body[k] for k in ATTRIBUTES if body.get(k) is not None}
    return Entry(name, doc.path, at, attributes, data, groups)


def extended_groups(entry: Entry, groups: dict[str, Entry]) -> list[Entry]:
    """The groups ``entry`` inherits from, in Nornir's order (depth first, no repeats)."""
    found: list[Entry] = []

    def visit(current: Entry, trail: tuple[str, ...]) -> None:
        for name in current.groups:
            group = groups.get(name)
            if group is None or name in trail:  # unknown groups and cycles are reported apart
                continue
            if group not in found:
                found.append(group)
            visit(group, (*trail, name))

    visit(entry, (entry.name or "",))
    return found


def check_group_references(
    entries: Sequence[Entry], groups: dict[str, Entry], problems: Problems
) -> None:
    """Report groups that are not defined, and groups that inherit from themselves."""
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
            elif entry.name is not None and entry in extended_groups(groups[name], groups):
                problems.add(
                    f"group {name!r} inherits back from {entry.name!r} (a cycle)",
                    file=entry.file,
                    key=(*entry.at, "groups", index),
                    at=(*entry.at, "groups", index),
                )


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
        self, host: Entry, groups: Sequence[Entry], defaults: Entry, problems: Problems
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
        """The effective value of a host attribute or top-level data key, else ``MISSING``."""
        found = self._values.get(key)
        return MISSING if found is None else found.value

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
