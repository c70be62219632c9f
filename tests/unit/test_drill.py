"""runbook drill: scenario plans, conditions, measures and the run of a plan, with fake clocks,
fake nodes and a fake fault injector (no lab, no SSH)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pytest
from nornir.core import Nornir

from runbook import drill, remote
from runbook.drill import Homes, NodeState, Phase
from runbook.inventory import ClusterInventory
from runbook.parsers.drbd import DrbdDevice, ProcDrbd
from runbook.record import CommandRecord, RunRecord
from tests.unit import fakenode_heartbeat
from tests.unit.fakenode import FakeNode

UP = ProcDrbd("8.3.7", "88", "86-91", {
    1: DrbdDevice(1, "Connected", "Primary", "Secondary", "UpToDate", "UpToDate"),
    2: DrbdDevice(2, "Connected", "Primary", "Secondary", "UpToDate", "UpToDate")})
WAITING = ProcDrbd("8.3.7", "88", "86-91", {
    1: DrbdDevice(1, "WFConnection", "Primary", "Unknown", "UpToDate", "DUnknown"),
    2: DrbdDevice(2, "WFConnection", "Primary", "Unknown", "UpToDate", "DUnknown")})


@dataclass(frozen=True)
class _Res:
    name: str
    minor: int

    @property
    def device(self) -> str:
        return f"/dev/drbd{self.minor}"


@dataclass(frozen=True)
class _Drbd:
    resources: tuple[_Res, ...] = (_Res("test-disk", 1), _Res("test-swap", 2))


HOMES = Homes({"test": "ha1"}, {"ha1": _Drbd(), "ha2": _Drbd()},  # type: ignore[dict-item]
              {"ha1": "ha2.domain.local", "ha2": "ha1.domain.local"})


def node(name: str, *, running: tuple[str, ...] = (), drbd: ProcDrbd | None = UP,
         hb: bool = True, peer: str = "active", holds: str = "local",
         reachable: bool = True) -> NodeState:
    if not reachable:
        return NodeState(name, False, "connection refused")
    return NodeState(name, True, "", drbd, hb, peer if hb else "", holds if hb else "",
                     frozenset(running))


WHOLE = {"ha1": node("ha1", running=("test",)), "ha2": node("ha2")}


# -- plans as tables ----------------------------------------------------------------------------

def rows(phases: list[Phase]) -> list[tuple[str, str, str | None, str]]:
    return [(p.act, p.node, p.until, p.measure) for p in phases]


@pytest.mark.parametrize(("scenario", "failback", "crash", "expected"), [
    ("planned", True, None, [
        ("fault", "ha1", None, ""), ("await", "ha1", "moved", "time_to_recover_s"),
        ("await", "ha1", "stopped", ""), ("undo", "ha1", None, ""),
        ("await", "", "whole", "failback_s")]),
    ("planned", False, None, [
        ("fault", "ha1", None, ""), ("await", "ha1", "moved", "time_to_recover_s"),
        ("await", "ha1", "stopped", ""), ("undo", "ha1", None, ""), ("hand-back", "ha2", None, ""),
        ("await", "", "whole", "failback_s")]),
    ("crash", True, None, [
        ("fault", "ha1", None, ""), ("await", "ha1", "dead", ""), ("await", "ha1", "moved", ""),
        ("await", "ha1", "answering", "time_to_recover_s"), ("undo", "ha1", None, ""),
        ("await", "ha1", "back", ""), ("await", "", "whole", "failback_s")]),
    ("link", True, None, [
        ("fault", "", None, ""), ("observe", "", "still", ""), ("undo", "", None, ""),
        ("await", "", "whole", "time_to_recover_s")]),
])
def test_scenario_plans(scenario: drill.Scenario, failback: bool, crash: str | None,
                        expected: list[tuple[str, str, str | None, str]]) -> None:
    assert rows(drill.plan(scenario, "ha1", "ha2", failback, crash, 12.0)) == expected


def test_plan_commands_say_what_runs() -> None:
    planned = drill.plan("planned", "ha1", "ha2", True, None, 12.0)
    assert [p.what for p in planned if p.act in ("fault", "undo")] == [
        "/etc/init.d/heartbeat stop", "/etc/init.d/heartbeat start"]
    real = drill.plan("crash", "ha2", "ha1", True, "echo b > /proc/sysrq-trigger", 12.0)
    assert (real[0].what, real[4].what) == ("echo b > /proc/sysrq-trigger", "reboots by itself")
    assert drill.plan("crash", "ha1", "ha2", True, None, 12.0)[4].what == "power on"
    assert drill.plan("link", "ha1", "ha2", True, None, 12.0)[1].what == (
        "nothing fails over for 12 s")
    planned = drill.plan("planned", "ha1", "ha2", True, None, 12.0)
    assert [p.since for p in planned if p.measure] == ["fault", "undo"]


# -- the cluster's state ------------------------------------------------------------------------

@pytest.mark.parametrize(("states", "expected"), [
    (WHOLE, []),
    ({"ha1": node("ha1"), "ha2": node("ha2", running=("test",), holds="all")},
     ["ha2: heartbeat holds all resource groups (cl_status rscstatus), not its own (local)",
      "test runs on ha2, not once on its home ha1"]),
    ({"ha1": node("ha1", running=("test",)), "ha2": node("ha2", running=("test",))},
     ["test runs on ha1 and ha2, not once on its home ha1"]),
    ({"ha1": node("ha1", running=("test",), drbd=WAITING), "ha2": node("ha2", drbd=None)},
     ["ha1: DRBD test-disk is WFConnection UpToDate/DUnknown, not Connected UpToDate/UpToDate",
      "ha1: DRBD test-swap is WFConnection UpToDate/DUnknown, not Connected UpToDate/UpToDate",
      "ha2: DRBD DRBD is not loaded (no /proc/drbd)"]),
    ({"ha1": node("ha1", running=("test",), hb=False), "ha2": node("ha2", peer="dead")},
     ["ha1: heartbeat is not running",
      "ha2: heartbeat sees ha1.domain.local dead, not active"]),
    # the home node does not answer: where its DomU runs is not known, only that it is down
    ({"ha1": node("ha1", reachable=False), "ha2": node("ha2")},
     ["ha1 does not answer (connection refused)"]),
    ({"ha1": node("ha1"), "ha2": node("ha2")}, ["test runs on no node, not once on its home ha1"]),
])
def test_problems(states: dict[str, NodeState], expected: list[str]) -> None:
    assert drill.problems(states, HOMES) == expected


@pytest.mark.parametrize(("until", "states", "answered", "expected"), [
    ("moved", {"ha1": node("ha1", hb=False), "ha2": node("ha2", running=("test",),
                                                          holds="all")}, False, True),
    # on the peer, but its takeover is not over: a returning node would not get it back
    ("moved", {"ha1": node("ha1", hb=False), "ha2": node("ha2", running=("test",))},
     False, False),
    ("moved", {"ha1": node("ha1", running=("test",)), "ha2": node("ha2", running=("test",),
                                                                  holds="all")}, False, False),
    ("stopped", {"ha1": node("ha1", hb=False), "ha2": node("ha2")}, False, True),
    ("stopped", {"ha1": node("ha1", reachable=False), "ha2": node("ha2")}, False, False),
    ("dead", {"ha1": node("ha1", reachable=False), "ha2": node("ha2", peer="active")},
     False, False),
    ("dead", {"ha1": node("ha1", reachable=False), "ha2": node("ha2", peer="dead")}, False, True),
    ("answering", WHOLE, False, False),
    ("answering", WHOLE, True, True),
    ("back", {"ha1": node("ha1", reachable=False), "ha2": node("ha2")}, False, False),
    ("back", {"ha1": node("ha1", hb=False), "ha2": node("ha2")}, False, True),
    ("whole", WHOLE, False, True),
])
def test_conditions(until: drill.Condition, states: dict[str, NodeState], answered: bool,
                    expected: bool) -> None:
    assert drill.met(until, "ha1", states, HOMES, lambda domu: answered) is expected


def test_describe_says_what_drbd_and_heartbeat_do() -> None:
    cut = node("ha1", running=("test",), drbd=WAITING, holds="local")
    assert drill.describe(cut) == (
        "ha1: DRBD WFConnection Primary/Unknown UpToDate/DUnknown, WFConnection Primary/Unknown "
        "UpToDate/DUnknown; heartbeat sees the peer active, holds local; running test")
    assert drill.describe(node("ha2", hb=False, drbd=None)) == (
        "ha2: DRBD not loaded; heartbeat stopped; running no DomU")
    assert drill.describe(node("ha2", reachable=False)) == "ha2: does not answer"


# -- measures -----------------------------------------------------------------------------------

PING = """PING 192.168.1.50 (192.168.1.50) 56(84) bytes of data.
[1764162000.100000] 64 bytes from 192.168.1.50: icmp_seq=1 ttl=64 time=0.051 ms
[1764162000.300000] 64 bytes from 192.168.1.50: icmp_seq=2 ttl=64 time=0.047 ms
[1764162004.500000] 64 bytes from 192.168.1.50: icmp_seq=23 ttl=64 time=0.06 ms
From 192.168.1.11 icmp_seq=3 Destination Host Unreachable

