"""How a check states what it found: expected, found, on which node - never an assert dump.

A check that fails through this module fails with one or more :class:`Finding` objects; the
pytest plugin stores them in the run record beside the check's evidence, and the handover
report prints them as a table (subject, key, expected, found, node) and as one plain sentence
each::

    /etc/modules on ha2: expected "loop max_loop=64", found no loop line; running max_loop is 8

Three ways to use it, from the simplest::

    expect(memory, wanted, node=node, subject="Domain-0 memory (MiB, xm list)")

    fail(finding(subject="/etc/modules", node=node, expected='"loop max_loop=64"',
                 found="no loop line", note=f"running max_loop is {running}"))

    problems = [finding(...) for name in names if ...]   # several at once
    fail_if(problems)

A plain ``assert`` still works; its message is then shown as the finding, without the
expected/found columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn, Protocol

import pytest

from runbook.record import Finding

__all__ = ["Finding", "expect", "fail", "fail_if", "finding", "findings_of", "shown"]

NOTHING = "nothing"  # how a missing value (None) reads in a finding


class Named(Protocol):
    @property
    def name(self) -> str: ...


def shown(value: object) -> str:
    """A value as a finding prints it: strings quoted, None as "nothing", the rest as str()."""
    if value is None:
        return NOTHING
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _node_name(node: Named | str | None) -> str | None:
    return node if node is None or isinstance(node, str) else node.name


def finding(*, subject: str, expected: object, found: object,
            node: Named | str | None, key: str = "", note: str = "") -> Finding:
    """A finding; ``expected``/``found`` that are not strings are shown with :func:`shown`.

    Strings are taken as written, so a check can say ``found="no loop line"``.
    """
    return Finding(subject, expected if isinstance(expected, str) else shown(expected),
                   found if isinstance(found, str) else shown(found), _node_name(node), key,
                   note)


class FindingFailed(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A check failure that carries its findings (pytest sees an ordinary ``pytest.fail``)."""

    # Shown as pytest.fail's own "Failed: <sentences>" in reports and on the terminal.
    __module__ = "builtins"
    __qualname__ = "Failed"

    def __init__(self, findings: tuple[Finding, ...]) -> None:
        super().__init__("; ".join(f.sentence() for f in findings), pytrace=False)
        self.findings = findings


def fail(*findings: Finding) -> NoReturn:
    """Fail the running check with these findings (at least one)."""
    __tracebackhide__ = True
    if not findings:
        raise ValueError("fail() needs at least one finding")
    raise FindingFailed(tuple(findings))


def fail_if(findings: Iterable[Finding]) -> None:
    """Fail with every finding given; pass when there is none."""
    __tracebackhide__ = True
    collected = tuple(findings)
    if collected:
        fail(*collected)


def expect(found: object, expected: object, *, node: Named | str | None, subject: str,
           key: str = "", note: str = "") -> None:
    """Fail with a finding unless ``found == expected`` (values shown with :func:`shown`)."""
    __tracebackhide__ = True
    if found != expected:
        fail(Finding(subject, shown(expected), shown(found), _node_name(node), key, note))


def findings_of(exc: BaseException | None) -> tuple[Finding, ...]:
    """The findings a check failed with (empty for a plain assert or any other error)."""
    return exc.findings if isinstance(exc, FindingFailed) else ()
