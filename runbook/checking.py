"""Gather once, assert many: the API the acceptance checks under checks/ use.

A check module declares which facts (runbook.facts, the same the tasks read) it needs
per node; :func:`gather_facts` reads them on every node in parallel, in one round trip
per node, and thin tests then read their own node's slice. Every fact a test reads
is recorded as that test's evidence, so the HTML report shows, next to each verdict,
the exact commands and their raw output on that node. A fact whose command failed or
whose output does not parse fails the test that reads it, with that output as evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import remote
from runbook.facts import Fact, FactError, Facts, commands
from runbook.inventory import ClusterInventory, NodeSettings

FactBuilder = Callable[[NodeSettings, ClusterInventory], Sequence[Fact[Any]]]
CommandBuilder = FactBuilder  # the name the pytest plugin knows

T = TypeVar("T")
_evidence: list[remote.CommandResult] = []


def begin_evidence() -> None:
    _evidence.clear()


def collected_evidence() -> list[remote.CommandResult]:
    """The command results the current test read, once each, in reading order."""
    seen: list[remote.CommandResult] = []
    for item in _evidence:
        if all(item is not other for other in seen):
            seen.append(item)
    return seen


class HostFacts:
    """The facts of one node; reading one makes its command result evidence of the test."""

    def __init__(self, host: str, results: dict[str, remote.CommandResult]) -> None:
        self.host = host
        self._facts = Facts(host, results, on_read=_evidence.append)

    def get(self, fact: Fact[T]) -> T:
        """The fact's value; a failed or unparsable fact fails the check (never passes)."""
        __tracebackhide__ = True
        try:
            return self._facts.get(fact)
        except FactError as exc:
            pytest.fail(f"{exc.reason}", pytrace=False)

    def result(self, fact: Fact[Any]) -> remote.CommandResult:
        """The raw command result (for a check about the exit status itself)."""
        return self._facts.result(fact)


@dataclass
class Gathered:
    """Facts per node, or the reason a node could not be asked."""

    facts: dict[str, HostFacts] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, node: NodeSettings | str) -> HostFacts:
        __tracebackhide__ = True
        name = node if isinstance(node, str) else node.name
        if name in self.errors:
            pytest.fail(f"{name} could not be checked: {self.errors[name]}", pytrace=False)
        if name not in self.facts:
            pytest.skip(f"{name} is not part of this run (--limit)")
        return self.facts[name]


def _gather_task(
    task: Task, builder: CommandBuilder, cluster: ClusterInventory
) -> Result:
    settings = cluster.nodes[task.host.name]
    results = remote.run_many(task, commands(builder(settings, cluster)))
    return Result(host=task.host, result=results)


def gather_facts(nr: Nornir, cluster: ClusterInventory, builder: CommandBuilder) -> Gathered:
    """Read ``builder``'s facts on every node in parallel (failed hosts included)."""
    failed_before = set(nr.data.failed_hosts)
    aggregated = nr.run(
        task=_gather_task,
        name=f"gather:{getattr(builder, '__name__', 'facts')}",
        builder=builder,
        cluster=cluster,
        on_failed=True,
    )
    gathered = Gathered()
    for host, multi in aggregated.items():
        result = multi[0]
        if result.failed:
            exc = result.exception
            if isinstance(exc, remote.NodeUnreachable):
                gathered.errors[host] = f"unreachable: {exc.reason}"
            else:
                gathered.errors[host] = str(exc) if exc is not None else str(result.result)
        else:
            gathered.facts[host] = HostFacts(host, result.result)
    # Nornir marks hosts a gather failed on; a check must not shut them out of later steps.
    nr.data.failed_hosts.clear()
    nr.data.failed_hosts.update(failed_before)
    return gathered
