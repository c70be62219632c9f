"""Progress: each node's last note, and the steady lines of non-interactive output."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from types import MappingProxyType

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task
from rich.console import Console

from runbook import progress
from runbook.console import StepPrinter
from runbook.engine import Runbook, RunbookRun, Step
from runbook.progress import Activity, Note


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    progress.reset()
    yield
    progress.reset()


def test_one_line_per_node_with_the_time_spent_in_its_note() -> None:
    activity = Activity("02-xen · reboot", ("ha1", "ha2"), began=100.0,
                        notes=MappingProxyType({"ha1": Note("waiting for SSH", 110.0)}))
    assert progress.lines(activity, now=150.0) == [
        "  ha1  02-xen · reboot  waiting for SSH (40 s)",
        "  ha2  02-xen · reboot  running (50 s)",  # no note yet: the time in the step
    ]


def test_no_line_between_steps() -> None:
    assert progress.lines(Activity(previous="02-xen · reboot"), now=1.0) == []


def test_the_same_note_again_keeps_its_start_and_a_new_one_starts_over() -> None:
    progress.begin("02-xen · reboot", ["ha1"])
    progress.note("ha1", "waiting for SSH")
    first = progress.current().notes["ha1"].since
    progress.note("ha1", "waiting for SSH")
    assert progress.current().notes["ha1"].since == first
    progress.note("ha1", "reading the new boot")
    assert progress.current().notes["ha1"] == Note("reading the new boot",
                                                   progress.current().notes["ha1"].since)
    assert progress.current().notes["ha1"].since >= first


def test_a_new_stage_forgets_the_notes_and_remembers_the_last_stage() -> None:
    progress.begin("02-xen · reboot", ["ha1"])
    progress.note("ha1", "waiting for SSH")
    progress.end()
    assert progress.current() == Activity(previous="02-xen · reboot")
    progress.begin("the checks of 02-xen", ["ha1"])
    assert progress.current().notes == {} and progress.current().previous == "02-xen · reboot"


def waiting(task: Task) -> Result:
    progress.note(task.host.name, "waiting for SSH")
    time.sleep(0.35)
    return Result(host=task.host)


def run_with(console: Console, nr: Nornir) -> str:
    printer = StepPrinter(console, interval=0.1)
    book = Runbook("99-test", "t", (Step("reboot", waiting, ""),), ("base",), Path("99-test.py"))
    RunbookRun(nr, on_step_start=printer.started, on_step_done=printer.done).run(book)
    out = console.file
    assert isinstance(out, StringIO)
    return out.getvalue()


def test_non_interactive_output_prints_progress_lines_at_a_steady_interval(nr: Nornir) -> None:
    text = run_with(Console(file=StringIO(), width=200, force_terminal=False), nr)
    lines = text.splitlines()
    ticks = [i for i, line in enumerate(lines)
             if re.fullmatch(r"  ha1  99-test · reboot  waiting for SSH \(\d+ s\)", line)]
    assert len(ticks) >= 2  # 0.35 s at 0.1 s intervals
    step_line = next(i for i, line in enumerate(lines) if "99-test · reboot " in line
                     and ("ok" in line.split()))
    assert max(ticks) < step_line  # the lines stop when the step ends
    assert sum("ha2  99-test · reboot  waiting for SSH" in line for line in lines) >= 2


def test_a_terminal_gets_the_spinner_not_the_lines(nr: Nornir) -> None:
    text = run_with(Console(file=StringIO(), width=200, force_terminal=True), nr)
    assert not re.search(r"^  ha1  99-test · reboot  waiting for SSH \(\d+ s\)$", text, re.M)
