"""Report naming and rendering, and the CLI's exit statuses without any node."""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runbook import cli, report
from runbook.record import CommandRecord, InvocationRecord, RunRecord, StepRecord

WHEN = datetime(2026, 11, 24, 14, 5, 9, tzinfo=UTC)


def test_report_names_carry_time_mode_and_ids_and_never_overwrite(tmp_path: Path) -> None:
    files = report.reserve_report_files(tmp_path, "run", ["01-base", "02-xen"], WHEN)
    assert files.html.name == "20261124T140509Z-run-01-base+02-xen.html"
    assert files.junit.name == "20261124T140509Z-run-01-base+02-xen.xml"
    assert files.record.name == "20261124T140509Z-run-01-base+02-xen.json"
    assert files.record.exists()  # reserved at once
    again = report.reserve_report_files(tmp_path, "run", ["01-base", "02-xen"], WHEN)
    assert again.html.name == "20261124T140509Z-run-01-base+02-xen-2.html"
    (tmp_path / "20261124T140509Z-verify-none.html").write_text("a report from before records")
    old = report.reserve_report_files(tmp_path, "verify", [], WHEN)
    assert old.record.name == "20261124T140509Z-verify-none-2.json"


def _reserve(folder: str) -> str:
    return report.reserve_report_files(Path(folder), "run", ["01-base"], WHEN).record.name


def test_two_processes_in_the_same_second_never_share_a_name(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        names = pool.map(_reserve, [str(tmp_path)] * 8)
    assert len(set(names)) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_evidence_is_escaped_and_complete() -> None:
    result = CommandRecord("ha1", "cat <x>", "a & b\n", "warn\n", 3, 0.004)
    html = report.render_evidence([result])
    assert "<code>$ cat &lt;x&gt;</code>" in html
    assert "a &amp; b" in html and "stderr:\nwarn" in html and "exit 3" in html


def invocation(mode: str = "run") -> InvocationRecord:
    return InvocationRecord(
        command_line=["runbook", mode, "01"], mode=mode, operator="root@ops1", started=WHEN,
        ended=WHEN, tool_version="0.1.0", git_commit="abc123", inventory_folder="/inv",
        inventory_sha256="f" * 64, runbooks=["01-base"], hosts=["ha1", "ha2"],
    )


def test_step_table_names_unreachable_hosts_and_folds_long_diffs() -> None:
    long_diff = "".join(f"+line {i}\n" for i in range(60))
    rows = [StepRecord("01-base", "hosts", "ha1", "changed", 0.1, "wrote /etc/hosts", long_diff,
                       plan=["write /etc/hosts"]),
            StepRecord("01-base", "hosts", "ha2", "failed", 0.0, "ha2 unreachable: refused")]
    record = RunRecord(invocation(), steps=rows, unreachable={"ha2": "connection refused"})
    html = report.render_steps(record)
    assert "Hosts that could not be reached" in html and "ha2: connection refused" in html
    assert "<details><summary>diff (60 lines)</summary>" in html
    assert "rb-failed" in html and "<pre>write /etc/hosts</pre>" in html
    assert "steps: 1 changed, 0 ok, 1 failed, 0 skipped" in html


def test_junit_gets_one_testcase_per_step_and_host_before_the_checks(tmp_path: Path) -> None:
    junit = tmp_path / "r.xml"
    junit.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
                     '<testsuite name="runbook-acceptance" tests="1"><testcase '
                     'classname="test_01_base" name="test_hostname_is_fqdn[ha1]"/></testsuite>'
                     "</testsuites>")
    failed = StepRecord("01-base", "ntp", "ha2", "failed", 0.5, "`apt-get` exited 100: E: x",
                        commands=[CommandRecord("ha2", "apt-get install ntp", "", "E: x\n",
                                                100, 0.5)])
    skipped = StepRecord("01-base", "hosts", "ha2", "skipped", 0.0, "not run: failed at ...")
    ok = StepRecord("01-base", "ntp", "ha1", "ok", 0.2)
    report.add_steps_to_junit(junit, RunRecord(invocation(), steps=[ok, failed, skipped]))
    report.add_steps_to_junit(junit, RunRecord(invocation(), steps=[ok, failed, skipped]))
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["runbook-steps", "runbook-acceptance"]
    steps = suites[0]
    assert (steps.get("tests"), steps.get("failures"), steps.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in steps.findall("testcase")}
    assert set(cases) == {"ntp[ha1]", "ntp[ha2]", "hosts[ha2]"}
    failure = cases["ntp[ha2]"].find("failure")
    assert failure is not None and failure.get("message") == "`apt-get` exited 100: E: x"
    assert "$ apt-get install ntp  (exit 100, 0.50s)" in (failure.text or "")
    assert cases["hosts[ha2]"].find("skipped") is not None
    assert list(cases["ntp[ha1]"]) == []


def test_junit_is_written_even_when_pytest_wrote_none(tmp_path: Path) -> None:
    junit = tmp_path / "none.xml"
    report.add_steps_to_junit(junit, RunRecord(invocation(), steps=[
        StepRecord("01-base", "ntp", "ha1", "ok", 0.2)]))
    assert [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")] == ["ntp[ha1]"]


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


def test_help_lists_exactly_the_registered_subcommands() -> None:
    out = StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.run(["--help"], Console(file=StringIO())) == cli.ExitStatus.OK
    text = out.getvalue()
    listed = re.findall(r"^    ([a-z]+) +\S", text, re.M)
    assert listed == [c.name for c in cli.COMMANDS]
    assert set(listed) >= {"list", "run", "verify", "unlock", "report", "lab"}


def test_a_subcommand_is_one_entry_in_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def hello(args: object, console: Console, argv: object) -> cli.ExitStatus:
        seen.append("hello")
        return cli.ExitStatus.OK

    extra = cli.Command("hello", "say hello", lambda p: None, hello)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, extra))
    out = StringIO()
    with contextlib.redirect_stdout(out):
        cli.run(["--help"], Console(file=StringIO()))
    assert re.search(r"^    hello +say hello$", out.getvalue(), re.M)
    assert cli.run(["hello"], Console(file=StringIO())) == cli.ExitStatus.OK and seen == ["hello"]
