"""The inventory loader: committed folders load, every bad case names its file, host and key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.inventory import (
    SECTIONS,
    ClusterInventory,
    DomU,
    InventoryError,
    LvmSettings,
    XenSettings,
    XenToolsSettings,
    load_inventory,
    netmiko_extras,
    open_nornir,
    size_to_mib,
)

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventory" / "lab"
EXAMPLE = ROOT / "inventory" / "example"
DATA = ROOT / "tests" / "data" / "inventory"
ALL_SECTIONS = ("xen", "lvm", "xen_tools", "domu")

Docs = dict[str, Any]  # file name -> loaded YAML document


def load_error(folder: Path, **kwargs: Any) -> InventoryError:
    with pytest.raises(InventoryError) as caught:
        load_inventory(folder, **kwargs)
    return caught.value


def lab_copy(tmp_path: Path, mutate: Callable[[Docs], object] | None = None) -> Path:
    """inventory/lab copied to tmp_path/inv, its YAML documents changed by ``mutate``."""
    folder = tmp_path / "inv"
    shutil.copytree(LAB, folder)
    if mutate is not None:
        docs = {p.name: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")}
        mutate(docs)
        for name, doc in docs.items():
            path = folder / name
            if doc is None:
                path.unlink()
            else:
                path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


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


# --------------------------------------------------------------------------------------------
# Bad inventories: one change to the lab each, and the problem it must name


@dataclass(frozen=True)
class Bad:
    mutate: Callable[[Docs], object]
    file: str
    host: str | None
    key: str | None
    problem: str  # a part of the first problem's text


def _walk(doc: Any, names: list[str]) -> Any:
    for name in names:
        doc = doc[int(name)] if isinstance(doc, list) else doc[name]
    return doc


def _set(doc: Docs, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    parent = _walk(doc, parents)
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


def setting(file: str, path: str, value: Any) -> Callable[[Docs], object]:
    return lambda docs: _set(docs[file], path, value)


def removal(file: str, path: str) -> Callable[[Docs], object]:
    *parents, last = path.split(".")

    def remove(docs: Docs) -> None:
        del _walk(docs[file], parents)[last]

    return remove


def third_host(docs: Docs) -> None:
    docs["hosts.yaml"]["ha3"] = {"hostname": "127.0.0.1", "port": 2203, "username": "root"}


H = "hosts.yaml"
G = "groups.yaml"
D = "defaults.yaml"
ETH0 = "ha1.data.interfaces.eth0"
ETH1 = "ha1.data.interfaces.eth1"

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


# --------------------------------------------------------------------------------------------
# Nornir (no connection is made)


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


# --------------------------------------------------------------------------------------------
# Sections xen, lvm, xen_tools and domu


def test_lab_loads_every_section() -> None:
    inv = load_inventory(LAB, require=ALL_SECTIONS)
    for node in inv.nodes.values():
        assert node.xen == XenSettings(("ubuntu-xen-server",), "-xen", 512, 64, 300)
        assert node.lvm == LvmSettings("/dev/sda3", 40.0, "vg", force=False)
        tools = node.xen_tools
        assert isinstance(tools, XenToolsSettings)
        assert (tools.lvm, tools.size, tools.memory, tools.swap) == ("vg", "5Gb", "384Mb", "384Mb")
        assert (tools.fs, tools.dist, tools.image, tools.arch) == (
            "ext3",
            "hardy",
            "sparse",
            "amd64",
        )
        assert (tools.gateway, tools.netmask, tools.broadcast) == (
            IPv4Address("192.168.1.1"),
            IPv4Address("255.255.255.0"),
            IPv4Address("192.168.1.255"),
        )
        assert tools.network == IPv4Network("192.168.1.0/24")
        assert tools.passwd is True and tools.install_method == "debootstrap"
        assert tools.mirror == "http://192.168.1.1/ubuntu/" and tools.mirrors == {}
        hash(node)  # settings stay hashable (xen_tools holds a dict)
    assert inv.domus == (
        DomU(
            name="test",
            ip=IPv4Address("192.168.1.50"),
            home="ha1",
            memory="384Mb",
            size="5Gb",
            swap="384Mb",
            dist="hardy",
            password_env="RUNBOOK_DOMU_PASSWORD",
        ),
    )


def test_example_loads_every_section() -> None:
    inv = load_inventory(EXAMPLE, require=ALL_SECTIONS)
    ha2 = inv.nodes["ha2"]
    assert ha2.lvm is not None and ha2.lvm.partition_size_gb == 225.0
    assert ha2.xen_tools is not None
    assert ha2.xen_tools.mirror == "http://nl.archive.ubuntu.com/ubuntu/"
    assert ha2.xen_tools.mirrors == {"mirror_etch": "http://ftp.nl.debian.org/debian/"}
    assert [(d.name, d.home, d.password_env) for d in inv.domus] == [
        ("test", "ha1", "XEN_DOMU_TEST_PASSWORD")
    ]


def test_sections_are_loaded_only_when_required() -> None:
    inv = load_inventory(LAB)
    ha1 = inv.nodes["ha1"]
    assert (ha1.xen, ha1.lvm, ha1.xen_tools, inv.domus) == (None, None, None, ())
    # a base-only folder still loads with the default require
    assert load_inventory(DATA / "hosts_only").nodes["ha1"].xen is None
    error = load_error(DATA / "hosts_only", require=("xen",))
    assert (error.host, error.key) == ("ha1", "data.xen") and "missing" in error.problem


def test_domu_implies_xen_tools_but_not_lvm() -> None:
    inv = load_inventory(LAB, require=("domu",))
    assert inv.nodes["ha1"].xen_tools is not None and inv.nodes["ha1"].lvm is None
    assert [d.name for d in inv.domus] == ["test"]
    assert set(SECTIONS) >= {"base", *ALL_SECTIONS}


def test_loading_never_needs_the_domu_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_DOMU_PASSWORD", raising=False)
    inv = load_inventory(LAB, require=ALL_SECTIONS)
    with pytest.raises(InventoryError, match="RUNBOOK_DOMU_PASSWORD is not set"):
        inv.domus[0].password(inv.folder)


def test_xen_tools_lvm_is_compared_with_lvm_vg_only_when_both_load(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, setting(G, "xen_cluster.data.xen_tools.lvm", "data"))
    assert load_inventory(folder, require=("xen_tools",)).nodes["ha1"].xen_tools is not None
    for require in (("xen_tools", "lvm"), ("lvm", "xen_tools"), ("domu", "lvm")):
        error = load_error(folder, require=require)
        assert (error.file, error.host, error.key) == (
            folder / G,
            "ha1",
            "data.xen_tools.lvm",
        )
        assert "is not the node's volume group 'vg'" in error.problem


def test_domu_values_default_to_the_home_nodes_xen_tools(tmp_path: Path) -> None:
    def two_domus(docs: Docs) -> None:
        group = docs[G]["xen_cluster"]["data"]
        group["domus"].append(
            {
                "name": "web",
                "ip": "192.168.1.51",
                "home": "ha2",
                "memory": "1G",
                "password_file": "secrets/web.password",
            }
        )
        own = dict(group["xen_tools"], size="8Gb", dist="etch")
        docs[H]["ha2"]["data"]["xen_tools"] = own

    inv = load_inventory(lab_copy(tmp_path, two_domus), require=ALL_SECTIONS)
    test, web = inv.domus
    assert (test.size, test.dist, test.memory) == ("5Gb", "hardy", "384Mb")  # ha1's xen_tools
    assert (web.size, web.dist, web.memory, web.swap) == ("8Gb", "etch", "1G", "384Mb")
    assert web.password_env is None and web.password_file == Path("secrets/web.password")


def test_domu_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    domu = load_inventory(LAB, require=("domu",)).domus[0]
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "")
    with pytest.raises(InventoryError) as caught:
        domu.password(LAB)
    assert caught.value.key == "data.domus.password_env"
    assert "DomU 'test': environment variable RUNBOOK_DOMU_PASSWORD is not set" in str(caught.value)
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "s3cret")
    assert domu.password(LAB) == "s3cret"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b" with spaces ", " with spaces "),
        (b"", "the root password file is empty"),
        (b"\n", "the root password file is empty"),
        (b"one\ntwo\n", "holds more than one line"),
        (b"\xff\xfe", "not UTF-8 text"),
        (None, "cannot read the root password file: No such file or directory"),
    ],
)
def test_domu_password_from_a_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    domu = DomU(
        "web",
        IPv4Address("192.168.1.51"),
        "ha1",
        "384Mb",
        "5Gb",
        "384Mb",
        "hardy",
        password_file=Path("secrets/web.password"),
    )
    path = tmp_path / "secrets" / "web.password"
    if content is not None:
        path.parent.mkdir()
        path.write_bytes(content)
    if content is not None and not expected.startswith(("the root", "holds", "not UTF")):
        assert domu.password(tmp_path) == expected
        return
    with pytest.raises(InventoryError) as caught:
        domu.password(tmp_path)
    assert caught.value.file == path and caught.value.key == "data.domus.password_file"
    assert expected in caught.value.problem and "DomU 'web'" in caught.value.problem


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("384Mb", 384),
        ("5Gb", 5120),
        ("384M", 384),
        ("2G", 2048),
        ("512MB", 512),
        ("1GB", 1024),
        ("5gb", 5120),
        ("10 Gb", 10240),
        ("1.5Gb", 1536),
        ("0.25G", 256),
        ("0Mb", 0),
    ],
)
def test_size_to_mib(text: str, mib: int) -> None:
    assert size_to_mib(text) == mib


@pytest.mark.parametrize(
    "text", ["5", "5 GiB", "5Tb", "Gb", "-1Gb", "5Gb ", " 5Gb", "1,5Gb", "0.5Mb", "1.3Gb", ""]
)
def test_size_to_mib_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        size_to_mib(text)


X = "xen_cluster.data.xen"
T = "xen_cluster.data.xen_tools"
DOMU = "xen_cluster.data.domus.0"


def add_domu(**fields: Any) -> Callable[[Docs], object]:
    entry = {"name": "web", "ip": "192.168.1.51", "home": "ha2", "password_env": "WEB_PW"}
    entry.update(fields)
    return lambda docs: docs[G]["xen_cluster"]["data"]["domus"].append(entry)


def domu_key(key: str, value: Any) -> Callable[[Docs], object]:
    return setting(G, f"{DOMU}.{key}", value)


SECTION_BAD = {
    # xen
    "xen as a list": Bad(setting(G, X, ["ubuntu-xen-server"]), G, "ha1", "data.xen", "got a list"),
    "xen missing": Bad(removal(G, X), H, "ha1", "data.xen", "missing"),
    "xen unknown key": Bad(setting(G, f"{X}.maxloop", 64), G, "ha1", "data.xen.maxloop", "unknown"),
    "packages a string": Bad(
        setting(G, f"{X}.packages", "ubuntu-xen-server"),
        G,
        "ha1",
        "data.xen.packages",
        "expected a list of Debian package names, e.g. [ubuntu-xen-server], got a string",
    ),
    "packages empty": Bad(setting(G, f"{X}.packages", []), G, "ha1", "data.xen.packages", "empty"),
    "package name": Bad(
        setting(G, f"{X}.packages", ["Xen Server"]),
        G,
        "ha1",
        "data.xen.packages[0]",
        "not a Debian package name: 'Xen Server'",
    ),
    "kernel_suffix missing": Bad(
        removal(G, f"{X}.kernel_suffix"), G, "ha1", "data.xen.kernel_suffix", "missing"
    ),
    "kernel_suffix with a space": Bad(
        setting(G, f"{X}.kernel_suffix", "- xen"), G, "ha1", "data.xen.kernel_suffix", "not the end"
    ),
    "dom0 memory a string": Bad(
        setting(G, f"{X}.dom0_memory_mb", "512"),
        G,
        "ha1",
        "data.xen.dom0_memory_mb",
        "expected an integer from 64 to 1048576, got a string: '512'",
    ),
    "dom0 memory too small": Bad(
        setting(G, f"{X}.dom0_memory_mb", 32), G, "ha1", "data.xen.dom0_memory_mb", "got a number"
    ),
    "max_loop too large": Bad(
        setting(G, f"{X}.max_loop", 256),
        G,
        "ha1",
        "data.xen.max_loop",
        "expected an integer from 8 to 255, got a number: 256",
    ),
    "max_loop a boolean": Bad(
        setting(G, f"{X}.max_loop", True), G, "ha1", "data.xen.max_loop", "got a boolean"
    ),
    "reboot timeout too short": Bad(
        setting(G, f"{X}.reboot_timeout_s", 5), G, "ha1", "data.xen.reboot_timeout_s", "10 to 3600"
    ),
    # lvm
    "lvm_pv missing": Bad(removal(H, "ha2.data.lvm_pv"), H, "ha2", "data.lvm_pv", "missing"),
    "partition not absolute": Bad(
        setting(H, "ha1.data.lvm_pv.partition", "sda3"),
        H,
        "ha1",
        "data.lvm_pv.partition",
        "not an absolute /dev path: 'sda3'",
    ),
    "partition outside /dev": Bad(
        setting(H, "ha1.data.lvm_pv.partition", "/dev/../etc/passwd"),
        H,
        "ha1",
        "data.lvm_pv.partition",
        "not an absolute /dev path",
    ),
    "partition size zero": Bad(
        setting(H, "ha1.data.lvm_pv.partition_size_gb", 0),
        H,
        "ha1",
        "data.lvm_pv.partition_size_gb",
        "expected a number of GB greater than 0, got a number: 0",
    ),
    "partition size with a unit": Bad(
        setting(H, "ha1.data.lvm_pv.partition_size_gb", "40GB"),
        H,
        "ha1",
        "data.lvm_pv.partition_size_gb",
        "got a string: '40GB'",
    ),
    "force not a boolean": Bad(
        setting(H, "ha2.data.lvm_pv.force", "yes"),
        H,
        "ha2",
        "data.lvm_pv.force",
        "expected true or false, got a string: 'yes'",
    ),
    "vg starting with a dash": Bad(
        setting(G, "xen_cluster.data.lvm.vg", "-vg"),
        G,
        "ha1",
        "data.lvm.vg",
        "not a valid LVM name",
    ),
    "vg is ..": Bad(setting(G, "xen_cluster.data.lvm.vg", ".."), G, "ha1", "data.lvm.vg", "'..'"),
    "vg with a space": Bad(
        setting(G, "xen_cluster.data.lvm.vg", "my vg"), G, "ha1", "data.lvm.vg", "'my vg'"
    ),
    # xen_tools
    "xen_tools.lvm is not lvm.vg": Bad(
        setting(G, f"{T}.lvm", "data"),
        G,
        "ha1",
        "data.xen_tools.lvm",
        "'data' is not the node's volume group 'vg' (data.lvm.vg)",
    ),
    "size in GiB": Bad(
        setting(G, f"{T}.size", "5 GiB"),
        G,
        "ha1",
        "data.xen_tools.size",
        "not a size such as 5Gb or 384Mb: '5 GiB'",
    ),
    "size without a unit": Bad(
        setting(G, f"{T}.size", "5"), G, "ha1", "data.xen_tools.size", "'5'"
    ),
    "memory a number": Bad(
        setting(G, f"{T}.memory", 384),
        G,
        "ha1",
        "data.xen_tools.memory",
        "expected a size such as 5Gb or 384Mb, got a number: 384",
    ),
    "swap zero": Bad(
        setting(G, f"{T}.swap", "0Mb"), G, "ha1", "data.xen_tools.swap", "must be more than 0"
    ),
    "swap not whole MiB": Bad(
        setting(G, f"{T}.swap", "0.5Mb"), G, "ha1", "data.xen_tools.swap", "not a whole number"
    ),
    "fs unknown": Bad(
        setting(G, f"{T}.fs", "btrfs"),
        G,
        "ha1",
        "data.xen_tools.fs",
        "expected one of ext2, ext3, ext4, xfs, reiserfs, got 'btrfs'",
    ),
    "image unknown": Bad(
        setting(G, f"{T}.image", "thin"), G, "ha1", "data.xen_tools.image", "thin"
    ),
    "arch unknown": Bad(
        setting(G, f"{T}.arch", "x86_64"), G, "ha1", "data.xen_tools.arch", "amd64, i386"
    ),
    "dist missing": Bad(removal(G, f"{T}.dist"), G, "ha1", "data.xen_tools.dist", "missing"),
    "netmask not contiguous": Bad(
        setting(G, f"{T}.netmask", "255.0.255.0"),
        G,
        "ha1",
        "data.xen_tools.netmask",
        "not a valid netmask",
    ),
    "netmask not the LAN's": Bad(
        lambda docs: _walk(docs[G], T.split(".")).update(
            netmask="255.255.0.0", broadcast="192.168.255.255"
        ),
        G,
        "ha1",
        "data.xen_tools.netmask",
        "differs from the LAN netmask '255.255.255.0'",
    ),
    "broadcast not of gateway/netmask": Bad(
        setting(G, f"{T}.broadcast", "192.168.1.254"),
        G,
        "ha1",
        "data.xen_tools.broadcast",
        "'192.168.1.254' is not the broadcast address of 192.168.1.0/24 (gateway/netmask)",
    ),
    "gateway outside the LAN": Bad(
        lambda docs: _walk(docs[G], T.split(".")).update(
            gateway="192.168.2.1", broadcast="192.168.2.255"
        ),
        G,
        "ha1",
        "data.xen_tools.gateway",
        "outside the node's LAN network 192.168.1.0/24",
    ),
    "passwd as 1": Bad(
        setting(G, f"{T}.passwd", 1),
        G,
        "ha1",
        "data.xen_tools.passwd",
        "expected true or false, got a number: 1",
    ),
    "password in xen_tools.passwd": Bad(
        setting(G, f"{T}.passwd", "Sup3rSecret"),
        G,
        "ha1",
        "data.xen_tools.passwd",
        "passwords never go in the inventory",
    ),
    "mirror without a scheme": Bad(
        setting(G, f"{T}.mirror", "nl.archive.ubuntu.com/ubuntu/"),
        G,
        "ha1",
        "data.xen_tools.mirror",
        "not an http, https or ftp URL",
    ),
    "mirrors key not mirror_<dist>": Bad(
        setting(G, f"{T}.mirrors", {"etch": "http://ftp.nl.debian.org/debian/"}),
        G,
        "ha1",
        "data.xen_tools.mirrors.etch",
        "not a per-distribution mirror setting such as mirror_etch",
    ),
    "mirrors value not a URL": Bad(
        setting(G, f"{T}.mirrors", {"mirror_etch": "file:///srv/debian"}),
        G,
        "ha1",
        "data.xen_tools.mirrors.mirror_etch",
        "not an http, https or ftp URL",
    ),
    "install_method unknown": Bad(
        setting(G, f"{T}.install_method", "yum"),
        G,
        "ha1",
        "data.xen_tools.install_method",
        "expected one of debootstrap, rinse",
    ),
    "xen_tools unknown key": Bad(
        setting(G, f"{T}.noswap", True), G, "ha1", "data.xen_tools.noswap", "unknown key"
    ),
    # domu
    "domus missing": Bad(
        removal(G, "xen_cluster.data.domus"), H, "ha1", "data.domus", "missing: expected a list"
    ),
    "domus a mapping": Bad(
        setting(G, "xen_cluster.data.domus", {"test": {}}), G, "ha1", "data.domus", "got a mapping"
    ),
    "domu name missing": Bad(removal(G, f"{DOMU}.name"), G, "ha1", "data.domus[0].name", "missing"),
    "domu name with a dot": Bad(
        domu_key("name", "test.domain.local"),
        G,
        "ha1",
        "data.domus[0].name",
        "not a host name without dots",
    ),
    "domu name of a node": Bad(
        domu_key("name", "HA2"), G, "ha1", "data.domus[0].name", "'HA2' is the name of host 'ha2'"
    ),
    "duplicate domu names": Bad(
        add_domu(name="Test"),
        G,
        "ha1",
        "data.domus[1].name",
        "DomU name 'Test' is already used by data.domus[0]",
    ),
    "domu ip not IPv4": Bad(
        domu_key("ip", "192.168.1"), G, "ha1", "data.domus[0].ip", "not an IPv4 address"
    ),
    "domu ip outside the LAN": Bad(
        domu_key("ip", "192.168.2.50"),
        G,
        "ha1",
        "data.domus[0].ip",
        "'192.168.2.50' is outside the LAN network 192.168.1.0/24 of host 'ha1'",
    ),
    "domu ip is the broadcast address": Bad(
        domu_key("ip", "192.168.1.255"), G, "ha1", "data.domus[0].ip", "not a host address"
    ),
    "domu ip of a node": Bad(
        domu_key("ip", "192.168.1.12"),
        G,
        "ha1",
        "data.domus[0].ip",
        "'192.168.1.12' is already used: the lan address of host 'ha2'",
    ),
    "domu ip of the gateway": Bad(
        domu_key("ip", "192.168.1.1"),
        G,
        "ha1",
        "data.domus[0].ip",
        "'192.168.1.1' is already used: the gateway of host 'ha1'",
    ),
    "duplicate domu ip": Bad(
        add_domu(ip="192.168.1.50"),
        G,
        "ha1",
        "data.domus[1].ip",
        "already used: DomU 'test' (data.domus[0])",
    ),
    "domu home not a host": Bad(
        domu_key("home", "ha3"),
        G,
        "ha1",
        "data.domus[0].home",
        "not a host of this inventory: 'ha3' (expected one of ha1, ha2)",
    ),
    "domu home is a fqdn": Bad(
        domu_key("home", "ha1.domain.local"), G, "ha1", "data.domus[0].home", "not a host"
    ),
    "domu memory not a size": Bad(
        domu_key("memory", "lots"), G, "ha1", "data.domus[0].memory", "not a size"
    ),
    "domu unknown key": Bad(domu_key("vcpus", 2), G, "ha1", "data.domus[0].vcpus", "unknown key"),
    "domu password in clear": Bad(
        domu_key("password", "Sup3rSecret"),
        G,
        "ha1",
        "data.domus[0].password",
        "passwords never go in the inventory",
    ),
    "domu passwd in clear": Bad(
        domu_key("passwd", "Sup3rSecret"), G, "ha1", "data.domus[0].passwd", "passwords never go"
    ),
    "domu without a password source": Bad(
        removal(G, f"{DOMU}.password_env"), G, "ha1", "data.domus[0]", "no root password"
    ),
    "domu with both password sources": Bad(
        domu_key("password_file", "test.password"),
        G,
        "ha1",
        "data.domus[0].password_file",
        "set password_env or password_file, not both",
    ),
    "domu password_env not a variable name": Bad(
        domu_key("password_env", "Sup3r Secret!"),
        G,
        "ha1",
        "data.domus[0].password_env",
        "not an environment variable name",
    ),
    "domu lists differ": Bad(
        setting(H, "ha2.data.domus", []),
        H,
        "ha2",
        "data.domus",
        "differs from the DomU list of host 'ha1'",
    ),
    "domus do not fit the partition": Bad(
        add_domu(size="40Gb"),
        G,
        "ha1",
        "data.domus",
        "the DomUs' disks and swap need 45.75 GB, more than the 40 GB of /dev/sda3",
    ),
}


@pytest.mark.parametrize("case", SECTION_BAD.values(), ids=SECTION_BAD.keys())
def test_bad_section_names_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    folder = lab_copy(tmp_path, case.mutate)
    load_inventory(folder)  # the base settings stay valid: only the sections are wrong
    error = load_error(folder, require=ALL_SECTIONS)
    assert (error.file, error.host, error.key) == (folder / case.file, case.host, case.key)
    assert case.problem in error.problem
    assert error.line is not None
    assert "Sup3r" not in str(error)  # a password in clear is named, never printed
