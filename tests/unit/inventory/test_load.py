"""The inventory loader: committed folders load, every bad case names its file, host and key."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from runbook.inventory import (
    SECTIONS,
    InventoryError,
    load_inventory,
)
from tests.unit.inventory.helpers import (
    DATA,
    ETH0,
    ETH1,
    EXAMPLE,
    LAB,
    ROOT,
    Bad,
    D,
    Docs,
    G,
    H,
    lab_copy,
    load_error,
    removal,
    setting,
    third_host,
)

# --------------------------------------------------------------------------------------------
# The committed inventories


def test_lab_loads() -> None:
    inv = load_inventory(LAB)
    assert list(inv.nodes) == ["ha1", "ha2"]
    ha1, ha2 = inv.nodes["ha1"], inv.nodes["ha2"]
    assert (ha1.fqdn, ha1.short_name, ha1.crossover_name, ha1.peer) == (
        "ha1.domain.local",
        "ha1",
        "ha1X",
        "ha2",
    )
    assert (ha2.short_name, ha2.crossover_name, ha2.peer) == ("ha2", "ha2X", "ha1")
    assert ha1.lan.name == "eth0" and ha1.crossover.name == "eth1"
    assert ha2.lan.address == IPv4Address("192.168.1.12")
    assert ha1.lan.gateway == IPv4Address("192.168.1.1")
    assert ha1.lan.network == IPv4Network("192.168.1.0/24")
    assert ha1.lan.broadcast == IPv4Address("192.168.1.255")
    assert ha1.crossover.prefixlen == 24 and ha1.crossover.gateway is None
    assert ha2.crossover.address == IPv4Address("10.0.0.2")
    assert ha1.ntp_servers == ("192.168.1.1",)
    ssh = inv.ssh["ha2"]
    assert (ssh.hostname, ssh.port, ssh.username) == ("127.0.0.1", 2202, "root")
    assert ssh.key_file == ROOT / ".lab" / "rblab" / "id_ed25519"  # relative to the folder
    assert ssh.known_hosts == ROOT / ".lab" / "rblab" / "known_hosts"
    assert ssh.password_env is None and ssh.strict_host_key_checking is True
    assert len(inv.files_sha256) == 64


def test_example_loads() -> None:
    inv = load_inventory(EXAMPLE)
    ha1 = inv.nodes["ha1"]
    assert ha1.fqdn == "ha1.domain.local"
    assert ha1.ntp_servers == ("0.ubuntu.pool.ntp.org", "1.ubuntu.pool.ntp.org")
    assert inv.ssh["ha1"].hostname == "192.168.1.11" and inv.ssh["ha1"].port == 22
    assert inv.ssh["ha1"].key_file == Path("~/.ssh/id_rsa").expanduser()
    assert inv.ssh["ha2"].known_hosts == Path("~/.ssh/known_hosts").expanduser()


def test_groups_and_defaults_files_are_optional() -> None:
    inv = load_inventory(DATA / "hosts_only")
    assert inv.nodes["ha2"].crossover.prefixlen == 30
    assert (
        inv.ssh["ha1"].key_file is None and inv.ssh["ha1"].password_env == "RUNBOOK_TEST_PASSWORD"
    )
    assert inv.ssh["ha2"].strict_host_key_checking is False


def test_files_sha256_follows_the_contents(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path)
    before = load_inventory(folder).files_sha256
    assert load_inventory(LAB).files_sha256 == before
    groups = folder / "groups.yaml"
    groups.write_text(groups.read_text() + "# a comment\n")
    assert load_inventory(folder).files_sha256 != before


def test_a_host_key_hides_the_groups_value(tmp_path: Path) -> None:
    def own_ntp(docs: Docs) -> None:
        docs["hosts.yaml"]["ha2"]["data"]["ntp_servers"] = ["192.168.1.2"]

    inv = load_inventory(lab_copy(tmp_path, own_ntp))
    assert inv.nodes["ha1"].ntp_servers == ("192.168.1.1",)
    assert inv.nodes["ha2"].ntp_servers == ("192.168.1.2",)


BAD = {
    "missing fqdn": Bad(removal(H, "ha1.data.fqdn"), H, "ha1", "data.fqdn", "missing"),
    "bad IP": Bad(
        setting(H, f"{ETH1}.address", "10.0.0.300"),
        H,
        "ha1",
        "data.interfaces.eth1.address",
        "not an IPv4 address: '10.0.0.300'",
    ),
    "IP as a number": Bad(
        setting(H, f"{ETH1}.address", 167772161),
        H,
        "ha1",
        "data.interfaces.eth1.address",
        "expected an IPv4 address, got a number: 167772161",
    ),
    "non-contiguous netmask": Bad(
        setting(H, f"{ETH0}.netmask", "255.0.255.0"),
        H,
        "ha1",
        "data.interfaces.eth0.netmask",
        "not a valid netmask",
    ),
    "prefix instead of netmask": Bad(
        setting(H, f"{ETH0}.netmask", "/24"),
        H,
        "ha1",
        "data.interfaces.eth0.netmask",
        "not an IPv4 address: '/24'",
    ),
    "/32 netmask": Bad(
        setting(H, f"{ETH1}.netmask", "255.255.255.255"),
        H,
        "ha1",
        "data.interfaces.eth1.netmask",
        "leaves no room for two nodes",
    ),
    "gateway outside the network": Bad(
        setting(H, "ha2.data.interfaces.eth0.gateway", "192.168.2.1"),
        H,
        "ha2",
        "data.interfaces.eth0.gateway",
        "'192.168.2.1' is outside the interface's network 192.168.1.0/24",
    ),
    "gateway on the crossover link": Bad(
        setting(H, f"{ETH1}.gateway", "10.0.0.2"),
        H,
        "ha1",
        "data.interfaces.eth1.gateway",
        "the crossover link takes no gateway",
    ),
    "address is the network address": Bad(
        setting(H, f"{ETH0}.address", "192.168.1.0"),
        H,
        "ha1",
        "data.interfaces.eth0.address",
        "is the network address of 192.168.1.0/24",
    ),
    "unknown interface key": Bad(
        setting(H, f"{ETH0}.adress", "192.168.1.11"),
        H,
        "ha1",
        "data.interfaces.eth0.adress",
        "unknown key",
    ),
    "interfaces as a list": Bad(
        setting(H, "ha1.data.interfaces", ["eth0", "eth1"]),
        H,
        "ha1",
        "data.interfaces",
        "expected a mapping of interface name to its address settings, got a list",
    ),
    "LAN interface not defined": Bad(removal(H, ETH0), H, "ha1", "data.interfaces.eth0", "missing"),
    "one interface for both roles": Bad(
        setting(G, "xen_cluster.data.crossover_interface", "eth0"),
        G,
        "ha1",
        "data.crossover_interface",
        "same interface as lan_interface",
    ),
    "duplicate fqdn": Bad(
        setting(H, "ha2.data.fqdn", "HA1.domain.local"),
        H,
        "ha2",
        "data.fqdn",
        "fqdn 'HA1.domain.local' is already used by host 'ha1'",
    ),
    "fqdn without a domain": Bad(
        setting(H, "ha1.data.fqdn", "ha1"),
        H,
        "ha1",
        "data.fqdn",
        "not a fully qualified domain name",
    ),
    "crossover name with a dot": Bad(
        setting(H, "ha1.data.crossover_name", "ha1x.domain.local"),
        H,
        "ha1",
        "data.crossover_name",
        "not a host name without dots",
    ),
    "crossover name is a short name": Bad(
        setting(H, "ha2.data.crossover_name", "ha1"),
        H,
        "ha2",
        "data.crossover_name",
        "'ha1' is also the short name of host 'ha1'",
    ),
    "same LAN address": Bad(
        setting(H, "ha2.data.interfaces.eth0.address", "192.168.1.11"),
        H,
        "ha2",
        "data.interfaces.eth0.address",
        "address '192.168.1.11' is already used by host 'ha1'",
    ),
    "same crossover address": Bad(
        setting(H, "ha2.data.interfaces.eth1.address", "10.0.0.1"),
        H,
        "ha2",
        "data.interfaces.eth1.address",
        "address '10.0.0.1' is already used by host 'ha1'",
    ),
    "crossover addresses in two subnets": Bad(
        setting(H, "ha2.data.interfaces.eth1.address", "10.0.1.2"),
        H,
        "ha2",
        "data.interfaces.eth1.address",
        "crossover network 10.0.1.0/24 differs from 10.0.0.0/24 of host 'ha1'",
    ),
    "crossover overlaps the LAN": Bad(
        setting(H, f"{ETH1}.address", "192.168.1.21"),
        H,
        "ha1",
        "data.interfaces.eth1.address",
        "overlaps the LAN network 192.168.1.0/24",
    ),
    "three hosts": Bad(
        third_host,
        H,
        None,
        None,
        "expected exactly 2 hosts (the guide's two-node cluster), found 3",
    ),
    "port as a string": Bad(
        setting(H, "ha1.port", "2201"),
        H,
        "ha1",
        "port",
        "expected an integer from 1 to 65535, got a string: '2201'",
    ),
    "port out of range": Bad(setting(H, "ha2.port", 70000), H, "ha2", "port", "got a number"),
    "missing username": Bad(removal(H, "ha1.username"), H, "ha1", "username", "missing"),
    "bad ntp server in groups.yaml": Bad(
        setting(G, "xen_cluster.data.ntp_servers", ["192.168.1.1", "not a host"]),
        G,
        "ha1",
        "data.ntp_servers[1]",
        "not a host name or IP address: 'not a host'",
    ),
    "empty ntp list": Bad(
        setting(G, "xen_cluster.data.ntp_servers", []),
        G,
        "ha1",
        "data.ntp_servers",
        "got an empty list",
    ),
    "key_file in defaults.yaml not a string": Bad(
        setting(D, "data.ssh.key_file", 42),
        D,
        "ha1",
        "data.ssh.key_file",
        "expected a file path, got a number: 42",
    ),
    "no way to log in": Bad(
        setting(D, "data.ssh", {"known_hosts": "kh"}), D, "ha1", "data.ssh", "no way to log in"
    ),
    "bad password_env": Bad(
        setting(D, "data.ssh.password_env", "MY-PASSWORD"),
        D,
        "ha1",
        "data.ssh.password_env",
        "not an environment variable name",
    ),
    "password in the files": Bad(
        setting(H, "ha1.password", "secret"), H, "ha1", "password", "passwords never go"
    ),
    "setting outside data": Bad(
        setting(H, "ha1.fqdn", "ha1.domain.local"), H, "ha1", "fqdn", "go under 'data'"
    ),
    "unknown group": Bad(
        setting(H, "ha1.groups", ["xen"]), H, "ha1", "groups[0]", "unknown group 'xen'"
    ),
    "group data as a list": Bad(
        setting(G, "xen_cluster.data", ["ntp"]),
        G,
        None,
        "xen_cluster.data",
        "expected a mapping of setting name to value, got a list",
    ),
    "hosts.yaml a list": Bad(
        lambda docs: docs.update({H: ["ha1", "ha2"]}),
        H,
        None,
        None,
        "expected a mapping of host name to host settings, got a list",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_inventory_names_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    folder = lab_copy(tmp_path, case.mutate)
    error = load_error(folder)
    assert (error.file, error.host, error.key) == (folder / case.file, case.host, case.key)
    assert case.problem in error.problem
    first_line = str(error).splitlines()[0]
    assert first_line.startswith(str(folder / case.file))
    if case.host is not None:
        assert f": host '{case.host}': " in first_line
    if case.key is not None:
        assert f": key '{case.key}': " in first_line


def test_all_problems_are_listed_one_per_line_with_their_lines(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path)
    hosts = folder / "hosts.yaml"
    text = hosts.read_text()
    text = text.replace("eth1: {address: 10.0.0.1,", "eth1: {address: 10.0.0.300,")
    text = text.replace("port: 2202 ", 'port: "2202"')
    hosts.write_text(text)
    lines = text.splitlines()
    address_line = next(i for i, t in enumerate(lines, 1) if "10.0.0.300" in t)
    port_line = next(i for i, t in enumerate(lines, 1) if '"2202"' in t)

    error = load_error(folder)

    assert str(error).splitlines() == [
        f"{hosts}, line {address_line}: host 'ha1': key 'data.interfaces.eth1.address': "
        "not an IPv4 address: '10.0.0.300'",
        f"{hosts}, line {port_line}: host 'ha2': key 'port': "
        "expected an integer from 1 to 65535, got a string: '2202'",
    ]
    assert [p.line for p in error.problems] == [address_line, port_line]


def test_malformed_yaml_names_line_and_column() -> None:
    error = load_error(DATA / "malformed_yaml")
    assert (error.file, error.line, error.column) == (DATA / "malformed_yaml" / "hosts.yaml", 6, 9)
    assert str(error) == (
        f"{DATA / 'malformed_yaml' / 'hosts.yaml'}, line 6, column 9: "
        "mapping values are not allowed here"
    )


def test_duplicate_host_is_refused() -> None:
    error = load_error(DATA / "duplicate_host")
    assert (error.file, error.line) == (DATA / "duplicate_host" / "hosts.yaml", 6)
    assert error.problem == "duplicate key 'ha1' (first on line 2)"


def test_missing_folder_and_hosts_file(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nowhere")
    assert error.file == tmp_path / "nowhere" and "no such folder" in str(error)
    error = load_error(tmp_path)
    assert error.file == tmp_path / "hosts.yaml" and "every inventory folder needs" in str(error)
    (tmp_path / "file").write_text("")
    assert "not a folder" in load_error(tmp_path / "file").problem


def test_empty_hosts_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text("# nothing yet\n")
    assert load_error(tmp_path).problem.endswith("found 0: none")


def test_require_names_known_sections() -> None:
    assert "base" in SECTIONS
    assert load_inventory(LAB, require=()).nodes["ha1"].fqdn == "ha1.domain.local"
    with pytest.raises(ValueError, match="unknown inventory sections"):
        load_inventory(LAB, require=("base", "no-such-section"))


def test_error_text_leaves_out_unknown_parts() -> None:
    assert str(InventoryError("boom")) == "boom"
    error = InventoryError("bad", file=Path("inv/hosts.yaml"), key="port", line=3)
    assert str(error) == "inv/hosts.yaml, line 3: key 'port': bad"
    both = InventoryError.collect([error, InventoryError("worse", host="ha2")])
    assert (both.file, both.key, both.problem) == (Path("inv/hosts.yaml"), "port", "bad")
    assert str(both) == "inv/hosts.yaml, line 3: key 'port': bad\nhost 'ha2': worse"
