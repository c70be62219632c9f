"""Report naming and rendering, and the CLI's exit statuses without any node."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

from rich.console import Console

from runbook import cli, report
from runbook.engine import StepOutcome
from runbook.remote import CommandResult

WHEN = datetime(2026, 11, 24, 14, 5, 9, tzinfo=UTC)


def test_report_names_carry_time_mode_and_ids_and_never_overwrite(tmp_path: Path) -> None:
    html, xml = report.report_paths(tmp_path, "run", ["01-base", "02-xen"], WHEN)
    assert html.name == "20261124T140509Z-run-01-base+02-xen.html"
    assert xml.name == "20261124T140509Z-run-01-base+02-xen.xml"
    html.write_text("first")
    again, _ = report.report_paths(tmp_path, "run", ["01-base", "02-xen"], WHEN)
    assert again.name == "20261124T140509Z-run-01-base+02-xen-2.html"


def test_evidence_is_escaped_and_complete() -> None:
    result = CommandResult("ha1", "cat <x>", "a & b\n", "warn\n", 3, 0.004)
    html = report.render_evidence([result])
    assert "<code>$ cat &lt;x&gt;</code>" in html
    assert "a &amp; b" in html and "stderr:\nwarn" in html and "exit 3" in html


def test_step_table_names_unreachable_hosts_and_folds_long_diffs() -> None:
    long_diff = "".join(f"+line {i}\n" for i in range(60))
    rows = [StepOutcome("01-base", "hosts", "ha1", "changed", 0.1, "wrote /etc/hosts", long_diff),
            StepOutcome("01-base", "hosts", "ha2", "failed", 0.0, "ha2 unreachable: refused")]
    html = report.render_steps(rows, {"ha2": "connection refused"})
    assert "Hosts that could not be reached" in html and "ha2: connection refused" in html
    assert "<details><summary>diff (60 lines)</summary>" in html
    assert "rb-failed" in html


def run_cli(*argv: str) -> tuple[int, str]:
    out = StringIO()
    code = cli.run(list(argv), Console(file=out, width=200, highlight=False))
    return int(code), out.getvalue()


def test_list_names_every_runbook() -> None:
    code, out = run_cli("list")
    assert code == 0
    for rb in ("01-base", "02-xen", "03-lvm", "04-xen-tools", "05-domu"):
        assert rb in out


def test_unknown_runbook_is_exit_2() -> None:
    code, out = run_cli("run", "07-nope")
    assert code == 2 and "unknown runbook '07-nope'" in out


def test_bad_inventory_folder_is_exit_2(tmp_path: Path) -> None:
    code, out = run_cli("verify", "-i", str(tmp_path / "missing"))
    assert code == 2 and "no such folder" in out


def test_unknown_limit_host_is_exit_2() -> None:
    code, out = run_cli("verify", "--limit", "ha3")
    assert code == 2 and "--limit names unknown host(s) ha3" in out


def test_bad_arguments_are_exit_2() -> None:
    assert run_cli("run")[0] == 2
    assert run_cli("frobnicate")[0] == 2
