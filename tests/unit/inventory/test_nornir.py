"""open_nornir: the Nornir object over a loaded inventory (no connection is made)."""

from __future__ import annotations

import pytest

from runbook.inventory import (
    ClusterInventory,
    InventoryError,
    load_inventory,
    netmiko_extras,
    open_nornir,
)
from tests.unit.inventory.helpers import (
    DATA,
    LAB,
    ROOT,
)


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
