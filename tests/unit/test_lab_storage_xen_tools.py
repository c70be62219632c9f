"""xen-tools sim: configuration parsing, sizes, the cfg file; host-side fault injection."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from xenlab import storage
from xenlab.nodefs import sim_module

xt = sim_module("xen_create_image")
conf = sim_module("xen_tools_conf")
ss = sim_module("storage_state")


def test_default_conf_parses_like_xen_tools_3_8() -> None:
    config = xt.parse_conf(conf.DEFAULT_CONF, run=lambda cmd: "2.6.24-19-xen\n")
    assert config["install-method"] == "debootstrap"
    assert (config["size"], config["memory"], config["swap"]) == ("4Gb", "128Mb", "128Mb")
    assert (config["fs"], config["dist"], config["image"]) == ("ext3", "etch", "sparse")
    assert config["kernel"] == "/boot/vmlinuz-2.6.24-19-xen"
    assert config["initrd"] == "/boot/initrd.img-2.6.24-19-xen"
    assert config["mirror"] == "http://ftp.us.debian.org/debian/"
    for unset in ("lvm", "dir", "passwd", "gateway", "netmask", "dhcp"):
        assert unset not in config
    for line in ("# lvm = skx-vg0", "# passwd = 1", "# gateway   = 192.168.1.1",
                 "# mirror_etch=http://ftp.us.debian.org/debian"):
        assert f"\n{line}\n" in conf.DEFAULT_CONF


def test_conf_as_the_guide_edits_it() -> None:
    text = ("lvm = vg\nsize = 5Gb # Disk image size.\nmemory = 384Mb # Memory size\n"
            "  # passwd = 0\npasswd = 1\ngateway =\nnetmask = \nbroadcast =\n"
            "mirror = http://nl.archive.ubuntu.com/ubuntu/\n")
    config = xt.parse_conf(text)
    assert config == {"lvm": "vg", "size": "5Gb", "memory": "384Mb", "passwd": "1",
                      "netmask": "", "mirror": "http://nl.archive.ubuntu.com/ubuntu/"}


@pytest.mark.parametrize(("text", "mb"), [
    ("5Gb", 5120), ("384Mb", 384), ("128Mb", 128), ("1G", 1024), ("1536", 1536),
])
def test_sizes(text: str, mb: int) -> None:
    assert xt.size_mb(text) == mb


def test_cfg_has_the_reference_shape() -> None:
    text = xt.render_cfg({
        "hostname": "test", "kernel": "/boot/vmlinuz-2.6.24-19-xen",
        "initrd": "/boot/initrd.img-2.6.24-19-xen", "memory": 384,
        "swap_dev": "/dev/vg/test-swap", "disk_dev": "/dev/vg/test-disk",
        "ips": ["192.168.1.50"], "mac": "00:16:3E:4C:1A:2B", "disk_device": "xvda",
        "date": "Thu Oct 27 10:20:31 2011"})
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "kernel      = '/boot/vmlinuz-2.6.24-19-xen'",
        "ramdisk     = '/boot/initrd.img-2.6.24-19-xen'",
        "memory      = '384'",
        "root        = '/dev/xvda2 ro'",
        "disk        = [",
        "                  'phy:/dev/vg/test-swap,xvda1,w',",
        "                  'phy:/dev/vg/test-disk,xvda2,w',",
        "              ]",
        "name        = 'test'",
        "vif         = [ 'ip=192.168.1.50,mac=00:16:3E:4C:1A:2B' ]",
        "on_poweroff = 'destroy'",
        "on_reboot   = 'restart'",
        "on_crash    = 'restart'",
    ]
    assert "# by xen-tools 3.8 on Thu Oct 27 10:20:31 2011." in text
    parsed = xt.parse_cfg(text)
    assert parsed["name"] == "test" and parsed["memory"] == "384"
    assert parsed["disk"] == ["phy:/dev/vg/test-swap,xvda1,w", "phy:/dev/vg/test-disk,xvda2,w"]


def test_args_and_macs() -> None:
    opts, ips, words = xt.parse_args(["--hostname=test", "--ip", "192.168.1.50", "--force",
                                      "--dist=hardy", "extra"])
    assert opts == {"hostname": "test", "force": "1", "dist": "hardy"}
    assert (ips, words) == (["192.168.1.50"], ["extra"])
    with pytest.raises(xt.XtError, match="Unknown option: bogus"):
        xt.parse_args(["--bogus"])
    assert xt.random_mac().startswith("00:16:3E:")


def test_shadow_line_never_holds_the_password() -> None:
    line = xt.shadow_line("s3cret-pw", days=14179)
    assert line.startswith("root:$") and line.endswith(":14179:0:99999:7:::")
    assert "s3cret-pw" not in line


# ----------------------------------------------------------------------------- storage.py


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if shutil.which("mke2fs") is None or shutil.which("mkswap") is None:
        pytest.skip("mke2fs/mkswap are needed")
    (tmp_path / ".lab/rbts/nodes/ha2/state").mkdir(parents=True)
    return tmp_path


def blkid_type(path: str) -> str:
    result = subprocess.run(["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", path],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip()


def test_layout_is_pure_and_parametrised() -> None:
    assert storage.layout(20)["partitions"][2]["sectors"] * 512 == 20 * 1024**3
    with pytest.raises(storage.StorageFault):
        storage.layout(0)


@pytest.mark.skipif(shutil.which("blkid") is None, reason="needs the real blkid")
def test_write_signature_writes_real_bytes(project: Path) -> None:
    root = storage.state_dir("rbts", "ha2", project)
    sda3 = str(root / "disks/sda3")
    state = storage.read_state("rbts", "ha2", project)
    assert state["partitions"][2]["signature"] == "none"
    assert blkid_type(str(root / "disks/sda1")) == "ext3"
    assert blkid_type(sda3) == ""
    storage.write_signature("rbts", "ha2", "/dev/sda3", "ext3", project)
    assert blkid_type(sda3) == "ext3"
    storage.write_signature("rbts", "ha2", "/dev/sda3", "swap", project)
    assert blkid_type(sda3) == "swap"
    storage.write_signature("rbts", "ha2", "/dev/sda3", "data", project)
    assert blkid_type(sda3) == "" and ss.has_data(sda3)
    state = storage.write_signature("rbts", "ha2", "/dev/sda3", "other-vg", project)
    assert blkid_type(sda3) == "LVM2_member"
    assert state["pvs"]["/dev/sda3"]["vg"] == "othervg"
    assert state["vgs"]["othervg"]["pvs"] == ["/dev/sda3"]
    assert (root / "disks/sda3").stat().st_blocks * 512 < 32 * 1024**2  # 40 GiB, sparse
    state = storage.reset_disk("rbts", "ha2", project_root=project)
    assert state["pvs"] == {} and state["vgs"] == {}
    assert blkid_type(sda3) == "" and not ss.has_data(sda3)


def test_fault_injection_refusals(project: Path) -> None:
    with pytest.raises(storage.StorageFault, match="unknown signature kind"):
        storage.write_signature("rbts", "ha2", "/dev/sda3", "ntfs", project)
    with pytest.raises(storage.StorageFault, match="no device /dev/sdb"):
        storage.write_signature("rbts", "ha2", "/dev/sdb", "ext3", project)
    with pytest.raises(storage.StorageFault, match="partition table"):
        storage.write_signature("rbts", "ha2", "/dev/sda", "ext3", project)
    with pytest.raises(storage.StorageFault, match="does not exist"):
        storage.write_signature("rbts", "ha1", "/dev/sda3", "ext3", project)
    with pytest.raises(storage.StorageFault, match="unknown node"):
        storage.reset_disk("rbts", "ha3", project_root=project)
