"""Nornir over the committed lab inventory, with fake nodes instead of SSH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nornir.core import Nornir

from runbook import context, remote
from runbook.inventory import ClusterInventory, load_inventory, open_nornir
from tests.unit.fakenode import FakeNode
from tests.unit.fakeshell import FakeShell, attach

LAB_INVENTORY = Path(__file__).resolve().parents[2] / "inventory" / "lab"


@pytest.fixture
def cluster() -> ClusterInventory:
    return load_inventory(LAB_INVENTORY,
                          require=("base", "xen", "lvm", "xen_tools", "domu", "drbd", "migration",
                                   "heartbeat"))


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
