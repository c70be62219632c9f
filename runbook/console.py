"""Terminal output: a line per step per host, the checks folded per runbook and node, and the
end of a run (counts, what failed with its finding, the report files, the handover last).

Lines wrap on words at the console's width (``COLUMNS``): a line's head (host, step, status)
is never split, and a message that does not fit after it goes on its own indented lines.

On a terminal a spinner names the nodes still working with their last progress note;
anywhere else (CI, a log file) a spinner would show nothing, so a long step prints a
progress line per node at a steady interval instead
(``  ha1  02-xen · reboot  waiting for SSH (40 s)``).
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.text import Text

from runbook import progress
from runbook.engine import Runbook, Step, StepOutcome
from runbook.record import CheckRecord, RunRecord, StepRecord

_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "dim",
          "waited": "cyan", "interrupted": "bold magenta", "passed": "green",
          "error": "bold red"}
PROGRESS_INTERVAL = 10.0  # seconds between two progress lines in non-interactive output
INDENT = 6  # where a message that does not fit beside its line's head starts
CLUSTER = "cluster"  # the node column of a check that has no node (cluster-wide)


MIN_ROOM = 24  # columns a message needs beside its head, else it starts on the next line


def wrap(message: str, width: int, first: int, indent: int) -> list[str]:
    """``message`` in lines of at most ``width`` columns, broken between words only: the first
    line starts at column ``first``, the others at ``indent``; each line of a multi-line
    message starts a line of its own. A word longer than a line (a path) stands alone on its
    line, whole. Pure: the terminal tests rest on it."""
    paragraphs = [p for p in message.splitlines() if p.strip()]
    if not paragraphs:
        return []
    fits = len(paragraphs[0]) <= width - first or width - first >= MIN_ROOM
    start = first if fits else indent

    def lines_of(text: str, initial: int) -> list[str]:
        return textwrap.wrap(text, width=width, initial_indent=" " * initial,
                             subsequent_indent=" " * indent, break_long_words=False,
                             break_on_hyphens=False)

    lines = lines_of(paragraphs[0], start)
    for paragraph in paragraphs[1:]:
        lines += lines_of(paragraph, indent)
    if start != first:
        lines.insert(0, "")
    return [line[first:] if i == 0 else line for i, line in enumerate(lines)]


def print_line(console: Console, head: Text, message: str = "", *, indent: int = INDENT) -> None:
    """``head`` then ``message``, wrapped on words at the console's width; the head is never
    split and the message's next lines start at column ``indent``."""
    if message and not head.plain.endswith(" "):
        head = Text.assemble(head, "  ")
    lines = wrap(message, console.width, head.cell_len, indent)
    first = Text.assemble(head, lines[0]) if lines else head
    first.rstrip()
    console.print(first, soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(line), soft_wrap=True)


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
                self.console.print(escape(line), highlight=False, soft_wrap=False)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def step_width(runbook: Runbook) -> int:
    """The width of the step column for ``runbook``: its longest ``ID · step`` fits."""
    return max((len(f"{runbook.id} · {s.name}") for s in runbook.steps), default=0)


