"""Names, ports and paths of a lab: pure functions, no root needed.

Everything a lab creates carries its name: network namespaces ``<name>-ha1``, ``<name>-ha2``,
``<name>-lan``; its folder ``<project_root>/.lab/<name>/``; process titles ``<name>-ha1-init``.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAB = "rblab"
DEFAULT_PORT_BASE = 2201
NODES = ("ha1", "ha2")
LAN_PREFIX = "192.168.1"
LAN_GATEWAY = f"{LAN_PREFIX}.1/24"
SIM_DIR = Path(__file__).resolve().parent / "sim"


def lab_home() -> Path:
    """The folder whose ``.lab/`` holds every lab's state: never inside site-packages.

    ``$RUNBOOK_HOME`` when set; the source checkout when the lab runs from one; else
    ``$XDG_STATE_HOME/xen-ha-runbooks`` (``~/.local/state/xen-ha-runbooks``), which an
    upgrade of the installed tool leaves alone. The same rule as ``runbook.paths``.
    """
    explicit = os.environ.get("RUNBOOK_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "xenlab").is_dir():
        return checkout
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "xen-ha-runbooks"


PROJECT_ROOT = lab_home()  # the lab's home folder (name kept for the API's project_root=)

_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,9}$")


def check_name(name: str) -> str:
    """A lab name: lowercase letters and digits, 2-10 characters (interface-name budget)."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid lab name {name!r}: use 2-10 lowercase letters or digits, starting with "
            "a letter (e.g. rblab)"
        )
    return name


def port_base_for(name: str, port_base: int | None = None) -> int:
    """The ssh port of ha1 (ha2 is the next one): explicit, default, or derived from the name."""
    if port_base is not None:
        if not 1024 <= port_base <= 65534:
            raise ValueError(f"port base {port_base} out of range 1024-65534")
        return port_base
    if name == DEFAULT_LAB:
        return DEFAULT_PORT_BASE
    return 22000 + (zlib.crc32(name.encode()) % 1000) * 2


def node_ports(port_base: int) -> dict[str, int]:
    return {node: port_base + i for i, node in enumerate(NODES)}


def netns(name: str, part: str) -> str:
    """Namespace of a node (``ha1``) or of the LAN switch (``lan``)."""
    return f"{name}-{part}"


def all_netns(name: str) -> list[str]:
    return [netns(name, node) for node in NODES] + [netns(name, "lan")]


def crossover_address(node: str) -> str:
    """A suggested crossover (eth1) address; the nodes' own interfaces file decides."""
    return f"10.0.0.{NODES.index(node) + 1}"


@dataclass(frozen=True)
class Paths:
    """The folder layout of one lab."""

    project_root: Path
    name: str

    @property
    def state_dir(self) -> Path:
        return self.project_root / ".lab" / self.name

    @property
    def labs_dir(self) -> Path:
        """The checkout's .lab folder: every lab's state dir, and the lock of up/down."""
        return self.project_root / ".lab"

    @property
    def meta(self) -> Path:
        return self.state_dir / "lab.json"

    @property
    def key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def cluster(self) -> Path:
        return self.state_dir / "cluster"

    @property
    def default_inventory(self) -> Path:
        """The committed lab inventory of a checkout (``inventory/lab``)."""
        return self.project_root / "inventory" / "lab"

    @property
    def own_inventory(self) -> Path:
        return self.state_dir / "inventory"

    def node(self, node: str) -> Path:
        return self.state_dir / "nodes" / node

    def pidfile(self, node: str, role: str) -> Path:
        return self.pids / f"{node}-{role}"
