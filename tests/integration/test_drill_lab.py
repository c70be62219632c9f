"""runbook drill on a lab of its own (rbdl, ports 2541/2542): 01-08 from fresh with
`runbook run all`, then the three drills and the crash by heartbeat kill -9 (--hang), each judged
by its run record: the times present and within the lab inventory's bounds, nothing lost, every
DomU once on its home node at the end, an overlap reported when there was one.
The measured figures are printed (pytest -s). The lab comes down even when a test fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook.inventory import load_inventory
from runbook.record import DrillRecord
from tests.integration.labtools import LAB_TESTS, Invocation, invoke, junit_cases, own_lab
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbdl"
PORT_BASE = 2541
ENV = {**os.environ, "RUNBOOK_DOMU_PASSWORD": "Lab-DomU-pw-2541",
       "RUNBOOK_HA_AUTHKEY": "drill-Lab-key-2541"}
HOME = {"ha1": ["test"], "ha2": []}  # the lab inventory's one DomU, at home on ha1


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE, small_disks=True) as info:
        yield info


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def timings(lab: manager.LabInfo) -> tuple[int, int, int]:
    """(deadtime, initdead, keepalive) of the lab inventory's heartbeat section."""
    cluster = load_inventory(lab.inventory_dir, require=("base", "heartbeat"))
    hb = cluster.nodes["ha1"].heartbeat
    assert hb is not None
    return hb.deadtime, hb.initdead, hb.keepalive


def drill(lab: manager.LabInfo, reports: Path, scenario: str,
          *options: str) -> tuple[Invocation, DrillRecord]:
    began = time.monotonic()
    done = invoke("drill", scenario, *options, "-i", str(lab.inventory_dir), reports=reports,
                  env=ENV)
    measured = done.ran().drill
    assert measured is not None, f"no drill in the record\n{done}"
    print(f"\ndrill {scenario} {' '.join(options)} ({time.monotonic() - began:.0f} s): downtime "
          f"{measured.downtime_s} s, {measured.lost_pings} pings lost, time to recover "
          f"{measured.time_to_recover_s} s, failback {measured.failback_s} s, writes "
          f"{measured.acknowledged_write}/{measured.write_on_survivor} "
          f"(lost {measured.lost_writes}), overlaps {measured.overlaps}")
    return done, measured


def whole_at_the_end(done: Invocation, measured: DrillRecord) -> None:
    __tracebackhide__ = True
    assert done.exit_status == 0, str(done)
    assert measured.passed and measured.left_to_repair == [] and measured.overlaps == []
    assert manager.domains(LAB) == HOME  # the lab's own view, not the tool's
    record = done.ran()
    assert record.invocation.mode == "drill" and record.passed
    assert {c.name: c.outcome for c in record.checks}.items() >= {
        "cluster_whole_at_the_end": "passed", "no_domu_on_both_nodes": "passed"}.items()
    junit = next(p for p in done.files if p.suffix == ".xml")
    assert set(junit_cases(junit).values()) == {"passed"}
    handover = next(p for p in done.files if p.name.endswith(".handover.html"))
    assert f"{measured.downtime_s:.1f} s" in handover.read_text()  # the last drill's figures


def test_01_to_08_from_fresh(lab: manager.LabInfo, reports: Path) -> None:
    began = time.monotonic()
    done = invoke("run", "all", "-i", str(lab.inventory_dir), reports=reports, env=ENV,
                  timeout=2400)
    assert done.exit_status == 0, str(done)
    ran = {s.runbook for s in done.ran().steps}
    assert {"06-drbd", "07-migration", "08-heartbeat"} <= ran
    assert manager.domains(LAB) == HOME
    print(f"\nrun all: {time.monotonic() - began:.0f} s")


def test_planned(lab: manager.LabInfo, reports: Path, timings: tuple[int, int, int]) -> None:
    done, measured = drill(lab, reports, "planned")
    whole_at_the_end(done, measured)
    initdead = timings[1]
    assert measured.downtime_s is not None and measured.downtime_s < 5.0  # a live migration
    assert measured.time_to_recover_s is not None and measured.time_to_recover_s < 60
    assert measured.failback_s is not None and measured.failback_s < initdead + 60
    assert {c.name: c.outcome for c in done.ran().checks}[
        "drbd_uptodate_before_failback"] == "passed"


def test_crash(lab: manager.LabInfo, reports: Path, timings: tuple[int, int, int]) -> None:
    done, measured = drill(lab, reports, "crash")
    whole_at_the_end(done, measured)
    deadtime, initdead, keepalive = timings
    assert (measured.acknowledged_write or 0) > 0, "the lab DomU wrote nothing before the crash"
    assert measured.lost_writes == 0
    assert (measured.write_on_survivor or 0) >= (measured.acknowledged_write or 0)
    # Declared dead deadtime after the last heartbeat, then booted from the auto folder. That
    # heartbeat may be a keepalive older than the crash, and the lab's power_off kills the DomU
    # last, up to a second after the node's heartbeat: its silence may be that much shorter.
    assert measured.time_to_recover_s is not None
    assert deadtime - keepalive <= measured.time_to_recover_s < deadtime + 30
    assert measured.downtime_s is not None
    assert measured.downtime_s >= deadtime - keepalive - 1.0
    assert measured.failback_s is not None and measured.failback_s < initdead + 120


def test_link(lab: manager.LabInfo, reports: Path) -> None:
    done, measured = drill(lab, reports, "link")
    whole_at_the_end(done, measured)
    assert measured.downtime_s is not None and measured.downtime_s < 1.0  # nothing moved
    assert measured.lost_pings == 0
    seen = [e.what for e in measured.events]
    assert any("WFConnection" in what for what in seen), seen  # DRBD lost its peer...
    assert not any("heartbeat sees the peer dead" in what for what in seen)  # heartbeat did not
    assert measured.time_to_recover_s is not None and measured.time_to_recover_s < 60


def test_hang(lab: manager.LabInfo, reports: Path, timings: tuple[int, int, int]) -> None:
    """heartbeat kill -9 on ha1: ha2 takes over after deadtime, ha1's watchdog resets it about a
    second later. Without STONITH the DomU may run on both nodes for that moment: the drill
    must then fail with the overlap as its finding. Either way the cluster ends whole."""
    done, measured = drill(lab, reports, "crash", "--hang")
    assert measured.left_to_repair == [] and manager.domains(LAB) == HOME
    checks = {c.name: c for c in done.ran().checks}
    assert (checks["no_domu_on_both_nodes"].outcome == "passed") == (measured.overlaps == [])
    assert done.exit_status == (0 if measured.overlaps == [] else 1), str(done)
    assert all("ran on ha1 and ha2 at once" in o for o in measured.overlaps)
    assert measured.lost_writes is None  # a hung node's DomU writes on until the reset
    assert measured.time_to_recover_s is not None and measured.time_to_recover_s < 60
