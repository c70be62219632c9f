"""The run record: JSON round trip, schema version, totals, refusal of malformed records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook.record import (
    SCHEMA_VERSION,
    CheckRecord,
    CommandRecord,
    InterruptRecord,
    InvocationRecord,
    RecordError,
    RunRecord,
    StepRecord,
    read,
)

STARTED = datetime(2026, 11, 26, 12, 4, 31, 250000, tzinfo=UTC)
ENDED = datetime(2026, 11, 26, 12, 6, 2, tzinfo=UTC)


def sample() -> RunRecord:
    ntp = CommandRecord("ha1", "apt-get install -y ntp", "Setting up ntp ...\n", "", 0, 1.25)
    predicted = CommandRecord("ha2", "hostname ha2.domain.local", "", "", 0, 0.0, predicted=True)
    getent = CommandRecord("ha1", "getent hosts ha2", "", "ha2: not found « ü »\n", 2, 0.004)
    return RunRecord(
        invocation=InvocationRecord(
            command_line=["runbook", "run", "01", "--limit", "ha1"], mode="run",
            operator="root@ops1", started=STARTED, ended=ENDED, tool_version="0.1.0",
            git_commit="0123456789ab (with uncommitted changes)", inventory_folder="/inv/lab",
            inventory_sha256="ab" * 32, runbooks=["01-base"], hosts=["ha1"], limit=["ha1"],
            left_out=["ha2"], forced=[], dry_run=False,
        ),
        steps=[
            StepRecord("01-base", "ntp", "ha1", "changed", 1.3, "installed ntp",
                       "--- a\n+++ b\n", [ntp], scope="node", plan=["install ntp"]),
            StepRecord("01-base", "sync", "ha1", "failed", 0.0,
                       "ha2 is left out by --limit; 01-base · sync needs both nodes",
                       scope="cluster"),
            StepRecord("01-base", "image", "ha2", "waited", 0.0, "waited", "", [predicted],
                       scope="one-node"),
        ],
        checks=[
            CheckRecord("01-base", "test_01_base.py::test_cluster_names_resolve[ha1]",
                        "test_cluster_names_resolve[ha1]", "ha1", "names resolve", "failed",
                        "ha2 does not resolve", 0.02, [getent]),
            CheckRecord("05-domu", "test_05_domu.py::test_not_running_on_both_nodes[test]",
                        "test_not_running_on_both_nodes[test]", None, "runs on one node",
                        "passed", "", 0.01),
        ],
        unreachable={"ha2": "connection to 127.0.0.1:2202 refused"},
    )


def test_round_trip_keeps_every_field() -> None:
    record = sample()
    again = RunRecord.from_json(record.to_json())
    assert again == record
    assert again.to_json() == record.to_json()


def test_top_level_shape_and_totals() -> None:
    data = json.loads(sample().to_json())
    assert list(data) == ["schema_version", "invocation", "steps", "checks", "unreachable",
                          "interrupted", "totals"]
    assert data["interrupted"] is None
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["invocation"]["started"] == "2026-11-26T12:04:31.250000+00:00"
    assert data["totals"] == {
        "steps": {"ok": 0, "changed": 1, "failed": 1, "skipped": 0, "waited": 1,
                  "interrupted": 0},
        "checks": {"passed": 1, "failed": 1, "skipped": 0, "error": 0},
    }
    assert data["checks"][1]["host"] is None
    assert data["steps"][2]["commands"][0]["predicted"] is True


def test_totals_line_keeps_the_order_the_terminal_always_printed() -> None:
    record = sample()
    assert record.totals.line() == (
        "steps: 1 changed, 0 ok, 1 failed, 0 skipped, 1 waited; checks: 1 passed, 1 failed, "
        "0 skipped")
    assert record.totals.line(with_steps=False) == "checks: 1 passed, 1 failed, 0 skipped"
    assert not record.passed
    assert [c.name for c in record.failed_checks] == ["test_cluster_names_resolve[ha1]"]


def test_write_returns_the_sha256_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    digest = sample().write(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read(path) == sample()


def test_an_unfinished_invocation_has_no_end() -> None:
    record = sample()
    record.invocation.ended = None
    assert json.loads(record.to_json())["invocation"]["ended"] is None
    assert RunRecord.from_json(record.to_json()).invocation.ended is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=99), "run record schema 99 is not 1 or 2"),
        (lambda d: d["steps"][0].update(status="done"), "'done' is not one of ok, changed"),
        (lambda d: d["steps"][0].pop("host"), "missing field 'host'"),
        (lambda d: d["checks"][0].update(duration="fast"), "field 'duration': expected float"),
        (lambda d: d["invocation"].update(started="yesterday"), "not an ISO 8601 time"),
        (lambda d: d["steps"][0].update(plan=[1]), "field 'plan': expected a list of strings"),
        (lambda d: d["steps"][0]["commands"][0].update(exit_status=True),
         "field 'exit_status': expected int"),
    ],
)
def test_a_malformed_record_is_refused_with_the_field(change, message) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(sample().to_json())
    change(data)
    with pytest.raises(RecordError, match=message):
        RunRecord.from_json(json.dumps(data))


def test_not_json_is_refused() -> None:
    with pytest.raises(RecordError, match="invalid JSON"):
        RunRecord.from_json("<html>")


def interrupted_sample() -> RunRecord:
    record = sample()
    record.steps[0].status = "interrupted"
    record.steps[0].message = "interrupted by SIGINT while waiting for SSH"
    record.interrupted = InterruptRecord(
        signal="SIGINT", at=datetime(2026, 11, 26, 12, 5, 2, tzinfo=UTC), during="02-xen · reboot",
        notes={"ha1": "waiting for SSH", "ha2": "waiting for SSH"})
    return record


def test_an_interrupted_run_round_trips_and_never_passes() -> None:
    record = interrupted_sample()
    data = json.loads(record.to_json())
    assert data["interrupted"]["line"] == (
        "interrupted during 02-xen · reboot (ha1: waiting for SSH, ha2: waiting for SSH)")
    assert data["totals"]["steps"]["interrupted"] == 1
    assert RunRecord.from_json(record.to_json()) == record
    assert [r.host for r in record.interrupted_steps] == [record.steps[0].host]
    assert "1 interrupted" in record.totals.line()
    record.steps[1].status = "ok"
    record.checks = [c for c in record.checks if c.outcome == "passed"]
    assert not record.failed_steps and not record.failed_checks and not record.passed


@pytest.mark.parametrize(
    ("stop", "line"),
    [
        (InterruptRecord("SIGTERM", datetime(2026, 1, 1, tzinfo=UTC), "the checks of 01-base"),
         "interrupted during the checks of 01-base"),
        (InterruptRecord("SIGINT", datetime(2026, 1, 1, tzinfo=UTC), "", after="02-xen · loop"),
         "interrupted after 02-xen · loop"),
        (InterruptRecord("SIGINT", datetime(2026, 1, 1, tzinfo=UTC), ""),
         "interrupted before the first step"),
    ],
)
def test_the_interrupt_line(stop: InterruptRecord, line: str) -> None:
    assert stop.line() == line


def test_a_version_1_record_reads_as_never_interrupted() -> None:
    data = json.loads(sample().to_json())
    data["schema_version"] = 1
    del data["interrupted"]
    old = RunRecord.from_json(json.dumps(data))
    assert old.interrupted is None and old.steps == sample().steps