--- 192.168.1.50 ping statistics ---
23 packets transmitted, 3 received, 86% packet loss, time 4402ms
"""


def test_answers_read_live_from_ping_lines() -> None:
    answers = [t for t in map(drill.answered_at, PING.splitlines()) if t is not None]
    assert answers == [1764162000.1, 1764162000.3, 1764162004.5]
    assert drill.first_answer(answers, 1764162000.2) == 1764162000.3
    assert drill.first_answer(answers, 1764162000.31) == 1764162004.5
    assert drill.first_answer(answers, 1764162005.0) is None


@pytest.mark.parametrize(("answers", "fault", "expected"), [
    ([0.0, 0.2, 0.4, 7.6, 7.8], 0.5, 7.6),  # crashed after 0.4, answers again at 7.6
    ([0.0, 0.2, 0.4, 0.6, 0.8], 0.5, None),  # never stopped answering (a live migration)
    ([0.0, 0.2, 0.4], 0.5, None),  # not answering again yet
    ([0.0, 1.0, 1.2, 1.4], 1.1, None),  # a silence that ended before the fault does not count
    ([1.0, 1.2, 2.0, 9.0], 1.1, 2.0),  # the first silence of more than three intervals
])
def test_answering_again(answers: list[float], fault: float, expected: float | None) -> None:
    assert drill.answering_again(answers, fault, 0.2) == expected


@pytest.mark.parametrize(("acked", "on_disk", "expected"), [
    (120, 120, 0), (120, 121, 0), (120, 117, 3), (None, 5, None), (7, None, None)])
def test_lost_writes(acked: int | None, on_disk: int | None, expected: int | None) -> None:
    assert drill.lost_writes(acked, on_disk) == expected


def test_overlaps_are_runs_of_samples_on_both_nodes() -> None:
    both = {"ha1": {"test"}, "ha2": {"test"}}
    samples: list[tuple[float, Mapping[str, set[str]]]] = [
        (10.0, {"ha1": {"test"}, "ha2": set()}), (10.5, both), (11.0, both),
        (11.5, {"ha1": set(), "ha2": {"test"}}), (20.0, both)]
    found = drill.overlaps(samples, ["test", "other"])
    assert [(o.domu, o.nodes, o.first, o.last) for o in found] == [
        ("test", ("ha1", "ha2"), 10.5, 11.0), ("test", ("ha1", "ha2"), 20.0, 20.0)]
    assert found[0].sentence(10.0) == (
        "test ran on ha1 and ha2 at once from +0.5 s (seen for 0.5 s)")
    assert drill.overlaps(samples[:1], ["test"]) == []


# -- a whole scenario on fakes ------------------------------------------------------------------

@dataclass
class FakeClock:
    t: float = 1000.0

    def now(self) -> float:
        return self.t

    def pause(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class FakeCluster:
    """A script of cluster states: each read returns the next one (the last one repeats)."""

    script: list[dict[str, NodeState]]
    clock: FakeClock
    changes: list[tuple[str, str]] = field(default_factory=list)
    reads: int = 0

    def states(self) -> dict[str, NodeState]:
        self.clock.t += 0.1  # a read takes time
        state = self.script[min(self.reads, len(self.script) - 1)]
        self.reads += 1
        return state

    def change(self, node: str, command: str, timeout: float) -> CommandRecord:
        self.changes.append((node, command))
        return CommandRecord(node, command, "", "", 0, 0.0)


@dataclass
class FakeFaults:
    done: list[str] = field(default_factory=list)
    acked: int | None = None
    on_disk: int | None = None
    site: str = "lab fake"

    def crash(self, node: str) -> str:
        self.done.append(f"crash {node}")
        return f"{node} powered off"

    def crash_command(self, node: str) -> str | None:
        return None

    def power_on(self, node: str) -> str | None:
        self.done.append(f"power on {node}")
        return f"{node} powered on"

    def cut_link(self) -> str:
        self.done.append("cut")
        return "cut"

    def restore_link(self) -> str:
        self.done.append("restore")
        return "restored"

    def ping_argv(self, address: str, interval_s: float) -> list[str]:
        return ["true"]

    def acknowledged_write(self, domu: str) -> int | None:
        return self.acked

    def write_on_disk(self, node: str, vg: str, lv: str) -> int | None:
        return self.on_disk

    def placement(self) -> dict[str, list[str]] | None:
        return None


BOUNDS: dict[drill.Condition, float] = {
    "moved": 60, "stopped": 60, "dead": 30, "answering": 60, "back": 60, "whole": 60,
    "still": 3}
MOVED = {"ha1": node("ha1", hb=False), "ha2": node("ha2", running=("test",), holds="all")}
BACK_STARTING = {"ha1": node("ha1", hb=True, peer="active", holds="none"),
                 "ha2": node("ha2", running=("test",), holds="all")}


def make(scenario: drill.Scenario, script: list[dict[str, NodeState]],
         faults: FakeFaults | None = None) -> tuple[drill.Drill, FakeCluster, FakeFaults]:
    clock = FakeClock()
    cluster = FakeCluster(script, clock)
    fake = faults or FakeFaults()
    return drill.Drill(scenario, "ha1", "ha2", cluster, fake, HOMES, BOUNDS, clock=clock,
                       disk_lv={"test": "test-disk"}), cluster, fake


def test_planned_measures_the_move_and_the_failback() -> None:
    # reads: 2 while migrating, 1 moved, 1 heartbeat stopped, 3 while failing back, then whole
    script = [WHOLE, WHOLE, MOVED, MOVED, BACK_STARTING, BACK_STARTING, BACK_STARTING, WHOLE]
    run, cluster, _ = make("planned", script)
    result = run.run(drill.plan("planned", "ha1", "ha2", True, None, 3.0), "stop")
    checks = drill.finish(run, WHOLE)
    assert [c[1] for c in cluster.changes][1:] == ["/etc/init.d/heartbeat start"]
    assert "nohup sh -c '/etc/init.d/heartbeat stop'" in cluster.changes[0][1]
    # the fault at t0; three reads of 0.1 s and two polls of 0.5 s until moved
    assert result.time_to_recover_s == pytest.approx(1.3)
    assert result.failback_s == pytest.approx(1.9)  # from `heartbeat start`: 4 reads, 3 polls
    assert [s.status for s in run.steps] == ["ok"] * 5
    assert run.drbd_at_failback == ("Connected UpToDate/UpToDate, "
                                    "Connected UpToDate/UpToDate")
    assert [(c.name, c.outcome) for c in checks] == [
        ("cluster_whole_at_the_end", "passed"), ("no_domu_on_both_nodes", "passed"),
        ("drbd_uptodate_before_failback", "passed")]
    assert result.passed and result.left_to_repair == []


def test_crash_records_writes_and_undoes_nothing_twice() -> None:
    dead = {"ha1": node("ha1", reachable=False),
            "ha2": node("ha2", running=("test",), peer="dead", holds="all")}
    run, _, faults = make("crash", [dead, dead, BACK_STARTING, WHOLE],
                          FakeFaults(acked=4711, on_disk=4710))
    answered = {"test": False}
    run.answered_since = lambda t: lambda d: answered[d]  # type: ignore[method-assign]
    answered["test"] = True
    result = run.run(drill.plan("crash", "ha1", "ha2", True, None, 3.0), "power off")
    checks = drill.finish(run, WHOLE)
    assert faults.done == ["crash ha1", "power on ha1"]
    assert (result.acknowledged_write, result.write_on_survivor, result.lost_writes) == (
        4711, 4710, 1)
    lost = next(c for c in checks if c.name == "no_acknowledged_write_lost")
    assert lost.outcome == "failed" and "1 acknowledged write(s) missing" in lost.finding
    assert not result.passed


def test_a_failed_wait_stops_the_plan_and_undoes_the_fault() -> None:
    moved_away = {"ha1": node("ha1", drbd=WAITING),
                  "ha2": node("ha2", running=("test",), drbd=WAITING, holds="all")}
    run, _, faults = make("link", [moved_away])
    result = run.run(drill.plan("link", "ha1", "ha2", True, None, 3.0), "cut")
    checks = drill.finish(run, moved_away)
    assert faults.done == ["cut", "restore"]  # restored after the drill stopped early
    assert run.drbd_at_failback == ""  # no failback in this scenario
    assert [s.status for s in run.steps] == ["ok", "failed"]
    assert "test runs on ha2, not once on its home ha1" in run.steps[1].message
    assert "test runs on ha2, not once on its home ha1" in result.left_to_repair
    assert checks[0].outcome == "failed" and not result.passed


def test_the_record_keeps_the_drill_and_reads_it_back() -> None:
    run, _, _ = make("planned", [WHOLE, MOVED, MOVED, WHOLE])
    result = run.run(drill.plan("planned", "ha1", "ha2", True, None, 3.0), "stop")
    record = RunRecord.from_dict(_minimal_record())
    assert record.drill is None and "drill" not in record.to_dict()
    record.drill, record.checks = result, drill.finish(run, WHOLE)
    again = RunRecord.from_json(record.to_json())
    assert again.drill is not None and again.to_dict() == record.to_dict()
    assert again.drill.time_to_recover_s == pytest.approx(0.7)  # rounded to the millisecond
    data = again.to_dict()["drill"]  # what the handover report reads (runbook.handover)
    assert {"scenario", "downtime_s", "time_to_recover_s"} <= set(data)
    assert data["scenario"] == "planned" and isinstance(data["time_to_recover_s"], float)


def _minimal_record() -> dict[str, object]:
    return {"schema_version": 2, "invocation": {
        "command_line": ["runbook", "drill", "planned"], "mode": "drill", "dry_run": False,
        "operator": "op", "started": "2026-11-26T13:00:00+00:00", "ended": None,
        "tool_version": "0", "git_commit": "x", "inventory_folder": "/inv",
        "inventory_sha256": "0", "runbooks": ["drill-planned"], "hosts": ["ha1", "ha2"],
        "limit": [], "left_out": [], "forced": []}, "steps": [], "checks": []}


@dataclass
class BothNodesFaults(FakeFaults):
    """A site whose hypervisor shows the DomU on both nodes (the watcher's samples)."""

    def placement(self) -> dict[str, list[str]] | None:
        return {"ha1": ["test"], "ha2": ["test"]}


def test_the_watcher_samples_placement_between_polls() -> None:
    run, _, _ = make("link", [WHOLE], BothNodesFaults())
    stop = run.watch(0.01)
    time.sleep(0.2)
    stop.set()
    assert len(run.samples) >= 3
    assert [(o.domu, o.nodes) for o in drill.overlaps(run.samples, ["test"])] == [
        ("test", ("ha1", "ha2"))]
    quiet, _, _ = make("link", [WHOLE])  # no placement without SSH: polls only
    quiet.watch(0.01)
    time.sleep(0.05)
    assert quiet.samples == []


# -- the nodes over SSH: fake nodes behind Nornir ------------------------------------------------

def test_the_cluster_is_read_and_changed_over_the_sessions(
        nr: Nornir, cluster: ClusterInventory, fake_nodes: dict[str, FakeNode]) -> None:
    for name in ("ha1", "ha2"):
        fake = FakeNode.replicated(name)
        fakenode_heartbeat.run_08(fake, cluster, name, "key")
        fake.ha.peers = {n.fqdn: "active" for n in cluster.nodes.values()}
        fake_nodes[name].__dict__.update(fake.__dict__)
    fake_nodes["ha1"].domains = {"test"}
    nodes = drill.NornirCluster(nr, Homes.of(cluster))
    states = nodes.states()
    assert drill.problems(states, nodes.homes) == []
    assert (states["ha1"].running, states["ha2"].holds) == (frozenset({"test"}), "local")
    fake_nodes["ha2"].ha.running = False  # heartbeat stopped there: cl_status cannot sign on
    assert drill.problems(nodes.states(), nodes.homes) == ["ha2: heartbeat is not running"]
    # a change goes through the plan machinery; the fake knows no init script: exit 127
    ran = nodes.change("ha1", "/etc/init.d/heartbeat start", 30.0)
    assert (ran.host, ran.command, ran.exit_status) == ("ha1", "/etc/init.d/heartbeat start",
                                                        127)
    assert remote.journal("ha1")[-1].command == "/etc/init.d/heartbeat start"


def test_preflight_refuses_a_cluster_that_is_not_whole() -> None:
    run, _, faults = make("crash", [{"ha1": node("ha1"), "ha2": node("ha2", running=("test",),
                                                                    holds="all")}])
    rows, refusal = drill.preflight(run)
    assert refusal == ("ha2: heartbeat holds all resource groups (cl_status rscstatus), not its "
                       "own (local); test runs on ha2, not once on its home ha1")
    assert [(r.step, r.status, r.message) for r in rows] == [
        ("preflight", "failed", f"refused: {refusal}")]
    assert faults.done == [] and run.samples == []  # nothing touched, nothing measured
    ok, _, _ = make("crash", [WHOLE])
    assert drill.preflight(ok)[1] == ""


def test_summary_and_junit_say_the_figures() -> None:
    run, _, _ = make("crash", [WHOLE], FakeFaults(acked=10, on_disk=10))
    result = run.run([Phase("fault", "ha1", "power off")], "ha1: power off")
    result.downtime_s, result.time_to_recover_s, result.lost_pings = 6.75, 6.8, 34
    assert drill.summary(result) == [
        "crash on lab fake: ha1: power off",
        "  downtime (longest ping silence) 6.8 s, 34 ping(s) lost",
        "  time to recover 6.8 s, failback not measured",
        "  writes: last acknowledged 10, on the survivor 10: 0 lost"]
    record = RunRecord.from_dict(_minimal_record())
    record.drill, record.checks = result, drill.finish(run, WHOLE)
    suite = drill.checks_testsuite(record)
    assert [(c.get("name"), [f.tag for f in c]) for c in suite.iter("testcase")] == [
        ("cluster_whole_at_the_end", []), ("no_domu_on_both_nodes", []),
        ("no_acknowledged_write_lost", [])]


def test_a_node_back_by_itself_moved_when_a_sample_had_its_domus_on_the_peer_alone() -> None:
    run, _, _ = make("crash", [WHOLE])
    run.t0 = 100.0
    run.samples += [(99.0, {"ha1": frozenset(), "ha2": frozenset({"test"})}),  # before: no
                    (106.8, {"ha1": frozenset({"test"}), "ha2": frozenset({"test"})}),
                    (107.1, {"ha1": frozenset(), "ha2": frozenset({"test"})}),
                    (118.0, {"ha1": frozenset({"test"}), "ha2": frozenset()})]
    moved = drill.Phase("await", "ha1", "its DomUs run on the peer", "moved")
    assert run.moved_at(moved) is None  # powered off: the polls must see the takeover over
    run.comes_back_alone = True
    assert run.moved_at(moved) == 107.1
    assert run.moved_at(replace(moved, until="answering")) is None
