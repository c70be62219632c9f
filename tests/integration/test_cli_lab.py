"""The `runbook` command end to end against a lab of its own (rbit, ports 2261/2262), over SSH.

The tests run in file order as one scenario on one lab: a dry run on fresh nodes,
the first run, a second run that changes nothing, a verify, then the bad-input
cases. Each command is judged by its exit status and the run record it writes (the
JUnit file where that is the subject), never by its terminal text; node state is read
over SSH. The lab is brought down at the end even when a test fails.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.labtools import LAB_TESTS, Invocation, invoke, junit_cases, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbit"
PORT_BASE = 2261
STEPS = ("interfaces", "hosts", "hostname", "ntp")  # 01-base's steps, in order
HOSTS = ("ha1", "ha2")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def runbook(lab: manager.LabInfo, reports: Path, *args: str,
            inventory: Path | None = None) -> Invocation:
    return invoke(*args, "-i", str(inventory or lab.inventory_dir), reports=reports)


def node_state(info: manager.LabInfo) -> dict[str, str]:
    files = "/etc/hosts /etc/hostname /etc/network/interfaces"
    command = f"hostname; cat {files}; ls /etc/ntp.conf 2>&1; true"
    return {n: ssh(info, n, command).stdout for n in info.nodes}


def every_step(status: str) -> dict[tuple[str, str, str], str]:
    return {(h, "01-base", s): status for h in HOSTS for s in STEPS}


def predicts_its_plan(done: Invocation) -> None:
    """A dry run's changes are predicted, never run: per step the predicted commands are
    exactly its plan's actions (``run: CMD`` predicts CMD, a ``write ...`` line itself)."""
    __tracebackhide__ = True
    for step in done.ran().steps:
        assert all(c.host == step.host for c in step.commands), step
        predicted = [c.command for c in step.commands if c.predicted]
        assert predicted == [line.removeprefix("run: ") for line in step.plan], step


def test_dry_run_on_fresh_nodes_predicts_and_changes_nothing(
        lab: manager.LabInfo, reports: Path) -> None:
    before = node_state(lab)
    done = runbook(lab, reports, "run", "01-base", "--dry-run")
    assert done.exit_status == 0, done
    plan = done.ran()
    assert plan.invocation.dry_run and plan.invocation.runbooks == ["01-base"]
    assert done.statuses() == every_step("changed"), done  # "would change"
    assert plan.checks == [] and plan.unreachable == {}
    predicts_its_plan(done)
    for host in HOSTS:
        ntp = done.step(host, "01-base", "ntp")
        install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q ntp"
        assert f"run: {install}" in ntp.plan
        assert next(c.command for c in ntp.commands if c.predicted) == install
        hosts = done.step(host, "01-base", "hosts")
        assert re.search(rf"^\+127\.0\.1\.1\s+{host}\.domain\.local\s+{host}$", hosts.diff, re.M)
        assert done.step(host, "01-base", "interfaces").plan[0].startswith(
            "write /etc/network/interfaces")
    assert node_state(lab) == before


