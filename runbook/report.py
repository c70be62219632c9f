"""What the acceptance report says beyond pass/fail: context, evidence, step results."""

from __future__ import annotations

import getpass
import hashlib
import html
import os
import socket
import subprocess
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from runbook import paths
from runbook.engine import PROJECT_ROOT, StepOutcome
from runbook.remote import CommandResult

REPORT_DIR = paths.report_dir()
LONG_DIFF = 40  # longer diffs start folded in the step table (click to read)


def utc_now() -> datetime:
    return datetime.now(UTC)


def report_paths(
    folder: Path, mode: str, runbook_ids: Sequence[str], when: datetime
) -> tuple[Path, Path]:
    """``<UTC time>-<mode>-<ids>.html`` and ``.xml``; never the name of an existing report."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{when:%Y%m%dT%H%M%SZ}-{mode}-{'+'.join(runbook_ids) or 'none'}"
    candidate, n = stem, 1
    while (folder / f"{candidate}.html").exists() or (folder / f"{candidate}.xml").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return folder / f"{candidate}.html", folder / f"{candidate}.xml"


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


def files_digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def render_command(result: CommandResult) -> str:
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


def render_evidence(results: Sequence[CommandResult]) -> str:
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
.rb-cmd pre, .rb-steps pre { background: #f6f6f6; padding: 4px; margin: 2px 0 6px 0;
  white-space: pre-wrap; }
.rb-err { color: #8a1f11; }
</style>
"""


def render_steps(outcomes: Sequence[StepOutcome], unreachable: dict[str, str]) -> str:
    """The runbook's step results per host, with diffs and the commands each step ran."""
    parts = [STYLE, '<div class="rb-steps"><h2>Runbook steps</h2>']
    if unreachable:
        parts.append("<p><b>Hosts that could not be reached:</b></p><ul>")
        parts += [f"<li>{_esc(h)}: {_esc(r)}</li>" for h, r in sorted(unreachable.items())]
        parts.append("</ul>")
    if not outcomes:
        parts.append("<p>No runbook step ran in this invocation (verification only).</p>")
    else:
        parts.append(
            "<table><tr><th>Runbook</th><th>Step</th><th>Host</th><th>Result</th>"
            "<th>Duration</th><th>Details</th></tr>"
        )
        for row in outcomes:
            details = []
            if row.message:
                details.append(f"<div>{_esc(row.message)}</div>")
            if row.diff:
                lines = row.diff.count("\n")
                state = " open" if lines <= LONG_DIFF else ""
                details.append(f"<details{state}><summary>diff ({lines} lines)</summary>"
                               f"<pre>{_esc(row.diff)}</pre></details>")
            if row.commands:
                cmds = "".join(render_command(c) for c in row.commands)
                details.append(
                    f"<details><summary>{len(row.commands)} commands</summary>{cmds}</details>"
                )
            parts.append(
                f"<tr><td>{_esc(row.runbook)}</td><td>{_esc(row.step)}</td>"
                f"<td>{_esc(row.host)}</td><td class='rb-{row.status}'>{row.status}</td>"
                f"<td>{row.duration:.2f}s</td><td>{''.join(details)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)
