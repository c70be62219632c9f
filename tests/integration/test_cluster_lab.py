"""Runbooks 01 to 05 end to end on a lab of their own (rbic, ports 2321/2322), refusals included.

One scenario in file order on one lab: a dry run of 01-05 on fresh nodes, then the
refusals that guard data (a partition holding a filesystem, a missing DomU password),
the full run, a second run with no change, a verify, and the refusals around running
DomUs (a DomU running on the peer, a reboot that would kill a DomU, an image left
halfway); last, `run all` over every runbook there is. The runbooks are named
explicitly (``RUNBOOKS``) so a new runbook changes only the last test. Each command is
judged by its exit status and its run record; node state is read over SSH. The lab
comes down even when a test fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runbook import engine
from tests.integration.labtools import LAB_TESTS, Invocation, invoke, own_lab, ssh
from xenlab import manager, storage

pytestmark = LAB_TESTS

LAB = "rbic"
PORT_BASE = 2321
PASSWORD = "Lab-DomU-pw-7731"
AUTHKEY = secrets.token_hex(20)  # 08-heartbeat's key, for the `run all` test
SECRETS_ENV = ("RUNBOOK_DOMU_PASSWORD", "RUNBOOK_HA_AUTHKEY")
RUNBOOKS = ("01", "02", "03", "04", "05")  # what this scenario builds and proves
RUNBOOK_IDS = ["01-base", "02-xen", "03-lvm", "04-xen-tools", "05-domu"]
BLKID_TYPE = "blkid -c /dev/null -s TYPE -o value"  # e2fsprogs 1.40.8: no -p, no -o export


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE, small_disks=True) as info:
        yield info


def runbook(lab: manager.LabInfo, reports: Path, *args: str, password: str | None = PASSWORD,
            authkey: str | None = None, inventory: Path | None = None) -> Invocation:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS_ENV}
    for name, value in zip(SECRETS_ENV, (password, authkey), strict=True):
        if value is not None:
            env[name] = value
    return invoke(*args, "-i", str(inventory or lab.inventory_dir), reports=reports, env=env)


def statuses_of(done: Invocation) -> set[str]:
    return {s.status for s in done.ran().steps}


def no_secret_in(done: Invocation, *values: str) -> None:
    __tracebackhide__ = True
    written = done.text_of_reports()
    for value in values:
        assert value not in written, f"a secret leaked into the output or {done.files}"


def test_dry_run_on_fresh_nodes_changes_nothing(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *RUNBOOKS, "--dry-run")
    assert done.exit_status == 0, done
    plan = done.ran()
    assert plan.invocation.dry_run and plan.invocation.runbooks == RUNBOOK_IDS
    assert statuses_of(done) <= {"changed", "ok"}, done
    assert done.step("ha1", "02-xen", "reboot").status == "changed"
    image = done.step("ha1", "05-domu", "image")
    assert image.status == "changed"
    predicted = [c.command for c in image.commands if c.predicted]
    assert predicted[0].startswith("xen-create-image --hostname=test --ip=192.168.1.50 "), image
    peer = done.step("ha2", "05-domu", "peer-lvs")
    assert "lvcreate -L 64m -n test-disk vg" in [c.command for c in peer.commands
                                                     if c.predicted], peer
    no_secret_in(done, PASSWORD)
    assert ssh(lab, "ha1", "uname -r").stdout.strip() == "2.6.24-19-server"
    assert "lvm2" not in ssh(lab, "ha1", "dpkg -l | awk '{print $2}'").stdout


def test_lvm_refuses_a_partition_holding_a_filesystem(lab: manager.LabInfo,
                                                      reports: Path) -> None:
    storage.write_signature(LAB, "ha2", "/dev/sda3", "ext3")
    done = runbook(lab, reports, "run", "01", "02", "03")
    assert done.exit_status == 1, done
    assert done.step("ha1", "03-lvm", "volume-group").status == "changed"
    refused = done.step("ha2", "03-lvm", "volume-group")
    assert refused.status == "failed"
    assert "refused: /dev/sda3 holds a ext3 signature" in refused.message
    assert "--force" in refused.message
    assert done.ran().failed_steps == [refused]
    assert ssh(lab, "ha2", f"{BLKID_TYPE} /dev/sda3").stdout == "ext3\n"
    assert ssh(lab, "ha2", "pvs --noheadings -o pv_name", check=False).stdout.strip() == ""


def test_force_lets_lvm_overwrite_that_host(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", "03", "--force", "ha2")
    assert done.exit_status == 0, done
    assert done.ran().invocation.forced == ["ha2"]
    forced = done.step("ha2", "03-lvm", "volume-group")
    assert forced.status == "changed"
    assert forced.message.startswith("FORCED: overwrote a ext3 signature on /dev/sda3"), forced
    assert done.step("ha1", "03-lvm", "volume-group").status == "ok"
    assert ssh(lab, "ha2", f"{BLKID_TYPE} /dev/sda3").stdout == "lvm2pv\n"


def test_domu_without_its_password_fails_before_any_change(lab: manager.LabInfo,
                                                           reports: Path) -> None:
    done = runbook(lab, reports, "run", "04", "05", password=None)
    assert done.exit_status == 1, done
    image = done.step("ha1", "05-domu", "image")
    assert image.status == "failed" and "RUNBOOK_DOMU_PASSWORD is not set" in image.message
    assert not any(c.command.startswith("xen-create-image") for c in image.commands)
    assert "test-disk" not in ssh(lab, "ha1", "lvs --noheadings -o lv_name").stdout


def test_everything_runs_and_passes(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *RUNBOOKS)
    assert done.exit_status == 0, done
    record = done.ran()
    assert record.passed and record.invocation.runbooks == RUNBOOK_IDS
    assert done.record_file is not None
    assert "-run-01-base+02-xen+03-lvm+04-xen-tools+05-domu" in done.record_file.name
    checks = done.checks()
    for name in ("test_running_the_xen_kernel[ha2]", "test_volume_group_size[ha1]",
                 "test_effective_setting[ha1-mirror]", "test_lvs_on_both_nodes_with_equal_sizes"
                 "[test]"):
        assert checks[name].outcome == "passed", checks[name]
    assert checks["test_lvs_on_both_nodes_with_equal_sizes[test]"].host is None  # cluster-wide
    assert {c.runbook for c in record.checks} == set(RUNBOOK_IDS)
    no_secret_in(done, PASSWORD)


def test_second_run_changes_nothing(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *RUNBOOKS)
    assert done.exit_status == 0, done
    assert statuses_of(done) == {"ok"}, done
    assert done.ran().totals.steps["changed"] == 0


def test_verify_everything(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "verify", *RUNBOOKS)
    assert done.exit_status == 0, done
    record = done.ran()
    assert record.invocation.mode == "verify" and record.steps == []
    assert record.passed and {c.runbook for c in record.checks} == set(RUNBOOK_IDS)


def test_refuses_to_start_a_domu_running_on_the_peer(lab: manager.LabInfo,
                                                     reports: Path) -> None:
    cfg = ssh(lab, "ha1", "cat /etc/xen/test.cfg").stdout
    # The guide copies test.cfg to ha2; start it there.
    ssh(lab, "ha2", "cat > /etc/xen/test.cfg && xm create /etc/xen/test.cfg", stdin=cfg)
    ssh(lab, "ha1", "rm /var/lib/runbook/first-boot-test")
    done = runbook(lab, reports, "run", "05")
    assert done.exit_status == 1, done
    first_boot = done.step("ha1", "05-domu", "first-boot")
    assert first_boot.status == "failed"
    assert "refused: test is running on ha2: starting it here too" in first_boot.message
    assert not any(c.command.startswith("xm create") for c in first_boot.commands)
    assert "test" not in ssh(lab, "ha1", "xm list").stdout
    assert done.checks()["test_not_running_on_both_nodes[test]"].outcome == "passed"


def test_refuses_a_reboot_that_would_kill_a_domu(lab: manager.LabInfo, tmp_path: Path,
                                                 reports: Path) -> None:
    changed = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, changed)
    groups = changed / "groups.yaml"
    data = yaml.safe_load(groups.read_text())
    data["xen_cluster"]["data"]["xen"]["dom0_memory_mb"] = 768
    groups.write_text(yaml.safe_dump(data))
    done = runbook(lab, reports, "run", "02", inventory=changed)
    assert done.exit_status == 1, done
    assert done.step("ha1", "02-xen", "reboot").status == "changed"  # no DomU there: rebooted
    refused = done.step("ha2", "02-xen", "reboot")
    assert refused.status == "failed" and "but DomUs run here (test)" in refused.message
    assert "test" in ssh(lab, "ha2", "xm list").stdout
    ssh(lab, "ha2", "xm shutdown -w test")
    restored = runbook(lab, reports, "run", "02")
    assert restored.exit_status == 0, restored


def test_refuses_an_image_left_halfway(lab: manager.LabInfo, reports: Path) -> None:
    ssh(lab, "ha1", "mv /etc/xen/test.cfg /root/test.cfg.saved")
    done = runbook(lab, reports, "run", "05")
    assert done.exit_status == 1, done
    image = done.step("ha1", "05-domu", "image")
    assert image.status == "failed"
    assert "test-disk, test-swap already exist(s) without the rest of the image" in image.message
    ssh(lab, "ha1", "mv /root/test.cfg.saved /etc/xen/test.cfg")
    again = runbook(lab, reports, "run", "05")
    assert again.exit_status == 0, again


def test_a_domu_recreated_from_nothing_boots_and_passes(lab: manager.LabInfo,
                                                        reports: Path) -> None:
    """Issue 7.5: a DomU re-created from nothing (new image, new MAC) used to fail its first
    boot every time (one ping right after xm create) and stay running; it now waits for it."""
    ssh(lab, "ha1", "lvremove -f vg/test-disk vg/test-swap && rm /etc/xen/test.cfg "
                    "/var/lib/runbook/first-boot-test")
    done = runbook(lab, reports, "run", "05")
    assert done.exit_status == 0, done
    assert done.step("ha1", "05-domu", "image").status == "changed"
    boot = done.step("ha1", "05-domu", "first-boot")
    assert boot.status == "changed"
    assert boot.message.startswith("test: started, answered ping at 192.168.1.50 after "), boot
    assert "test" not in ssh(lab, "ha1", "xm list").stdout  # shut down again


def test_run_all_builds_and_proves_every_runbook(lab: manager.LabInfo, reports: Path) -> None:
    """`run all` on the nodes 01-05 built: every runbook there is, its steps and checks."""
    done = runbook(lab, reports, "run", "all", authkey=AUTHKEY)
    assert done.exit_status == 0, done
    record = done.ran()
    everything = [rb.id for rb in engine.discover()]
    assert record.invocation.runbooks == everything and record.passed
    assert {c.runbook for c in record.checks} == set(everything)
    no_secret_in(done, PASSWORD, AUTHKEY)
