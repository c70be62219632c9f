"""Terminal output: one line per step per host, a live spinner while a step runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from runbook.engine import Runbook, Step, StepOutcome
from runbook.record import RunRecord

_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "dim",
          "waited": "cyan"}


class StepPrinter:
    """Prints step progress; in a dry run also the predicted commands and diffs."""

    def __init__(self, console: Console, *, dry_run: bool = False) -> None:
        self.console = console
        self.dry_run = dry_run
        self._status: Status | None = None
        self._headline = ""
        self._notes: dict[str, str] = {}

    def started(self, runbook: Runbook, step: Step, hosts: list[str]) -> None:
        self._headline = f"{runbook.id} · {step.name} on {', '.join(hosts)} …"
        self._notes = {}
        self._status = self.console.status(self._headline, spinner="dots")
        self._status.start()

    def note(self, host: str, text: str) -> None:
        """A progress note from a running step (e.g. waiting for a node to come back)."""
        status = self._status
        if status is None:
            return
        self._notes[host] = text
        notes = "; ".join(f"{h}: {t}" for h, t in sorted(self._notes.items()))
        status.update(escape(f"{self._headline} {notes}"))

    def done(self, runbook: Runbook, step: Step, rows: list[StepOutcome]) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
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
    for host, reason in sorted(record.unreachable.items()):
        console.print(f"[red]{escape(host)} unreachable:[/red] {escape(reason)}", highlight=False)
    width = max(len(label) for label, _ in files) + 1
    for label, path in files:
        console.print(f"{label + ':':<{width}} {path}", highlight=False, soft_wrap=True)
    console.print(f"{'sha256:':<{width}} {sha256}  (of the record)", highlight=False)
