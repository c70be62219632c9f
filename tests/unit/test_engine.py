"""The step engine: barrier per step, failed hosts stop, dry runs predict."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import engine, remote
from runbook.engine import OneNode, Refused, Runbook, RunbookRun, Step, WholeCluster
from runbook.inventory import ClusterInventory


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


class Recorder:
    """A step task that records which hosts ran it (from Nornir's worker threads)."""

    def __init__(self, fail_on: str = "", changed: bool = False) -> None:
        self.ran: list[str] = []
        self.fail_on = fail_on
        self.changed = changed
        self._lock = threading.Lock()

    def __call__(self, task: Task) -> Result:
        with self._lock:
            self.ran.append(task.host.name)
        if task.host.name == self.fail_on:
            raise engine.StepFailed(f"broke on {self.fail_on}")
        return Result(host=task.host, changed=self.changed)


def by_host(rows: list[engine.StepOutcome], step: str) -> dict[str, engine.StepOutcome]:
    return {r.host: r for r in rows if r.step == step}


SYNC = WholeCluster("the DRBD initial sync needs both nodes")


def test_cluster_step_after_a_node_failed_fails_on_all_and_runs_nowhere(nr: Nornir) -> None:
    first, sync, after = Recorder(fail_on="ha2"), Recorder(), Recorder()
    rows = RunbookRun(nr).run(make_runbook(
        Step("first", first, ""), Step("sync", sync, "", scope=SYNC), Step("after", after, "")))
    assert sync.ran == [] and after.ran == []
    reason = "ha2 failed at 99-test · first; the DRBD initial sync needs both nodes"
    assert {h: (r.status, r.message) for h, r in by_host(rows, "sync").items()} == {
        "ha1": ("failed", reason), "ha2": ("failed", reason)}
    assert {r.scope for r in by_host(rows, "sync").values()} == {"cluster"}
    # the healthy node stops too: no later step runs on half the cluster
    assert by_host(rows, "after")["ha1"].status == "skipped"
    assert by_host(rows, "after")["ha2"].status == "skipped"
    assert by_host(rows, "after")["ha1"].message == f"not run: failed at 99-test · sync: {reason}"
    assert by_host(rows, "after")["ha2"].message == (
        "not run: failed at 99-test · first: broke on ha2")


def test_no_cascade_once_every_node_has_stopped(nr: Nornir) -> None:
    first, sync, home = Recorder(fail_on="ha2"), Recorder(), Recorder()
    rows = RunbookRun(nr).run(make_runbook(
        Step("first", first, ""), Step("sync", sync, "", scope=SYNC),
        Step("home", home, "", scope=OneNode(lambda c: "ha2"))))
    assert [(r.step, r.host, r.status) for r in rows if r.status == "failed"] == [
        ("first", "ha2", "failed"), ("sync", "ha1", "failed"), ("sync", "ha2", "failed")]
    assert {r.status for r in by_host(rows, "home").values()} == {"skipped"}


def test_cluster_step_runs_on_every_node_when_all_are_healthy(nr: Nornir) -> None:
    sync = Recorder(changed=True)
    rows = RunbookRun(nr).run(make_runbook(Step("sync", sync, "", scope=SYNC)))
    assert sorted(sync.ran) == ["ha1", "ha2"]
    assert [(r.host, r.status, r.scope) for r in rows] == [
        ("ha1", "changed", "cluster"), ("ha2", "changed", "cluster")]


def test_limit_never_runs_a_cluster_step_on_half_the_cluster(nr: Nornir) -> None:
    half = nr.filter(filter_func=lambda h: h.name == "ha1")
    before, sync = Recorder(changed=True), Recorder()
    runner = RunbookRun(half)
    rows = runner.run(make_runbook(Step("before", before, ""),
                                   Step("sync", sync, "", scope=WholeCluster())))
    assert runner.left_out == ["ha2"]
    assert before.ran == ["ha1"] and sync.ran == []
    assert [(r.host, r.step, r.status, r.message) for r in rows] == [
        ("ha1", "before", "changed", ""),
        ("ha1", "sync", "failed", "ha2 is left out by --limit; 99-test · sync needs both nodes"),
    ]


def home_of_test(cluster: ClusterInventory) -> str:
    return "ha2"


HOME = OneNode(home_of_test, "the DomU's home node")


def test_one_node_step_runs_on_the_chosen_node_while_the_other_waits(nr: Nornir) -> None:
    image, after = Recorder(changed=True), Recorder()
    rows = RunbookRun(nr).run(make_runbook(Step("image", image, "", scope=HOME),
                                           Step("after", after, "")))
    assert image.ran == ["ha2"]
    assert [(r.host, r.status, r.message, r.scope) for r in by_host(rows, "image").values()] == [
        ("ha1", "waited", "waited while ha2 ran this step", "one-node"),
        ("ha2", "changed", "", "one-node"),
    ]
    assert sorted(after.ran) == ["ha1", "ha2"]  # waiting is not failing


def test_one_node_step_fails_on_all_when_the_chosen_node_is_not_healthy(nr: Nornir) -> None:
    first, image = Recorder(fail_on="ha2"), Recorder()
    rows = RunbookRun(nr).run(make_runbook(Step("first", first, ""),
                                           Step("image", image, "", scope=HOME)))
    assert image.ran == []
    reason = ("ha2 failed at 99-test · first; 99-test · image runs on ha2 only "
              "(the DomU's home node)")
    assert [(r.status, r.message) for r in by_host(rows, "image").values()] == [
        ("failed", reason), ("failed", reason)]


def test_one_node_step_whose_node_is_left_out_by_limit_fails(nr: Nornir) -> None:
    image = Recorder()
    rows = RunbookRun(nr.filter(filter_func=lambda h: h.name == "ha1")).run(
        make_runbook(Step("image", image, "", scope=HOME)))
    assert image.ran == []
    assert [(r.host, r.status) for r in rows] == [("ha1", "failed")]
    assert rows[0].message.startswith("ha2 is left out by --limit; 99-test · image runs on ha2")


def test_one_node_step_with_no_node_to_choose_fails_cleanly(nr: Nornir) -> None:
    def no_domu(cluster: ClusterInventory) -> str:
        raise LookupError("no DomU in the inventory")

    image = Recorder()
    rows = RunbookRun(nr).run(make_runbook(Step("image", image, "", scope=OneNode(no_domu))))
    assert image.ran == [] and {r.status for r in rows} == {"failed"}
    assert "no node chosen (LookupError: no DomU in the inventory)" in rows[0].message


def test_a_failed_check_keeps_the_host_out_of_a_later_cluster_step(nr: Nornir) -> None:
    runner = RunbookRun(nr)
    runner.exclude("ha1", "failed the checks of 01-base")
    sync = Recorder()
    rows = runner.run(make_runbook(Step("sync", sync, "", scope=SYNC)))
    assert sync.ran == []
    assert rows[0].message == (
        "ha1 failed the checks of 01-base; the DRBD initial sync needs both nodes")


def test_a_task_plan_is_kept_with_the_step(nr: Nornir) -> None:
    class Plan:
        def describe(self) -> list[str]:
            return [f"write /etc/hosts ({len('x')} line changed)"]

    def planned(task: Task) -> Result:
        result = Result(host=task.host, changed=True)
        result.plan = Plan()  # type: ignore[attr-defined]
        return result

    rows = RunbookRun(nr).run(make_runbook(Step("hosts", planned, "")))
    assert [r.plan for r in rows] == [["write /etc/hosts (1 line changed)"]] * 2


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
