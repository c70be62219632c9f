"""How the tool logs in to each node: the host attributes and ``data.ssh``, always checked.

The files ``data.ssh`` names are checked only for a run that is about to connect
(``load_inventory(connect=ConnectCheck(...))``, which the CLI asks for): a folder can be
validated, and its settings read, on a machine that does not hold the key, such as the lab's
inventory before ``runbook lab up`` writes its key and known_hosts.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView
from runbook.inventory.values import (
    ENV_NAME,
    MISSING,
    is_hostname,
    is_ip,
    kind,
    read_text,
    unknown_keys,
)

_KEY: Final[KeyPath] = ("data", "ssh")
_KEYS: Final = ("key_file", "known_hosts", "password_env", "strict_host_key_checking")


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


@dataclass(frozen=True)
class ConnectCheck:
    """A run about to connect: the files its logins need must exist.

    Each selected host's ``key_file`` must exist, and so must its ``known_hosts`` while host
    keys are checked (``strict_host_keys``, False for ``--no-host-key-check``, and the host's
    own ``strict_host_key_checking``).
    """

    hosts: Collection[str] | None = None  # those to connect to (--limit); None: every host
    strict_host_keys: bool = True

    def needed(self, host: str, strict: object) -> tuple[str, ...]:
        """The ``data.ssh`` keys whose files ``host`` needs (``strict``: its own setting)."""
        if self.hosts is not None and host not in self.hosts:
            return ()
        return ("key_file", "known_hosts") if self.strict_host_keys and strict else ("key_file",)


def _address(h: HostView) -> tuple[str | None, Any, str | None]:
    """The host attributes hostname, port and username, checked."""
    hostname = read_text(h, ("hostname",), h.get(("hostname",)), "the address to connect to")
    if hostname is not None and not (is_ip(hostname) or is_hostname(hostname)):
        h.problem(("hostname",), f"not a host name or IP address: {hostname!r}")
    port = h.get(("port",))
    if port is MISSING:
        h.problem(("port",), "missing: expected the SSH port, e.g. 22")
    elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        h.problem(("port",), f"expected an integer from 1 to 65535, got {kind(port)}")
    username = read_text(h, ("username",), h.get(("username",)), "the user to log in as, e.g. root")
    if username is not None and any(c.isspace() for c in username):
        h.problem(("username",), f"not a user name: {username!r}")
    return hostname, port, username


def _check_file(h: HostView, key: KeyPath, path: Path) -> None:
    """Report a file the login needs that is missing, not a file, or unreadable."""
    if not path.exists():
        h.problem(key, f"{path} does not exist")
    elif not path.is_file():
        h.problem(key, f"{path} is not a file")
    elif not os.access(path, os.R_OK):
        h.problem(key, f"{path} cannot be read (permission denied)")


def parse_host(h: HostView, connect: ConnectCheck | None = None) -> SshSettings | None:
    """The host's SSH settings, or None after reporting its problems.

    With ``connect``, the files the host's login needs must exist too.
    """
    start = h.problem_count()
    hostname, port, username = _address(h)
    ssh = h.get(_KEY)
    if ssh is MISSING or ssh is None:
        ssh = {}
    elif not isinstance(ssh, dict):
        h.problem(_KEY, f"expected a mapping of SSH settings, got {kind(ssh)}")
        ssh = {}
    unknown_keys(h, _KEY, ssh, _KEYS)
    paths: dict[str, Path | None] = {}
    for name in ("key_file", "known_hosts"):
        text = read_text(h, (*_KEY, name), ssh.get(name), "a file path", required=False)
        paths[name] = (h.folder / Path(text).expanduser()).resolve() if text else None
    password_env = read_text(
        h,
        (*_KEY, "password_env"),
        ssh.get("password_env"),
        "the name of an environment variable",
        required=False,
    )
    if password_env is not None and not ENV_NAME.fullmatch(password_env):
        h.problem((*_KEY, "password_env"), f"not an environment variable name: {password_env!r}")
    strict = ssh.get("strict_host_key_checking", True)
    if not isinstance(strict, bool):
        h.problem(
            (*_KEY, "strict_host_key_checking"), f"expected true or false, got {kind(strict)}"
        )
    if h.problem_count() == start and paths["key_file"] is None and password_env is None:
        h.problem(_KEY, "no way to log in: set key_file, password_env or both")
    for name in connect.needed(h.name, strict) if connect is not None else ():
        path = paths[name]
        if path is not None:
            _check_file(h, (*_KEY, name), path)
    if h.problem_count() > start:
        return None
    assert hostname is not None and username is not None
    return SshSettings(
        hostname, port, username, paths["key_file"], paths["known_hosts"], password_env, strict
    )
