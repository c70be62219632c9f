"""Gather once, assert many: the API the acceptance checks under checks/ use.

A check module declares which commands it needs per node; :func:`gather_facts`
runs them on every node in parallel, in one round trip per node, and thin
tests then read their own node's slice. Every command output a test reads is
recorded as that test's evidence, so the HTML report shows, next to each
verdict, the exact commands and their raw output on that node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import remote
from runbook.inventory import ClusterInventory, NodeSettings

CommandBuilder = Callable[[NodeSettings, ClusterInventory], Mapping[str, str]]

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


class HostFacts(Mapping[str, remote.CommandResult]):
    """Command results of one node; reading one makes it evidence of the current test."""

    def __init__(self, host: str, results: dict[str, remote.CommandResult]) -> None:
        self.host = host
        self._results = results

    def __getitem__(self, name: str) -> remote.CommandResult:
        result = self._results[name]
        _evidence.append(result)
        return result

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)


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
    results = remote.run_many(task, builder(settings, cluster))
    return Result(host=task.host, result=results)


def gather_facts(nr: Nornir, cluster: ClusterInventory, builder: CommandBuilder) -> Gathered:
    """Run ``builder``'s commands on every node in parallel (failed hosts included)."""
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
