"""Runbooks as ordered steps, each step a Nornir task run on all hosts at once.

Nornir's ``run`` returns only when every selected host has finished the task,
which gives the barrier the guide needs (both DRBD nodes configured before
either starts it). Nornir also remembers failed hosts and leaves them out of
later ``run`` calls, so a host whose step fails runs no further steps while the
other host goes on.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nornir.core import Nornir
from nornir.core.task import AggregatedResult, Result, Task

from runbook import paths, remote

PROJECT_ROOT = paths.checkout_root() or paths.PACKAGE_DIR
RUNBOOK_DIR = paths.RUNBOOK_DIR
CHECKS_DIR = paths.CHECKS_DIR

Status = Literal["ok", "changed", "failed", "skipped"]
StepTask = Callable[[Task], Result]
_ID = re.compile(r"^(?P<num>\d\d)-(?P<name>[a-z0-9-]+)$")


class Refused(Exception):
    """A step refuses to do something dangerous; the message says what and why."""


class StepFailed(Exception):
    """A step found its goal unreachable; the message says what it saw."""


@dataclass(frozen=True)
class Step:
    name: str
    task: StepTask
    description: str


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    steps: tuple[Step, ...]
    requires: tuple[str, ...]
    path: Path

    @property
    def checks(self) -> Path:
        return CHECKS_DIR / f"test_{self.id.replace('-', '_')}.py"


@dataclass
class StepOutcome:
    """What one step did on one host: the row of the report's step table."""

    runbook: str
    step: str
    host: str
    status: Status
    duration: float
    message: str = ""
    diff: str = ""
    commands: list[remote.CommandResult] = field(default_factory=list)


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
        if result.failed:
            message = str(result.result) if result.exception is None else _exception_line(result)
            status: Status = "failed"
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
                commands=commands,
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


StepListener = Callable[[Runbook, Step, list[StepOutcome]], None]
StepStarted = Callable[[Runbook, Step, list[str]], None]


@dataclass
class RunbookRun:
    """Runs runbooks on a Nornir object and keeps every step outcome."""

    nornir: Nornir
    dry_run: bool = False
    on_step_start: StepStarted | None = None
    on_step_done: StepListener | None = None
    outcomes: list[StepOutcome] = field(default_factory=list)
    failed_reason: dict[str, str] = field(default_factory=dict)

    def exclude(self, host: str, reason: str) -> None:
        """Keep ``host`` out of every later step of this invocation."""
        self.failed_reason.setdefault(host, reason)
        self.nornir.data.failed_hosts.add(host)

    def run(self, runbook: Runbook) -> list[StepOutcome]:
        rows: list[StepOutcome] = []
        for step in runbook.steps:
            rows.extend(self._run_step(runbook, step))
        return rows

    def _run_step(self, runbook: Runbook, step: Step) -> list[StepOutcome]:
        all_hosts = list(self.nornir.inventory.hosts)
        active = [h for h in all_hosts if h not in self.nornir.data.failed_hosts]
        skipped = [
            StepOutcome(
                runbook.id,
                step.name,
                h,
                "skipped",
                0.0,
                f"not run: {self.failed_reason.get(h, 'an earlier step failed on this host')}",
            )
            for h in all_hosts
            if h not in active
        ]
        rows: list[StepOutcome] = []
        if active:
            if self.on_step_start:
                self.on_step_start(runbook, step, active)
            started = {h: len(remote.journal(h)) for h in active}
            durations: dict[str, float] = {}
            self.nornir.data.dry_run = self.dry_run  # what task.is_dry_run() answers
            aggregated = self.nornir.run(
                task=_timed,
                name=f"{runbook.id}:{step.name}",
                step=step,
                durations=durations,
            )
            rows = outcomes_from(runbook, step, aggregated, started, durations)
            for row in rows:
                if row.status == "failed":
                    self.exclude(row.host, f"{runbook.id} step '{step.name}' failed: {row.message}")
        rows = sorted(rows + skipped, key=lambda r: all_hosts.index(r.host))
        self.outcomes.extend(rows)
        if self.on_step_done:
            self.on_step_done(runbook, step, rows)
        return rows
