"""The end of a run against a lab of its own (rbtm, ports 2531/2532): the dry run's exit
statuses and plan, the findings of a node changed behind the tool's back, and the handover
report's path last.

One scenario on one lab, in file order: a plan on fresh nodes, the run, a plan that changes
nothing, then /etc/modules edited on ha2 and `verify`. Each command is judged by its exit
status and its run record; only the last lines of the output (where the paths are) are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.record import Finding
from tests.integration.labtools import LAB_TESTS, Invocation, invoke, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbtm"
PORT_BASE = 2531
IDS = ("01", "02")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def runbook(lab: manager.LabInfo, reports: Path, *args: str) -> Invocation:
    return invoke(*args, "-i", str(lab.inventory_dir), reports=reports)


def last_line_is_the_handover(done: Invocation) -> None:
    __tracebackhide__ = True
    last = done.output.rstrip().splitlines()[-1]
    assert done.record_file is not None
    assert last == f"handover: {done.record_file.with_suffix('.handover.html')}", done


def test_a_plan_of_changes_exits_2_and_is_written(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *IDS, "--dry-run", "--detailed-exitcode")
    assert done.exit_status == 2, done
    plan = done.ran()
    assert plan.invocation.mode == "plan" and plan.invocation.dry_run and plan.checks == []
    assert {s.status for s in plan.steps} == {"changed"}, done
    assert done.record_file is not None
    assert done.record_file.with_suffix(".xml").exists()
    last_line_is_the_handover(done)


def test_the_run_passes(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *IDS)
    assert done.exit_status == 0, done
    assert done.ran().passed
    cluster = {c.name for c in done.ran().checks if c.host is None}
    assert cluster == {"test_ntp_version_alike", "test_clocks_agree", "test_xen_packages_alike"}
    last_line_is_the_handover(done)


def test_a_plan_with_nothing_to_change_exits_0(lab: manager.LabInfo, reports: Path) -> None:
    done = runbook(lab, reports, "run", *IDS, "--dry-run", "--detailed-exitcode")
    assert done.exit_status == 0, done
    assert {s.status for s in done.ran().steps} == {"ok"}, done


def test_verify_states_the_finding_of_a_change_behind_the_tools_back(
        lab: manager.LabInfo, reports: Path) -> None:
    ssh(lab, "ha2", "sed -i '/^loop/d' /etc/modules")
    done = runbook(lab, reports, "verify", *IDS)
    assert done.exit_status == 1, done
    failed = done.ran().failed_checks
    assert [(c.name, c.findings) for c in failed] == [("test_loop_devices_extended[ha2]", [
        Finding("/etc/modules", '"loop max_loop=64"', "no loop line", "ha2",
                note="running max_loop is 64")])]
    assert done.ran().steps == []
    last_line_is_the_handover(done)
