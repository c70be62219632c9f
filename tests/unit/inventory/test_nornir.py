"""open_nornir: the Nornir object over a loaded inventory (no connection is made)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from nornir.plugins.inventory.simple import SimpleInventory

from runbook.inventory import (
    ClusterInventory,
    InventoryError,
    load_inventory,
    netmiko_extras,
    open_nornir,
)
from runbook.inventory.nornir_adapter import ParsedInventory
from tests.unit.inventory.helpers import DATA, EXAMPLE, LAB, ROOT, D, Docs, G, H, lab_copy

# Files opened while a test watches (None: nobody watches). An audit hook sees every open,
# PyYAML's, ruamel's (Nornir's SimpleInventory) and any other; it cannot be removed, so it
# stays installed and records only while a test has set the list.
_opened: list[str] | None = None


def _record_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_record_opens)


def test_open_nornir_sets_netmiko_options() -> None:
    inv = load_inventory(LAB)
    nr = open_nornir(inv)
    assert nr.config.runner.options == {"num_workers": 2}
    host = nr.inventory.hosts["ha1"]
    assert host.data["settings"] is inv.nodes["ha1"]
    assert host.data["cluster_nodes"] == [inv.nodes["ha1"], inv.nodes["ha2"]]
    params = host.get_connection_parameters("netmiko")
    assert (params.hostname, params.port, params.username, params.password) == (
        "127.0.0.1",
        2201,
        "root",
        None,
    )
    assert params.extras == {
        "device_type": "linux",
        "use_keys": True,
        "key_file": str(ROOT / ".lab" / "rblab" / "id_ed25519"),
        "allow_agent": False,
        "ssh_strict": True,
        "system_host_keys": False,
        "alt_host_keys": True,
        "alt_key_file": str(ROOT / ".lab" / "rblab" / "known_hosts"),
        "conn_timeout": 5,
        "auth_timeout": 10,
        "banner_timeout": 10,
        "fast_cli": True,
        "session_log": None,
    }


def test_open_nornir_without_host_key_checking() -> None:
    nr = open_nornir(load_inventory(LAB), strict_host_keys=False, num_workers=8)
    assert nr.config.runner.options == {"num_workers": 8}
    extras = nr.inventory.hosts["ha2"].get_connection_parameters("netmiko").extras
    assert extras is not None
    assert (extras["ssh_strict"], extras["alt_host_keys"], extras["system_host_keys"]) == (
        False,
        False,
        False,
    )
    assert extras["alt_key_file"] == ""


def test_open_nornir_reads_passwords_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inv = load_inventory(DATA / "hosts_only")
    monkeypatch.delenv("RUNBOOK_TEST_PASSWORD", raising=False)
    with pytest.raises(InventoryError) as caught:
        open_nornir(inv)
    assert [(p.host, p.key) for p in caught.value.problems] == [
        ("ha1", "data.ssh.password_env"),
        ("ha2", "data.ssh.password_env"),
    ]
    assert "RUNBOOK_TEST_PASSWORD is not set" in str(caught.value)

    monkeypatch.setenv("RUNBOOK_TEST_PASSWORD", "s3cret")
    nr = open_nornir(inv)
    ha1 = nr.inventory.hosts["ha1"].get_connection_parameters("netmiko")
    assert ha1.password == "s3cret"
    assert ha1.extras is not None and "password" not in ha1.extras  # secrets stay out of extras
    assert (ha1.extras["use_keys"], ha1.extras["key_file"]) == (False, None)
    # no known_hosts file named: the user's own, still strict
    assert (ha1.extras["ssh_strict"], ha1.extras["system_host_keys"]) == (True, True)
    ha2 = nr.inventory.hosts["ha2"].get_connection_parameters("netmiko").extras
    assert ha2 is not None and ha2["ssh_strict"] is False  # strict_host_key_checking: false


def test_netmiko_extras_are_connect_handler_arguments() -> None:
    """Every key is a parameter of netmiko's BaseConnection (a typo would fail at connect)."""
    import inspect

    from netmiko.base_connection import BaseConnection

    accepted = set(inspect.signature(BaseConnection.__init__).parameters)
    inv: ClusterInventory = load_inventory(LAB)
    assert set(netmiko_extras(inv.ssh["ha1"])) <= accepted


def platform_everywhere(docs: Docs) -> None:
    docs[D]["platform"] = docs[G]["xen_cluster"]["platform"] = docs[H]["ha2"]["platform"] = "linux"


@pytest.mark.parametrize("case", ["lab", "example", "hosts_only", "platform"])
def test_nornir_inventory_is_what_simple_inventory_reads(tmp_path: Path, case: str) -> None:
    """Hosts, groups, defaults, attributes and data as Nornir's own YAML plugin makes them."""
    folders = {"lab": LAB, "example": EXAMPLE, "hosts_only": DATA / "hosts_only"}
    folder = folders[case] if case in folders else lab_copy(tmp_path, platform_everywhere)
    inv = load_inventory(folder)
    ours = ParsedInventory(inv.layout, list(inv.nodes)).load()
    theirs = SimpleInventory(
        str(folder / "hosts.yaml"), str(folder / "groups.yaml"), str(folder / "defaults.yaml")
    ).load()
    assert ours.dict() == theirs.dict()


def test_each_inventory_file_is_read_once() -> None:
    global _opened
    _opened = []
    try:
        nr = open_nornir(load_inventory(LAB, require=("domu",)))
    finally:
        opened, _opened = _opened, None
    reads = Counter(Path(p).name for p in opened if Path(p).parent == LAB)
    assert reads == {"hosts.yaml": 1, "groups.yaml": 1, "defaults.yaml": 1}
    assert sorted(nr.inventory.hosts) == ["ha1", "ha2"]


def test_nornir_hosts_inherit_and_keep_their_own_data() -> None:
    inv = load_inventory(LAB)
    nr = open_nornir(inv)
    ha1 = nr.inventory.hosts["ha1"]
    assert [g.name for g in ha1.groups] == ["xen_cluster"]
    assert ha1["ntp_servers"] == ["192.168.1.1"]  # from the group
    assert ha1["fqdn"] == "ha1.domain.local"  # its own
    assert ha1.platform == "linux"
    ha1.data["placement"] = "set by a step"
    assert inv.layout is not None
    assert "placement" not in inv.layout.hosts[0].data  # the layout is not the host's data
    again = open_nornir(inv).inventory.hosts["ha1"]
    assert "placement" not in again.data


def test_open_nornir_over_an_inventory_made_by_hand() -> None:
    loaded = load_inventory(LAB)
    inv = ClusterInventory(loaded.folder, loaded.files_sha256, loaded.nodes, loaded.ssh)
    host = open_nornir(inv).inventory.hosts["ha2"]
    assert host.data["settings"] is loaded.nodes["ha2"] and host.port == 2202
    assert not host.groups
