"""Storage sims of the lab nodes on a temporary state folder: sizes, LVM output, fdisk, labels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.simstorage import run, state_folder
from xenlab.nodefs import sim_module

ss = sim_module("storage_state")
lvm = sim_module("lvm")
fdisk = sim_module("fdisk")
REAL_BLKID = shutil.which("blkid")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return state_folder(tmp_path, monkeypatch, lvm, fdisk)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(("size", "style", "unit", "expected"), [
    (40 * 1024**3, lvm.SHORT, "h", "40.00 GB"),
    (4 * 1024**2, lvm.SHORT, "h", "4.00 MB"),
    (0, lvm.SHORT, "h", "0   "),
    (0, lvm.UNIT, "h", "0 "),
    (0, lvm.UNIT, "m", "0M"),
    (10239 * 4 * 1024**2, lvm.UNIT, "h", "40.00G"),
    (384 * 1024**2, lvm.UNIT, "h", "384.00M"),
    (5 * 1024**3, lvm.UNIT, "m", "5120.00M"),
    (5 * 1024**3, lvm.UNIT, "g", "5.00G"),
    (5 * 1024**3, lvm.UNIT, "b", "5368709120B"),
    (5 * 1024**3, lvm.UNIT, "G", "5.37G"),
])
def test_display_size(size: int, style: int, unit: str, expected: str) -> None:
    assert lvm.display_size(size, style, unit) == expected


def test_display_size_nosuffix() -> None:
    assert lvm.display_size(5 * 1024**3, lvm.UNIT, "m", suffix=False) == "5120.00"


@pytest.mark.parametrize(("text", "mib"), [
    ("5G", 5120), ("5g", 5120), ("384M", 384), ("5120m", 5120), ("1G", 1024), ("1.5G", 1536),
    ("100", 100), ("2048k", 2),
])
def test_parse_size(text: str, mib: int) -> None:
    assert lvm.parse_size(text) == mib * 1024**2


def test_parse_size_reads_only_the_first_unit_letter() -> None:
    """2.02.26's _size_arg: "5Gb" (xen-tools 3.8 passes it so) is 5G; no s/b units yet."""
    assert lvm.parse_size("5Gb") == lvm.parse_size("5Gxyz") == 5 * 1024**3
    for garbage in ("5x", "G5", "", "512b", "8s"):
        with pytest.raises(lvm.LvmError):
            lvm.parse_size(garbage)


@pytest.mark.parametrize(("mib", "extents"), [(384, 96), (385, 97), (5120, 1280), (1, 1)])
def test_extent_rounding(mib: int, extents: int) -> None:
    assert lvm.extents_for(mib * 1024**2, ss.EXTENT) == extents


# ----------------------------------------------------------------------------- layout


def test_default_layout_is_the_guides_install() -> None:
    state = ss.default_layout()
    parts = state["partitions"]
    assert [p["device"] for p in parts] == ["/dev/sda1", "/dev/sda2", "/dev/sda3"]
    assert [p["signature"] for p in parts] == ["ext3", "swap", "none"]
    assert parts[2]["sectors"] * 512 == 40 * 1024**3
    assert round(parts[0]["sectors"] * 512 / 1e9, 1) == 5.0
    assert 500 <= parts[1]["sectors"] * 512 / 1024**2 <= 520
    assert state["disk"]["sectors"] % ss.CYL == 0
    assert ss.default_layout(10)["partitions"][2]["sectors"] * 512 == 10 * 1024**3


def test_lvm_label_is_what_real_blkid_reads(tmp_path: Path) -> None:
    dev = tmp_path / "pv"
    ss.sparse_file(str(dev), 64 * 1024**2)
    uuid = "abcdef" + "0123" * 5 + "ghijkl"
    ss.write_pv_label(str(dev), uuid, 64 * 1024**2)
    assert ss.read_pv_label(str(dev)) == uuid
    assert dev.stat().st_blocks * 512 <= 16 * 1024  # still sparse
    if REAL_BLKID:
        out = subprocess.run([REAL_BLKID, "-c", "/dev/null", "-o", "export", str(dev)],
                             capture_output=True, text=True, check=False).stdout
        assert "TYPE=LVM2_member" in out
        assert "UUID=abcdef-0123-0123-0123-0123-0123-ghijkl" in out
    ss.wipe_pv_label(str(dev))
    assert ss.read_pv_label(str(dev)) is None


