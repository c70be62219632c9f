"""Read, plan, apply: how every step changes a node, and why a dry run cannot.

A step is ``planned(plan_fn)``: ``plan_fn`` gets a :class:`NodeReader` (it can read facts
and nothing else) and returns a :class:`Plan`, a list of typed actions made from facts
and inventory. In a dry run the step returns the plan; otherwise, and only then, a
:class:`NodeChanger` is made and each action applies itself through it. The changing
calls of :mod:`runbook.remote` are reachable only from a NodeChanger, and a NodeChanger
cannot be made in a dry run. ``changed`` is ``bool(plan)``.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from nornir.core.task import Result, Task

from runbook import context, progress, remote
from runbook.engine import Refused, StepFailed
from runbook.facts import Fact, Facts, read
from runbook.facts.packages import missing, packages
from runbook.inventory import NodeSettings
from runbook.remote import CommandResult

T = TypeVar("T")


class NodeReader:
    """Everything a plan may do with a node: read it. There is no way to change it here."""

    def __init__(self, task: Task) -> None:
        self.__task = task
        self.name: str = task.host.name
        self.dry_run: bool = bool(task.is_dry_run())
        self.context = context.of(task.host)

    @property
    def settings(self) -> NodeSettings:
        return self.context.node(self.name)

    @property
    def peer(self) -> str:
        return self.settings.peer

    def facts(self, *wanted: Fact[Any]) -> Facts:
        """Every fact in one round trip."""
        return read(self.__task, wanted)

    def fact(self, wanted: Fact[T]) -> T:
        """One fact's value (FactError when its command failed or printed the unexpected)."""
        return self.facts(wanted).get(wanted)

    def read(self, command: str, *, ok_codes: Iterable[int] = (0,),
             timeout: float = remote.DEFAULT_TIMEOUT) -> CommandResult:
        return remote.run(self.__task, command, ok_codes=ok_codes, timeout=timeout)

    def secret(self, value: str) -> None:
        """Keep ``value`` out of this node's journal and so out of every report."""
        remote.register_secret(self.name, value)

    def note(self, text: str) -> None:
        progress.note(self.name, text)

    def unmet(self, reason: str, prediction: str) -> str:
        return unmet(self.dry_run, reason, prediction)


def required(settings: T | None, section: str) -> T:
    """A section of the node's settings that the runbook requires (the loader then guarantees
    it); refused when it is missing all the same."""
    if settings is None:
        raise Refused(f"the inventory has no {section} settings for this host")
    return settings


def unmet(dry_run: bool, reason: str, prediction: str) -> str:
    """A fact that only an earlier step's change brings is missing.

    In a real run that earlier step has run, so this is a failure (StepFailed). A dry run
    made no change, so the plan predicts from the inventory and says so.
    """
    if not dry_run:
        raise StepFailed(reason)
    return f"predicted ({reason}): {prediction}"


class NodeChanger(NodeReader):
    """A NodeReader that can also change the node: made only on the real-run path."""

    def __init__(self, task: Task) -> None:
        if task.is_dry_run():
            raise remote.ChangeInDryRun(f"{task.host.name}: no changes in a dry run")
        super().__init__(task)
        self.__task = task

    def change(self, command: str, *, timeout: float = remote.DEFAULT_TIMEOUT,
               display: str | None = None, stdin: str | None = None,
               ok_codes: Iterable[int] = (0,)) -> CommandResult:
        return remote.change(self.__task, command, timeout=timeout, display=display,
                             stdin=stdin, ok_codes=ok_codes)

    def reboot_and_wait(self, timeout: float) -> str:
        return remote.reboot_and_wait(
            self.__task, timeout=timeout,
            waiting=lambda s: self.note("waiting for SSH"))  # progress adds the time


class Action(Protocol):
    """One change to a node: how a person reads it, and how it is made."""

    def describe(self) -> str:
        """One line, e.g. ``run: pvcreate /dev/sda3`` or ``write /etc/hosts (mode 0644)``."""
        ...

    def apply(self, node: NodeChanger) -> str:
        """Make the change; return what was done, in the past tense."""
        ...


