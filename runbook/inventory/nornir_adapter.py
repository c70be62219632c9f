"""The Nornir object over a loaded inventory, with each host's netmiko options set.

Nornir's inventory is built from the hosts, groups and defaults that :func:`load_inventory`
already read (:class:`ParsedInventory`, an inventory plugin), so the files are read once per
invocation and Nornir sees exactly what was validated.
"""

from __future__ import annotations

import os
from typing import Any, Final

from nornir import InitNornir
from nornir.core import Nornir
from nornir.core.inventory import (
    ConnectionOptions,
    Defaults,
    Group,
    Groups,
    Host,
    Hosts,
    Inventory,
    ParentGroups,
)
from nornir.core.plugins.inventory import InventoryPluginRegister

from runbook.inventory.cluster import ClusterInventory
from runbook.inventory.errors import InventoryError
from runbook.inventory.hosts import Entry, Layout
from runbook.inventory.ssh import SshSettings

PLUGIN: Final = "runbook.ParsedInventory"


class ParsedInventory:
    """Nornir inventory plugin: the entries of a :class:`Layout`, as SimpleInventory would
    make them from the same files (attributes, ``data`` and parent groups; no file read)."""

    def __init__(self, layout: Layout | None, hosts: list[str]) -> None:
        self.layout = layout
        self.hosts = hosts  # the names, for an inventory made by hand (no layout)

    def load(self) -> Inventory:
        if self.layout is None:
            return Inventory(hosts=Hosts({n: Host(n) for n in self.hosts}), groups=Groups())
        defaults = Defaults(**self.layout.defaults.attributes, data=_copy(self.layout.defaults))
        groups = Groups(
            {
                name: Group(name, **g.attributes, data=_copy(g), defaults=defaults)
                for name, g in self.layout.groups.items()
            }
        )
        for name, group in groups.items():
            group.groups = ParentGroups([groups[p] for p in self.layout.groups[name].groups])
        hosts = Hosts()
        for entry in self.layout.hosts:
            assert entry.name is not None
            parents = ParentGroups([groups[p] for p in entry.groups])
            hosts[entry.name] = Host(
                entry.name, **entry.attributes, groups=parents, data=_copy(entry), defaults=defaults
            )
        return Inventory(hosts=hosts, groups=groups, defaults=defaults)


def _copy(entry: Entry) -> dict[str, Any]:
    """The entry's data for Nornir: its own top-level dict, so what the run adds to a host's
    data (settings, placement) never reaches the layout."""
    return dict(entry.data)


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
    """A Nornir object over ``inv``, with each host's netmiko options set.

    Each host gets its :class:`NodeSettings` in ``host.data["settings"]`` and both nodes' in
    ``host.data["cluster_nodes"]`` (inventory order). Passwords are read
    from the environment variables named by ``password_env`` (InventoryError if one is unset).
    No connection is opened and no file is read here.
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

    InventoryPluginRegister.register(PLUGIN, ParsedInventory)  # again: a no-op

    nr = InitNornir(
        runner={
            "plugin": "threaded",
            "options": {"num_workers": max(len(inv.nodes), num_workers or 0, 2)},
        },
        inventory={
            "plugin": PLUGIN,
            "options": {"layout": inv.layout, "hosts": list(inv.nodes)},
        },
        logging={"enabled": False},
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