def test_first_run_configures_and_passes_its_checks(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", "01-base")
    assert done.exit_status == 0, done
    record = done.ran()
    assert done.statuses() == every_step("changed"), done
    assert not record.invocation.dry_run and record.passed
    assert not any(c.predicted for s in record.steps for c in s.commands)
    assert ssh(lab, "ha1", "hostname -f").stdout.strip() == "ha1.domain.local"
    fqdn = done.checks()["test_hostname_f_is_fqdn[ha2]"]
    assert (fqdn.outcome, fqdn.host, fqdn.finding) == ("passed", "ha2", "")
    assert any(e.stdout.strip() == "ha2.domain.local" for e in fqdn.evidence), fqdn.evidence
    assert record.totals.checks["passed"] == len(record.checks) > 0
    assert done.record_file is not None
    html, junit = (done.record_file.with_suffix(s) for s in (".html", ".xml"))
    assert html.stat().st_size > 0
    assert junit_cases(junit)["test_hostname_f_is_fqdn[ha2]"] == "passed"


def test_second_run_reports_no_change(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", "01-base")
    assert done.exit_status == 0, done
    assert done.statuses() == every_step("ok"), done
    totals = done.ran().totals
    assert (totals.steps["changed"], totals.steps["ok"], totals.steps["failed"]) == (0, 8, 0)


def test_verify_passes_and_changes_nothing(lab: manager.LabInfo, reports: Path) -> None:
    before = node_state(lab)
    done = runbook(lab, reports, "verify", "01-base")
    assert done.exit_status == 0, done
    record = done.ran()
    assert record.invocation.mode == "verify" and record.steps == []
    assert record.passed and record.totals.checks["passed"] == len(record.checks) > 0
    assert done.record_file is not None and "-verify-01-base" in done.record_file.name
    assert node_state(lab) == before


def test_dry_run_after_a_run_predicts_nothing(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", "01-base", "--dry-run")
    assert done.exit_status == 0, done
    assert done.statuses() == every_step("ok"), done
    for step in done.ran().steps:
        assert step.plan == [] and step.diff == ""
        assert not any(c.predicted for c in step.commands), step.commands


def usage_error(done: Invocation) -> None:
    """Exit 2 before anything ran: no record, no report, no traceback."""
    __tracebackhide__ = True
    assert done.exit_status == 2, done
    assert done.record is None and done.files == [], done.files
    assert "Traceback" not in done.output, done


def test_unknown_runbook_is_a_usage_error(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", "42-nope")
    usage_error(done)
    assert done.said("unknown runbook '42-nope'"), done


def test_malformed_inventory_names_file_and_line(lab: manager.LabInfo, tmp_path: Path,
                                                 reports: Path) -> None:
    broken = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, broken)
    hosts = broken / "hosts.yaml"
    lines = hosts.read_text().splitlines()
    lines.insert(3, "  : nonsense: [")
    hosts.write_text("\n".join(lines) + "\n")
    done = runbook(lab, reports, "run", "01-base", inventory=broken)
    usage_error(done)
    # The error message is the product here: it must name the file and the line.
    assert done.said(f"{hosts}, line 4"), done


def test_missing_key_names_file_host_and_key(lab: manager.LabInfo, tmp_path: Path,
                                             reports: Path) -> None:
    broken = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, broken)
    hosts = broken / "hosts.yaml"
    data = yaml.safe_load(hosts.read_text())
    del data["ha2"]["data"]["fqdn"]
    hosts.write_text(yaml.safe_dump(data))
    done = runbook(lab, reports, "verify", "01-base", inventory=broken)
    usage_error(done)
    assert done.said(f"{hosts}, line") and done.said("host 'ha2': key 'data.fqdn'"), done


def test_unreachable_node_fails_alone(lab: manager.LabInfo, tmp_path: Path,
                                      reports: Path) -> None:
    moved = tmp_path / "inv"
    shutil.copytree(lab.inventory_dir, moved)
    hosts = moved / "hosts.yaml"
    data = yaml.safe_load(hosts.read_text())
    data["ha2"]["port"] = PORT_BASE + 50  # nothing listens there
    hosts.write_text(yaml.safe_dump(data))
    done = runbook(lab, reports, "run", "01-base", inventory=moved)
    assert done.exit_status == 1, done
    record = done.ran()
    assert list(record.unreachable) == ["ha2"]
    assert record.unreachable["ha2"] == (
        f"connection to 127.0.0.1:{PORT_BASE + 50} refused (no SSH server listening)")
    statuses = done.statuses()
    assert {statuses[("ha1", "01-base", s)] for s in STEPS} == {"ok"}, statuses
    # ha2's failure is its connection (record.unreachable): none of its steps ran
    assert {statuses[("ha2", "01-base", s)] for s in STEPS} == {"skipped"}, statuses
    assert not record.passed
    for check in record.checks:
        if check.host == "ha1":
            assert check.outcome == "passed", check
        else:
            assert check.outcome == "failed" and "unreachable" in check.finding, check
    assert done.record_file is not None
    assert junit_cases(done.record_file.with_suffix(".xml"))[
        "test_hostname_is_fqdn[ha1]"] == "passed"


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