def unified_diff(path: str, old: str | None, new: str) -> str:
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    label = "/dev/null" if old is None else f"a{path}"
    lines = difflib.unified_diff(before, after, fromfile=label, tofile=f"b{path}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


@dataclass(frozen=True)
class WriteFile:
    """Make ``path`` hold exactly ``content`` in one atomic write."""

    path: str
    content: str
    diff: str
    mode: str = "0644"

    def describe(self) -> str:
        return f"write {self.path} ({len(self.content.encode())} bytes, mode {self.mode})"

    def apply(self, node: NodeChanger) -> str:
        payload = base64.b64encode(self.content.encode()).decode()
        tmp = remote.quote(f"{self.path}.runbook-tmp")
        node.change(f"printf %s {payload} | base64 -d > {tmp} && chmod {self.mode} {tmp} && "
                    f"mv -f {tmp} {remote.quote(self.path)}", display=self.describe())
        return f"wrote {self.path}"


def write_file(path: str, current: str | None, wanted: str, mode: str = "0644") -> list[Action]:
    """The write that makes ``current`` (None: no file) ``wanted``; nothing when equal."""
    diff = unified_diff(path, current, wanted)
    return [WriteFile(path, wanted, diff, mode)] if diff else []


@dataclass(frozen=True)
class RunCommand:
    """Run a command that changes the node."""

    command: str
    done: str = ""  # what it did, in words (default: "ran COMMAND")
    timeout: float = remote.DEFAULT_TIMEOUT

    def describe(self) -> str:
        return f"run: {self.command}"

    def apply(self, node: NodeChanger) -> str:
        node.change(self.command, timeout=self.timeout)
        return self.done or f"ran {self.command}"


@dataclass(frozen=True)
class InstallPackages:
    """apt-get install, then read dpkg back: installed is what dpkg says, not apt's status."""

    names: tuple[str, ...]

    @property
    def command(self) -> str:
        return f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {remote.quote(*self.names)}"

    def describe(self) -> str:
        return f"run: {self.command}"

    def apply(self, node: NodeChanger) -> str:
        node.note(f"installing {', '.join(self.names)}")
        node.change(self.command, timeout=900)
        still = missing(node.fact(packages(self.names)), self.names)
        if still:
            raise StepFailed(f"apt-get ran but dpkg does not list {', '.join(still)} as installed")
        return f"installed {', '.join(self.names)}"


@dataclass(frozen=True)
class Plan:
    """What a step would change on one node, and what it found already right."""

    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()  # what is already right, in words (the message of a no-op)
    predictions: tuple[str, ...] = ()  # dry run: what was predicted instead of read

    def __bool__(self) -> bool:
        return bool(self.actions)

    @property
    def diff(self) -> str:
        """The unified diff of every file the plan writes."""
        return "".join(a.diff for a in self.actions if isinstance(a, WriteFile))

    def describe(self) -> list[str]:
        """One human line per action (and per prediction a dry run made)."""
        return [a.describe() for a in self.actions] + list(self.predictions)

    def __add__(self, other: Plan) -> Plan:
        return Plan(self.actions + other.actions, self.notes + other.notes,
                    self.predictions + other.predictions)


def plan_of(actions: Sequence[Action] = (), *, notes: Sequence[str] = (),
            predictions: Sequence[str] = ()) -> Plan:
    return Plan(tuple(actions), tuple(notes), tuple(predictions))


PlanFunction = Callable[[NodeReader], Plan]


@dataclass(frozen=True)
class PlannedTask:
    """A step's Nornir task: read and plan, then return the plan (dry run) or apply it."""

    plan_fn: PlanFunction
    name: str = field(default="")

    def __call__(self, task: Task) -> Result:
        plan = self.plan_fn(NodeReader(task))
        if not plan:
            message = "; ".join(plan.notes + plan.predictions) or "nothing to change"
            return Result(host=task.host, result=message, changed=False, plan=plan)
        if task.is_dry_run():
            for line in plan.describe():
                remote.record_prediction(task.host.name, line.removeprefix("run: "))
            count = len(plan.actions)  # the actions and predictions are in plan.describe()
            return Result(host=task.host, result=f"would make {count} change"
                          f"{'s' if count > 1 else ''}", changed=True, diff=plan.diff, plan=plan)
        changer = NodeChanger(task)
        done = [action.apply(changer) for action in plan.actions]
        return Result(host=task.host, result="; ".join(done), changed=True, diff=plan.diff,
                      plan=plan)


def planned(plan_fn: PlanFunction) -> PlannedTask:
    """The Nornir task of a step whose changes are planned by ``plan_fn``."""
    return PlannedTask(plan_fn, plan_fn.__name__)
