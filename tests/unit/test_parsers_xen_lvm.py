"""Xen and LVM parsers on captured output (shapes of reference-outputs.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.parsers import lvm, xen

OUT = Path(__file__).resolve().parent.parent / "data" / "outputs"


def sample(name: str) -> str:
    return (OUT / name).read_text()


def test_xm_list_by_fields() -> None:
    domains = xen.parse_xm_list(sample("xm-list.txt"))
    assert [(d.name, d.id, d.memory_mb, d.vcpus, d.state) for d in domains] == [
        ("Domain-0", 0, 500, 2, "r-----"), ("test", 7, 384, 1, "-b----")]
    assert list(xen.running(domains)) == ["test"]
    assert xen.running(xen.parse_xm_list(sample("xm-list-dom0-only.txt"))) == {}


def test_xm_list_inactive_managed_domain_has_no_id() -> None:
    text = "Name   ID   Mem VCPUs  State   Time(s)\nold        256     1            0.0\n"
    (domain,) = xen.parse_xm_list(text)
    assert domain.id is None and domain.memory_mb == 256


def test_xm_info() -> None:
    info = xen.parse_colon_table(sample("xm-info.txt"))
    assert info["release"] == "2.6.24-19-xen"
    assert info["xen_major"] == "3" and info["total_memory"] == "2047"
    assert info["version"] == "#1 SMP Wed Jun 18 15:15:36 UTC 2008"


def test_domain_cfg() -> None:
    cfg = xen.parse_domain_cfg(sample("test.cfg"))
    assert cfg["name"] == "test" and cfg["memory"] == "384"
    assert xen.cfg_vif_ips(cfg) == ["192.168.1.50"]
    assert xen.cfg_disks(cfg) == ["phy:/dev/vg/test-swap", "phy:/dev/vg/test-disk"]


def test_domain_cfg_ignores_non_literals() -> None:
    cfg = xen.parse_domain_cfg("import os\nname = 'x'\nmemory = os.getenv('M')\n")
    assert cfg == {"name": "x"}


def test_menu_lst_default_xen_entry() -> None:
    menu = xen.parse_menu_lst(sample("menu.lst"))
    assert menu.magic["kopt"] == "root=/dev/sda1 ro"
    assert menu.magic["xenhopt"] == ""
    entry = menu.default_entry
    assert entry is not None and entry.xen
    assert entry.linux.startswith("/boot/vmlinuz-2.6.24-19-xen")
    assert not menu.entries[1].xen


def test_set_magic_option_adds_and_replaces() -> None:
    once = xen.set_magic_option(sample("menu.lst"), "xenhopt", "dom0_mem", "512M")
    assert "# xenhopt=dom0_mem=512M\n" in once
    twice = xen.set_magic_option(once.replace("dom0_mem=512M", "noreboot dom0_mem=256M"),
                                 "xenhopt", "dom0_mem", "512M")
    assert "# xenhopt=noreboot dom0_mem=512M\n" in twice
    assert xen.set_magic_option(once, "xenhopt", "dom0_mem", "512M") == once


def test_key_values_last_wins_and_comments_drop() -> None:
    text = "# lvm = skx-vg0\nsize   = 4Gb  # Disk image size.\nsize = 5Gb\nmirror = http://a/b/\n"
    assert xen.parse_key_values(text) == {"size": "5Gb", "mirror": "http://a/b/"}


def test_lvs_report() -> None:
    fields = ["lv_name", "vg_name", "lv_size"]
    rows = lvm.parse_report(sample("lvs-report.txt"), fields)
    assert rows == [{"lv_name": "test-disk", "vg_name": "vg", "lv_size": "5120.00"},
                    {"lv_name": "test-swap", "vg_name": "vg", "lv_size": "384.00"}]
    assert lvm.report_command("lvs", fields, "vg") == (
        "lvs --noheadings --units m --nosuffix --separator '|' -o lv_name,vg_name,lv_size vg")
    assert lvm.mib("5120,00") == 5120.0


def test_vgdisplay() -> None:
    values = lvm.parse_display(sample("vgdisplay.txt"))
    assert values["VG Name"] == "vg"
    assert lvm.parse_size(values["VG Size"]) == 40960.0
    assert values["Free  PE / Size"] == "8863 / 34.62 GB"


@pytest.mark.parametrize(("text", "size"), [
    ("40.00 GB", 40960.0), ("384.00 MB", 384.0), ("1.00 TB", 1048576.0), ("512,00 MB", 512.0)])
def test_display_sizes(text: str, size: float) -> None:
    assert lvm.parse_size(text) == size


def test_blkid_full_format() -> None:
    """`blkid -c /dev/null DEV`: the one format e2fsprogs 1.40.8 and util-linux share."""
    tags = lvm.parse_blkid(sample("blkid-ext3.txt"), "/dev/sda3")
    assert tags == {"UUID": "0b5a3cdd-8a6c-4d0e-9b1c-1f8f6e2e0a11", "SEC_TYPE": "ext2",
                    "TYPE": "ext3"}
    assert lvm.parse_blkid('/dev/sda3: LABEL="my \\"disk\\"" TYPE="ext3"\n', "/dev/sda3") == {
        "LABEL": 'my \\"disk\\"', "TYPE": "ext3"}
    assert lvm.parse_blkid("", "/dev/sda3") == {}
    with pytest.raises(ValueError, match="not a blkid line"):
        lvm.parse_blkid("DEVNAME=/dev/sda3\nTYPE=ext3\n", "/dev/sda3")  # -o export: not 8.04
    with pytest.raises(ValueError, match="not a blkid line"):
        lvm.parse_blkid('/dev/sda1: TYPE="ext3"\n', "/dev/sda3")


def test_reports_refuse_rows_of_another_shape() -> None:
    with pytest.raises(ValueError, match="expected 3 fields"):
        lvm.parse_report("  Volume group vg not found\n", ["lv_name", "vg_name", "lv_size"])
    assert lvm.parse_report("\n", ["lv_name"]) == []


@pytest.mark.parametrize("text", ["", "Error: Unable to connect to xend\n",
                                  "Name ID Mem VCPUs State Time(s)\nDomain-0 x y\n"])
def test_xm_list_refuses_what_is_not_xm_list(text: str) -> None:
    with pytest.raises(ValueError):
        xen.parse_xm_list(text)
