"""Open LVs (the holder registry), lvm2 2.02.26's exit codes and xen-tools 3.8's, on a
temporary node state folder (no root, no lab)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.unit.simstorage import run, state_folder
from xenlab import hypervisor
from xenlab.nodefs import sim_module

ss = sim_module("storage_state")
lvm = sim_module("lvm")
xt = sim_module("xen_create_image")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return state_folder(tmp_path, monkeypatch, lvm)


@pytest.fixture
def vg(root: str, capsys: pytest.CaptureFixture[str]) -> str:
    run(lvm, "pvcreate", "/dev/sda3")
    run(lvm, "vgcreate", "vg", "/dev/sda3")
    run(lvm, "lvcreate", "-L", "128M", "-n", "test-swap", "vg")
    run(lvm, "lvcreate", "-L", "1G", "-n", "test-disk", "vg")
    capsys.readouterr()
    return root


def test_holder_api(vg: str) -> None:
    ss.add_holder(vg, "vg", "test-swap", "domain:test")
    ss.add_holder(vg, "vg", "test-swap", "domain:test")  # idempotent
    ss.add_holder(vg, "vg", "test-swap", "drbd:0")
    assert ss.holders(vg, "vg", "test-swap") == ["domain:test", "drbd:0"]
    assert ss.remove_holder(vg, "vg", "test-swap", "drbd:0") is True
    assert ss.remove_holder(vg, "vg", "test-swap", "drbd:0") is False
    ss.add_holder(vg, "vg", "test-disk", "domain:test")
    assert ss.release_holder(vg, "domain:test") == ["vg/test-disk", "vg/test-swap"]
    assert ss.holders(vg, "vg", "test-disk") == []
    ss.add_holder(vg, "vg", "test-disk", "drbd:1")
    assert ss.release_kind(vg, "domain") == []
    assert ss.release_kind(vg, "drbd") == ["vg/test-disk"]
    with pytest.raises(ss.StorageError, match="not found"):
        ss.add_holder(vg, "vg", "nothing", "domain:test")
    with pytest.raises(ss.StorageError, match="bad holder"):
        ss.add_holder(vg, "vg", "test-disk", "test")
    state = ss.load(vg)
    assert ss.lv_of_device(state, "/dev/vg/test-disk", vg) == ("vg", "test-disk")
    assert ss.lv_of_device(state, "/dev/mapper/vg-test--disk", vg) == ("vg", "test-disk")
    assert ss.lv_of_device(state, "/dev/sda3", vg) is None


def test_an_open_lv_is_shown_open_and_cannot_be_removed(
        vg: str, capsys: pytest.CaptureFixture[str]) -> None:
    ss.add_holder(vg, "vg", "test-swap", "domain:test")
    assert run(lvm, "lvs", "--noheadings", "-o", "lv_name,lv_attr", "vg") == 0
    assert capsys.readouterr().out == "  test-disk -wi-a-\n  test-swap -wi-ao\n"
    assert run(lvm, "lvdisplay", "vg/test-swap") == 0
    assert "  # open                 1" in capsys.readouterr().out.splitlines()
    assert run(lvm, "lvremove", "-f", "vg/test-swap") == 5
    assert capsys.readouterr().err == '  Can\'t remove open logical volume "test-swap"\n'
    assert run(lvm, "vgchange", "-a", "n", "vg") == 5
    capsys.readouterr()
    ss.release_holder(vg, "domain:test")
    assert run(lvm, "lvremove", "-f", "vg/test-swap") == 0


def test_hypervisor_holds_the_phy_lvs_of_a_domain_in_the_node_storage(
        vg: str, tmp_path: Path) -> None:
    node_state = tmp_path / "lab" / "nodes" / "ha1" / "state"
    node_state.parent.mkdir(parents=True)
    Path(vg).rename(node_state)
    holders = hypervisor.LvHolders(str(tmp_path / "lab"))
    disks = [{"uname": "phy:/dev/vg/test-swap"}, {"uname": "phy:vg/test-disk"},
             {"uname": "drbd:r0"}, {"uname": "phy:/dev/sda3"}]
    holders.hold("ha1", "test", disks)
    assert ss.holders(str(node_state), "vg", "test-swap") == ["domain:test"]
    assert ss.holders(str(node_state), "vg", "test-disk") == ["domain:test"]
    holders.release("ha1", "test")
    assert ss.holders(str(node_state), "vg", "test-disk") == []
    holders.hold("ha1", "test", disks)
    holders.release_all("ha1")
    assert ss.holders(str(node_state), "vg", "test-swap") == []


def test_lvm_2_02_26_statuses(vg: str, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(lvm, "vgdisplay", "nosuchvg") == 0  # fixed only in 2.02.43
    assert capsys.readouterr().err == '  Volume group "nosuchvg" not found\n'
    assert run(lvm, "lvremove", "-f", "vg/nothing") == 5
    assert capsys.readouterr().err == ("  One or more specified logical volume(s) not found.\n")
    assert run(lvm, "lvs", "nosuchvg") == 5
    assert capsys.readouterr().err == '  Volume group "nosuchvg" not found\n'
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert run(lvm, "lvremove", "vg/test-swap") == 5
    assert capsys.readouterr().out == (
        'Do you really want to remove active logical volume "test-swap"? [y/n]: '
        '  Logical volume "test-swap" not removed\n')
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # EOF answers n, then a newline
    assert run(lvm, "lvremove", "vg/test-swap") == 5
    assert capsys.readouterr().out.endswith('[y/n]: \n  Logical volume "test-swap" not removed\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("x\nyes\n"))  # another line asks again
    assert run(lvm, "lvremove", "vg/test-swap") == 0
    assert capsys.readouterr().out.count("[y/n]: ") == 2


def test_a_vg_without_lvs_reports_nothing(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(lvm, "lvs") == 0
    assert capsys.readouterr() == ("", "  No volume groups found\n")
    run(lvm, "pvcreate", "/dev/sda3")
    run(lvm, "vgcreate", "vg", "/dev/sda3")
    capsys.readouterr()
    assert run(lvm, "lvs", "vg") == 0
    assert run(lvm, "lvs") == 0
    assert capsys.readouterr() == ("", "")


def test_xen_create_image_3_8_exits_0_when_the_lvs_exist(
        vg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(xt, "ROOT", vg)
    monkeypatch.setattr(xt, "LOG_DIR", str(tmp_path / "log"))
    creator = xt.Creator({**xt.DEFAULTS, "lvm": "vg", "hostname": "test", "dist": "hardy",
                          "kernel": "/boot/vmlinuz", "initrd": ""}, ["192.168.1.50"])
    assert creator.create() == 0
    out = capsys.readouterr().out
    assert ("The LVM disk image already exists.  Aborting.\n"
            "Specify '--force' to delete and recreate\n") in out
    assert out.endswith(f"\n\nLogfile produced at:\n\t {tmp_path / 'log'}/test.log\n")
    with pytest.raises(xt.XtError) as err:
        xt.Creator({**xt.DEFAULTS, "lvm": "vg"}, ["192.168.1.50"]).create()
    assert (str(err.value), err.value.code) == ("The '--hostname' argument is mandatory.", 1)
