"""What the reports say beyond pass/fail: context, evidence, step results - from the record."""

from __future__ import annotations

import getpass
import html
import itertools
import os
import socket
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from runbook import paths
from runbook.engine import PROJECT_ROOT
from runbook.record import CommandRecord, InvocationRecord, RunRecord, StepRecord

if TYPE_CHECKING:
    from runbook.inventory import ClusterInventory

REPORT_DIR = paths.report_dir()
LONG_DIFF = 40  # longer diffs start folded in the step table (click to read)
STEPS_SUITE = "runbook-steps"  # the JUnit testsuite of the runbook steps


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReportFiles:
    """The three files of one invocation, sharing one stem."""

    html: Path
    junit: Path
    record: Path


def reserve_report_files(
    folder: Path, mode: str, runbook_ids: Sequence[str], when: datetime
) -> ReportFiles:
    """``<UTC time>-<mode>-<ids>.{html,xml,json}``, never the name of an existing report.

    The JSON file is created here, exclusively (O_EXCL): of two invocations started in the
    same second, even in two processes, only one gets a stem; the other takes ``-2``, ``-3``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{when:%Y%m%dT%H%M%SZ}-{mode}-{'+'.join(runbook_ids) or 'none'}"
    for n in itertools.count(1):
        name = stem if n == 1 else f"{stem}-{n}"
        files = ReportFiles(folder / f"{name}.html", folder / f"{name}.xml",
                            folder / f"{name}.json")
        if files.html.exists() or files.junit.exists():
            continue  # a report written before the records existed
        try:
            os.close(os.open(files.record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            continue
        return files
    raise AssertionError("unreachable")  # itertools.count never ends


def tool_version() -> str:
    try:
        return metadata.version("xen-ha-runbooks")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def git_commit(root: Path = PROJECT_ROOT) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def operator() -> str:
    user = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


def invocation_record(
    *,
    command_line: Sequence[str],
    mode: str,
    cluster: ClusterInventory,
    runbook_ids: Sequence[str],
    hosts: Sequence[str],
    limit: Sequence[str] = (),
    forced: Sequence[str] = (),
    dry_run: bool = False,
) -> InvocationRecord:
    """The record's account of this invocation, started now."""
    return InvocationRecord(
        command_line=list(command_line), mode=mode, operator=operator(), started=utc_now(),
        ended=None, tool_version=tool_version(), git_commit=git_commit(),
        inventory_folder=str(cluster.folder), inventory_sha256=cluster.files_sha256,
        runbooks=list(runbook_ids), hosts=list(hosts), limit=list(limit),
        left_out=[n for n in cluster.nodes if n not in hosts], forced=list(forced),
        dry_run=dry_run,
    )


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def render_command(result: CommandRecord) -> str:
    """One command as evidence: the command line, its status, and its raw output."""
    status = "predicted (dry run)" if result.predicted else f"exit {result.exit_status}"
    parts = [
        f'<div class="rb-cmd"><div><b>{_esc(result.host)}</b>'
        f" <code>$ {_esc(result.command)}</code> <i>({status}, {result.duration * 1000:.0f} ms)</i>"
        "</div>"
    ]
    if result.stdout:
        parts.append(f'<pre class="rb-out">{_esc(result.stdout)}</pre>')
    if result.stderr:
        parts.append(f'<pre class="rb-err">stderr:\n{_esc(result.stderr)}</pre>')
    if not result.stdout and not result.stderr and not result.predicted:
        parts.append('<pre class="rb-out">(no output)</pre>')
    parts.append("</div>")
    return "".join(parts)


def render_evidence(results: Sequence[CommandRecord]) -> str:
    if not results:
        return "<p><i>No command output was read by this check.</i></p>"
    body = "".join(render_command(r) for r in results)
    return f'<div class="rb-evidence"><p><b>Evidence</b></p>{body}</div>'


STYLE = """
<style>
.rb-steps table { border-collapse: collapse; margin-bottom: 1em; }
.rb-steps td, .rb-steps th { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
.rb-ok { color: #2a7d2a; } .rb-changed { color: #b26b00; }
.rb-failed { color: #c00; font-weight: bold; }
.rb-skipped { color: #777; }
.rb-interrupted { color: #a0a; font-weight: bold; }
.rb-cmd pre, .rb-steps pre { background: #f6f6f6; padding: 4px; margin: 2px 0 6px 0;
  white-space: pre-wrap; }
.rb-err { color: #8a1f11; }
</style>
"""


