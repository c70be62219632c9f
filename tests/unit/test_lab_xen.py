"""The lab's Xen dom0 simulation, pure parts: menu.lst/update-grub and the kernel grub boots,
xm's cfg parsing and output shapes, the hypervisor's domain table (no root, nothing started)."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xenlab import hypervisor, nodefs

grub: ModuleType = nodefs.sim_module("update_grub")
xm: ModuleType = nodefs.sim_module("xm")
xend: ModuleType = nodefs.sim_module("xend")
relocation: ModuleType = nodefs.sim_module("relocation")
labtime: ModuleType = nodefs.sim_module("labtime")
apt_get: ModuleType = nodefs.sim_module("apt_get")
packages: ModuleType = nodefs.sim_module("packages")

# The reference shape of a cfg written by xen-create-image (reference-outputs.md).
CFG = (Path(__file__).resolve().parents[1] / "data" / "outputs" / "test.cfg").read_text()


# ----------------------------------------------------------------------------- grub


@pytest.fixture
def root(tmp_path: Path) -> Path:
    nodefs.build_boot(tmp_path / "boot", "2.6.24-19-server")
    return tmp_path


def menu(root: Path) -> str:
    return (root / "boot/grub/menu.lst").read_text()


def add_xen(root: Path) -> None:
    for name in ("vmlinuz-2.6.24-19-xen", "initrd.img-2.6.24-19-xen", "xen-3.2-1-amd64.gz"):
        (root / "boot" / name).write_text("x\n")


def test_fresh_menu_is_hardy_with_the_server_kernel(root: Path) -> None:
    text = menu(root)
    for line in ("### BEGIN AUTOMAGIC KERNELS LIST", "# kopt=root=/dev/sda1 ro", "# xenhopt=",
                 "# xenkopt=console=tty0", "### END DEBIAN AUTOMAGIC KERNELS LIST"):
        assert line in text.splitlines()
    assert "default\t\t0" in text
    choice = grub.choose_entry(grub.parse_menu(text), str(root))
    assert (choice.release, choice.hypervisor, choice.dom0_mem) == ("2.6.24-19-server", None,
                                                                    2047)


def test_update_grub_puts_xen_first_with_the_admins_options(root: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    add_xen(root)
    (root / "boot/grub/menu.lst").write_text(menu(root).replace("# xenhopt=\n",
                                                                "# xenhopt=dom0_mem=512M\n"))
    assert grub.main([], root=str(root)) == 0
    out = capsys.readouterr().out
    assert "Searching for GRUB installation directory ... found: /boot/grub" in out
    assert "Found Xen hypervisor 3.2-1-amd64,  kernel: /boot/vmlinuz-2.6.24-19-xen" in out
    parsed = grub.parse_menu(menu(root))
    first = parsed.entries[0]
    assert first.title == "Xen 3.2-1-amd64 / Ubuntu 8.04.4 LTS, kernel 2.6.24-19-xen"
    assert first.kernel == "/boot/xen-3.2-1-amd64.gz dom0_mem=512M"
    assert first.commands("module") == [
        "/boot/vmlinuz-2.6.24-19-xen root=/dev/sda1 ro console=tty0",
        "/boot/initrd.img-2.6.24-19-xen"]
    assert "# xenhopt=dom0_mem=512M" in menu(root)
    choice = grub.choose_entry(parsed, str(root))
    assert (choice.release, choice.hypervisor, choice.dom0_mem) == ("2.6.24-19-xen",
                                                                    "3.2-1-amd64", 512)
    # running it again changes nothing
    before = menu(root)
    grub.main([], root=str(root))
    assert menu(root) == before


def test_default_entry_and_missing_files_fall_back(root: Path) -> None:
    add_xen(root)
    grub.main([], root=str(root))
    text = menu(root)
    plain = next(i for i, e in enumerate(grub.parse_menu(text).entries)
                 if e.title.endswith("kernel 2.6.24-19-server"))
    chosen = grub.choose_entry(grub.parse_menu(text.replace("default\t\t0",
                                                            f"default\t\t{plain}")), str(root))
    assert (chosen.release, chosen.hypervisor) == ("2.6.24-19-server", None)
    (root / "boot/xen-3.2-1-amd64.gz").unlink()
    chosen = grub.choose_entry(grub.parse_menu(text), str(root))
    assert chosen.hypervisor is None and "Error 15: File not found" in chosen.problem


@pytest.mark.parametrize(("value", "mb"), [("512M", 512), ("1G", 1024), ("524288K", 512),
                                           ("524288", 512), ("max:512M", 512), ("x", None)])
def test_dom0_mem_sizes(value: str, mb: int | None) -> None:
    assert grub.parse_mem_mb(value) == mb


def test_installing_ubuntu_xen_server_writes_boot_and_runs_update_grub(root: Path) -> None:
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text(nodefs.dpkg_status())
    out = io.StringIO()
    code = apt_get.main(["install", "-y", "ubuntu-xen-server"], root=str(root), out=out,
                        stdin=io.StringIO(""), run_scripts=False)
    assert code == 0, out.getvalue()
    for name in ("vmlinuz-2.6.24-19-xen", "initrd.img-2.6.24-19-xen", "xen-3.2-1-amd64.gz"):
        assert (root / "boot" / name).exists()
    assert (root / "etc/rc2.d/S20xend").is_symlink()
    assert (root / "etc/rc2.d/S21xendomains").is_symlink()
    sxp = xm.parse_sxp_config((root / "etc/xen/xend-config.sxp").read_text())
    assert sxp["xend-relocation-hosts-allow"] == r"^localhost$ ^localhost\\.localdomain$"
    assert sxp["dom0-min-mem"] == "196"
    assert "xend-relocation-port" not in sxp  # commented out: the default 8002 applies
    assert "XENDOMAINS_AUTO=/etc/xen/auto" in (root / "etc/default/xendomains").read_text()
    assert grub.parse_menu(menu(root)).entries[0].title.startswith("Xen 3.2-1-amd64")
    for name in ("linux-image-xen", "xen-hypervisor-3.2", "xen-utils-3.2", "bridge-utils",
                 "libc6-xen"):
        assert name in packages.CATALOGUE["ubuntu-xen-server"].depends


# ----------------------------------------------------------------------------- xm


def test_cfg_of_xen_create_image() -> None:
    spec = xm.domain_spec(xm.parse_cfg(CFG, "/etc/xen/test.cfg"), "/etc/xen/test.cfg")
    assert (spec["name"], spec["memory"], spec["vcpus"]) == ("test", 384, 1)
    assert spec["ip"] == "192.168.1.50" and spec["mac"] == "00:16:3E:4C:1A:2B"
    assert [d["target"] for d in spec["disks"]] == ["/dev/vg/test-swap", "/dev/vg/test-disk"]
    assert "(name test)" in xm.render_sxp(spec).splitlines()[1]


def test_bad_cfg_is_an_xm_error() -> None:
    with pytest.raises(xm.XmError, match=r"invalid syntax \(test.cfg, line 1\)"):
        xm.parse_cfg("name = 'x\n", "/etc/xen/test.cfg")


@pytest.mark.parametrize(("vdev", "number"), [("xvda2", 51714), ("xvda1", 51713),
                                              ("sda1", 2049), ("hda", 768), ("hdb1", 833)])
def test_vbd_numbers(vdev: str, number: int) -> None:
    assert xm.vbd_number(vdev) == number


def test_missing_phy_disk_waits_the_hotplug_timeout_scaled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Xen 3.2: xend waits DEVICE_CREATE_TIMEOUT (100 s) for the block script, then gives up;
    the lab keeps the wait, times the lab's one time scale (0.05 unless XENLAB_TIME_SCALE)."""
    slept: list[float] = []
    monkeypatch.setattr(labtime.time, "sleep", slept.append)
    monkeypatch.delenv("XENLAB_TIME_SCALE", raising=False)
    spec = {"disks": [{"kind": "phy", "target": str(tmp_path / "nope"), "dev": "sda1",
                       "mode": "w"}]}
    with pytest.raises(xm.XmError) as err:
        xm.check_disks(spec, [], "ha1")
    assert str(err.value) == ("Device 2049 (vbd) could not be connected. "
                              "Hotplug scripts not working.")
    assert slept == [pytest.approx(5.0)]
    monkeypatch.setenv("XENLAB_TIME_SCALE", "1")
    with pytest.raises(xm.XmError):
        xm.check_disks(spec, [], "ha1")
    assert slept[-1] == 100


