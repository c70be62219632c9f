"""The lab's disks, LVM and xen-tools over real SSH: a lab named rbts (ports 2291/2292)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager, storage

pytestmark = LAB_TESTS

LAB = "rbts"
PORT_BASE = 2291
PROJECT = Path(__file__).resolve().parents[2]
# "any data in the first MiB" as a runbook reads it (od folds repeated lines into "*": use -v)
ANY_DATA = "od -An -v -tx1 -N 1048576 {dev} | grep -qv '^\\( 00\\)*$'"
# The type blkid 1.40.8 finds, read from the device itself (no cache): "ext3", "swap", "lvm2pv"
BLKID_TYPE = "blkid -c /dev/null -s TYPE -o value"


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        dev = ssh(info, "ha1", "awk '$5 == \"/dev\" {print $(NF-2)}' /proc/self/mountinfo",
                  check=False).stdout.split()
        if not dev or dev[-1] != "tmpfs":
            pytest.skip("the lab nodes have no /dev of their own yet (node_init's per-node /dev "
                        "tmpfs): the storage sims refuse to create device files")
        yield info


def test_fresh_node_has_the_installed_disk(lab: manager.LabInfo) -> None:
    out = ssh(lab, "ha1", "fdisk -l").stdout
    assert "Disk /dev/sda: 48.4 GB, 48488025600 bytes" in out  # fdisk truncates
    table = [line.split() for line in out.splitlines() if line.startswith("/dev/sda")]
    assert [row[0] for row in table] == ["/dev/sda1", "/dev/sda2", "/dev/sda3"]
    assert table[0][1] == "*" and table[0][-1] == "Linux"
    assert table[1][-3:] == ["swap", "/", "Solaris"]
    assert table[2][3] == "41943040"  # 40 GiB in 1K blocks
    blkid = ssh(lab, "ha1", "blkid").stdout
    # e2fsprogs 1.40.8 print_tags ends every tag with a blank, the line too
    assert re.search(r'^/dev/sda1: UUID="[-0-9a-f]+" SEC_TYPE="ext2" TYPE="ext3" $', blkid, re.M)
    assert re.search(r'^/dev/sda2: UUID="[-0-9a-f]+" TYPE="swap" $', blkid, re.M)
    assert "/dev/sda3" not in blkid
    assert ssh(lab, "ha1", "blkid /dev/sda3", check=False).returncode == 2
    assert ssh(lab, "ha1", ANY_DATA.format(dev="/dev/sda3"), check=False).returncode == 1
    assert ssh(lab, "ha1", "command -v pvcreate || ls /sbin/lvcreate", check=False).returncode
    assert not Path("/dev/sda3").is_symlink()  # the control machine's /dev is untouched


def test_lvm_as_in_the_guide(lab: manager.LabInfo) -> None:
    assert "Setting up lvm2 (2.02.26-1ubuntu9) ..." in ssh(
        lab, "ha1", "apt-get install -y lvm2").stdout
    assert ssh(lab, "ha1", "pvcreate /dev/sda3").stdout == (
        '  Physical volume "/dev/sda3" successfully created\n')
    assert 'TYPE="lvm2pv"' in ssh(lab, "ha1", "blkid /dev/sda3").stdout  # 1.40.8's name
    assert ssh(lab, "ha1", "vgcreate vg /dev/sda3").stdout == (
        '  Volume group "vg" successfully created\n')
    vgdisplay = ssh(lab, "ha1", "vgdisplay vg").stdout
    assert "  --- Volume group ---" in vgdisplay
    assert re.search(r"^  VG Size\s+40\.00 GB$", vgdisplay, re.M)
    assert re.search(r"^  Total PE\s+10239$", vgdisplay, re.M)
    assert re.search(r"^  Free  PE / Size\s+10239 / 40\.00 GB$", vgdisplay, re.M)
    again = ssh(lab, "ha1", "vgcreate vg /dev/sda3", check=False)
    assert again.returncode == 5 and "already exists" in again.stderr

    assert ssh(lab, "ha1", "lvcreate -L 5G -n test-disk vg").stdout == (
        '  Logical volume "test-disk" created\n')
    assert ssh(lab, "ha1", "lvcreate -L 384M -n test-swap vg").returncode == 0
    lvs = ssh(lab, "ha1", "lvs --noheadings --units m -o lv_name,vg_name,lv_size").stdout
    assert [line.split() for line in lvs.splitlines()] == [
        ["test-disk", "vg", "5120.00M"], ["test-swap", "vg", "384.00M"]]
    dup = ssh(lab, "ha1", "lvcreate -L 5G -n test-disk vg", check=False)
    assert dup.returncode == 5
    assert dup.stderr == '  Logical volume "test-disk" already exists in volume group "vg"\n'
    full = ssh(lab, "ha1", "lvcreate -L 100G -n huge vg", check=False)
    assert full.returncode == 5
    assert full.stderr == ("  Insufficient free extents (8863) in volume group vg: "
                           "25600 required\n")
    novg = ssh(lab, "ha1", "lvcreate -L 1G -n x vgx", check=False)
    assert (novg.returncode, novg.stderr) == (5, '  Volume group "vgx" doesn\'t exist\n')
    lvdisplay = ssh(lab, "ha1", "lvdisplay /dev/vg/test-disk").stdout
    assert re.search(r"^  LV Name\s+/dev/vg/test-disk$", lvdisplay, re.M)
    assert re.search(r"^  LV Size\s+5\.00 GB$", lvdisplay, re.M)
    assert re.search(r"^  Block device\s+254:0$", lvdisplay, re.M)
    links = ssh(lab, "ha1", "readlink /dev/vg/test-disk; test -e /dev/vg/test-disk && "
                            "stat -L -c %s /dev/mapper/vg-test--disk").stdout.split()
    assert links == ["/dev/mapper/vg-test--disk", str(5 * 1024**3)]
    pvs = ssh(lab, "ha1", "pvs --noheadings --units g -o pv_name,vg_name,pv_size,pv_free").stdout
    assert pvs.split() == ["/dev/sda3", "vg", "40.00G", "34.62G"]
    refused = ssh(lab, "ha1", "pvcreate /dev/sda3", check=False)
    assert refused.returncode == 5
    assert 'of volume group "vg" without -ff' in refused.stderr


def test_fault_injection_is_seen_by_real_reads(lab: manager.LabInfo) -> None:
    storage.write_signature(LAB, "ha2", "/dev/sda3", "ext3", project_root=PROJECT)
    assert 'TYPE="ext3"' in ssh(lab, "ha2", "blkid /dev/sda3").stdout
    # blkid 1.40.8 has no -p (low-level probe) nor -o export; -c /dev/null bypasses the cache
    assert ssh(lab, "ha2", f"{BLKID_TYPE} /dev/sda3").stdout == "ext3\n"

    storage.write_signature(LAB, "ha2", "/dev/sda3", "data", project_root=PROJECT)
    unknown = ssh(lab, "ha2", f"{BLKID_TYPE} /dev/sda3", check=False)
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert ssh(lab, "ha2", ANY_DATA.format(dev="/dev/sda3"), check=False).returncode == 0

    storage.write_signature(LAB, "ha2", "/dev/sda3", "other-vg", project_root=PROJECT)
    ssh(lab, "ha2", "apt-get install -y lvm2")
    assert ssh(lab, "ha2", "pvs --noheadings -o pv_name,vg_name").stdout.split() == [
        "/dev/sda3", "othervg"]
    refused = ssh(lab, "ha2", "pvcreate /dev/sda3", check=False)
    assert refused.returncode == 5
    assert refused.stderr == ('  Can\'t initialize physical volume "/dev/sda3" of volume group '
                              '"othervg" without -ff\n')

    storage.reset_disk(LAB, "ha2", project_root=PROJECT)
    assert ssh(lab, "ha2", "pvs --noheadings").stdout == ""
    assert ssh(lab, "ha2", "blkid /dev/sda3", check=False).returncode == 2


CONF_EDIT = (
    "sed -i -e 's/^# lvm = .*/lvm = vg/' -e 's/^size   = .*/size   = 5Gb/' "
    "-e 's/^memory = .*/memory = 384Mb/' -e 's/^swap   = .*/swap   = 384Mb/' "
    "-e 's/^dist   = .*/dist   = hardy/' -e 's/^# passwd = 1/passwd = 1/' "
    "-e 's/^# gateway   = .*/gateway   = 192.168.1.1/' "
    "-e 's/^# netmask   = .*/netmask   = 255.255.255.0/' "
    "-e 's/^# broadcast = .*/broadcast = 192.168.1.255/' /etc/xen-tools/xen-tools.conf"
)


def test_xen_create_image(lab: manager.LabInfo) -> None:
    ssh(lab, "ha1", "apt-get install -y xen-tools")
    conf = ssh(lab, "ha1", "cat /etc/xen-tools/xen-tools.conf").stdout
    assert "\n# lvm = skx-vg0\n" in conf and "\ninstall-method = debootstrap\n" in conf
    ssh(lab, "ha1", "lvremove -f /dev/vg/test-disk /dev/vg/test-swap")
    ssh(lab, "ha1", CONF_EDIT)
    start = time.monotonic()
    run = ssh(lab, "ha1", "printf 'pw\\npw\\n' | xen-create-image --hostname=test "
                          "--ip=192.168.1.50", timeout=120)
    took = time.monotonic() - start
    out = run.stdout
    assert 4 < took < 30, took
    for line in ("Hostname       :  test", "Distribution   :  hardy",
                 "Partitions     :  swap            384Mb (swap)",
                 "                  /               5Gb   (ext3)",
                 "Memory size    :  384Mb", "Kernel path    :  /boot/vmlinuz-",
                 "Creating swap on /dev/vg/test-swap", "Creating ext3 filesystem on "
                 "/dev/vg/test-disk", "Installation method: debootstrap",
                 "Creating Xen configuration file", "passwd: password updated successfully",
                 "All done", "\t /var/log/xen-tools/test.log", "Gateway        : 192.168.1.1"):
        assert line in out, line
    assert re.search(r"^IP Address 1   : 192\.168\.1\.50 \[MAC: 00:16:3E(:[0-9A-F]{2}){3}\]$",
                     out, re.M)
    lvs = ssh(lab, "ha1", "lvs --noheadings --units m -o lv_name,lv_size vg").stdout
    assert [line.split() for line in lvs.splitlines()] == [["test-disk", "5120.00M"],
                                                           ["test-swap", "384.00M"]]
    assert 'TYPE="ext3"' in ssh(lab, "ha1", "blkid /dev/vg/test-disk").stdout
    assert 'TYPE="swap"' in ssh(lab, "ha1", "blkid /dev/mapper/vg-test--swap").stdout
    cfg = ssh(lab, "ha1", "cat /etc/xen/test.cfg").stdout
    release = ssh(lab, "ha1", "uname -r").stdout.strip()
    for line in (f"kernel      = '/boot/vmlinuz-{release}'",
                 f"ramdisk     = '/boot/initrd.img-{release}'", "memory      = '384'",
                 "root        = '/dev/sda2 ro'", "                  'phy:/dev/vg/test-swap,"
                 "sda1,w',", "                  'phy:/dev/vg/test-disk,sda2,w',",
                 "name        = 'test'", "on_poweroff = 'destroy'", "on_reboot   = 'restart'",
                 "on_crash    = 'restart'"):
        assert line in cfg, line
    assert re.search(r"^vif         = \[ 'ip=192\.168\.1\.50,mac=00:16:3E(:[0-9A-F]{2}){3}' \]$",
                     cfg, re.M)
    state = (storage.state_dir(LAB, "ha1", PROJECT) / "storage.json").read_text()
    assert "root:$1$" in state and '"pw"' not in state and ":pw:" not in state
    log = ssh(lab, "ha1", "cat /var/log/xen-tools/test.log").stdout
    assert "\npw\n" not in log and "mkswap" in log

    again = ssh(lab, "ha1", "printf 'pw\\npw\\n' | xen-create-image --hostname=test "
                            "--ip=192.168.1.50", check=False)
    assert again.returncode == 0  # xen-tools 3.8 exits 0 on every abort
    assert "The LVM disk image already exists.  Aborting." in again.stdout

    nopw = ssh(lab, "ha1", "xen-create-image --hostname=test --ip=192.168.1.50 --force "
                           "</dev/null", check=False, timeout=60)
    assert nopw.returncode == 0  # 3.8 ignores passwd's status: only its words tell
    assert "passwd: Authentication token manipulation error" in nopw.stdout
    assert "lvremove" not in nopw.stdout


def test_xen_create_image_errors(lab: manager.LabInfo) -> None:
    nosuch = ssh(lab, "ha1", "xen-create-image --hostname=web --ip=192.168.1.51 --lvm=vgx",
                 check=False)
    # 3.8 pipes commands through tee, so only the missing LV afterwards stops it (exit 0)
    assert nosuch.returncode == 0
    assert ("The LVM partition image creation failed to create /dev/vgx/web-swap.\naborting"
            in nosuch.stdout)
    assert 'Volume group "vgx" doesn\'t exist' in ssh(lab, "ha1",
                                                     "cat /var/log/xen-tools/web.log").stdout
    big = ssh(lab, "ha1", "xen-create-image --hostname=big --ip=192.168.1.52 --size=60Gb",
              check=False)
    assert big.returncode == 0
    assert "The LVM partition image creation failed to create /dev/vg/big-disk." in big.stdout
    nolvm = ssh(lab, "ha1", "sed -i 's/^lvm = vg/# lvm = vg/' /etc/xen-tools/xen-tools.conf && "
                            "xen-create-image --hostname=web --ip=192.168.1.51", check=False)
    assert nolvm.returncode == 0 and "Error:  No recognised installation type." in nolvm.stdout
    listed = ssh(lab, "ha1", "xen-list-images").stdout
    assert "Name: test" in listed and "IP: 192.168.1.50" in listed


def test_lvs_survive_a_reboot(lab: manager.LabInfo) -> None:
    before = ssh(lab, "ha1", "lvs --noheadings -o lv_name,lv_attr").stdout
    ssh(lab, "ha1", "reboot", check=False)
    time.sleep(3)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        result = ssh(lab, "ha1", "cat /usr/lib/runbook-lab/node/boot_count", check=False,
                     timeout=10)
        if result.returncode == 0 and result.stdout.strip() not in ("", "1"):
            break
        time.sleep(1)
    assert ssh(lab, "ha1", "lvs --noheadings -o lv_name,lv_attr").stdout == before
    assert ssh(lab, "ha1", "readlink /dev/vg/test-disk").stdout.strip() == (
        "/dev/mapper/vg-test--disk")
    assert 'TYPE="ext3"' in ssh(lab, "ha1", "blkid /dev/vg/test-disk").stdout