def _step_details(row: StepRecord) -> str:
    details = []
    if row.message:
        details.append(f"<div>{_esc(row.message)}</div>")
    if row.plan:
        details.append(f"<details open><summary>plan ({len(row.plan)} actions)</summary>"
                       f"<pre>{_esc(chr(10).join(row.plan))}</pre></details>")
    if row.diff:
        lines = row.diff.count("\n")
        state = " open" if lines <= LONG_DIFF else ""
        details.append(f"<details{state}><summary>diff ({lines} lines)</summary>"
                       f"<pre>{_esc(row.diff)}</pre></details>")
    if row.commands:
        cmds = "".join(render_command(c) for c in row.commands)
        details.append(f"<details><summary>{len(row.commands)} commands</summary>{cmds}</details>")
    return "".join(details)


def render_steps(record: RunRecord) -> str:
    """The runbook steps per host, with plans, diffs and commands: the record's step table."""
    parts = [STYLE, '<div class="rb-steps"><h2>Runbook steps</h2>']
    if record.unreachable:
        parts.append("<p><b>Hosts that could not be reached:</b></p><ul>")
        parts += [f"<li>{_esc(h)}: {_esc(r)}</li>" for h, r in sorted(record.unreachable.items())]
        parts.append("</ul>")
    if record.interrupted is not None:
        stop = record.interrupted
        parts.append(f"<p class='rb-interrupted'>{_esc(stop.line())} "
                     f"({_esc(stop.signal)} at {stop.at:%H:%M:%S} UTC): the run stopped "
                     "there; later steps and checks did not run.</p>")
    left_out = record.invocation.left_out
    if left_out:
        parts.append(f"<p>Left out by --limit: {_esc(', '.join(left_out))}</p>")
    if not record.steps:
        parts.append("<p>No runbook step ran in this invocation (verification only).</p>")
    else:
        parts.append(f"<p>{_esc(record.totals.line())}</p>")
        parts.append(
            "<table><tr><th>Runbook</th><th>Step</th><th>Scope</th><th>Host</th><th>Result</th>"
            "<th>Duration</th><th>Details</th></tr>"
        )
        for row in record.steps:
            parts.append(
                f"<tr><td>{_esc(row.runbook)}</td><td>{_esc(row.step)}</td>"
                f"<td>{_esc(row.scope)}</td><td>{_esc(row.host)}</td>"
                f"<td class='rb-{row.status}'>{row.status}</td>"
                f"<td>{row.duration:.2f}s</td><td>{_step_details(row)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def _step_text(row: StepRecord) -> str:
    """A failed step's account for CI: message, plan, diff and each command's status."""
    lines = [row.message, *row.plan]
    if row.diff:
        lines.append(row.diff.rstrip("\n"))
    for cmd in row.commands:
        status = "predicted" if cmd.predicted else f"exit {cmd.exit_status}"
        lines.append(f"$ {cmd.command}  ({status}, {cmd.duration:.2f}s)")
        lines += [f"  {line}" for line in (cmd.stdout + cmd.stderr).splitlines()]
    return "\n".join(line for line in lines if line)


def steps_testsuite(record: RunRecord) -> ET.Element:
    """The runbook steps as a JUnit testsuite: one testcase per step per host."""
    totals = record.totals.steps
    suite = ET.Element("testsuite", {
        "name": STEPS_SUITE, "tests": str(len(record.steps)), "failures": str(totals["failed"]),
        "errors": str(totals["interrupted"]), "skipped": str(totals["skipped"] + totals["waited"]),
        "time": f"{sum(r.duration for r in record.steps):.3f}",
        "timestamp": record.invocation.started.isoformat(),
    })
    for row in record.steps:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"{row.runbook}", "name": f"{row.step}[{row.host}]",
            "time": f"{row.duration:.3f}",
        })
        if row.status == "failed":
            ET.SubElement(case, "failure", {"message": row.message}).text = _step_text(row)
        elif row.status == "interrupted":  # stopped from outside: an error, not a failure
            ET.SubElement(case, "error", {"type": "interrupted", "message": row.message}
                          ).text = _step_text(row)
        elif row.status in ("skipped", "waited"):
            ET.SubElement(case, "skipped", {"type": row.status, "message": row.message})
        elif row.message or row.plan or row.diff:
            ET.SubElement(case, "system-out").text = _step_text(row)
    return suite


def add_steps_to_junit(path: Path, record: RunRecord) -> None:
    """Put the steps into the JUnit file pytest wrote (or a new one), before the checks."""
    if path.exists() and path.stat().st_size:
        tree = ET.parse(path)
        root = tree.getroot()
        if root.tag == "testsuite":  # xunit1 writes one bare suite: wrap it
            wrapper = ET.Element("testsuites")
            wrapper.append(root)
            root = wrapper
    else:
        root = ET.Element("testsuites")
    for old in root.findall(f"testsuite[@name='{STEPS_SUITE}']"):
        root.remove(old)
    root.insert(0, steps_testsuite(record))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
