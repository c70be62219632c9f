"""Sections xen, lvm, xen_tools and domu: each loads when required and names what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from runbook.inventory import (
    SECTIONS,
    DomU,
    InventoryError,
    LvmSettings,
    XenSettings,
    XenToolsSettings,
    load_inventory,
    size_to_mib,
)
from tests.unit.inventory.helpers import (
    ALL_SECTIONS,
    DATA,
    EXAMPLE,
    LAB,
    Bad,
    Docs,
    G,
    H,
    lab_copy,
    load_error,
    removal,
    section_error,
    setting,
    walk,
)


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


def test_domu_boot_timeout_default_and_bounds(tmp_path: Path) -> None:
    (test,) = load_inventory(lab_copy(tmp_path, lambda docs: None), require=ALL_SECTIONS).domus
    assert test.boot_timeout_s == 120

    def slow(docs: Docs) -> None:
        docs[G]["xen_cluster"]["data"]["domus"][0]["boot_timeout_s"] = 300

    (test,) = load_inventory(lab_copy(tmp_path / "slow", slow), require=ALL_SECTIONS).domus
    assert test.boot_timeout_s == 300

    def bad(docs: Docs) -> None:
        docs[G]["xen_cluster"]["data"]["domus"][0]["boot_timeout_s"] = 1

    with pytest.raises(InventoryError) as caught:
        load_inventory(lab_copy(tmp_path / "bad", bad), require=ALL_SECTIONS)
    assert "data.domus[0].boot_timeout_s" in str(caught.value)
    assert "expected an integer from 5 to 3600" in str(caught.value)


def test_domu_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    domu = load_inventory(LAB, require=("domu",)).domus[0]
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "")
    with pytest.raises(InventoryError) as caught:
        domu.password(LAB)
    assert caught.value.key == "data.domus.password_env"
    assert "DomU 'test': environment variable RUNBOOK_DOMU_PASSWORD is not set" in str(caught.value)
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "s3cret")
    with pytest.raises(InventoryError, match="shorter than 8 characters"):
        domu.password(LAB)
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "s3cret-and-long")
    assert domu.password(LAB) == "s3cret-and-long"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret-and-long\n", "s3cret-and-long"),
        (b"s3cret-and-long\r\n", "s3cret-and-long"),
        (b" with spaces ", " with spaces "),
        (b"short\n", "the root password is shorter than 8 characters"),
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
        lambda docs: walk(docs[G], T.split(".")).update(
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
        lambda docs: walk(docs[G], T.split(".")).update(
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
    error = section_error(tmp_path, case, require=ALL_SECTIONS, valid=("base",))
    assert "Sup3r" not in str(error)  # a password in clear is named, never printed


def test_xen_version_default_and_shape(tmp_path: Path) -> None:
    inv = load_inventory(lab_copy(tmp_path, lambda docs: None), require=ALL_SECTIONS)
    assert {node.xen.version for node in inv.nodes.values() if node.xen} == {"3.2"}

    def unquoted(docs: Docs) -> None:
        docs[G]["xen_cluster"]["data"]["xen"]["version"] = 3.2

    with pytest.raises(InventoryError) as caught:
        load_inventory(lab_copy(tmp_path / "bad", unquoted), require=ALL_SECTIONS)
    assert "data.xen.version" in str(caught.value) and "MAJOR.MINOR" in str(caught.value)
