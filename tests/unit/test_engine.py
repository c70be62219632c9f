"""The step engine: barrier per step, failed hosts stop, dry runs predict."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import engine, remote
from runbook.engine import Refused, Runbook, RunbookRun, Step


def make_runbook(*steps: Step) -> Runbook:
    return Runbook("99-test", "test runbook", tuple(steps), ("base",), Path("99-test.py"))


def test_every_host_finishes_a_step_before_any_starts_the_next(nr: Nornir) -> None:
    events: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def step(name: str, slow_host: str) -> Step:
        def task(task: Task) -> Result:
            with lock:
                events.append(("start", name, task.host.name))
            time.sleep(0.15 if task.host.name == slow_host else 0.0)
            with lock:
                events.append(("end", name, task.host.name))
            return Result(host=task.host)
        return Step(name, task, name)

    RunbookRun(nr).run(make_runbook(step("one", "ha1"), step("two", "ha2")))
    last_end_of_one = max(i for i, e in enumerate(events) if e[:2] == ("end", "one"))
    first_start_of_two = min(i for i, e in enumerate(events) if e[:2] == ("start", "two"))
    assert last_end_of_one < first_start_of_two
    starts_of_one = [e for e in events if e[:2] == ("start", "one")]
    assert len(starts_of_one) == 2


def test_failed_host_runs_no_further_steps_and_the_other_goes_on(nr: Nornir) -> None:
    def breaks_on_ha2(task: Task) -> Result:
        remote.run(task, "hostname")
        if task.host.name == "ha2":
            remote.run(task, "no-such-command")
        return Result(host=task.host, changed=True)

    ran: list[str] = []

    def second(task: Task) -> Result:
        ran.append(task.host.name)
        return Result(host=task.host)

    runner = RunbookRun(nr)
    rows = runner.run(make_runbook(Step("first", breaks_on_ha2, ""), Step("second", second, "")))
    status = {(r.step, r.host): r for r in rows}
    assert status[("first", "ha1")].status == "changed"
    assert status[("first", "ha2")].status == "failed"
    assert "`no-such-command` exited 127" in status[("first", "ha2")].message
    assert ran == ["ha1"]
    assert status[("second", "ha2")].status == "skipped"
    assert "first" in status[("second", "ha2")].message
    assert [c.command for c in status[("first", "ha2")].commands] == ["hostname", "no-such-command"]


def test_refusal_is_a_clean_failure(nr: Nornir) -> None:
    def refuses(task: Task) -> Result:
        raise Refused("the partition holds a filesystem")

    rows = RunbookRun(nr).run(make_runbook(Step("danger", refuses, "")))
    assert {r.status for r in rows} == {"failed"}
    assert rows[0].message == "refused: the partition holds a filesystem"


def test_unexpected_exception_is_reported_not_raised(nr: Nornir) -> None:
    def crashes(task: Task) -> Result:
        raise KeyError("boom")

    rows = RunbookRun(nr).run(make_runbook(Step("crash", crashes, "")))
    assert all(r.status == "failed" and "KeyError" in r.message for r in rows)


def test_select_by_id_number_and_all() -> None:
    available = engine.discover()
    assert [rb.id for rb in engine.select(available, ["01"])] == ["01-base"]
    assert engine.select(available, ["all"]) == available
    with pytest.raises(engine.UnknownRunbook, match="unknown runbook '42-nope'"):
        engine.select(available, ["42-nope"])


def test_discovered_runbooks_have_titles_steps_and_checks() -> None:
    for rb in engine.discover():
        assert rb.title and rb.steps
        assert rb.checks.exists(), f"{rb.id} has no checks file"
