"""Terminal output: one line per step per host, and progress while a step runs.

On a terminal a spinner shows each node's last progress note; anywhere else (CI, a log
file) a spinner would show nothing, so a long step prints a progress line per node at a
steady interval instead (``  ha1  02-xen · reboot  waiting for SSH (40 s)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from runbook import progress
from runbook.engine import Runbook, Step, StepOutcome
from runbook.record import RunRecord

_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "dim",
          "waited": "cyan", "interrupted": "bold magenta"}
PROGRESS_INTERVAL = 10.0  # seconds between two progress lines in non-interactive output


class ProgressLines:
    """Non-interactive output: the running stage's progress lines every ``interval`` s."""

    def __init__(self, console: Console, interval: float) -> None:
        self.console = console
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress-lines", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for line in progress.lines(progress.current(), time.monotonic()):
                self.console.print(escape(line), highlight=False)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class StepPrinter:
    """Prints step progress; in a dry run also the predicted commands and diffs."""

    def __init__(self, console: Console, *, dry_run: bool = False,
                 interval: float = PROGRESS_INTERVAL) -> None:
        self.console = console
        self.dry_run = dry_run
        self.interval = interval
        self._status: Status | None = None
        self._lines: ProgressLines | None = None
        self._headline = ""

    def started(self, runbook: Runbook, step: Step, hosts: list[str]) -> None:
        self._headline = f"{runbook.id} · {step.name} on {', '.join(hosts)} …"
        if self.console.is_terminal:
            self._status = self.console.status(self._headline, spinner="dots")
            self._status.start()
        else:
            self._lines = ProgressLines(self.console, self.interval)

    def note(self, host: str, text: str) -> None:
        """A progress note from a running step (e.g. waiting for a node to come back)."""
        status = self._status
        if status is None:
            return
        activity, now = progress.current(), time.monotonic()
        notes = "; ".join(f"{h}: {activity.note_of(h)} ({progress.elapsed(activity, h, now):.0f} s)"
                          for h in activity.hosts if activity.note_of(h))
        status.update(escape(f"{self._headline} {notes}"))

    def stop(self) -> None:
        """Stop the spinner or the progress lines (a step ended, or the run is stopping)."""
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self._lines is not None:
            self._lines.stop()
            self._lines = None

    def done(self, runbook: Runbook, step: Step, rows: list[StepOutcome]) -> None:
        self.stop()
        width = max(len(r.host) for r in rows) if rows else 4
        for row in rows:
            status = row.status
            status_text = "would change" if self.dry_run and status == "changed" else status
            style = _STYLE[row.status]
            line = (
                f"  {escape(row.host):<{width}}  {escape(runbook.id)} · {escape(step.name):<12} "
                f"[{style}]{status_text:<12}[/{style}] {row.duration:6.2f}s"
            )
            # A dry run's plan is the commands and diffs printed below; a task's account of
            # what it did ("wrote ...") would read as done, so only its "would ..." stays.
            planned = self.dry_run and row.status == "changed"
            if row.message and row.status != "ok" and (
                not planned or row.message.startswith("would")
            ):
                line += f"  {escape(row.message)}"
            self.console.print(line, highlight=False)
            if self.dry_run:
                self._plan(row)

    def _plan(self, row: StepOutcome) -> None:
        for line in row.plan:
            self.console.print(f"      {escape(line)}", highlight=False)
        for cmd in row.commands:  # predicted commands the plan does not already name
            if cmd.predicted and not any(cmd.command in line for line in row.plan):
                self.console.print(f"      would run: {escape(cmd.command)}", highlight=False)
        if row.diff:
            self.console.print(escape(_indent(row.diff, "      ")), highlight=False)

    def banner(self, text: str) -> None:
        self.console.rule(escape(text))


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


def check_line(console: Console, nodeid: str, outcome: str, message: str = "") -> None:
    style = {"passed": "green", "failed": "bold red", "skipped": "dim", "error": "bold red"}
    color = style.get(outcome, "white")
    text = f"  [{color}]{outcome:<7}[/{color}] {escape(nodeid)}"
    if message:
        text += f"\n           {escape(message)}"
    console.print(text, highlight=False)


def record_summary(
    console: Console, record: RunRecord, files: Sequence[tuple[str, Path]], sha256: str
) -> None:
    """The end of a run, from its record: the counts, unreachable hosts, the report files."""
    ran_steps = bool(record.steps) or record.invocation.mode == "run"
    console.print(record.totals.line(with_steps=ran_steps), highlight=False)
    if record.interrupted is not None:
        console.print(f"[bold magenta]{escape(record.interrupted.line())}[/bold magenta]",
                      highlight=False)
    for host, reason in sorted(record.unreachable.items()):
        console.print(f"[red]{escape(host)} unreachable:[/red] {escape(reason)}", highlight=False)
    width = max(len(label) for label, _ in files) + 1
    for label, path in files:
        console.print(f"{label + ':':<{width}} {path}", highlight=False, soft_wrap=True)
    console.print(f"{'sha256:':<{width}} {sha256}  (of the record)", highlight=False)