class StepPrinter:
    """Prints step progress; in a dry run also the predicted commands and diffs."""

    def __init__(self, console: Console, *, dry_run: bool = False,
                 interval: float = PROGRESS_INTERVAL) -> None:
        self.console = console
        self.dry_run = dry_run
        self.interval = interval
        self._status: Status | None = None
        self._lines: ProgressLines | None = None

    def started(self, runbook: Runbook, step: Step, hosts: list[str]) -> None:
        if self.console.is_terminal:
            text = progress.spinner_text(progress.current(), time.monotonic())
            self._status = self.console.status(escape(text or f"{runbook.id} · {step.name}"),
                                               spinner="dots")
            self._status.start()
        else:
            self._lines = ProgressLines(self.console, self.interval)

    def note(self, host: str, text: str) -> None:
        """A progress note (or, with no text, a node through the step): the spinner's text
        names the nodes still working."""
        status = self._status
        if status is None:
            return
        line = progress.spinner_text(progress.current(), time.monotonic())
        if line:
            status.update(escape(line))

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
        steps = max(step_width(runbook), len(f"{runbook.id} · {step.name}"))
        for row in rows:
            shown_as = "would change" if self.dry_run and row.status == "changed" else row.status
            status = shown_as.ljust(12 if self.dry_run else 11)  # "would change", "interrupted"
            head = Text.assemble(
                f"  {row.host:<{width}}  ", f"{runbook.id} · {step.name}".ljust(steps), "  ",
                (status, _STYLE[row.status]), f" {row.duration:6.2f}s")
            # A dry run's plan is the commands and diffs printed below; a task's account of
            # what it did ("wrote ...") would read as done, so only its "would ..." stays.
            planned = self.dry_run and row.status == "changed"
            shown = row.message and row.status != "ok" and (
                not planned or row.message.startswith("would"))
            print_line(self.console, head, row.message if shown else "")
            if self.dry_run:
                self._plan(row)

    def _plan(self, row: StepOutcome) -> None:
        lines = list(row.plan)
        lines += [f"would run: {cmd.command}" for cmd in row.commands
                  if cmd.predicted and not any(cmd.command in line for line in row.plan)]
        # Commands and file content are copied from here: printed whole, never re-flowed.
        for line in [*lines, *row.diff.rstrip("\n").splitlines()]:
            self.console.print(Text(" " * INDENT + line), soft_wrap=True)


def fold_line(runbook: str, node: str, outcomes: Counter[str], node_width: int = 4,
              id_width: int = 0) -> Text:
    """``  01-base  ha1  9/9 checks passed`` (then ``, 1 failed``, ``, 2 skipped`` ...)."""
    total = sum(outcomes.values())
    passed = outcomes["passed"]
    others = [(f"{outcomes[o]} {o}", _STYLE[o]) for o in ("failed", "error", "skipped")
              if outcomes[o]]
    parts: list[str | tuple[str, str]] = [
        f"  {runbook:<{id_width}}  {node:<{node_width}}  ",
        (f"{passed}/{total} checks passed", "green" if passed == total else "")]
    for text, style in others:
        parts += [", ", (text, style)]
    return Text.assemble(*parts)


def check_sentences(check: CheckRecord) -> list[str]:
    """What a failed check found: its findings' sentences, else its failure line."""
    if check.findings:
        return [f.sentence() for f in check.findings]
    text = check.finding.strip()
    if not text or text == "AssertionError" or text.startswith("assert "):  # a bare assert
        return ["failed, stating no finding (see its evidence in the report)"]
    for wrapper in ("AssertionError: ", "Failed: "):  # pytest's, not the check's words
        text = text.removeprefix(wrapper)
    return [text]


def print_failed_check(console: Console, head: Text, check: CheckRecord, indent: int) -> None:
    """The check (its runbook and description) after ``head``, then each finding below it."""
    print_line(console, head, f"{check.runbook} · {check.description}", indent=indent)
    for sentence in check_sentences(check):
        print_line(console, Text(" " * indent), sentence, indent=indent + 2)


