"""The lab's DRBD on lab rbdr: real TCP replication over the crossover link, real data.

Two resources on 32 MiB LVs (meta data on one meta LV at indexes 0 and 1), the initial sync
forced on ha1 at 12 MiB/s, the progress line advancing, identical data on both nodes, the link
cut and restored, a second primary refused, a split brain detected and recovered by hand.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB, PORT_BASE = "rbdr", 2421
PROC = "cat /proc/drbd"
# r0 keeps the after-sb defaults (disconnect): a split brain needs the manual recovery.
DRBD_CONF = """\
global { usage-count no; }
common { syncer { rate 12M; } }
resource r0 {
  protocol C;
  startup { wfc-timeout 20; degr-wfc-timeout 20; }
  disk { on-io-error detach; }
  net { ping-int 1; connect-int 1; timeout 20; }
  on ha1 { device /dev/drbd1; disk /dev/vg/r0; address 10.0.0.1:7788; meta-disk /dev/vg/meta[0]; }
  on ha2 { device /dev/drbd1; disk /dev/vg/r0; address 10.0.0.2:7788; meta-disk /dev/vg/meta[0]; }
}
resource r1 {
  protocol C;
  startup { wfc-timeout 20; degr-wfc-timeout 20; }
  disk { on-io-error detach; }
  net { ping-int 1; connect-int 1; after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary; }
  on ha1 { device /dev/drbd2; disk /dev/vg/r1; address 10.0.0.1:7789; meta-disk /dev/vg/meta[1]; }
  on ha2 { device /dev/drbd2; disk /dev/vg/r1; address 10.0.0.2:7789; meta-disk /dev/vg/meta[1]; }
}
"""  # noqa: E501
SETUP = ("printf 'auto eth1\\niface eth1 inet static\\n address 10.0.0.{n}\\n netmask "
         "255.255.255.0\\n' >> /etc/network/interfaces && ifup eth1"
         " && apt-get install -y lvm2 drbd8-utils >/dev/null"
         " && pvcreate /dev/sda3 >/dev/null && vgcreate vg /dev/sda3 >/dev/null"
         " && lvcreate -L 256M -n meta vg >/dev/null && lvcreate -L 32M -n r0 vg >/dev/null"
         " && lvcreate -L 32M -n r1 vg >/dev/null && cat > /etc/drbd.conf")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def both(lab: manager.LabInfo, command: str) -> dict[str, str]:
    """Run ``command`` on both nodes at once (as the runbook's cluster steps do)."""
    results: dict[str, str] = {}

    def one(node: str) -> None:
        results[node] = ssh(lab, node, command).stdout

    threads = [threading.Thread(target=one, args=(n,)) for n in ("ha1", "ha2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"ha1", "ha2"}, f"{command!r} failed on a node"
    return results


def wait_for(lab: manager.LabInfo, node: str, command: str, want: str,
             timeout: float = 20) -> float:
    """Seconds until ``command`` prints ``want`` on ``node``."""
    start = time.monotonic()
    while True:
        got = ssh(lab, node, command, check=False).stdout.strip()
        if got == want:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            pytest.fail(f"{node}: {command!r} printed {got!r}, not {want!r}, "
                        f"for {timeout:.0f}s")
        time.sleep(0.2)


def test_drbd_replicates_over_the_crossover_link(lab: manager.LabInfo) -> None:
    for n, node in ((1, "ha1"), (2, "ha2")):
        ssh(lab, node, SETUP.format(n=n), stdin=DRBD_CONF)
    ssh(lab, "ha1", "dd if=/dev/urandom of=/dev/vg/r0 bs=1M count=32 2>/dev/null && "
        "dd if=/dev/urandom of=/dev/vg/r1 bs=1M count=32 2>/dev/null")
    created = both(lab, "drbdadm create-md r0 && drbdadm create-md r1")
    assert "New drbd meta data block successfully created." in created["ha1"]
    again = ssh(lab, "ha1", "drbdadm create-md r0", check=False, stdin="no\n")
    assert again.returncode == 1
    assert "Valid meta data seems to be in place." in again.stdout
    assert again.stdout.rstrip().endswith("Operation cancelled.")

    started = both(lab, "/etc/init.d/drbd start")
    assert "Starting DRBD resources:    [ d(r0) s(r0) n(r0) d(r1) s(r1) n(r1) ]." in \
        started["ha1"]
    before = ssh(lab, "ha2", PROC).stdout
    assert " 1: cs:Connected ro:Secondary/Secondary ds:Inconsistent/Inconsistent C r----" \
        in before

    # the initial sync, forced on ha1 only, as the guide writes it
    ssh(lab, "ha1", "drbdsetup /dev/drbd1 primary -o && "
        "drbdadm -- --overwrite-data-of-peer primary r1")
    seen: list[float] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc = ssh(lab, "ha1", PROC).stdout
        seen += [float(p) for p in re.findall(r"sync'ed:\s*([\d.]+)%", proc)[:1]]
        if "ds:UpToDate/UpToDate" in proc and proc.count("ds:UpToDate/UpToDate") == 2:
            break
        time.sleep(0.5)
    assert len(set(seen)) >= 2 and seen == sorted(seen), f"progress did not advance: {seen}"
    log = ssh(lab, "ha1", "grep 'drbd1: Resync done' /var/log/kern.log").stdout
    assert re.search(r"Resync done \(total \d+ sec; paused 0 sec; \d+ K/sec\)", log)
    sums = both(lab, "md5sum < /dev/drbd1; md5sum < /dev/drbd2")
    assert sums["ha1"] == sums["ha2"]
    status = ssh(lab, "ha2", "/etc/init.d/drbd status").stdout
    assert re.search(r"1:r0\s+Connected\s+Secondary/Primary\s+UpToDate/UpToDate\s+C", status)

    # a second primary without allow-two-primaries
    refused = ssh(lab, "ha2", "drbdadm primary r0", check=False)
    assert refused.returncode == 11
    assert refused.stderr.splitlines() == [
        "1: State change failed: (-1) Multiple primaries not allowed by config",
        "Command 'drbdsetup 1 primary' terminated with exit code 11"]

    # the crossover cable pulled and plugged back
    manager.cut_link(LAB)
    wait_for(lab, "ha1", "drbdadm cstate r0", "WFConnection", timeout=10)
    wait_for(lab, "ha2", "drbdadm cstate r0", "WFConnection", timeout=10)
    manager.restore_link(LAB)
    wait_for(lab, "ha1", "drbdadm cstate r0", "Connected", timeout=10)
    wait_for(lab, "ha2", "drbdadm dstate r0", "UpToDate/UpToDate", timeout=10)

    # split brain: both primary while the cable is out
    manager.cut_link(LAB)
    wait_for(lab, "ha2", "drbdadm cstate r0", "WFConnection", timeout=10)
    ssh(lab, "ha2", "drbdadm primary r0")
    manager.restore_link(LAB)
    for node in ("ha1", "ha2"):
        wait_for(lab, node, "drbdadm cstate r0", "StandAlone", timeout=10)
        log = ssh(lab, node, "cat /var/log/kern.log").stdout
        assert "drbd1: Split-Brain detected, dropping connection!" in log
    time.sleep(2)  # it stays StandAlone
    assert ssh(lab, "ha1", "drbdadm cstate r0").stdout.strip() == "StandAlone"
    primary = ssh(lab, "ha2", "drbdadm -- --discard-my-data connect r0", check=False)
    assert primary.returncode == 10
    assert primary.stderr.splitlines()[0] == \
        "1: Failure: (123) --discard-my-data not allowed when primary."
    ssh(lab, "ha2", "drbdadm secondary r0 && drbdadm -- --discard-my-data connect r0")
    ssh(lab, "ha1", "drbdadm connect r0")
    wait_for(lab, "ha2", "drbdadm dstate r0", "UpToDate/UpToDate", timeout=15)
    assert ssh(lab, "ha2", "drbdadm role r0").stdout.strip() == "Secondary/Primary"
    sums = both(lab, "md5sum < /dev/drbd1")
    assert sums["ha1"] == sums["ha2"]


CFG = """\
kernel = '/boot/vmlinuz-2.6.24-19-xen'
memory = '128'
name = 't'
disk = [ 'drbd:r0,xvda2,w', 'drbd:r1,xvda1,w' ]
vif = [ 'ip=192.168.1.60' ]
root = '/dev/xvda2 ro'
"""


def reboot_both(lab: manager.LabInfo) -> None:
    before = both(lab, "cat /proc/sys/kernel/random/boot_id")
    for node in ("ha1", "ha2"):
        manager.reboot(LAB, node)
    deadline = time.monotonic() + 60
    for node in ("ha1", "ha2"):
        while True:
            now = ssh(lab, node, "cat /proc/sys/kernel/random/boot_id", check=False)
            if now.returncode == 0 and now.stdout not in ("", before[node]):
                break
            assert time.monotonic() < deadline, f"{node} did not come back from reboot"
            time.sleep(0.5)


def test_drbd_disks_of_a_domu(lab: manager.LabInfo) -> None:
    """Xen's drbd: disks: promote on create, refuse a second node, a migration only with
    allow-two-primaries; DRBD comes back at boot; a failing disk detaches and the DomU goes
    on through the peer, the repaired disk resyncs on attach; a dead node loses no
    acknowledged write."""
    both(lab, "apt-get install -y ubuntu-xen-server >/dev/null && sed -i "
         "\"s/^(xend-relocation-hosts-allow .*/(xend-relocation-hosts-allow '')/\" "
         f"/etc/xen/xend-config.sxp && cat > /etc/xen/t.cfg <<'EOF'\n{CFG}EOF")
    reboot_both(lab)  # into the -xen kernel; DRBD starts at boot (rc2.d) and reconnects
    wait_for(lab, "ha2", "drbdadm cstate r0", "Connected", timeout=30)
    wait_for(lab, "ha2", "drbdadm dstate r1", "UpToDate/UpToDate", timeout=20)
    assert ssh(lab, "ha2", "drbdadm role all").stdout == "Secondary/Secondary\n" * 2

    out = ssh(lab, "ha1", "xm create /etc/xen/t.cfg").stdout
    assert out.endswith("Started domain t\n")
    assert ssh(lab, "ha1", "drbdadm role all").stdout == "Primary/Secondary\n" * 2
    second = ssh(lab, "ha2", "xm create /etc/xen/t.cfg", check=False)
    assert second.returncode == 1
    assert "Error: Device 51714 (vbd) could not be connected. 1: State change " \
           "failed: (-1) Multiple primaries not allowed by config" in second.stderr
    held = ssh(lab, "ha1", "drbdadm secondary r0", check=False)
    assert (held.returncode, held.stderr.splitlines()[0]) == (
        11, "1: State change failed: (-12) Device is held open by someone")
    # the guide's boot test: after the shutdown both resources are Secondary/Secondary
    ssh(lab, "ha1", "xm shutdown -w t")
    wait_for(lab, "ha1", "drbdadm role all", "Secondary/Secondary\nSecondary/Secondary",
             timeout=5)
    ssh(lab, "ha1", "xm create /etc/xen/t.cfg")

    migrate = ssh(lab, "ha1", "xm migrate --live t 10.0.0.2", check=False)
    assert migrate.returncode == 1
    assert "(-1) Multiple primaries not allowed by config" in migrate.stderr
    assert manager.domains(LAB)["ha1"] == ["t"]

    time.sleep(1)
    first = manager.domu_last_write(LAB, "t")
    assert first is not None and first > 0
    manager.fail_disk(LAB, "ha1", "vg", "r0")
    wait_for(lab, "ha1", "drbdadm dstate r0", "Diskless/UpToDate", timeout=5)
    log = ssh(lab, "ha1", "cat /var/log/kern.log").stdout
    assert "drbd1: Local IO failed in drbd_endio_pri. Detaching..." in log
    time.sleep(1)
    later = manager.domu_last_write(LAB, "t")
    assert later is not None and later > first + 5, "the DomU stopped writing"
    manager.repair_disk(LAB, "ha1", "vg", "r0")
    ssh(lab, "ha1", "drbdadm attach r0")  # the writes it missed come back from ha2
    wait_for(lab, "ha1", "drbdadm dstate r0", "UpToDate/UpToDate", timeout=10)
    log = ssh(lab, "ha1", "cat /var/log/kern.log").stdout
    assert "block drbd1: Began resync as SyncTarget" in log

    # dual-primary for a moment: with allow-two-primaries the live migration goes through
    both(lab, "sed -i 's/net {/net { allow-two-primaries;/' /etc/drbd.conf && "
         "drbdadm adjust all")  # new net options: adjust reconnects with them
    wait_for(lab, "ha1", "drbdadm cstate r1", "Connected", timeout=10)
    wait_for(lab, "ha1", "drbdadm cstate r0", "Connected", timeout=10)
    ssh(lab, "ha1", "xm migrate --live t 10.0.0.2")
    assert manager.domains(LAB) == {"ha1": [], "ha2": ["t"]}
    wait_for(lab, "ha1", "drbdadm role r0", "Secondary/Primary", timeout=5)
    moved = manager.domu_last_write(LAB, "t")
    time.sleep(1)
    assert (manager.domu_last_write(LAB, "t") or 0) > (moved or 0), "no writes after migration"

    manager.power_off(LAB, "ha2")
    acked = manager.domu_last_write(LAB, "t")
    on_disk = manager.disk_seq(LAB, "ha1", "vg", "r0")
    assert acked is not None and on_disk is not None and on_disk >= acked, \
        f"acknowledged write {acked} lost: ha1's disk has {on_disk}"
    wait_for(lab, "ha1", "drbdadm cstate r0", "WFConnection", timeout=10)

    stopped = ssh(lab, "ha1", "/etc/init.d/drbd stop")
    assert stopped.stdout == "Stopping all DRBD resources.\n"
    status = ssh(lab, "ha1", "/etc/init.d/drbd status; echo rc=$?; cat /proc/drbd",
                 check=False)
    assert status.stdout == "rc=3\n"
    assert status.stderr.splitlines() == ["drbd not loaded",
                                          "cat: /proc/drbd: No such file or directory"]
