"""The Nornir object over a loaded inventory, with each host's netmiko options set."""

from __future__ import annotations

import os
from typing import Any

from nornir import InitNornir
from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions

from runbook.inventory.cluster import ClusterInventory
from runbook.inventory.errors import InventoryError
from runbook.inventory.hosts import DEFAULTS_FILE, GROUPS_FILE, HOSTS_FILE
from runbook.inventory.ssh import SshSettings


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
