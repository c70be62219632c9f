"""Loading an inventory folder: read each file once, check every section asked for, and
return the typed settings of the cluster (:class:`ClusterInventory`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from runbook.inventory.base import Interface
from runbook.inventory.domu import DomU
from runbook.inventory.drbd import DrbdSettings
from runbook.inventory.errors import InventoryError, Problems
from runbook.inventory.heartbeat import HeartbeatSettings
from runbook.inventory.hosts import (
    DEFAULTS_FILE,
    GROUPS_FILE,
    HOSTS_FILE,
    Entry,
    HostView,
    Layout,
    check_group_references,
    extended_groups,
    read_entries,
    read_entry,
)
from runbook.inventory.identity import IdentitySettings, identity_of
from runbook.inventory.lvm import LvmSettings
from runbook.inventory.migration import MigrationSettings
from runbook.inventory.sections import needed_sections
from runbook.inventory.ssh import ConnectCheck, SshSettings
from runbook.inventory.ssh import parse_host as parse_ssh
from runbook.inventory.xen import XenSettings
from runbook.inventory.xen_tools import XenToolsSettings
from runbook.inventory.yamlfile import YamlDoc, files_sha256, read_yaml

CLUSTER_SIZE: Final = 2


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
    drbd: DrbdSettings | None = None  # section "drbd" (alike on both nodes)
    migration: MigrationSettings | None = None  # section "migration" (alike on both nodes)
    heartbeat: HeartbeatSettings | None = None  # section "heartbeat" (alike on both nodes)

    def __post_init__(self) -> None:
        object.__setattr__(self, "short_name", self.fqdn.split(".", 1)[0])


@dataclass
class ClusterInventory:
    """A loaded, validated inventory folder."""

    folder: Path
    files_sha256: str  # over the inventory files, for the audit report
    nodes: dict[str, NodeSettings]
    ssh: dict[str, SshSettings]
    domus: tuple[DomU, ...] = ()  # section "domu": the cluster's DomUs, in inventory order
    identity: IdentitySettings = field(default_factory=IdentitySettings)  # section "identity"
    # The hosts, groups and defaults as read: open_nornir builds Nornir's inventory from them
    # instead of reading the files again. None only for an inventory made by hand.
    layout: Layout | None = field(default=None, repr=False, compare=False)


def _check_folder(folder: Path) -> None:
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


def _read_files(folder: Path, problems: Problems) -> dict[str, YamlDoc | None]:
    """Each file of the folder, read once; raises InventoryError when one cannot be read."""
    docs: dict[str, YamlDoc | None] = dict.fromkeys((HOSTS_FILE, GROUPS_FILE, DEFAULTS_FILE))
    unreadable = False
    for name in docs:
        if name == HOSTS_FILE or (folder / name).exists():
            docs[name] = read_yaml(folder / name, problems)
            unreadable = unreadable or docs[name] is None
    if unreadable:
        raise InventoryError.collect(problems.items)
    return docs


def _read_layout(folder: Path, docs: dict[str, YamlDoc | None], problems: Problems) -> Layout:
    """The entries of the three files.

    Raises InventoryError when an entry or a group reference is bad; a wrong number of hosts
    is only recorded, so the hosts' settings are still checked and reported with it.
    """
    hosts = read_entries(docs[HOSTS_FILE], "host", problems)
    groups = {g.name: g for g in read_entries(docs[GROUPS_FILE], "group", problems) if g.name}
    defaults_doc = docs[DEFAULTS_FILE]
    defaults = Entry(None, folder / DEFAULTS_FILE, (), {}, {}, [])
    if defaults_doc is not None and defaults_doc.data is not None:
        defaults = read_entry(defaults_doc, None, (), defaults_doc.data, None, problems) or defaults
    check_group_references([*hosts, *groups.values()], groups, problems)
    if problems.items:
        raise InventoryError.collect(problems.items)
    if len(hosts) != CLUSTER_SIZE:
        found = ", ".join(h.name or "" for h in hosts) or "none"
        problems.add(
            f"expected exactly {CLUSTER_SIZE} hosts (the guide's two-node cluster), "
            f"found {len(hosts)}: {found}",
            file=folder / HOSTS_FILE,
        )
    return Layout(tuple(hosts), groups, defaults)


def load_inventory(
    folder: Path,
    *,
    require: Sequence[str] = ("base",),
    connect: ConnectCheck | None = None,
) -> ClusterInventory:
    """Load and validate the inventory in ``folder``; raise InventoryError listing all problems.

    ``require`` names the :data:`SECTIONS` the selected runbooks need ("base" always applies,
    and a section's ``implies`` come with it); they are checked in the order of SECTIONS.
    An unknown section name is a programming error (ValueError).

    ``connect``, for a run about to connect: also report a missing ``key_file``, and a missing
    ``known_hosts`` while host keys are checked, of the hosts it names (unknown names are left
    to the caller). Left out, no file is checked, so a folder whose key is written later (the
    lab's) can be loaded and checked.
    """
    sections = needed_sections(require)
    folder = Path(folder)
    _check_folder(folder)
    problems = Problems()
    docs = _read_files(folder, problems)
    layout = _read_layout(folder, docs, problems)
    views = [
        HostView(h, extended_groups(h, layout.groups), layout.defaults, problems)
        for h in layout.hosts
    ]
    ssh = {h.name: parse_ssh(h, connect) for h in views}
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
        files_sha256=files_sha256([d for d in docs.values() if d is not None]),
        nodes=nodes,
        ssh={name: s for name, s in ssh.items() if s is not None},
        domus=views[0].shared.get("domus", ()) if views else (),
        identity=identity_of(views),
        layout=layout,
    )
