"""Facts: what a node says about itself, as a command plus a pure, typed parser.

Tasks and checks read the same facts. A set of facts is asked in one round trip per node
(:func:`read`); each value is parsed when it is read (:meth:`Facts.get`). Reading a fact
whose command exited with a status the fact does not accept, or whose output does not
parse, raises a :class:`FactError` carrying the command's result: a task fails with it and
a check fails with it, never passes on output it did not understand.

One module per area: :mod:`.system`, :mod:`.packages`, :mod:`.xen`, :mod:`.lvm`, :mod:`.domu`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from nornir.core.task import Task

from runbook import remote
from runbook.remote import CommandResult

T = TypeVar("T")


class FactError(remote.RemoteError):
    """A fact could not be read: its command failed or printed something unexpected."""

    def __init__(self, name: str, result: CommandResult, reason: str) -> None:
        super().__init__(f"{result.host}: fact '{name}' ({reason})")
        self.name = name
        self.result = result
        self.reason = reason


class FactFailed(FactError):
    """The fact's command exited with a status the fact does not accept."""

    def __init__(self, name: str, result: CommandResult) -> None:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        tail = detail[-1] if detail else "no output"
        super().__init__(name, result, f"`{result.command}` exited {result.exit_status}: {tail}")


class FactUnparsable(FactError):
    """The fact's command succeeded but its output is not what the parser knows."""

    def __init__(self, name: str, result: CommandResult, why: str) -> None:
        super().__init__(name, result, f"`{result.command}` printed something unexpected: {why}")


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One thing to know about a node: a read-only command and the pure parser of its result.

    ``parse`` gets the whole :class:`CommandResult` (some facts are told by the exit status,
    such as a file that does not exist) and raises ValueError on output it does not know.
    """

    name: str
    command: str
    parse: Callable[[CommandResult], T] = field(compare=False)
    ok_codes: frozenset[int] = frozenset({0})

    def value(self, result: CommandResult) -> T:
        if result.exit_status not in self.ok_codes:
            raise FactFailed(self.name, result)
        try:
            return self.parse(result)
        except (ValueError, SyntaxError, IndexError, KeyError) as exc:
            raise FactUnparsable(self.name, result, str(exc) or type(exc).__name__) from None


def stdout_fact(
    name: str, command: str, parser: Callable[[str], T], ok_codes: Iterable[int] = (0,)
) -> Fact[T]:
    """A fact whose value is its stdout, parsed."""
    return Fact(name, command, lambda r: parser(r.stdout), frozenset(ok_codes))


ReadHook = Callable[[CommandResult], None]


class Facts:
    """The results of one read on one node; :meth:`get` parses (and may raise FactError)."""

    def __init__(
        self, host: str, results: Mapping[str, CommandResult], on_read: ReadHook | None = None
    ) -> None:
        self.host = host
        self._results = dict(results)
        self._on_read = on_read

    def result(self, fact: Fact[Any]) -> CommandResult:
        """The raw command result of ``fact`` (it becomes evidence when a check reads it)."""
        try:
            result = self._results[fact.name]
        except KeyError:
            raise KeyError(f"fact '{fact.name}' was not read on {self.host}") from None
        if result.command != fact.command:
            raise KeyError(f"fact '{fact.name}' was read with another command on {self.host}")
        if self._on_read is not None:
            self._on_read(result)
        return result

    def get(self, fact: Fact[T]) -> T:
        return fact.value(self.result(fact))

    def __contains__(self, fact: object) -> bool:
        return isinstance(fact, Fact) and fact.name in self._results


def commands(facts: Iterable[Fact[Any]]) -> dict[str, str]:
    """Name -> command of a fact set; two facts of one name must be the same command."""
    wanted: dict[str, str] = {}
    for fact in facts:
        if wanted.setdefault(fact.name, fact.command) != fact.command:
            raise ValueError(f"two facts named '{fact.name}' with different commands")
    return wanted


def read(task: Task, facts: Iterable[Fact[Any]], on_read: ReadHook | None = None) -> Facts:
    """Ask the task's node for every fact in one round trip."""
    return Facts(task.host.name, remote.run_many(task, commands(facts)), on_read)