def test_fdisk_listing_of_the_2008_layout(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    ss.create_layout(root)
    state = ss.load(root)
    state["disk"]["identifier"] = 0x0003A1F2
    ss.write_at(ss.disk_file(root, "sda"), 0, ss.mbr(state))
    assert fdisk.main(["-l"]) == 0
    assert capsys.readouterr().out == """
Disk /dev/sda: 48.4 GB, 48488025600 bytes
255 heads, 63 sectors/track, 5895 cylinders
Units = cylinders of 16065 * 512 = 8225280 bytes
Disk identifier: 0x0003a1f2

   Device Boot      Start         End      Blocks   Id  System
/dev/sda1   *           1         608     4883728+  83  Linux
/dev/sda2             609         673      522112+  82  Linux swap / Solaris
/dev/sda3             674        5895    41943040   83  Linux
"""
    assert fdisk.main(["-s", "/dev/sda3"]) == 0
    assert capsys.readouterr().out == "41943040\n"
    assert fdisk.main(["/dev/sda"]) == 1


# ----------------------------------------------------------------------------- lvm


def test_guide_sequence_and_vgdisplay(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(lvm, "pvcreate", "/dev/sda3") == 0
    assert run(lvm, "vgcreate", "vg", "/dev/sda3") == 0
    out = capsys.readouterr().out
    assert out == ('  Physical volume "/dev/sda3" successfully created\n'
                   '  Volume group "vg" successfully created\n')
    assert run(lvm, "vgdisplay", "vg") == 0
    lines = capsys.readouterr().out.splitlines()
    uuid = lines[-2].split()[-1]
    assert lines == [
        "  --- Volume group ---",
        "  VG Name               vg",
        "  System ID             ",
        "  Format                lvm2",
        "  Metadata Areas        1",
        "  Metadata Sequence No  1",
        "  VG Access             read/write",
        "  VG Status             resizable",
        "  MAX LV                0",
        "  Cur LV                0",
        "  Open LV               0",
        "  Max PV                0",
        "  Cur PV                1",
        "  Act PV                1",
        "  VG Size               40.00 GB",
        "  PE Size               4.00 MB",
        "  Total PE              10239",
        "  Alloc PE / Size       0 / 0   ",
        "  Free  PE / Size       10239 / 40.00 GB",
        f"  VG UUID               {uuid}",
        "   ",  # log_print(" ") ends the block (lib/display/display.c)
    ]
    assert len(uuid) == 38 and uuid.count("-") == 6


def test_lvcreate_rounding_errors_and_reports(root: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run(lvm, "pvcreate", "/dev/sda3")
    run(lvm, "vgcreate", "vg", "/dev/sda3")
    capsys.readouterr()
    assert run(lvm, "lvcreate", "-L", "5G", "-n", "test-disk", "vg") == 0
    assert run(lvm, "lvcreate", "-L385M", "--name=test-swap", "vg") == 0
    captured = capsys.readouterr()
    assert captured.out == ('  Logical volume "test-disk" created\n'
                            "  Rounding up size to full physical extent 388.00 MB\n"
                            '  Logical volume "test-swap" created\n')
    assert run(lvm, "lvcreate", "-L", "5G", "-n", "test-disk", "vg") == 5
    assert run(lvm, "lvcreate", "-L", "100G", "-n", "big", "vg") == 5
    assert run(lvm, "lvcreate", "-L", "1G", "-n", "x", "vgx") == 5
    assert run(lvm, "lvcreate", "-n", "x", "vg") == 3
    assert capsys.readouterr().err == (
        '  Logical volume "test-disk" already exists in volume group "vg"\n'
        "  Insufficient free extents (8862) in volume group vg: 25600 required\n"
        '  Volume group "vgx" doesn\'t exist\n'
        "  Please specify either size or extents (not both)\n")

    assert run(lvm, "lvs") == 0
    assert capsys.readouterr().out == (
        "  LV        VG   Attr   LSize   Origin Snap%  Move Log Copy% \n"
        "  test-disk vg   -wi-a-   5.00G                              \n"
        "  test-swap vg   -wi-a- 388.00M                              \n")
    assert run(lvm, "lvs", "--noheadings", "--units", "m", "-o", "lv_name,vg_name,lv_size") == 0
    assert capsys.readouterr().out == ("  test-disk vg   5120.00M\n"
                                       "  test-swap vg    388.00M\n")
    assert run(lvm, "vgs") == 0
    assert capsys.readouterr().out == ("  VG   #PV #LV #SN Attr   VSize  VFree \n"
                                       "  vg     1   2   0 wz--n- 40.00G 34.62G\n")
    assert run(lvm, "pvs", "--noheadings", "--units", "b", "--nosuffix", "--separator", ":",
               "-o", "pv_name,vg_name,pv_size,pv_free") == 0
    assert capsys.readouterr().out == "  /dev/sda3:vg:42945478656:37169922048\n"
    assert run(lvm, "vgs", "--noheadings", "-o", "vg_name,vg_size,vg_free,pv_count,lv_count",
               "--units", "g") == 0
    assert capsys.readouterr().out.split() == ["vg", "40.00G", "34.62G", "1", "2"]
    # 2.02.26: report_init fails, the command still returns 0 after the field list
    assert run(lvm, "lvs", "-o", "lv_name,foo") == 0
    captured = capsys.readouterr()
    assert captured.err == "  Unrecognised field: foo\n"
    assert captured.out.startswith("  Logical Volume Fields\n  ---------------------\n"
                                   "    lv_uuid           - Unique identifier\n")
    assert captured.out.endswith("    pvseg_size        - Number of extents in segment.\n   \n")


def test_lvdisplay_and_lvremove(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(lvm, "pvcreate", "/dev/sda3")
    run(lvm, "vgcreate", "vg", "/dev/sda3")
    run(lvm, "lvcreate", "-L", "5G", "-n", "test-disk", "vg")
    capsys.readouterr()
    assert run(lvm, "lvdisplay", "/dev/vg/test-disk") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  --- Logical volume ---"
    assert lines[1] == "  LV Name                /dev/vg/test-disk"
    assert "  LV Size                5.00 GB" in lines
    assert "  Current LE             1280" in lines
    assert "  Block device           254:0" in lines
    assert lines[-1] == "   "  # log_print(" ") ends the block
    assert run(lvm, "lvremove", "-f", "/dev/vg/test-disk") == 0
    assert capsys.readouterr().out == '  Logical volume "test-disk" successfully removed\n'
    assert not Path(ss.lv_file(root, "vg", "test-disk")).exists()
    assert run(lvm, "lvremove", "-f", "vg/nothing") == 5


def test_pvcreate_refusals(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(lvm, "pvcreate", "/dev/sda") == 5
    assert run(lvm, "pvcreate", "/dev/sdb1") == 5
    run(lvm, "pvcreate", "/dev/sda3")
    run(lvm, "vgcreate", "vg", "/dev/sda3")
    assert run(lvm, "pvcreate", "/dev/sda3") == 5
    assert run(lvm, "vgcreate", "vg2", "/dev/sda1") == 5
    err = capsys.readouterr().err
    assert err == ("  Device /dev/sda not found (or ignored by filtering).\n"
                   "  Device /dev/sdb1 not found (or ignored by filtering).\n"
                   '  Can\'t initialize physical volume "/dev/sda3" of volume group "vg" '
                   "without -ff\n"
                   "  No physical volume label read from /dev/sda1\n"
                   "  /dev/sda1 not identified as an existing physical volume\n")


def test_pvcreate_overwrites_a_filesystem_like_2_02_26(root: str) -> None:
    """Real lvm2 of 2008 zeroed 2 KiB and wrote its label: the ext3 superblock is gone."""
    assert run(lvm, "pvcreate", "/dev/sda1") == 0
    path = ss.disk_file(root, "sda1")
    assert ss.read_at(path, 1080, 2) == b"\0\0"  # no ext2/3 magic 0xEF53 any more
    assert ss.read_pv_label(path) is not None


def test_a_pv_whose_label_is_overwritten_disappears(root: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run(lvm, "pvcreate", "/dev/sda3")
    ss.zero_range(ss.disk_file(root, "sda3"), 0, 4096)  # dd if=/dev/zero of=/dev/sda3
    capsys.readouterr()
    assert run(lvm, "pvs", "--noheadings") == 0
    assert capsys.readouterr().out == ""
