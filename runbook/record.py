"""The run record: what one ``runbook run`` or ``runbook verify`` did, as typed data.

Every invocation writes one record as JSON beside its HTML and JUnit reports; the step
table of the HTML report, the steps of the JUnit file and the terminal summary are all
rendered from it, so they cannot disagree. Secrets never reach it: command text and
output come from the remote helper's journal, which redacts them.

``schema_version`` changes whenever a field changes meaning or goes away; readers refuse
a version they do not know instead of misreading it. Version 2 added the ``interrupted``
step status and the record's ``interrupted`` object; a version 1 record reads as one
that was never interrupted. A check's ``findings`` (runbook.findings) were added without a
new version: a record without them reads as checks that stated none. The ``drill`` object
(:class:`DrillRecord`, written by ``runbook drill`` only) was added the same way: a record
without it is one of ``run`` or ``verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast, get_args

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

StepStatus = Literal["ok", "changed", "failed", "skipped", "waited", "interrupted"]
CheckOutcome = Literal["passed", "failed", "skipped", "error"]
ScopeName = Literal["node", "cluster", "one-node"]
STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)
CHECK_OUTCOMES: tuple[CheckOutcome, ...] = get_args(CheckOutcome)
SCOPES: tuple[ScopeName, ...] = get_args(ScopeName)


class RecordError(ValueError):
    """A run record that cannot be read: not JSON, an unknown schema, a missing field."""


class RanCommand(Protocol):
    """What a command looks like in the remote helper's journal (remote.CommandResult)."""

    @property
    def host(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def exit_status(self) -> int: ...
    @property
    def duration(self) -> float: ...
    @property
    def predicted(self) -> bool: ...


@dataclass(frozen=True)
class CommandRecord:
    """One command run (or, in a dry run, predicted) on one node, with all it printed."""

    host: str
    command: str
    stdout: str
    stderr: str
    exit_status: int
    duration: float
    predicted: bool = False

    @classmethod
    def of(cls, result: RanCommand) -> CommandRecord:
        return cls(result.host, result.command, result.stdout, result.stderr,
                   result.exit_status, result.duration, result.predicted)


@dataclass
class StepRecord:
    """What one step did on one host: a row of the step table."""

    runbook: str
    step: str
    host: str
    status: StepStatus
    duration: float
    message: str = ""
    diff: str = ""
    commands: list[CommandRecord] = field(default_factory=list)
    scope: ScopeName = "node"
    plan: list[str] = field(default_factory=list)  # the task's plan, one line per action


@dataclass(frozen=True)
class Finding:
    """What a check expected of one thing on one node, and what it found (runbook.findings)."""

    subject: str  # what was looked at: "/etc/modules", "xen-tools.conf", "Domain-0 memory"
    expected: str
    found: str
    node: str | None = None  # the inventory host; None for a cluster-wide finding
    key: str = ""  # the setting within the subject, for checks with many parameters
    note: str = ""  # what else the evidence says: "running max_loop is 8"

    def sentence(self) -> str:
        """``/etc/modules on ha2: expected "loop max_loop=64", found no loop line; ...``."""
        what = f"{self.subject} {self.key}" if self.key else self.subject
        where = f" on {self.node}" if self.node else ""
        text = f"{what}{where}: expected {self.expected}, found {self.found}"
        return f"{text}; {self.note}" if self.note else text


@dataclass
class CheckRecord:
    """One acceptance check on one node (``host`` is None for a cluster-wide check)."""

    runbook: str
    nodeid: str  # pytest's id: test_01_base.py::test_hostname_is_fqdn[ha1]
    name: str  # test_hostname_is_fqdn[ha1]
    host: str | None
    description: str
    outcome: CheckOutcome
    finding: str  # why it failed, errored or was skipped; empty when it passed
    duration: float
    evidence: list[CommandRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # stated by the check; [] for an assert


@dataclass
class InvocationRecord:
    """Who ran what, when, with which tool and on which inventory."""

    command_line: list[str]
    mode: str  # "run" or "verify"
    operator: str
    started: datetime  # UTC
    ended: datetime | None  # None while the invocation is still running
    tool_version: str
    git_commit: str
    inventory_folder: str
    inventory_sha256: str
    runbooks: list[str]
    hosts: list[str]  # the nodes in this invocation
    limit: list[str] = field(default_factory=list)  # as given with --limit (empty: none)
    left_out: list[str] = field(default_factory=list)  # cluster nodes --limit left out
    forced: list[str] = field(default_factory=list)  # hosts named by --force
    dry_run: bool = False


@dataclass(frozen=True)
class InterruptRecord:
    """Why and where the run stopped early: a SIGINT or SIGTERM, and what was running."""

    signal: str  # "SIGINT", "SIGTERM"
    at: datetime  # UTC, when the signal came
    during: str  # "02-xen · reboot", "the checks of 01-base"; "" between two stages
    after: str = ""  # the stage that ended last, when none was running
    notes: dict[str, str] = field(default_factory=dict)  # host -> its last progress note

    def line(self) -> str:
        """``interrupted during 02-xen · reboot (ha1: waiting for SSH, ha2: waiting for SSH)``."""
        if self.during:
            notes = ", ".join(f"{h}: {t}" for h, t in self.notes.items())
            return f"interrupted during {self.during}" + (f" ({notes})" if notes else "")
        if self.after:
            return f"interrupted after {self.after}"
        return "interrupted before the first step"


@dataclass(frozen=True)
class Totals:
    steps: dict[StepStatus, int]
    checks: dict[CheckOutcome, int]

    def line(self, *, with_steps: bool = True) -> str:
        """``steps: 8 changed, 0 ok, 0 failed, 0 skipped; checks: 9 passed, 0 failed, ...``.

        ``waited``, ``interrupted`` and ``error`` appear only when there are any.
        """
        order: tuple[StepStatus, ...] = ("changed", "ok", "failed", "skipped", "waited",
                                         "interrupted")
        steps = ", ".join(f"{self.steps[s]} {s}" for s in order
                          if s not in ("waited", "interrupted") or self.steps[s])
        checks = ", ".join(f"{n} {o}" for o, n in self.checks.items() if o != "error" or n)
        return f"steps: {steps}; checks: {checks}" if with_steps else f"checks: {checks}"


@dataclass(frozen=True)
class DrillEvent:
    """Something the drill did or saw, ``at_s`` seconds after the fault (negative: before)."""

    at_s: float
    what: str  # "ha2: test runs here", "ha1 powered on"


@dataclass
class DrillRecord:
    """What a ``runbook drill`` scenario measured (times in seconds; None: not measured)."""

    scenario: str  # "planned", "crash", "link"
    node: str  # the node the fault hit ("" for the link)
    site: str  # "lab rbdl", "real nodes"
    fault: str  # what was done, in words
    downtime_s: float | None = None  # longest silence between two ping answers of a DomU
    lost_pings: int | None = None  # pings never answered, all DomUs
    time_to_recover_s: float | None = None  # fault -> every DomU served again (see drill.py)
    failback_s: float | None = None  # node back -> every DomU home, DRBD UpToDate
    acknowledged_write: int | None = None  # lab crash: the DomU's last acknowledged write
    write_on_survivor: int | None = None  # ... and the last one on the survivor's disk
    lost_writes: int | None = None  # acknowledged_write - write_on_survivor, at least 0
    overlaps: list[str] = field(default_factory=list)  # a DomU seen on both nodes
    events: list[DrillEvent] = field(default_factory=list)
    left_to_repair: list[str] = field(default_factory=list)  # empty when the cluster is whole
    passed: bool = False


@dataclass
class RunRecord:
    invocation: InvocationRecord
    steps: list[StepRecord] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why
    interrupted: InterruptRecord | None = None  # set when a signal stopped the run early
    drill: DrillRecord | None = None  # `runbook drill` only
    schema_version: int = SCHEMA_VERSION

    @property
    def totals(self) -> Totals:
        return Totals(
            steps={s: sum(r.status == s for r in self.steps) for s in STEP_STATUSES},
            checks={o: sum(c.outcome == o for c in self.checks) for o in CHECK_OUTCOMES},
        )

    @property
    def failed_steps(self) -> list[StepRecord]:
        return [r for r in self.steps if r.status == "failed"]

    @property
    def failed_checks(self) -> list[CheckRecord]:
        return [c for c in self.checks if c.outcome in ("failed", "error")]

    @property
    def interrupted_steps(self) -> list[StepRecord]:
        return [r for r in self.steps if r.status == "interrupted"]

    @property
    def passed(self) -> bool:
        return not self.failed_steps and not self.failed_checks and self.interrupted is None

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        drill = {} if self.drill is None else {"drill": _drill_dict(self.drill)}
        return {
            "schema_version": self.schema_version,
            "invocation": _invocation_dict(self.invocation),
            "steps": [_step_dict(r) for r in self.steps],
            "checks": [_check_dict(c) for c in self.checks],
            "unreachable": dict(self.unreachable),
            "interrupted": _interrupt_dict(self.interrupted),
            "totals": {"steps": dict(totals.steps), "checks": dict(totals.checks)},
            **drill,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"not a run record (invalid JSON: {exc})") from None
        return cls.from_dict(_obj(data, "record"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            known = " or ".join(str(v) for v in READABLE_VERSIONS)
            raise RecordError(f"run record schema {version!r} is not {known}")
        unreachable = _obj(data.get("unreachable", {}), "unreachable")
        stopped = data.get("interrupted")
        drill = data.get("drill")
        return cls(
            invocation=_invocation_of(_obj(data.get("invocation"), "invocation")),
            steps=[_step_of(_obj(s, "steps[]")) for s in _list(data, "steps")],
            checks=[_check_of(_obj(c, "checks[]")) for c in _list(data, "checks")],
            unreachable={str(k): str(v) for k, v in unreachable.items()},
            interrupted=None if stopped is None else _interrupt_of(_obj(stopped, "interrupted")),
            drill=None if drill is None else _drill_of(_obj(drill, "drill")),
        )

    def write(self, path: Path) -> str:
        """Write the record to ``path`` (reserved beforehand); return the file's SHA-256."""
        data = self.to_json().encode("utf-8")
        path.write_bytes(data)
        return hashlib.sha256(data).hexdigest()


# -- to JSON --------------------------------------------------------------------------------

def _command_dict(c: CommandRecord) -> dict[str, Any]:
    return {"host": c.host, "command": c.command, "exit_status": c.exit_status,
            "predicted": c.predicted, "duration": round(c.duration, 4),
            "stdout": c.stdout, "stderr": c.stderr}


def _step_dict(r: StepRecord) -> dict[str, Any]:
    return {"runbook": r.runbook, "step": r.step, "scope": r.scope, "host": r.host,
            "status": r.status, "duration": round(r.duration, 4), "message": r.message,
            "plan": list(r.plan), "diff": r.diff,
            "commands": [_command_dict(c) for c in r.commands]}


def _check_dict(c: CheckRecord) -> dict[str, Any]:
    return {"runbook": c.runbook, "nodeid": c.nodeid, "name": c.name, "host": c.host,
            "description": c.description, "outcome": c.outcome, "finding": c.finding,
            "duration": round(c.duration, 4),
            "evidence": [_command_dict(e) for e in c.evidence],
            "findings": [_finding_dict(f) for f in c.findings]}


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {"subject": f.subject, "key": f.key, "expected": f.expected, "found": f.found,
            "node": f.node, "note": f.note}


def _interrupt_dict(i: InterruptRecord | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {"signal": i.signal, "at": i.at.isoformat(), "during": i.during, "after": i.after,
            "notes": dict(i.notes), "line": i.line()}


def _drill_dict(d: DrillRecord) -> dict[str, Any]:
    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {"scenario": d.scenario, "node": d.node, "site": d.site, "fault": d.fault,
            "downtime_s": seconds(d.downtime_s), "lost_pings": d.lost_pings,
            "time_to_recover_s": seconds(d.time_to_recover_s),
            "failback_s": seconds(d.failback_s), "acknowledged_write": d.acknowledged_write,
            "write_on_survivor": d.write_on_survivor, "lost_writes": d.lost_writes,
            "overlaps": list(d.overlaps),
            "events": [{"at_s": round(e.at_s, 3), "what": e.what} for e in d.events],
            "left_to_repair": list(d.left_to_repair), "passed": d.passed}


def _invocation_dict(i: InvocationRecord) -> dict[str, Any]:
    return {"command_line": list(i.command_line), "mode": i.mode, "dry_run": i.dry_run,
            "operator": i.operator, "started": i.started.isoformat(),
            "ended": i.ended.isoformat() if i.ended else None,
            "tool_version": i.tool_version, "git_commit": i.git_commit,
            "inventory_folder": i.inventory_folder, "inventory_sha256": i.inventory_sha256,
            "runbooks": list(i.runbooks), "hosts": list(i.hosts), "limit": list(i.limit),
            "left_out": list(i.left_out), "forced": list(i.forced)}


# -- from JSON ------------------------------------------------------------------------------

T = TypeVar("T")


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object, found {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise RecordError(f"{key}: expected a list, found {type(value).__name__}")
    return value


def _field(data: Mapping[str, Any], key: str, kind: type[T]) -> T:
    if key not in data:
        raise RecordError(f"missing field {key!r}")
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordError(f"field {key!r}: expected {kind.__name__}, found {value!r}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> list[str]:
    values = _list(data, key)
    if not all(isinstance(v, str) for v in values):
        raise RecordError(f"field {key!r}: expected a list of strings")
    return [str(v) for v in values]


def _choice(data: Mapping[str, Any], key: str, allowed: Sequence[str]) -> str:
    value = _field(data, key, str)
    if value not in allowed:
        raise RecordError(f"field {key!r}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError(f"field {key!r}: expected an ISO 8601 time, found {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"field {key!r}: {value!r} is not an ISO 8601 time") from None


def _command_of(d: Mapping[str, Any]) -> CommandRecord:
    return CommandRecord(
        host=_field(d, "host", str), command=_field(d, "command", str),
        stdout=_field(d, "stdout", str), stderr=_field(d, "stderr", str),
        exit_status=_field(d, "exit_status", int), duration=_field(d, "duration", float),
        predicted=_field(d, "predicted", bool),
    )


def _commands(d: Mapping[str, Any], key: str) -> list[CommandRecord]:
    return [_command_of(_obj(c, f"{key}[]")) for c in _list(d, key)]


def _step_of(d: Mapping[str, Any]) -> StepRecord:
    return StepRecord(
        runbook=_field(d, "runbook", str), step=_field(d, "step", str),
        host=_field(d, "host", str),
        status=cast(StepStatus, _choice(d, "status", STEP_STATUSES)),
        duration=_field(d, "duration", float), message=_field(d, "message", str),
        diff=_field(d, "diff", str), commands=_commands(d, "commands"),
        scope=cast(ScopeName, _choice(d, "scope", SCOPES)), plan=_strings(d, "plan"),
    )


def _check_of(d: Mapping[str, Any]) -> CheckRecord:
    host = d.get("host")
    if host is not None and not isinstance(host, str):
        raise RecordError(f"field 'host': expected a string or null, found {host!r}")
    return CheckRecord(
        runbook=_field(d, "runbook", str), nodeid=_field(d, "nodeid", str),
        name=_field(d, "name", str), host=host, description=_field(d, "description", str),
        outcome=cast(CheckOutcome, _choice(d, "outcome", CHECK_OUTCOMES)),
        finding=_field(d, "finding", str), duration=_field(d, "duration", float),
        evidence=_commands(d, "evidence"),
        findings=[_finding_of(_obj(f, "findings[]")) for f in _list(d, "findings")],
    )


def _finding_of(d: Mapping[str, Any]) -> Finding:
    node = d.get("node")
    if node is not None and not isinstance(node, str):
        raise RecordError(f"field 'node': expected a string or null, found {node!r}")
    return Finding(
        subject=_field(d, "subject", str), expected=_field(d, "expected", str),
        found=_field(d, "found", str), node=node, key=_field(d, "key", str),
        note=_field(d, "note", str),
    )


def _invocation_of(d: Mapping[str, Any]) -> InvocationRecord:
    ended = d.get("ended")
    return InvocationRecord(
        command_line=_strings(d, "command_line"), mode=_field(d, "mode", str),
        operator=_field(d, "operator", str), started=_time(d.get("started"), "started"),
        ended=None if ended is None else _time(ended, "ended"),
        tool_version=_field(d, "tool_version", str), git_commit=_field(d, "git_commit", str),
        inventory_folder=_field(d, "inventory_folder", str),
        inventory_sha256=_field(d, "inventory_sha256", str),
        runbooks=_strings(d, "runbooks"), hosts=_strings(d, "hosts"),
        limit=_strings(d, "limit"), left_out=_strings(d, "left_out"),
        forced=_strings(d, "forced"), dry_run=_field(d, "dry_run", bool),
    )


def _optional(d: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    return None if d.get(key) is None else _field(d, key, kind)


def _drill_of(d: Mapping[str, Any]) -> DrillRecord:
    return DrillRecord(
        scenario=_field(d, "scenario", str), node=_field(d, "node", str),
        site=_field(d, "site", str), fault=_field(d, "fault", str),
        downtime_s=_optional(d, "downtime_s", float), lost_pings=_optional(d, "lost_pings", int),
        time_to_recover_s=_optional(d, "time_to_recover_s", float),
        failback_s=_optional(d, "failback_s", float),
        acknowledged_write=_optional(d, "acknowledged_write", int),
        write_on_survivor=_optional(d, "write_on_survivor", int),
        lost_writes=_optional(d, "lost_writes", int), overlaps=_strings(d, "overlaps"),
        events=[DrillEvent(_field(e, "at_s", float), _field(e, "what", str))
                for e in (_obj(x, "events[]") for x in _list(d, "events"))],
        left_to_repair=_strings(d, "left_to_repair"), passed=_field(d, "passed", bool),
    )


def _interrupt_of(d: Mapping[str, Any]) -> InterruptRecord:
    notes = _obj(d.get("notes", {}), "interrupted.notes")
    return InterruptRecord(
        signal=_field(d, "signal", str), at=_time(d.get("at"), "at"),
        during=_field(d, "during", str), after=_field(d, "after", str),
        notes={str(k): str(v) for k, v in notes.items()},
    )


def read(path: Path) -> RunRecord:
    return RunRecord.from_json(path.read_text(encoding="utf-8"))

