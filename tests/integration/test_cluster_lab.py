"""Runbooks 01 to 05 end to end on a lab of their own, refusals included.

One scenario in file order on one lab: a dry run of everything on fresh nodes,
then the refusals that guard data (a partition holding a filesystem, a missing
DomU password), the full run, a second run with no change, a verify, and the
refusals around running DomUs (a DomU running on the peer, a reboot that would
kill a DomU, an image left halfway). The lab comes down even when a test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.labtools import own_lab, ssh
from xenlab import manager, storage

pytestmark = pytest.mark.integration

LAB = "rbic"
PORT_BASE = 2321
PASSWORD = "Lab-DomU-pw-7731"
RUNBOOK = str(Path(sys.executable).parent / "runbook")
STEP = re.compile(r"^\s+(ha[12])\s+(\d\d-[a-z-]+) · (\S+)\s+"
                  r"(ok|changed|failed|skipped|would change)\s+[\d.]+s\s*(.*)$")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def runbook(lab: manager.LabInfo, *args: str, reports: Path | None = None,
            password: str | None = PASSWORD, inventory: Path | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNBOOK_DOMU_PASSWORD"}
    if password is not None:
        env["RUNBOOK_DOMU_PASSWORD"] = password
    extra = ["-i", str(inventory or lab.inventory_dir)]
    if reports is not None:
        extra += ["--report-dir", str(reports)]
    return subprocess.run([RUNBOOK, *args, *extra], capture_output=True, text=True,
                          timeout=900, check=False, env=env)




def steps(output: str) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(host, runbook, step) -> (status, message) for every step line of a run."""
    return {(m[1], m[2], m[3]): (m[4], m[5]) for m in map(STEP.match, output.splitlines()) if m}


def report_files(output: str) -> list[Path]:
    html = re.search(r"^report: +(\S+)$", output, re.M)
    assert html, output
    path = Path(html[1])
    return [path, path.with_suffix(".xml")]