class CheckPrinter:
    """The checks as they end: failures at once with their finding; passed checks folded into
    one line per runbook and node when the runbook's checks are through (each, with -v)."""

    def __init__(self, console: Console, *, verbose: bool = False, id_width: int = 0) -> None:
        self.console = console
        self.verbose = verbose
        self.id_width = id_width  # the longest runbook id of the run: the lines align
        self._tallies: dict[str, dict[str, Counter[str]]] = {}  # runbook -> node -> outcomes

    def check(self, check: CheckRecord) -> None:
        node = check.host or CLUSTER
        self._tallies.setdefault(check.runbook, {}).setdefault(node, Counter())[
            check.outcome] += 1
        if check.outcome not in ("failed", "error") and not self.verbose:
            return
        head = Text.assemble("  ", (f"{check.outcome:<7}", _STYLE.get(check.outcome, "")),
                             f" {node}  ")
        if check.outcome in ("failed", "error"):
            print_failed_check(self.console, head, check, INDENT + 4)
            return
        skipped = f" ({check.finding})" if check.outcome == "skipped" and check.finding else ""
        print_line(self.console, head, check.description + skipped, indent=INDENT + 4)

    def runbook_done(self, runbook: str) -> None:
        """Print the folded lines of ``runbook`` (once; nothing when it had no check)."""
        tallies = self._tallies.pop(runbook, {})
        width = max((len(n) for n in tallies), default=0)
        for node, outcomes in tallies.items():
            self.console.print(fold_line(runbook, node, outcomes, width, self.id_width),
                               soft_wrap=False)

    def flush(self) -> None:
        for runbook in list(self._tallies):
            self.runbook_done(runbook)


def _failed_step_lines(steps: Sequence[StepRecord]) -> list[tuple[Text, str]]:
    return [(Text.assemble("  ", ("failed ", "bold red"), f" {s.host}  {s.runbook} · {s.step}"),
             s.message) for s in steps]


def _failed_checks(console: Console, checks: Sequence[CheckRecord]) -> None:
    """Each failed check once (a check failed on both nodes, or for several parameters, is
    one heading), then per node what it found, a sentence each."""
    groups: dict[tuple[str, str], list[CheckRecord]] = {}
    for check in checks:
        groups.setdefault((check.runbook, check.description), []).append(check)
    width = max(len(c.host or CLUSTER) for c in checks)
    for (runbook, description), failed in groups.items():
        print_line(console, Text("  "), f"{runbook} · {description}", indent=4)
        for check in failed:
            for sentence in check_sentences(check):
                print_line(console, Text(f"    {check.host or CLUSTER:<{width}}  "), sentence,
                           indent=width + 8)


def run_summary(
    console: Console, record: RunRecord, files: Sequence[tuple[str, Path]], sha256: str,
    handover: Path | None = None, *, verdict: str = "",
) -> None:
    """The end of a run, from its record: one line of counts; what failed (node, check, the
    finding); unreachable hosts; the verdict (``verdict`` when given: a dry run's); the report
    files, the handover report last."""
    ran_steps = bool(record.steps) or record.invocation.mode in ("run", "plan")
    counts = record.totals.line(with_steps=ran_steps)
    if record.invocation.dry_run and not record.checks:  # a plan runs no check
        counts = counts.split("; ", 1)[0]
    if len(counts) > console.width:  # a narrow terminal: the steps, then the checks
        counts = counts.replace("; ", ";\n", 1)
    console.print(counts, highlight=False, soft_wrap=True)
    for head, message in _failed_step_lines(record.failed_steps):
        print_line(console, head, message, indent=INDENT + 4)
    if record.failed_checks:
        console.print("failed checks:", style="bold red", soft_wrap=False)
        _failed_checks(console, record.failed_checks)
    if record.interrupted is not None:
        console.print(Text(record.interrupted.line(), style="bold magenta"), soft_wrap=False)
    for host, reason in sorted(record.unreachable.items()):
        print_line(console, Text(f"{host} unreachable:", style="red"), reason)
    if verdict:
        console.print(verdict, highlight=False, soft_wrap=False)
    elif record.passed:
        console.print("all steps and checks passed" if ran_steps else "all checks passed",
                      style="green", soft_wrap=False)
    paths = [*files, ("sha256", None), *([("handover", handover)] if handover else [])]
    width = max(len(label) for label, _ in paths) + 1
    for label, path in paths:
        value = f"{sha256}  (of the record)" if path is None else str(path)
        # A path is never broken: the terminal wraps it whole, so it can be copied.
        console.print(f"{label + ':':<{width}} {value}", highlight=False, soft_wrap=True,
                      markup=False)
