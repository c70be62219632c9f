"""The `runbook` command end to end against a lab of its own, over real SSH.

The tests run in file order as one scenario on one lab: a dry run on fresh nodes,
the first run, a second run that changes nothing, a verify, then the bad-input
cases. The lab is brought down at the end even when a test fails.
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
from xenlab import manager

pytestmark = pytest.mark.integration

LAB = "rbit"
PORT_BASE = 2261
RUNBOOK = str(Path(sys.executable).parent / "runbook")
STEP_LINE = re.compile(r"^\s+(ha[12])\s+01-base · (\S+)\s+(ok|changed|failed|skipped|would change)")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def runbook(*args: str, reports: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--report-dir", str(reports)] if reports and args[0] in ("run", "verify") else []
    return subprocess.run(
        [RUNBOOK, *args, *extra], capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def step_statuses(output: str) -> dict[tuple[str, str], str]:
    return {(m[1], m[2]): m[3] for m in map(STEP_LINE.match, output.splitlines()) if m}


def node_state(info: manager.LabInfo) -> dict[str, str]:
    files = "/etc/hosts /etc/hostname /etc/network/interfaces"
    command = f"hostname; cat {files}; ls /etc/ntp.conf 2>&1; true"
    return {n: ssh(info, n, command).stdout for n in info.nodes}


def report_of(output: str) -> Path:
    match = re.search(r"^report: +(\S+)$", output, re.M)
    assert match, output
    return Path(match[1])


def test_dry_run_on_fresh_nodes_predicts_and_changes_nothing(lab: manager.LabInfo) -> None:
    before = node_state(lab)
    done = runbook("run", "01-base", "-i", str(lab.inventory_dir), "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = step_statuses(done.stdout)
    assert set(statuses.values()) == {"would change"}, done.stdout
    assert "would run: DEBIAN_FRONTEND=noninteractive apt-get install -y -q ntp" in done.stdout
    assert re.search(r"^\s+\+127\.0\.1\.1\s+ha1\.domain\.local\s+ha1$", done.stdout, re.M)
    assert "write /etc/network/interfaces" in done.stdout
    assert node_state(lab) == before


def test_first_run_configures_and_passes_its_checks(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook("run", "01-base", "-i", str(lab.inventory_dir), reports=reports)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = step_statuses(done.stdout)
    assert len(statuses) == 8 and set(statuses.values()) == {"changed"}, done.stdout
    assert ssh(lab, "ha1", "hostname -f").stdout.strip() == "ha1.domain.local"
    html = report_of(done.stdout).read_text()
    assert "test_hostname_f_is_fqdn[ha2]" in html
    assert "ha2.domain.local" in html and "Evidence" in html
    assert report_of(done.stdout).with_suffix(".xml").exists()


def test_second_run_reports_no_change(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook("run", "01-base", "-i", str(lab.inventory_dir), reports=reports)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = step_statuses(done.stdout)
    assert len(statuses) == 8 and set(statuses.values()) == {"ok"}, done.stdout
    assert "steps: 0 changed, 8 ok, 0 failed" in done.stdout


def test_verify_passes_and_changes_nothing(lab: manager.LabInfo, reports: Path) -> None:
    before = node_state(lab)
    done = runbook("verify", "01-base", "-i", str(lab.inventory_dir), reports=reports)
    assert done.returncode == 0, done.stdout + done.stderr
    assert step_statuses(done.stdout) == {}
    assert "verify-01-base" in str(report_of(done.stdout))
    assert node_state(lab) == before


def test_dry_run_after_a_run_predicts_nothing(lab: manager.LabInfo) -> None:
    done = runbook("run", "01-base", "-i", str(lab.inventory_dir), "--dry-run")
    assert done.returncode == 0
    assert set(step_statuses(done.stdout).values()) == {"ok"}, done.stdout
    assert "would run" not in done.stdout


def test_unknown_runbook_is_a_usage_error(lab: manager.LabInfo) -> None:
    done = runbook("run", "42-nope", "-i", str(lab.inventory_dir))
    assert done.returncode == 2
    assert "unknown runbook '42-nope'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_malformed_inventory_names_file_and_line(lab: manager.LabInfo, tmp_path: Path) -> None:
    broken = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, broken)
    hosts = broken / "hosts.yaml"
    lines = hosts.read_text().splitlines()
    lines.insert(3, "  : nonsense: [")
    hosts.write_text("\n".join(lines) + "\n")
    done = runbook("run", "01-base", "-i", str(broken))
    assert done.returncode == 2, done.stdout
    assert f"{hosts}, line" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_missing_key_names_file_host_and_key(lab: manager.LabInfo, tmp_path: Path) -> None:
    broken = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, broken)
    hosts = broken / "hosts.yaml"
    data = yaml.safe_load(hosts.read_text())
    del data["ha2"]["data"]["fqdn"]
    hosts.write_text(yaml.safe_dump(data))
    done = runbook("verify", "01-base", "-i", str(broken))
    assert done.returncode == 2
    assert "hosts.yaml" in done.stdout and "'ha2'" in done.stdout and "fqdn" in done.stdout


def test_unreachable_node_fails_alone(lab: manager.LabInfo, tmp_path: Path,
                                      reports: Path) -> None:
    moved = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, moved)
    hosts = moved / "hosts.yaml"
    data = yaml.safe_load(hosts.read_text())
    data["ha2"]["port"] = PORT_BASE + 50  # nothing listens there
    hosts.write_text(yaml.safe_dump(data))
    done = runbook("run", "01-base", "-i", str(moved), reports=reports)
    assert done.returncode == 1
    statuses = step_statuses(done.stdout)
    assert statuses[("ha1", "interfaces")] == "ok" and statuses[("ha1", "ntp")] == "ok"
    assert statuses[("ha2", "interfaces")] == "failed"
    assert statuses[("ha2", "ntp")] == "skipped"
    assert f"ha2 unreachable: cannot open a TCP connection to 127.0.0.1:{PORT_BASE + 50}" in (
        done.stdout)
    assert "passed  test_hostname_is_fqdn[ha1]" in done.stdout
    html = report_of(done.stdout).read_text()
    assert "Hosts that could not be reached" in html


def test_long_commands_never_hang_the_session(lab: manager.LabInfo) -> None:
    """Regression: a line over 4095 bytes sent while the shell was between commands was cut
    by the terminal (canonical mode) and the session hung; now long commands are chunked."""
    from nornir.core.task import Result, Task

    from runbook import remote
    from runbook.inventory import load_inventory, open_nornir

    nr = open_nornir(load_inventory(lab.inventory_dir))
    payload = "A" * 7000

    def task(task: Task) -> Result:
        sizes = []
        for _ in range(25):
            done = remote.run(task, f"printf %s {payload} > /tmp/big; wc -c < /tmp/big",
                              timeout=10)
            sizes.append(done.stdout.strip())
            remote.run(task, "true")
        return Result(host=task.host, result=sizes)

    try:
        results = nr.run(task=task)
        for host, multi in results.items():
            assert not multi.failed, f"{host}: {multi[0].exception}"
            assert multi[0].result == ["7000"] * 25
    finally:
        nr.close_connections()
