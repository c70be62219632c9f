"""Nornir over the committed lab inventory, with fake nodes instead of SSH; for the CLI and
plugin tests, the same with `echo`, an inventory whose SSH files exist, and pytester."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nornir.core import Nornir

from runbook import context, remote
from runbook.inventory import ClusterInventory, load_inventory, open_nornir
from tests.unit.cliparts import inventory_with_ssh_files, with_fake_nodes
from tests.unit.fakenode import FakeNode
from tests.unit.fakeshell import FakeShell, attach

LAB_INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab"


@pytest.fixture
def cluster() -> ClusterInventory:
    return load_inventory(LAB_INVENTORY,
                          require=("base", "xen", "lvm", "xen_tools", "domu", "drbd", "migration",
                                   "heartbeat", "identity"))  # as every run loads it


@pytest.fixture
def fake_nodes() -> dict[str, FakeNode]:
    return {"ha1": FakeNode.fresh("ha1"), "ha2": FakeNode.fresh("ha2")}


@pytest.fixture
def nr(cluster: ClusterInventory, fake_nodes: dict[str, FakeNode]) -> Iterator[Nornir]:
    remote.reset()
    nornir = open_nornir(cluster)
    for name, host in nornir.inventory.hosts.items():
        attach(host, FakeShell(fake_nodes[name]))
    context.attach(nornir, cluster)
    yield nornir
    remote.reset()


@pytest.fixture
def fake_nr(nr: Nornir, fake_nodes: dict[str, FakeNode]) -> Nornir:
    return with_fake_nodes(nr, fake_nodes)


@pytest.fixture
def inventory_dir(cluster: ClusterInventory, tmp_path: Path) -> Path:
    return inventory_with_ssh_files(cluster, tmp_path)


@pytest.fixture
def checks_dir(fake_nr: Nornir, pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester (the module must load it: pytest_plugins = ["pytester"]), made after Nornir:
    pytester unloads the modules imported after it starts, and Nornir's plugin registry
    refuses a second copy of a plugin class it already holds."""
    return pytester
