"""``runbook drill``: prove that the cluster fails over, and measure it.

The guide ends with "try to reboot one node at a time to see that DomU test is migrated". A
drill does that on purpose, watches the cluster the whole time and writes what it measured
into the run record (its ``drill`` object), the JUnit file and the handover report:

- ``planned``: ``/etc/init.d/heartbeat stop`` on a node; its DomUs live-migrate to the peer.
  Heartbeat is started again and (auto_failback) they migrate back, DRBD UpToDate before.
- ``crash``: the node goes down hard (the lab pulls its plug; a real node only with
  ``--crash NODE`` and a confirmation: runbook.faults). The survivor declares it dead after
  deadtime and starts its DomUs from the auto folder; the lab tells whether the DomU's last
  acknowledged write is on the survivor's disk. The node comes back, resyncs, takes them back.
- ``link``: the crossover cable is cut. Heartbeat talks over eth0 (the guide's ha.cf), so
  nothing may fail over; DRBD loses its peer until the link is back and resyncs.

Measured (seconds, wall clock, as ping -D stamps its lines): ``downtime_s`` is the longest
silence between two ping answers of one DomU over the whole scenario (07's prober, every
``migration.prober.interval_s``: a DomU that never stopped shows about one interval);
``time_to_recover_s`` is, for planned, from the stop to the DomUs running on the peer with its
takeover over; for crash, from the crash to the DomU's first ping answer after its silence; for
link, from the link's return to DRBD Connected UpToDate. ``failback_s`` is from the node's
return to the cluster whole again. While it runs, the drill samples where each DomU runs (every
poll, and on the lab every 0.1 s from the hypervisor) and reports a DomU seen on both nodes as a
finding (after a heartbeat kill -9 the survivor may start it a second before the watchdog resets
the dead node), never hides it.

A drill refuses to start unless the cluster is whole (the state the checks of 06 and 08 assert:
DRBD Connected UpToDate/UpToDate, heartbeat running with the peer active, every DomU once on its
home node), and ends with the same test: what is not whole is "left to repair".
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, get_args
from xml.etree import ElementTree as ET

from nornir.core import Nornir
from nornir.core.task import Result, Task
from rich.console import Console

from runbook import context, faults, handover, interrupt, locking, remote, report
from runbook.facts import Fact, FactError, Facts, read
from runbook.facts.domu import lv_names
from runbook.facts.drbd import PROC_DRBD
from runbook.facts.heartbeat import HB_STATUS, HEARTBEAT_INIT, RSC_STATUS, nodestatus
from runbook.facts.xen import XM_LIST
from runbook.faults import FaultInjector
from runbook.inventory import (
    ClusterInventory,
    ConnectCheck,
    DrbdSettings,
    NodeSettings,
    load_inventory,
    open_nornir,
)
from runbook.parsers.drbd import ProcDrbd
from runbook.parsers.migration import Probe, parse_probe
from runbook.parsers.xen import running
from runbook.plan import PlannedTask, RunCommand, plan_of
from runbook.record import (
    CheckRecord,
    CommandRecord,
    DrillEvent,
    DrillRecord,
    RunRecord,
    StepRecord,
)
from runbook.tasks.heartbeat import drbd_problems

Scenario = Literal["planned", "crash", "link"]
SCENARIOS: tuple[Scenario, ...] = get_args(Scenario)
T = TypeVar("T")
POLL_S = 0.5
WATCH_S = 0.1  # placement samples without SSH (the lab), between the polls
# hb_standby moved from /usr/lib/heartbeat (2.1) to /usr/share/heartbeat (3.0): either.
# --hang: heartbeat dies as a hung or crashed daemon would; its watchdog resets the node one
# margin later, while the peer takes over after deadtime (no STONITH in the guide).
HANG = "kill -9 $(cat /var/run/heartbeat.pid)"
HB_STANDBY = ("for p in /usr/share/heartbeat/hb_standby /usr/lib/heartbeat/hb_standby; do "
              "[ -x $p ] && exec $p foreign; done; exit 127")


# -- the prober: 07-migration's ping, read live ---------------------------------------------------

# 07's parse_probe reads a whole log at the end; the drill also needs each answer as it comes
# (the crash waits for the first one), so this reads the answer lines of the same format.
_ANSWER = re.compile(r"^\[(?P<t>\d+\.\d+)\] \d+ bytes from [^:]+: icmp_[rs]eq=\d+")


def answered_at(line: str) -> float | None:
    """When ``ping -D`` got the answer a line reports; None for any other line."""
    match = _ANSWER.match(line)
    return float(match["t"]) if match else None


def first_answer(answers: Iterable[float], after: float) -> float | None:
    return min((t for t in answers if t >= after), default=None)


def answering_again(answers: Iterable[float], after: float, interval_s: float) -> float | None:
    """The first answer after ``after`` that ends a silence of more than three intervals: when
    a DomU that stopped (a crash) answers again. None while it has not (or never stopped)."""
    previous = None
    for t in sorted(answers):
        if t > after and previous is not None and t - previous > 3 * interval_s:
            return t
        previous = t
    return None


class Prober:
    """One ping per DomU (tasks.migration.probe_command, run where the site says), read live;
    :meth:`stop` ends each with SIGINT and gives 07's prober log for parse_probe."""

    def __init__(self, argv_of: Callable[[str], list[str]], addresses: Mapping[str, str],
                 interval_s: float) -> None:
        self.interval_s = interval_s
        self.lines: dict[str, list[str]] = {name: [] for name in addresses}
        self.started = time.time()
        self.stopped = 0.0
        self._lock = threading.Lock()
        self._procs = {name: subprocess.Popen(argv_of(ip), stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, text=True)
                       for name, ip in addresses.items()}
        self._threads = [threading.Thread(target=self._read, args=(name, proc), daemon=True)
                         for name, proc in self._procs.items()]
        for thread in self._threads:
            thread.start()

    def _read(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._lock:
                self.lines[name].append(line)

    def answers(self, name: str) -> list[float]:
        with self._lock:
            found = [answered_at(line) for line in self.lines[name]]
        return [t for t in found if t is not None]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = time.time()
        for proc in self._procs.values():
            proc.send_signal(signal.SIGINT)  # ping prints its statistics
        for proc in self._procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for thread in self._threads:
            thread.join(timeout=5)

    def probe(self, name: str) -> Probe:
        """07's reading of this DomU's log: longest gap from start to stop, pings lost."""
        with self._lock:
            body = "".join(self.lines[name])
        return parse_probe(f"# probe started {self.started:.6f}\n{body}"
                           f"# probe stopped {self.stopped:.6f}\n", self.interval_s)


# -- the cluster's state, read on both nodes at once --------------------------------------------

@dataclass(frozen=True)
class NodeState:
    """One node, one moment. ``reachable`` False: nothing else is known."""

    node: str
    reachable: bool = True
    why: str = ""
    drbd: ProcDrbd | None = None
    heartbeat: bool = False
    peer: str = ""  # `cl_status nodestatus PEER`: active, dead...; "" unknown
    holds: str = ""  # `cl_status rscstatus`: local, all, foreign, none; "" unknown
    running: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Homes:
    """What the cluster should look like: from the inventory."""

    domus: dict[str, str]  # DomU -> home node
    resources: dict[str, DrbdSettings | None]  # node -> its DRBD section
    peer_fqdn: dict[str, str]  # node -> its peer's heartbeat name (uname -n)

    @classmethod
    def of(cls, cluster: ClusterInventory) -> Homes:
        nodes = cluster.nodes
        return cls({d.name: d.home for d in cluster.domus},
                   {n: s.drbd for n, s in nodes.items()},
                   {n: nodes[s.peer].fqdn for n, s in nodes.items()})


def describe(state: NodeState) -> str:
    """One node's state in words, for the drill's timeline: what DRBD and heartbeat do."""
    if not state.reachable:
        return f"{state.node}: does not answer"
    devices = state.drbd.devices.values() if state.drbd else []
    drbd_words = ", ".join(f"{d.cstate} {d.role}/{d.peer_role} {d.disk}/{d.peer_disk}"
                           for d in devices) or "not loaded"
    hb = (f"heartbeat sees the peer {state.peer or '?'}, holds {state.holds or '?'}"
          if state.heartbeat else "heartbeat stopped")
    return (f"{state.node}: DRBD {drbd_words}; {hb}; running "
            f"{', '.join(sorted(state.running)) or 'no DomU'}")


def placement_of(states: Mapping[str, NodeState]) -> dict[str, frozenset[str]]:
    return {n: s.running for n, s in states.items() if s.reachable}


def where(domu: str, placement: Mapping[str, Iterable[str]]) -> list[str]:
    return sorted(n for n, names in placement.items() if domu in names)


def problems(states: Mapping[str, NodeState], homes: Homes) -> list[str]:
    """Why the cluster is not whole: one sentence each; empty when it is."""
    found = []
    for node, state in sorted(states.items()):
        if not state.reachable:
            found.append(f"{node} does not answer ({state.why})")
            continue
        drbd_state, drbd_setup = drbd_problems(state.drbd, homes.resources.get(node))
        found += [f"{node}: DRBD {p}" for p in drbd_setup + drbd_state]
        if not state.heartbeat:
            found.append(f"{node}: heartbeat is not running")
        elif state.peer != "active":
            found.append(f"{node}: heartbeat sees {homes.peer_fqdn[node]} "
                         f"{state.peer or 'in no known state'}, not active")
        elif state.holds != "local":
            found.append(f"{node}: heartbeat holds {state.holds or 'unknown'} resource groups "
                         "(cl_status rscstatus), not its own (local)")
    placement = placement_of(states)
    for domu, home in homes.domus.items():
        nodes = where(domu, placement)
        if nodes != [home] and (nodes or all(s.reachable for s in states.values())):
            found.append(f"{domu} runs on {' and '.join(nodes) or 'no node'}, "
                         f"not once on its home {home}")
    return found


def _state_of(task: Task, peer_fqdn: str) -> Result:
    """Read one node's state in one round trip; an unreachable node is a state too."""
    host = task.host
    remote.retry_connection(host.name)
    wanted: list[Fact[Any]] = [PROC_DRBD, HB_STATUS, XM_LIST, nodestatus(peer_fqdn), RSC_STATUS]
    try:
        facts = read(task, wanted)
    except remote.NodeUnreachable as exc:
        _drop(task)
        return Result(host=host, result=NodeState(host.name, False, exc.reason))
    except remote.RemoteError as exc:
        return Result(host=host, result=NodeState(host.name, False, str(exc)))
    return Result(host=host, result=_state_from(host.name, facts, peer_fqdn))


def _get(facts: Facts, fact: Fact[T], default: T) -> T:
    try:
        return facts.get(fact)
    except FactError:  # cl_status while heartbeat signs on, xm while xend restarts
        return default


def _state_from(node: str, facts: Facts, peer_fqdn: str) -> NodeState:
    hb = _get(facts, HB_STATUS, False)
    return NodeState(
        node, drbd=_get(facts, PROC_DRBD, None), heartbeat=hb,
        peer=_get(facts, nodestatus(peer_fqdn), "") if hb else "",
        holds=_get(facts, RSC_STATUS, "") if hb else "",
        running=frozenset(running(_get(facts, XM_LIST, []))),
    )


def _drop(task: Task) -> None:
    """Forget a dead session so the node's return gets a new one (remote marked it dropped)."""
    host = task.host
    conn = host.connections.pop("netmiko", None)
    if conn is not None:
        with contextlib.suppress(Exception):  # the node is gone; closing may fail any way
            conn.close()


class Cluster(Protocol):
    def states(self) -> dict[str, NodeState]: ...
    def change(self, node: str, command: str, timeout: float) -> CommandRecord: ...


@dataclass
class NornirCluster:
    """The nodes over the invocation's SSH sessions (one Nornir run per read)."""

    nr: Nornir
    homes: Homes

    def states(self) -> dict[str, NodeState]:
        done = self.nr.run(task=_each_state, homes=self.homes, on_failed=True)
        return {h: m[0].result if isinstance(m[0].result, NodeState)
                else NodeState(h, False, str(m[0].exception or m[0].result))
                for h, m in done.items()}

    def change(self, node: str, command: str, timeout: float) -> CommandRecord:
        one = self.nr.filter(name=node)
        done = one.run(task=_change, command=command, timeout=timeout, on_failed=True)
        result = done[node][0]
        if isinstance(result.result, CommandRecord):
            return result.result
        return CommandRecord(node, command, "", str(result.exception or result.result), -1, 0.0)


def _each_state(task: Task, homes: Homes) -> Result:
    return _state_of(task, homes.peer_fqdn[task.host.name])


def _change(task: Task, command: str, timeout: float) -> Result:
    """Run one changing command the way every change of the tool is made: a plan of one
    RunCommand applied by PlannedTask through a NodeChanger. The result is the command as
    journalled, whatever its exit status."""
    host = task.host.name
    remote.retry_connection(host)
    before = len(remote.journal(host))
    apply = PlannedTask(lambda node: plan_of([RunCommand(command, timeout=timeout)]))
    try:
        apply(task)
    except remote.NodeUnreachable as exc:
        _drop(task)
        return Result(host=task.host, result=CommandRecord(host, command, "", exc.reason, -1,
                                                           0.0))
    except remote.RemoteError:
        pass  # it exited non-zero: the journal has it
    ran = remote.journal(host)[before:]
    return Result(host=task.host, result=CommandRecord.of(ran[-1]) if ran else
                  CommandRecord(host, command, "", "not run", -1, 0.0))


# -- overlaps: a DomU seen on both nodes --------------------------------------------------------

@dataclass(frozen=True)
class Overlap:
    domu: str
    nodes: tuple[str, ...]
    first: float
    last: float

    def sentence(self, t0: float) -> str:
        span = self.last - self.first
        return (f"{self.domu} ran on {' and '.join(self.nodes)} at once from "
                f"{self.first - t0:+.1f} s (seen for {span:.1f} s)")


def overlaps(samples: Sequence[tuple[float, Mapping[str, Iterable[str]]]],
             domus: Iterable[str]) -> list[Overlap]:
    """Each run of consecutive samples in which one DomU was on more than one node."""
    found = []
    for domu in domus:
        run: list[tuple[float, tuple[str, ...]]] = []
        for at, placement in [*samples, (float("inf"), {})]:
            nodes = tuple(where(domu, placement))
            if len(nodes) > 1:
                run.append((at, nodes))
            elif run:
                found.append(Overlap(domu, run[0][1], run[0][0], run[-1][0]))
                run = []
    return found


def lost_writes(acknowledged: int | None, on_disk: int | None) -> int | None:
    """How many acknowledged writes the survivor's disk misses (None: the site cannot tell)."""
    if acknowledged is None or on_disk is None:
        return None
    return max(0, acknowledged - on_disk)


# -- scenarios as plans ---------------------------------------------------------------------------

Act = Literal["fault", "await", "observe", "undo", "hand-back"]
Condition = Literal["moved", "stopped", "dead", "answering", "back", "whole", "still"]


@dataclass(frozen=True)
class Phase:
    act: Act
    node: str  # where it acts or what it waits on ("" for the cluster)
    what: str  # "moved": the node's DomUs run on the peer; a command; ...
    until: Condition | None = None
    measure: Literal["", "time_to_recover_s", "failback_s"] = ""  # what this phase ends
    since: Literal["fault", "undo"] = "fault"  # ... measured from


def plan(scenario: Scenario, node: str, peer: str, auto_failback: bool,
         crash_command: str | None, observe_s: float) -> list[Phase]:
    """What a scenario does, in order: the table the unit tests read."""
    hand_back = [] if auto_failback else [
        Phase("hand-back", peer, HB_STANDBY)]
    if scenario == "planned":
        return [Phase("fault", node, f"{HEARTBEAT_INIT} stop"),
                Phase("await", node, "its DomUs run on the peer", "moved", "time_to_recover_s"),
                Phase("await", node, "heartbeat has stopped", "stopped"),
                Phase("undo", node, f"{HEARTBEAT_INIT} start"), *hand_back,
                Phase("await", "", "every DomU home, DRBD UpToDate", "whole", "failback_s",
                      "undo")]
    if scenario == "crash":
        how = crash_command or "power off"
        return [Phase("fault", node, how),
                Phase("await", node, "the peer declares it dead", "dead"),
                Phase("await", node, "its DomUs run on the peer", "moved"),
                Phase("await", node, "its DomUs answer ping", "answering", "time_to_recover_s"),
                Phase("undo", node, "power on" if crash_command is None else "reboots by itself"),
                Phase("await", node, "answers SSH again", "back"), *hand_back,
                Phase("await", "", "every DomU home, DRBD UpToDate", "whole", "failback_s",
                      "undo")]
    return [Phase("fault", "", "cut the crossover link"),
            Phase("observe", "", f"nothing fails over for {observe_s:g} s", "still"),
            Phase("undo", "", "restore the crossover link"),
            Phase("await", "", "DRBD Connected UpToDate, every DomU home", "whole",
                  "time_to_recover_s", "undo")]


def met(until: Condition, node: str, states: Mapping[str, NodeState], homes: Homes,
        answered: Callable[[str], bool]) -> bool:
    """Whether an await's condition holds in one sample of the cluster."""
    theirs = [d for d, home in homes.domus.items() if home == node]
    peer = next((n for n in states if n != node), "")
    if until == "dead":
        return states[peer].peer == "dead"
    if until == "moved":  # and the takeover is over: a node that returns during it is not
        # given its group back (heartbeat logs "T_STARTING received during takeover")
        return states[peer].holds == "all" and all(
            where(d, placement_of(states)) == [peer] for d in theirs)
    if until == "answering":
        return all(answered(d) for d in theirs)
    if until == "back":
        return states[node].reachable
    if until == "stopped":
        return states[node].reachable and not states[node].heartbeat
    if until == "whole":
        return not problems(states, homes)
    return True


# -- running a scenario -------------------------------------------------------------------------

class Clock(Protocol):
    def now(self) -> float: ...
    def pause(self, seconds: float) -> None: ...


class WallClock:
    """Epoch seconds (ping -D stamps its lines in them); every wait is an interrupt point."""

    def now(self) -> float:
        return time.time()

    def pause(self, seconds: float) -> None:
        interrupt.pause(seconds)


@dataclass
class Drill:
    """One scenario on one cluster: runs the plan, samples, measures, records."""

    scenario: Scenario
    node: str
    peer: str
    cluster: Cluster
    faults: FaultInjector
    homes: Homes
    bounds: Mapping[Condition, float]
    clock: Clock = field(default_factory=WallClock)
    prober: Prober | None = None
    vg: str = "vg"
    disk_lv: Mapping[str, str] = field(default_factory=dict)  # DomU -> its disk LV
    t0: float = 0.0
    samples: list[tuple[float, dict[str, frozenset[str]]]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    last: dict[str, NodeState] = field(default_factory=dict)
    result: DrillRecord | None = None
    broken: list[str] = field(default_factory=list)  # faults not yet undone
    failing_back: bool = False  # the node is back: its DomUs may come home now
    drbd_at_failback: str = ""
    t_undo: float = 0.0
    on_step: Callable[[StepRecord], None] | None = None
    hang: bool = False  # crash: kill heartbeat -9 instead of a power cut
    comes_back_alone: bool = False  # the crashed node reboots by itself (not powered on)
    _samples_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sample(self) -> dict[str, NodeState]:
        states = self.cluster.states()
        placement = self.faults.placement()
        at = self.clock.now()
        seen = ({n: frozenset(d) for n, d in placement.items()} if placement is not None
                else placement_of(states))
        self._note_failback(seen)
        with self._samples_lock:
            self.samples.append((at, seen))
        if self.result is not None:
            for name, state in sorted(states.items()):
                words = describe(state)
                if self.last.get(name) is None or describe(self.last[name]) != words:
                    self.event(words)
        self.last = states
        return states

    def _note_failback(self, seen: Mapping[str, frozenset[str]]) -> None:
        """The DRBD state on the home node just before a DomU came home (planned, crash)."""
        if not self.failing_back or self.drbd_at_failback or not self.last:
            return
        theirs = [d for d, h in self.homes.domus.items() if h == self.node]
        if any(where(d, seen) == [self.node] for d in theirs):
            state = self.last.get(self.node)
            devices = state.drbd.devices.values() if state and state.drbd else []
            self.drbd_at_failback = ", ".join(
                f"{d.cstate} {d.disk}/{d.peer_disk}" for d in devices) or "unknown"

    def moved_at(self, phase: Phase) -> float | None:
        """A node that comes back by itself (a sysrq reboot, a watchdog reset) may take its
        DomUs back before a poll sees them on the peer with its takeover over: then the first
        sample (polls and the lab's watcher) that had them on the peer alone is the move."""
        if phase.until != "moved" or not self.comes_back_alone:
            return None
        theirs = [d for d, home in self.homes.domus.items() if home == self.node]
        with self._samples_lock:
            samples = sorted(self.samples, key=lambda sample: sample[0])
        return next((at for at, seen in samples if at >= self.t0 and theirs
                     and all(where(d, seen) == [self.peer] for d in theirs)), None)

    def answered_since(self, t: float) -> Callable[[str], bool]:
        return lambda d: (self.prober is not None
                          and first_answer(self.prober.answers(d), t) is not None)

    def answering_after(self, node: str) -> float | None:
        """Seconds from the fault to the last of the node's DomUs answering ping again."""
        if self.prober is None:
            return None
        again = [answering_again(self.prober.answers(d), self.t0, self.prober.interval_s)
                 for d, home in self.homes.domus.items() if home == node]
        known = [t for t in again if t is not None]
        return max(known) - self.t0 if known and len(known) == len(again) else None

    def event(self, what: str) -> None:
        assert self.result is not None
        self.result.events.append(DrillEvent(self.clock.now() - self.t0, what))

    def step(self, phase: Phase, began: float, ok: bool, message: str,
             commands: Sequence[CommandRecord] = ()) -> None:
        self.steps.append(StepRecord(
            runbook=f"drill-{self.scenario}", step=f"{phase.act} {phase.what}",
            host=phase.node or "cluster", status="ok" if ok else "failed",
            duration=self.clock.now() - began, message=message, commands=list(commands),
            scope="cluster" if not phase.node else "one-node"))
        if self.on_step is not None:
            self.on_step(self.steps[-1])

    # -- the phases --------------------------------------------------------------------------

    def detached(self, node: str, command: str) -> CommandRecord:
        """Start ``command`` on the node and return at once: the drill watches while it runs
        (heartbeat's stop waits for the migrations; a crash never answers)."""
        out = f"/var/lib/runbook/drill-{self.scenario}.out"
        return self.cluster.change(
            node, f"mkdir -p /var/lib/runbook && nohup sh -c {_q(command)} > {out} 2>&1 "
                  "< /dev/null &", 30.0)

    def fault(self, phase: Phase) -> tuple[bool, str, list[CommandRecord]]:
        assert self.result is not None
        self.broken.append(self.scenario)
        if self.scenario == "link":
            return True, self.faults.cut_link(), []
        if self.scenario == "crash":
            command = self.faults.crash_command(self.node)  # refused: a real node not named
            command = HANG if self.hang else command
            if command is None:
                done, ran = self.faults.crash(self.node), []
            else:
                # the command returns before the node goes: the crash is a second later
                ran = [self.detached(self.node, f"sleep 1; {command}")]
                if ran[0].exit_status != 0:
                    return False, f"`{command}` was not started: {ran[0].stderr.strip()}", ran
                done = command
                self.t0 += 1.0
                self.comes_back_alone = True
            if not self.hang:  # a hung node's DomU writes on until the watchdog resets it
                self._writes_at_crash()
            return True, done, ran
        ran = [self.detached(self.node, phase.what)]
        if ran[0].exit_status != 0:
            return False, f"`{phase.what}` was not started: {ran[0].stderr.strip()}", ran
        return True, f"started `{phase.what}`", ran

    def _writes_at_crash(self) -> None:
        """The lab's DomU write sequence: acknowledged before the crash vs on the survivor's
        disk, read before the survivor starts the DomU (deadtime later) and writes on."""
        assert self.result is not None
        for domu, home in self.homes.domus.items():
            lv = self.disk_lv.get(domu)
            if home != self.node or lv is None:
                continue
            acked = self.faults.acknowledged_write(domu)
            on_disk = self.faults.write_on_disk(self.peer, self.vg, lv)
            gone = lost_writes(acked, on_disk)
            if gone is None:
                continue
            self.result.acknowledged_write, self.result.write_on_survivor = acked, on_disk
            self.result.lost_writes = (self.result.lost_writes or 0) + gone
            self.event(f"{domu}: last acknowledged write {acked}, on {self.peer}'s disk {on_disk}")

    def undo(self, phase: Phase) -> tuple[bool, str, list[CommandRecord]]:
        if self.scenario == "link":
            done = self.faults.restore_link()
        elif self.scenario == "crash":
            done = ((None if self.hang else self.faults.power_on(self.node))
                    or f"{self.node} reboots by itself")
        else:
            ran = self.cluster.change(self.node, phase.what, 120.0)
            if ran.exit_status != 0:
                return False, f"`{phase.what}` exited {ran.exit_status}", [ran]
            self.broken.remove(self.scenario)
            self.failing_back = True
            return True, f"ran `{phase.what}`", [ran]
        self.broken.remove(self.scenario)
        self.failing_back = self.scenario == "crash"  # a link's DomUs never left home
        return True, done, []

    def wait(self, phase: Phase) -> tuple[bool, str]:
        assert phase.until is not None
        bound = self.bounds.get(phase.until, 300.0)
        began = self.clock.now()
        since = self.t0 if phase.since == "fault" else self.t_undo
        while True:
            states = self.sample()
            if phase.until == "still":
                moved = [p for p in problems(states, self.homes) if " runs on " in p]
                if moved:
                    return False, "; ".join(moved)
                if self.clock.now() - began >= bound:
                    return True, f"nothing failed over in {bound:g} s"
            elif (seen := self.moved_at(phase)) is not None or met(
                    phase.until, phase.node, states, self.homes, self.answered_since(self.t0)):
                took = (seen or self.clock.now()) - since
                if phase.until == "answering":  # ping's own stamps, not the poll's
                    took = self.answering_after(phase.node) or took
                if phase.measure:
                    assert self.result is not None
                    setattr(self.result, phase.measure, took)
                return True, f"after {took:.1f} s"
            elif self.clock.now() - began > bound:
                left = problems(states, self.homes)
                return False, f"not within {bound:g} s" + (f": {'; '.join(left)}" if left else "")
            self.clock.pause(POLL_S)

    def run(self, phases: Sequence[Phase], fault: str) -> DrillRecord:
        self.result = DrillRecord(self.scenario, self.node if self.scenario != "link" else "",
                                  self.faults.site, fault)
        self.t0 = self.t_undo = self.clock.now()
        for state in self.last.values():  # the cluster as the preflight found it
            self.event(describe(state))
        ok = True
        watching = self.watch(WATCH_S)
        try:
            for phase in phases:
                if not ok:
                    break
                began = self.clock.now()
                if phase.act == "fault":
                    self.t0 = self.clock.now()
                    ok, message, ran = self.fault(phase)
                elif phase.act == "undo":
                    self.t_undo = self.clock.now()
                    ok, message, ran = self.undo(phase)
                elif phase.act == "hand-back":
                    done = self.cluster.change(phase.node, phase.what, 120.0)
                    ok, message, ran = done.exit_status == 0, f"ran `{phase.what}`", [done]
                else:
                    (ok, message), ran = self.wait(phase), []
                self.event(f"{phase.node or 'cluster'}: {phase.what}: {message}")
                self.step(phase, began, ok, message, ran)
        finally:
            watching.set()
            self.repair_faults()
        return self.result

    def watch(self, period: float) -> threading.Event:
        """Where the site can tell placement without SSH (the lab's hypervisor), sample it
        every ``period`` seconds besides the polls: a DomU on both nodes for a second (a
        heartbeat kill without STONITH) falls between two polls. Set the event to stop."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(period):
                seen = self.faults.placement()
                if seen is None:
                    return
                with self._samples_lock:
                    self.samples.append((self.clock.now(),
                                         {n: frozenset(d) for n, d in seen.items()}))

        threading.Thread(target=loop, daemon=True, name="drill-placement").start()
        return stop

    def repair_faults(self) -> None:
        """Undo a fault the drill left (it failed or was interrupted): no waiting here."""
        for scenario in list(self.broken):
            try:
                if scenario == "link":
                    self.faults.restore_link()
                elif scenario == "crash":
                    self.faults.power_on(self.node)
                else:
                    self.cluster.change(self.node, f"{HEARTBEAT_INIT} start", 120.0)
                self.broken.remove(scenario)
                self.event(f"{self.node or 'cluster'}: the fault was undone after the drill "
                           "stopped early")
            except Exception as exc:  # said in the record: left to repair
                self.event(f"undoing the fault failed: {exc}")


def _q(text: str) -> str:
    return remote.quote(text)


def finish(drill: Drill, end_states: Mapping[str, NodeState]) -> list[CheckRecord]:
    """Fill in the measures that need the whole scenario; the verdict as checks."""
    record = drill.result
    assert record is not None
    if drill.prober is not None:
        drill.prober.stop()
        try:
            probes = [drill.prober.probe(d) for d in drill.homes.domus]
        except ValueError as exc:
            drill.event(f"the prober's log could not be read: {exc}")
            probes = []
        record.downtime_s = max((p.longest_gap_s for p in probes), default=None)
        record.lost_pings = sum(p.lost for p in probes) if probes else None
    t0 = drill.t0
    samples = sorted(drill.samples, key=lambda sample: sample[0])  # polls and watcher
    record.overlaps = [o.sentence(t0) for o in overlaps(samples, drill.homes.domus)]
    left = problems(end_states, drill.homes)
    left += [f"the {s} fault was not undone" for s in drill.broken]
    record.left_to_repair = left
    checks = [_check(drill, "cluster_whole_at_the_end",
                     "every DomU once on its home node, DRBD Connected UpToDate/UpToDate, "
                     "heartbeat running with the peer active", left),
              _check(drill, "no_domu_on_both_nodes",
                     "no DomU was seen running on both nodes during the drill", record.overlaps)]
    if record.lost_writes is not None:
        checks.append(_check(drill, "no_acknowledged_write_lost",
                             "the DomU's last acknowledged write is on the survivor's disk",
                             [f"{record.lost_writes} acknowledged write(s) missing: last "
                              f"acknowledged {record.acknowledged_write}, on the survivor's "
                              f"disk {record.write_on_survivor}"] if record.lost_writes else []))
    if drill.drbd_at_failback:
        stale = [] if all(s == "Connected UpToDate/UpToDate"
                          for s in drill.drbd_at_failback.split(", ")) else [
            f"DRBD on {drill.node} was {drill.drbd_at_failback} when its DomUs came back"]
        checks.append(_check(drill, "drbd_uptodate_before_failback",
                             "DRBD UpToDate on the returning node before its DomUs came back",
                             stale))
    record.passed = all(c.outcome == "passed" for c in checks) and all(
        s.status == "ok" for s in drill.steps)
    return checks


def _check(drill: Drill, name: str, description: str, findings: Sequence[str]) -> CheckRecord:
    return CheckRecord(
        runbook=f"drill-{drill.scenario}", nodeid=f"drill::{name}", name=name, host=None,
        description=description, outcome="failed" if findings else "passed",
        finding="; ".join(findings), duration=0.0)


# -- the command ------------------------------------------------------------------------------

HELP = "prove failover: planned stop, crash or cut link, measured (downtime, time to recover)"


def arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``runbook drill SCENARIO`` (no --limit: a drill needs both nodes)."""
    from runbook import cli

    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--node", default=None, metavar="HOST",
                   help="the node the fault hits (default: the first DomU's home node)")
    p.add_argument("-i", "--inventory", type=Path, default=None,
                   help=f"inventory folder (default: the lab's, {cli.default_inventory()})")
    p.add_argument("--report-dir", type=Path, default=report.REPORT_DIR,
                   help=f"where reports are written (default: {report.REPORT_DIR})")
    p.add_argument("--no-host-key-check", action="store_true",
                   help="do NOT verify SSH host keys against known_hosts (unsafe)")
    p.add_argument("--hang", action="store_true",
                   help="crash: kill heartbeat -9 instead of a power cut (its watchdog resets "
                        "the node; without STONITH a DomU may run on both nodes a moment)")
    p.add_argument("--crash", default=None, metavar="HOST",
                   help="real nodes: allow the crash scenario on HOST (sysrq reboot)")
    p.add_argument("--yes-really-crash", default=None, metavar="HOST",
                   help="real nodes: confirm the crash of HOST without the prompt")
    p.add_argument("--link-cut-command", default=None, metavar="CMD",
                   help="real nodes: a command, run here, that cuts the crossover link")
    p.add_argument("--link-restore-command", default=None, metavar="CMD",
                   help="real nodes: a command, run here, that restores it")
    handover.add_signoff_arguments(p)


REQUIRES = ("base", "lvm", "domu", "drbd", "heartbeat", "identity")  # identity: its handover


def _bounds(cluster: ClusterInventory) -> dict[Condition, float]:
    """How long each wait may take, from the inventory's timings."""
    node = next(iter(cluster.nodes.values()))
    hb = node.heartbeat
    assert hb is not None
    reboot = node.xen.reboot_timeout_s if node.xen is not None else 300
    stop = hb.xendomains.stop_maxwait
    # a cut link: long enough for heartbeat to have declared the peer dead (it must not) and
    # for DRBD to notice (ping-int, then timeout in tenths of a second)
    drbd_notices = node.drbd.ping_int + node.drbd.timeout / 10 + 2 if node.drbd else 0.0
    return {"moved": hb.deadtime + stop, "stopped": stop, "dead": hb.deadtime * 3,
            "answering": hb.deadtime * 3 + 120, "back": reboot,
            "whole": hb.initdead + hb.deadtime + stop + 300,
            "still": max(hb.deadtime * 2.0, drbd_notices)}


def _ask(prompt: str) -> str:
    return input(prompt) if sys.stdin.isatty() else ""


def handle(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    """Run one scenario and write its record, JUnit and handover report; the exit status."""
    from runbook import cli

    cluster = load_inventory((args.inventory or cli.default_inventory()).resolve(),
                             require=REQUIRES,
                             connect=ConnectCheck(strict_host_keys=not args.no_host_key_check))
    node = args.node or args.crash or (cluster.domus[0].home if cluster.domus else "")
    if node not in cluster.nodes:
        raise cli.UsageError(f"--node {node!r} is not an inventory host "
                             f"(known: {', '.join(cluster.nodes)})")
    allowed = faults.confirm_crash(args.crash, args.yes_really_crash, node,
                                   _ask if args.scenario == "crash" else None)
    injector = faults.injector_for(cluster, crash_allowed=allowed,
                                   link_cut=args.link_cut_command,
                                   link_restore=args.link_restore_command)
    try:  # refused before anything is touched: no lock, no record
        if args.scenario == "crash":
            injector.crash_command(node)
        if args.scenario == "link" and isinstance(injector, faults.RealFaults):
            injector.check_link()
    except faults.FaultRefused as exc:
        console.print(f"[red]refused:[/red] {exc}", highlight=False)
        return int(cli.ExitStatus.USAGE)
    remote.reset()
    cli._quiet_paramiko()
    nr = open_nornir(cluster, strict_host_keys=not args.no_host_key_check)
    context.attach(nr, cluster)  # what a PlannedTask reads (the drill's changes are planned)
    try:
        return _locked(args, console, argv, cluster, nr, node, injector)
    finally:
        cli._close(nr)


def _locked(args: argparse.Namespace, console: Console, argv: Sequence[str],
            cluster: ClusterInventory, nr: Nornir, node: str, injector: FaultInjector) -> int:
    from runbook import cli

    scenario: Scenario = args.scenario
    hosts = list(cluster.nodes)
    info = report.invocation_record(command_line=["runbook", *argv], mode="drill",
                                    cluster=cluster, runbook_ids=[f"drill-{scenario}"],
                                    hosts=hosts)
    lock = locking.acquire(nr, locking.owner_for(info.operator, f"runbook drill {scenario}"))
    if lock.refusals:
        for line in lock.refusals:
            console.print(f"[red]refused:[/red] {line}", highlight=False)
        return int(cli.ExitStatus.LOCKED)
    files = report.reserve_report_files(args.report_dir, "drill", [scenario], info.started)
    record = RunRecord(invocation=info)
    homes = Homes.of(cluster)
    settings = cluster.nodes[node]
    drill = Drill(scenario, node, settings.peer, NornirCluster(nr, homes), injector, homes,
                  _bounds(cluster), vg=settings.lvm.vg if settings.lvm else "vg",
                  disk_lv={d.name: lv_names(d)[0] for d in cluster.domus},
                  on_step=lambda row: _print_step(console, row),
                  hang=args.scenario == "crash" and args.hang)
    try:
        record.steps, refusal = preflight(drill)
        if refusal:
            console.print(f"[red]refused:[/red] the cluster is not whole: {refusal}",
                          highlight=False)
        else:
            record.drill, record.checks = _scenario(drill, cluster, injector, settings)
            record.steps += drill.steps
    except interrupt.Interrupted:
        stop = interrupt.requested()
        record.interrupted = stop.record() if stop is not None else None
        record.steps = [*record.steps, *drill.steps]
        if drill.result is not None:
            drill.result.left_to_repair = [f"the {s} fault was not undone" for s in drill.broken]
            record.drill = drill.result
    finally:
        if drill.prober is not None:
            drill.prober.stop()
        stop = interrupt.requested()
        if stop is not None and record.interrupted is None:
            record.interrupted = stop.record()
        info.ended = report.utc_now()
        cli._release(console, nr, lock)
    return _write(console, record, files, nr, cluster, hosts, args)


def preflight(drill: Drill) -> tuple[list[StepRecord], str]:
    """The health gate: the cluster must be whole before a fault is made."""
    began = drill.clock.now()
    found = problems(drill.sample(), drill.homes)
    row = StepRecord(runbook=f"drill-{drill.scenario}", step="preflight", host=drill.node,
                     status="failed" if found else "ok", duration=drill.clock.now() - began,
                     message=("refused: " + "; ".join(found)) if found else
                     "cluster whole: DRBD UpToDate, heartbeat active, every DomU home",
                     scope="cluster")
    drill.samples.clear()
    return [row], "; ".join(found)


def _scenario(drill: Drill, cluster: ClusterInventory, injector: FaultInjector,
              settings: NodeSettings) -> tuple[DrillRecord, list[CheckRecord]]:
    hb = settings.heartbeat
    assert hb is not None
    interval = settings.migration.probe_interval_s if settings.migration else 0.2
    drill.prober = Prober(lambda ip: injector.ping_argv(ip, interval),
                          {d.name: str(d.ip) for d in cluster.domus}, interval)
    drill.clock.pause(1.0)  # answers before the fault: the baseline
    crash_cmd = injector.crash_command(drill.node) if drill.scenario == "crash" else None
    crash_cmd = HANG if drill.hang else crash_cmd
    phases = plan(drill.scenario, drill.node, drill.peer, hb.auto_failback, crash_cmd,
                  drill.bounds["still"])
    fault = next(p.what for p in phases if p.act == "fault")
    result = drill.run(phases, f"{drill.node + ': ' if drill.scenario != 'link' else ''}{fault}")
    checks = finish(drill, drill.cluster.states())
    return result, checks


def _print_step(console: Console, row: StepRecord) -> None:
    mark = "[green]ok[/green]" if row.status == "ok" else "[red]failed[/red]"
    console.print(f"  {row.host:<4} {row.step:<48} {mark} {row.duration:6.1f}s  {row.message}",
                  highlight=False)


def _figure(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} s"


def summary(drill: DrillRecord) -> list[str]:
    """The figures, as the terminal prints them."""
    lines = [f"{drill.scenario} on {drill.site}: {drill.fault}",
             f"  downtime (longest ping silence) {_figure(drill.downtime_s)}, "
             f"{'?' if drill.lost_pings is None else drill.lost_pings} ping(s) lost",
             f"  time to recover {_figure(drill.time_to_recover_s)}, "
             f"failback {_figure(drill.failback_s)}"]
    if drill.lost_writes is not None:
        lines.append(f"  writes: last acknowledged {drill.acknowledged_write}, on the survivor "
                     f"{drill.write_on_survivor}: {drill.lost_writes} lost")
    lines += [f"  finding: {o}" for o in drill.overlaps]
    lines += [f"  left to repair: {p}" for p in drill.left_to_repair]
    return lines


def checks_testsuite(record: RunRecord) -> ET.Element:
    """The drill's verdict as a JUnit testsuite (the steps get theirs from runbook.report)."""
    failed = [c for c in record.checks if c.outcome != "passed"]
    suite = ET.Element("testsuite", {"name": "drill", "tests": str(len(record.checks)),
                                     "failures": str(len(failed)), "errors": "0",
                                     "timestamp": record.invocation.started.isoformat()})
    for check in record.checks:
        case = ET.SubElement(suite, "testcase", {"classname": check.runbook, "name": check.name})
        if check.outcome != "passed":
            ET.SubElement(case, "failure", {"message": check.finding}).text = check.finding
    if record.drill is not None:
        ET.SubElement(suite, "system-out").text = "\n".join(summary(record.drill))
    return suite


def _write(console: Console, record: RunRecord, files: report.ReportFiles, nr: Nornir,
           cluster: ClusterInventory, hosts: list[str], args: argparse.Namespace) -> int:
    suites = ET.Element("testsuites")
    suites.append(checks_testsuite(record))
    ET.ElementTree(suites).write(files.junit, encoding="utf-8", xml_declaration=True)
    report.add_steps_to_junit(files.junit, record)  # the phases as steps, before the verdict
    sha256 = record.write(files.record)
    page = handover.after_invocation(nr, cluster, hosts, files.record, handover.signoff_of(args),
                                     console, read_overview=record.interrupted is None)
    if record.drill is not None:
        for line in summary(record.drill):
            console.print(line, highlight=False)
    for label, path in (("junit", files.junit), ("record", files.record), ("handover", page)):
        if path is not None:
            console.print(f"{label + ':':<9} {path}", highlight=False)
    console.print(f"sha256:   {sha256}  (of the record)", highlight=False)
    if record.interrupted is not None:
        console.print(record.interrupted.line(), highlight=False)
        return interrupt.EXIT_STATUS
    passed = record.passed and record.drill is not None and record.drill.passed
    console.print("[green]drill passed[/green]" if passed else "[red]drill failed[/red]")
    return 0 if passed else 1