def test_migrate_error_prints_the_subcommand_help_on_stdout(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refused(*_: Any, **__: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(xm, "cmd_migrate", lambda args: relocation.migrate_to(
        {"name": "test", "id": 1}, "127.0.0.1", 8002, "ha1", True))
    monkeypatch.setattr(relocation.socket, "create_connection", refused)
    monkeypatch.setattr(xm.os, "geteuid", lambda: 0)
    monkeypatch.setitem(xm.COMMANDS, "migrate", xm.cmd_migrate)
    assert xm.main(["migrate", "test", "ha2"]) == 1
    out, err = capsys.readouterr()
    assert err == "Error: can't connect: Connection refused\n"
    assert out.startswith("Usage: xm migrate <Domain> <Host>\n\nMigrate a domain to another "
                          "machine.\n\nOptions:\n\n-h, --help           Print this help.\n")
    assert out.endswith("-r=MBIT, --resource=MBIT\n                     Set level of resource "
                        "usage for migration.\n\n")


def test_xm_list_matches_the_reference_shape() -> None:
    text = xm.render_list([
        {"name": "Domain-0", "id": 0, "memory": 500, "vcpus": 2, "state": "r-----",
         "cpu_time": 10268.0},
        {"name": "test", "id": 7, "memory": 384, "vcpus": 1, "state": "-b----",
         "cpu_time": 4694.7}])
    assert text.splitlines() == [
        "Name                                        ID   Mem VCPUs      State   Time(s)",
        "Domain-0                                     0   500     2     r-----  10268.0",
        "test                                         7   384     1     -b----   4694.7"]


def test_xm_info_keys() -> None:
    text = xm.render_info("ha1.domain.local", "2.6.24-19-xen", 2047, 1135)
    keys = [line.split(":", 1)[0].strip() for line in text.splitlines()]
    assert keys == ["host", "release", "version", "machine", "nr_cpus", "nr_nodes",
                    "cores_per_socket", "threads_per_core", "cpu_mhz", "hw_caps",
                    "total_memory", "free_memory", "node_to_cpu", "xen_major", "xen_minor",
                    "xen_extra", "xen_caps", "xen_scheduler", "xen_pagesize", "platform_params",
                    "xen_changeset", "cc_compiler", "cc_compile_by", "cc_compile_domain",
                    "cc_compile_date", "xend_config_format"]
    assert "host                   : ha1.domain.local" in text.splitlines()
    assert "free_memory            : 1135" in text.splitlines()
    assert "xen_extra              : .0" in text.splitlines()


# ----------------------------------------------------------------------------- hypervisor


class FakeNet:
    def __init__(self) -> None:
        self.namespaces: dict[str, dict[str, Any]] = {}

    def add(self, ns: str, peer: str, ip: str | None, mac: str | None, up: bool = True) -> None:
        self.namespaces[ns] = {"peer": peer, "ip": ip, "mac": mac, "up": up}

    def set_up(self, ns: str, up: bool) -> None:
        self.namespaces[ns]["up"] = up

    def remove(self, ns: str) -> None:
        self.namespaces.pop(ns, None)


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.info = {"ha1": hypervisor.NodeInfo("b1", "3.2-1-amd64", 512, "2.6.24-19-xen"),
                     "ha2": hypervisor.NodeInfo("b2", "3.2-1-amd64", 512, "2.6.24-19-xen")}
        self.net = FakeNet()
        self.hv = hypervisor.Hypervisor("rbt", ("ha1", "ha2"), lambda n: self.info[n],
                                        self.net, clock=lambda: self.now)

    def do(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.hv.handle({"op": op, **fields})

    def names(self, node: str) -> list[str]:
        return [d["name"] for d in self.do("list", node=node)["domains"]]


TEST = {"name": "test", "memory": 384, "vcpus": 1, "ip": "192.168.1.50",
        "mac": "00:16:3E:4C:1A:2B"}


def test_create_list_and_the_namespace() -> None:
    w = World()
    reply = w.do("create", node="ha1", **TEST)
    assert reply["ok"] and reply["domain"]["id"] == 1
    assert w.names("ha1") == ["Domain-0", "test"]
    assert w.net.namespaces["rbt-d-test-ha1"]["ip"] == "192.168.1.50"
    assert w.do("info", node="ha1")["free_memory"] == 2047 - 16 - 512 - 384
    again = w.do("create", node="ha1", **TEST)
    assert again == {"ok": False, "error": "Domain 'test' already exists with ID '1'"}


def test_the_same_domain_may_run_on_both_nodes() -> None:
    w = World()
    assert w.do("create", node="ha1", **TEST)["ok"]
    assert w.do("create", node="ha2", **TEST)["ok"]  # split brain: the runbooks must refuse
    assert set(w.net.namespaces) == {"rbt-d-test-ha1", "rbt-d-test-ha2"}


def test_shutdown_lingers_then_disappears() -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    assert w.do("shutdown", node="ha1", name="test")["ok"]
    assert w.do("list", node="ha1")["domains"][1]["state"] == "---s--"
    w.now += 1.5
    assert w.names("ha1") == ["Domain-0"]
    assert w.net.namespaces == {}
    assert w.do("destroy", node="ha1", name="test") == {
        "ok": False, "error": "Domain 'test' does not exist."}


def test_memory_and_ballooning() -> None:
    w = World()
    reply = w.do("create", node="ha1", **{**TEST, "memory": 1900})
    assert reply == {"ok": False, "error": "I need 1945600 KiB, but dom0_min_mem is 200704 and "
                     "shrinking to 200704 KiB would leave only 1879040 KiB free."}
    # 1519 MB are free with dom0 at 512: xend balloons dom0 down for the rest
    assert w.do("create", node="ha1", **{**TEST, "memory": 1600})["ok"]
    assert w.do("list", node="ha1")["domains"][0]["memory"] == 512 - 81
    assert w.do("info", node="ha1")["free_memory"] == 0


def test_node_reboot_kills_its_domains_and_restarts_ids() -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    w.do("create", node="ha2", **TEST)
    w.info["ha1"] = hypervisor.NodeInfo("b1-new", "3.2-1-amd64", 512, "2.6.24-19-xen")
    assert w.names("ha1") == ["Domain-0"]  # a new boot id: the old dom0's DomUs are gone
    assert w.names("ha2") == ["Domain-0", "test"]
    assert w.do("create", node="ha1", **TEST)["domain"]["id"] == 1
    assert w.do("node_down", node="ha2")["removed"] == ["test"]
    assert "rbt-d-test-ha2" not in w.net.namespaces


def test_migrate_moves_the_namespace() -> None:
    w = World()
    w.do("create", node="ha2", **TEST)
    reply = w.do("migrate", node="ha2", name="test", target="ha1")
    assert reply["ok"] and reply["domain"]["id"] == 1
    assert list(w.net.namespaces) == ["rbt-d-test-ha1"]
    assert w.net.namespaces["rbt-d-test-ha1"]["up"]
    assert w.names("ha2") == ["Domain-0"]


def test_without_hypervisor_xm_cannot_reach_xend() -> None:
    w = World()
    w.info["ha1"] = hypervisor.NodeInfo("b1", "", 2047, "2.6.24-19-server")
    assert w.do("list", node="ha1") == {"ok": False, "error": xm.XEND_ERROR}


@pytest.mark.parametrize("request_", [
    {"op": "create", "node": "ha3", **TEST},
    {"op": "create", "node": "ha1", **{**TEST, "name": "../x"}},
    {"op": "create", "node": "ha1", **{**TEST, "ip": "8.8.8.8"}},
    {"op": "create", "node": "ha1", **{**TEST, "mac": "zz"}},
    {"op": "__init__", "node": "ha1"},
    "not a dict",
])
def test_hypervisor_refuses_bad_requests(request_: Any) -> None:
    w = World()
    reply = w.hv.handle(request_)
    assert reply["ok"] is False
    assert w.net.namespaces == {}


class FakeHolders:
    """Records what the hypervisor asks of the nodes' LV holder registries."""

    def __init__(self) -> None:
        self.held: dict[str, set[str]] = {"ha1": set(), "ha2": set()}

    def hold(self, node: str, domain: str, disks: list[dict[str, Any]]) -> None:
        self.held[node] |= {f"{d['uname']}@{domain}" for d in disks}

    def release(self, node: str, domain: str) -> None:
        self.held[node] = {h for h in self.held[node] if not h.endswith(f"@{domain}")}

    def release_all(self, node: str) -> None:
        self.held[node] = set()


DISKS = [{"uname": "phy:/dev/vg/test-swap", "target": "/dev/vg/test-swap", "dev": "sda1",
          "mode": "w"},
         {"uname": "phy:/dev/vg/test-disk", "target": "/dev/vg/test-disk", "dev": "sda2",
          "mode": "w"}]


def test_a_running_domain_holds_its_disks_until_it_is_gone() -> None:
    w = World()
    w.hv.holders = holders = FakeHolders()
    w.do("create", node="ha1", disks=DISKS, **TEST)
    assert holders.held["ha1"] == {"phy:/dev/vg/test-swap@test", "phy:/dev/vg/test-disk@test"}
    w.do("shutdown", node="ha1", name="test")
    assert len(holders.held["ha1"]) == 2  # still shutting down: still open
    w.now += 1.5
    w.do("list", node="ha1")
    assert holders.held["ha1"] == set()
    w.do("create", node="ha1", disks=DISKS, **TEST)
    w.do("destroy", node="ha1", name="test")
    assert holders.held["ha1"] == set()


def test_migration_moves_the_holders_and_a_reboot_drops_them() -> None:
    w = World()
    w.hv.holders = holders = FakeHolders()
    w.do("create", node="ha2", disks=DISKS, **TEST)
    assert w.do("migrate", node="ha2", name="test", target="ha1")["ok"]
    assert holders.held["ha2"] == set()
    assert len(holders.held["ha1"]) == 2
    w.info["ha1"] = hypervisor.NodeInfo("b1-new", "3.2-1-amd64", 512, "2.6.24-19-xen")
    w.do("list", node="ha1")
    assert holders.held["ha1"] == set()
