"""Runbooks as ordered steps, each step a Nornir task run on its hosts at once.

Nornir's ``run`` returns only when every host of the step has finished it, which
gives the barrier the guide needs (both DRBD nodes configured before either
starts it). A step has a scope:

* per node (the default): a host whose step failed runs no further steps, the
  other host goes on;
* the whole cluster: it runs only when every node of the cluster is in the run
  and healthy, otherwise it fails on all of them with the reason ("ha2 failed at
  02-xen · reboot; the DRBD initial sync needs both nodes") - so ``--limit``
  can never run it on half a cluster;
* one node chosen from the inventory: the others wait at the barrier.

Once an interrupt is requested (Ctrl-C, SIGTERM: runbook.interrupt) no step starts; a
step that stops at its safe point for it is recorded as ``interrupted``.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from nornir.core import Nornir
from nornir.core.task import AggregatedResult, Result, Task

from runbook import interrupt, paths, progress, remote
from runbook.record import CommandRecord, ScopeName, StepRecord, StepStatus

if TYPE_CHECKING:
    from runbook.inventory import ClusterInventory

PROJECT_ROOT = paths.checkout_root() or paths.PACKAGE_DIR
RUNBOOK_DIR = paths.RUNBOOK_DIR
CHECKS_DIR = paths.CHECKS_DIR

StepTask = Callable[[Task], Result]
Status = StepStatus
_ID = re.compile(r"^(?P<num>\d\d)-(?P<name>[a-z0-9-]+)$")


class Refused(Exception):
    """A step refuses to do something dangerous; the message says what and why."""


class StepFailed(Exception):
    """A step found its goal unreachable; the message says what it saw."""


@dataclass(frozen=True)
class PerNode:
    """Each node on its own: a node that failed earlier sits the step out, the others go on."""

    name: ClassVar[ScopeName] = "node"


@dataclass(frozen=True)
class WholeCluster:
    """Every node of the cluster at once or none: DRBD and Heartbeat never go on with one.

    ``why`` completes the failure sentence when a node is missing or unhealthy, e.g.
    "the DRBD initial sync needs both nodes".
    """

    why: str = ""
    name: ClassVar[ScopeName] = "cluster"


@dataclass(frozen=True)
class OneNode:
    """One node chosen from the inventory (say, a DomU's home node); the others wait.

    ``choose`` names the node from the cluster inventory; ``why`` says why that one
    ("the DomU's home node").
    """

    choose: Callable[[ClusterInventory], str]
    why: str = ""
    name: ClassVar[ScopeName] = "one-node"


Scope = PerNode | WholeCluster | OneNode
PER_NODE = PerNode()


@dataclass(frozen=True)
class Step:
    name: str
    task: StepTask
    description: str
    scope: Scope = PER_NODE


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    steps: tuple[Step, ...]
    requires: tuple[str, ...]
    path: Path
    checks_dir: Path = CHECKS_DIR

    @property
    def checks(self) -> Path:
        return self.checks_dir / f"test_{self.id.replace('-', '_')}.py"


# What one step did on one host: a row of the run record (kept under its old name).
StepOutcome = StepRecord


class UnknownRunbook(Exception):
    pass


def _load(path: Path) -> Runbook:
    spec = importlib.util.spec_from_file_location(f"runbooks_{path.stem.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise UnknownRunbook(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (module.__doc__ or path.stem).strip().splitlines()[0]
    return Runbook(
        id=path.stem,
        title=doc,
        steps=tuple(module.STEPS),
        requires=tuple(getattr(module, "REQUIRES", ())),
        path=path,
    )


def discover(folder: Path = RUNBOOK_DIR) -> list[Runbook]:
    """Every ``NN-name.py`` in the runbooks folder, in number order."""
    return [_load(p) for p in sorted(folder.glob("[0-9][0-9]-*.py")) if _ID.match(p.stem)]


def select(available: Sequence[Runbook], wanted: Sequence[str]) -> list[Runbook]:
    """Resolve ids (``06-drbd``, ``06`` or ``all``) to runbooks, in number order."""
    if not wanted or list(wanted) == ["all"]:
        return list(available)
    chosen: dict[str, Runbook] = {}
    for word in wanted:
        matches = [rb for rb in available if word in (rb.id, rb.id[:2])]
        if not matches:
            known = ", ".join(rb.id for rb in available)
            raise UnknownRunbook(f"unknown runbook '{word}' (known: {known}, or 'all')")
        chosen[matches[0].id] = matches[0]
    return sorted(chosen.values(), key=lambda rb: rb.id)


def _execute_step(task: Task, step: Step) -> Result:
    """Run one step on one host; turn expected failures into a clean failed Result."""
    try:
        return step.task(task)
    except Refused as exc:
        return Result(host=task.host, failed=True, result=f"refused: {exc}")
    except StepFailed as exc:
        return Result(host=task.host, failed=True, result=str(exc))
    except remote.RemoteError as exc:
        return Result(host=task.host, failed=True, result=str(exc))
    except interrupt.Interrupted as exc:
        note = progress.current().note_of(task.host.name)
        return Result(host=task.host, failed=True, interrupted=True,
                      result=f"interrupted by {exc}" + (f" while {note}" if note else ""))


def plan_lines(result: Result) -> list[str]:
    """The task's plan (``result.plan``, anything with ``describe() -> list[str]``), if any."""
    describe = getattr(getattr(result, "plan", None), "describe", None)
    return [str(line) for line in describe()] if callable(describe) else []


def outcomes_from(
    runbook: Runbook,
    step: Step,
    aggregated: AggregatedResult,
    started: dict[str, int],
    durations: dict[str, float],
) -> list[StepOutcome]:
    rows = []
    for host, multi in aggregated.items():
        result = multi[0]
        commands = remote.journal(host)[started.get(host, 0) :]
        status: Status
        if getattr(result, "interrupted", False):
            message, status = str(result.result), "interrupted"
        elif result.failed:
            message = str(result.result) if result.exception is None else _exception_line(result)
            status = "failed"
        else:
            message = str(result.result or "")
            status = "changed" if result.changed else "ok"
        rows.append(
            StepOutcome(
                runbook=runbook.id,
                step=step.name,
                host=host,
                status=status,
                duration=durations.get(host, 0.0),
                message=message,
                diff=result.diff or "",
                commands=[CommandRecord.of(c) for c in commands],
                scope=step.scope.name,
                plan=plan_lines(result),
            )
        )
    return rows


def _exception_line(result: Result) -> str:
    exc = result.exception
    return f"{type(exc).__name__}: {exc}" if exc is not None else "failed"


def _timed(task: Task, step: Step, durations: dict[str, float]) -> Result:
    began = time.monotonic()
    try:
        return _execute_step(task, step)
    finally:
        durations[task.host.name] = time.monotonic() - began
        progress.finished(task.host.name)  # the spinner names the nodes still working


StepListener = Callable[[Runbook, Step, list[StepOutcome]], None]
StepStarted = Callable[[Runbook, Step, list[str]], None]


@dataclass(frozen=True)
class Exclusion:
    """Why a host takes no further part: ``cause`` completes "ha2 ..." in one line."""

    cause: str  # "failed at 02-xen · reboot", "failed the checks of 01-base"
    detail: str = ""  # the failed step's own message


@dataclass(frozen=True)
class _Plan:
    """Who runs a step, who waits, and (when it must not run at all) why not."""

    run: list[str]
    waiting: list[str] = field(default_factory=list)
    refusal: str = ""
    chosen: str = ""


@dataclass
class RunbookRun:
    """Runs runbooks on a Nornir object and keeps every step outcome.

    ``nornir`` holds the hosts of this invocation (``--limit`` filters it); ``cluster`` is
    the whole inventory, so a cluster-scoped step knows which nodes are missing.
    """

    nornir: Nornir
    cluster: ClusterInventory | None = None  # None: the one open_nornir put in host data
    dry_run: bool = False
    on_step_start: StepStarted | None = None
    on_step_done: StepListener | None = None
    outcomes: list[StepOutcome] = field(default_factory=list)
    exclusions: dict[str, Exclusion] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cluster is None:
            clusters = {id(h.data.get("cluster")): h.data.get("cluster")
                        for h in self.nornir.inventory.hosts.values()}
            found = [c for c in clusters.values() if c is not None]
            if len(found) != 1:
                raise ValueError("RunbookRun needs the cluster inventory (cluster=...)")
            self.cluster = found[0]

    @property
    def nodes(self) -> list[str]:
        """Every node of the cluster, in the run or not, in inventory order."""
        assert self.cluster is not None  # set in __post_init__
        return list(self.cluster.nodes)

    @property
    def hosts(self) -> list[str]:
        """The hosts of this invocation, in inventory order."""
        return list(self.nornir.inventory.hosts)

    @property
    def left_out(self) -> list[str]:
        """Cluster nodes this invocation does not reach (``--limit``)."""
        return [n for n in self.nodes if n not in self.nornir.inventory.hosts]

    def exclude(self, host: str, cause: str, detail: str = "") -> None:
        """Keep ``host`` out of every later step of this invocation (first cause wins)."""
        self.exclusions.setdefault(host, Exclusion(cause, detail))
        self.nornir.data.failed_hosts.add(host)

    def _exclusion(self, host: str) -> Exclusion:
        return self.exclusions.get(host, Exclusion("failed earlier in this run"))

    def run(self, runbook: Runbook) -> list[StepOutcome]:
        """Run the runbook's steps in order; none starts once an interrupt is requested."""
        rows: list[StepOutcome] = []
        for step in runbook.steps:
            if interrupt.requested():
                break
            rows.extend(self._run_step(runbook, step))
        return rows

    def _healthy(self) -> list[str]:
        return [h for h in self.hosts if h not in self.nornir.data.failed_hosts]

    def _blockers(self, nodes: Sequence[str]) -> list[str]:
        """One phrase per node of ``nodes`` that cannot take part, in inventory order."""
        healthy = self._healthy()
        phrases = []
        for node in nodes:
            if node not in self.hosts:
                phrases.append(f"{node} is left out by --limit")
            elif node not in healthy:
                phrases.append(f"{node} {self._exclusion(node).cause}")
        return phrases

    def _plan(self, runbook: Runbook, step: Step) -> _Plan:
        label = f"{runbook.id} · {step.name}"
        scope = step.scope
        if isinstance(scope, PerNode):
            return _Plan(run=self._healthy())
        if isinstance(scope, WholeCluster):
            blockers = self._blockers(self.nodes)
            both = "both nodes" if len(self.nodes) == 2 else "every node of the cluster"
            why = scope.why or f"{label} needs {both}"
            return _Plan(run=[] if blockers else self.hosts,
                         refusal="; ".join([*blockers, why]) if blockers else "")
        assert self.cluster is not None  # set in __post_init__
        try:
            chosen = scope.choose(self.cluster)
        except Exception as exc:  # an inventory the chooser cannot place: fail, don't crash
            return _Plan(run=[], refusal=f"{label}: no node chosen ({type(exc).__name__}: {exc})")
        only = f"{label} runs on {chosen} only" + (f" ({scope.why})" if scope.why else "")
        if chosen not in self.nodes:
            return _Plan(run=[], refusal=f"{chosen} is not a node of this inventory; {only}")
        blockers = self._blockers([chosen])
        if blockers:
            return _Plan(run=[], refusal="; ".join([*blockers, only]), chosen=chosen)
        waiting = [h for h in self._healthy() if h != chosen]
        return _Plan(run=[chosen], waiting=waiting, chosen=chosen)

    def _run_step(self, runbook: Runbook, step: Step) -> list[StepOutcome]:
        # With no healthy node left there is nobody to stop: each node just sits it out
        # with its own reason, so one broken node does not fail every later step again.
        plan = self._plan(runbook, step) if self._healthy() else _Plan(run=[])
        if plan.refusal:
            rows = self._refused(runbook, step, plan.refusal)
        else:
            rows = self._run_on(runbook, step, plan.run)
            rows += [self._row(runbook, step, h, "waited",
                               f"waited while {plan.chosen} ran this step") for h in plan.waiting]
            rows += [self._row(runbook, step, h, "skipped", self._not_run(h))
                     for h in self.hosts if h not in plan.run and h not in plan.waiting]
        order = self.hosts
        rows.sort(key=lambda r: order.index(r.host))
        self.outcomes.extend(rows)
        if self.on_step_done:
            self.on_step_done(runbook, step, rows)
        return rows

    def _not_run(self, host: str) -> str:
        excl = self._exclusion(host)
        return f"not run: {excl.cause}" + (f": {excl.detail}" if excl.detail else "")

    def _row(self, runbook: Runbook, step: Step, host: str, status: Status,
             message: str) -> StepOutcome:
        return StepOutcome(runbook.id, step.name, host, status, 0.0, message,
                           scope=step.scope.name)

    def _refused(self, runbook: Runbook, step: Step, reason: str) -> list[StepOutcome]:
        """The step fails on every node of the run (the reason on each row): none may go on
        alone, and the node that stopped earlier shows why the step could not run."""
        rows = [self._row(runbook, step, h, "failed", reason) for h in self.hosts]
        for host in self.hosts:
            self.exclude(host, f"failed at {runbook.id} · {step.name}", reason)
        return rows

    def _run_on(self, runbook: Runbook, step: Step, hosts: list[str]) -> list[StepOutcome]:
        if not hosts:
            return []
        progress.begin(f"{runbook.id} · {step.name}", hosts)
        started = {h: len(remote.journal(h)) for h in hosts}
        durations: dict[str, float] = {}
        self.nornir.data.dry_run = self.dry_run  # what task.is_dry_run() answers
        try:
            if self.on_step_start:
                self.on_step_start(runbook, step, hosts)
            aggregated = self.nornir.filter(filter_func=lambda h: h.name in hosts).run(
                task=_timed,
                name=f"{runbook.id}:{step.name}",
                step=step,
                durations=durations,
            )
        finally:
            progress.end()
        rows = outcomes_from(runbook, step, aggregated, started, durations)
        for row in rows:
            if row.status in ("failed", "interrupted"):
                self.exclude(row.host, f"{row.status} at {runbook.id} · {step.name}",
                             row.message)
        return rows