def test_dry_run_of_everything_on_fresh_nodes_changes_nothing(lab: manager.LabInfo) -> None:
    done = runbook(lab, "run", "all", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(done.stdout)
    assert result[("ha1", "02-xen", "reboot")][0] == "would change"
    assert result[("ha1", "05-domu", "image")][0] == "would change"
    assert "would run: xen-create-image --hostname=test --ip=192.168.1.50" in done.stdout
    assert "would run: lvcreate -L 5120m -n test-disk vg" in done.stdout
    assert ssh(lab, "ha1", "uname -r").stdout.strip() == "2.6.24-19-server"
    assert "lvm2" not in ssh(lab, "ha1", "dpkg -l | awk '{print $2}'").stdout


def test_lvm_refuses_a_partition_holding_a_filesystem(lab: manager.LabInfo) -> None:
    storage.write_signature(LAB, "ha2", "/dev/sda3", "ext3")
    done = runbook(lab, "run", "01", "02", "03")
    assert done.returncode == 1
    result = steps(done.stdout)
    assert result[("ha1", "03-lvm", "volume-group")][0] == "changed"
    status, message = result[("ha2", "03-lvm", "volume-group")]
    assert status == "failed"
    assert "refused: /dev/sda3 holds a ext3 signature" in message and "--force" in message
    assert 'TYPE="ext3"' in ssh(lab, "ha2", "blkid /dev/sda3").stdout
    assert ssh(lab, "ha2", "pvs --noheadings -o pv_name", check=False).stdout.strip() == ""


def test_force_lets_lvm_overwrite_that_host(lab: manager.LabInfo) -> None:
    done = runbook(lab, "run", "03", "--force", "ha2")
    assert done.returncode == 0, done.stdout
    message = steps(done.stdout)[("ha2", "03-lvm", "volume-group")][1]
    assert message.startswith("FORCED: overwrote a ext3 signature on /dev/sda3")
    assert "LVM2_member" in ssh(lab, "ha2", "blkid /dev/sda3").stdout


def test_domu_without_its_password_fails_before_any_change(lab: manager.LabInfo) -> None:
    done = runbook(lab, "run", "04", "05", password=None)
    assert done.returncode == 1
    status, message = steps(done.stdout)[("ha1", "05-domu", "image")]
    assert status == "failed" and "RUNBOOK_DOMU_PASSWORD is not set" in message
    assert "test-disk" not in ssh(lab, "ha1", "lvs --noheadings -o lv_name").stdout


def test_everything_runs_and_passes(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, "run", "all", reports=reports)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all steps and checks passed" in done.stdout
    html, xml = report_files(done.stdout)
    assert "01-base+02-xen+03-lvm+04-xen-tools+05-domu" in html.name
    text = html.read_text()
    for check in ("test_running_the_xen_kernel[ha2]", "test_volume_group_size[ha1]",
                  "test_effective_setting[ha1-mirror]", "test_lvs_on_both_nodes_with_equal_sizes"):
        assert check in text
    for leaked in (done.stdout, done.stderr, text, xml.read_text()):
        assert PASSWORD not in leaked


def test_second_run_changes_nothing(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, "run", "all", reports=reports)
    assert done.returncode == 0, done.stdout
    assert {status for status, _ in steps(done.stdout).values()} == {"ok"}
    assert "steps: 0 changed" in done.stdout


def test_verify_everything(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, "verify", reports=reports)
    assert done.returncode == 0, done.stdout
    assert steps(done.stdout) == {}


def test_refuses_to_start_a_domu_running_on_the_peer(lab: manager.LabInfo) -> None:
    cfg = ssh(lab, "ha1", "cat /etc/xen/test.cfg").stdout
    # The guide copies test.cfg to ha2; start it there.
    ssh(lab, "ha2", "cat > /etc/xen/test.cfg && xm create /etc/xen/test.cfg", stdin=cfg)
    ssh(lab, "ha1", "rm /var/lib/runbook/first-boot-test")
    done = runbook(lab, "run", "05")
    assert done.returncode == 1
    status, message = steps(done.stdout)[("ha1", "05-domu", "first-boot")]
    assert status == "failed"
    assert "refused: test is running on ha2: starting it here too" in message
    assert "test" not in ssh(lab, "ha1", "xm list").stdout
    assert "passed  test_not_running_on_both_nodes[test]" in done.stdout


def test_refuses_a_reboot_that_would_kill_a_domu(lab: manager.LabInfo, tmp_path: Path) -> None:
    changed = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, changed)
    groups = changed / "groups.yaml"
    data = yaml.safe_load(groups.read_text())
    data["xen_cluster"]["data"]["xen"]["dom0_memory_mb"] = 768
    groups.write_text(yaml.safe_dump(data))
    done = runbook(lab, "run", "02", inventory=changed)
    assert done.returncode == 1
    result = steps(done.stdout)
    assert result[("ha1", "02-xen", "reboot")][0] == "changed"  # no DomU there: rebooted
    status, message = result[("ha2", "02-xen", "reboot")]
    assert status == "failed" and "but DomUs run here (test)" in message
    assert "test" in ssh(lab, "ha2", "xm list").stdout
    ssh(lab, "ha2", "xm shutdown -w test")
    restored = runbook(lab, "run", "02")
    assert restored.returncode == 0, restored.stdout


def test_refuses_an_image_left_halfway(lab: manager.LabInfo) -> None:
    ssh(lab, "ha1", "mv /etc/xen/test.cfg /root/test.cfg.saved")
    done = runbook(lab, "run", "05")
    assert done.returncode == 1
    status, message = steps(done.stdout)[("ha1", "05-domu", "image")]
    assert status == "failed"
    assert "test-disk, test-swap already exist(s) without the rest of the image" in message
    ssh(lab, "ha1", "mv /root/test.cfg.saved /etc/xen/test.cfg")
    again = runbook(lab, "run", "05")
    assert again.returncode == 0, again.stdout
