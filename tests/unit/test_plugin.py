"""The pytest plugin without a lab: tiny generated check files, fake nodes behind Nornir.

Each step and each check command goes through the remote helper to a fake shell, so a
host's journal is the true order of what ran on it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from nornir.core import Nornir
from nornir.core.task import Result
from rich.console import Console

from runbook import cli, engine, remote, report
from runbook.engine import RunbookRun
from runbook.inventory import ClusterInventory
from runbook.pytest_plugin import Invocation, RunbookPlugin
from runbook.record import read
from tests.unit.cliparts import runbooks
from tests.unit.fakenode import FakeNode

pytest_plugins = ["pytester"]  # fake_nr, inventory_dir and checks_dir: conftest.py

def run_checks(pytester: pytest.Pytester, nr: Nornir, cluster: ClusterInventory,
               mode: str = "run") -> Invocation:
    books = runbooks(pytester.path)
    hosts = list(nr.inventory.hosts)
    info = report.invocation_record(command_line=["runbook", mode], mode=mode, cluster=cluster,
                                    runbook_ids=[rb.id for rb in books], hosts=hosts)
    inv = Invocation(info=info, runbooks=books, cluster=cluster, nornir=nr,
                     runner=RunbookRun(nr, cluster), console=Console(file=StringIO()))
    # the files in the wrong order on purpose: the plugin orders checks by runbook
    pytester.runpytest_inprocess(
        str(pytester.path / "test_98_second.py"), str(pytester.path / "test_97_first.py"),
        "-p", "no:cacheprovider", f"--html={pytester.path / 'report.html'}",
        "--self-contained-html", plugins=[RunbookPlugin(inv)],
    )
    return inv


def journal(host: str) -> list[str]:
    return [c.command for c in remote.journal(host)]


def test_each_runbook_is_applied_right_before_its_checks_in_number_order(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory
) -> None:
    inv = run_checks(checks_dir, fake_nr, cluster)
    for host in ("ha1", "ha2"):
        assert journal(host) == ["echo step-97", "hostname", "echo check-97",
                                 "echo step-98", "echo check-98"]
    assert [c.name for c in inv.checks] == [
        "test_hostname_is_the_short_name[ha1]", "test_hostname_is_the_short_name[ha2]",
        "test_needs_no_command[ha1]", "test_needs_no_command[ha2]",
        "test_mark_answers[ha1]", "test_mark_answers[ha2]",
    ]
    assert [c.runbook for c in inv.checks] == ["97-first"] * 4 + ["98-second"] * 2
    assert inv.record is not None and inv.record.passed
    assert [(s.runbook, s.host, s.status) for s in inv.record.steps] == [
        ("97-first", "ha1", "changed"), ("97-first", "ha2", "changed"),
        ("98-second", "ha1", "changed"), ("98-second", "ha2", "changed"),
    ]


def test_a_node_failing_the_checks_of_n_is_kept_out_of_n_plus_1(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory,
    fake_nodes: dict[str, FakeNode],
) -> None:
    fake_nodes["ha2"].hostname = "localhost"
    inv = run_checks(checks_dir, fake_nr, cluster)
    assert "echo step-98" in journal("ha1")
    assert "echo step-98" not in journal("ha2")
    assert journal("ha2")[-1] == "echo check-98"  # its checks of 98 still look at it
    record = inv.record
    assert record is not None
    second = {s.host: s for s in record.steps if s.runbook == "98-second"}
    assert second["ha1"].status == "changed"
    assert (second["ha2"].status, second["ha2"].message) == (
        "skipped", "not run: failed the checks of 97-first")
    failed = record.failed_checks
    assert [(c.name, c.host, c.outcome) for c in failed] == [
        ("test_hostname_is_the_short_name[ha2]", "ha2", "failed")]
    assert "'localhost' == 'ha2'" in failed[0].finding


def test_evidence_is_attached_to_the_row_of_its_node_and_check(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory,
    fake_nodes: dict[str, FakeNode],
) -> None:
    fake_nodes["ha2"].hostname = "localhost"
    inv = run_checks(checks_dir, fake_nr, cluster)
    rows = {c.name: c for c in inv.checks}
    ha2 = rows["test_hostname_is_the_short_name[ha2]"]
    assert [(e.host, e.command, e.stdout) for e in ha2.evidence] == [
        ("ha2", "echo check-97", "check-97\n"), ("ha2", "hostname", "localhost\n")]
    ha1 = rows["test_hostname_is_the_short_name[ha1]"]
    assert [(e.host, e.stdout) for e in ha1.evidence] == [("ha1", "check-97\n"), ("ha1", "ha1\n")]
    assert rows["test_needs_no_command[ha2]"].evidence == []
    assert [e.command for e in rows["test_mark_answers[ha1]"].evidence] == ["echo check-98"]
    # the HTML report shows the same evidence in the same row
    blob = re.search(r'data-jsonblob="([^"]*)"', (checks_dir.path / "report.html").read_text())
    assert blob is not None
    tests = json.loads(html.unescape(blob[1]))["tests"]
    row_html = {nodeid.split("::")[-1]: json.dumps(entries) for nodeid, entries in tests.items()}
    assert "ha2</b> <code>$ hostname</code>" in row_html["test_hostname_is_the_short_name[ha2]"]
    assert "localhost" in row_html["test_hostname_is_the_short_name[ha2]"]
    assert "localhost" not in row_html["test_hostname_is_the_short_name[ha1]"]
    assert "No command output was read" in row_html["test_needs_no_command[ha1]"]


def test_verify_changes_nothing_and_records_no_step(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory
) -> None:
    inv = run_checks(checks_dir, fake_nr, cluster, mode="verify")
    assert journal("ha1") == ["hostname", "echo check-97", "echo check-98"]
    assert inv.record is not None and inv.record.steps == [] and inv.record.passed
    assert len(inv.record.checks) == 6
    assert inv.record.invocation.ended is not None


def test_limit_runs_the_checks_of_the_selected_node_only(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory
) -> None:
    half = fake_nr.filter(filter_func=lambda h: h.name == "ha1")
    inv = run_checks(checks_dir, half, cluster)
    assert {c.host for c in inv.checks} == {"ha1"}
    assert journal("ha2") == []
    assert inv.info.left_out == ["ha2"]


def test_the_cli_writes_html_junit_and_record_from_the_same_run(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory,
    fake_nodes: dict[str, FakeNode], monkeypatch: pytest.MonkeyPatch, inventory_dir: Path,
) -> None:
    fake_nodes["ha2"].hostname = "localhost"
    books = runbooks(checks_dir.path)
    monkeypatch.setattr(engine, "discover", lambda: books)
    monkeypatch.setattr(cli, "open_nornir", lambda inv, **options: fake_nr)
    out = StringIO()
    reports = checks_dir.path / "reports"
    code = cli.run(["run", "97", "98", "-i", str(inventory_dir), "--report-dir", str(reports)],
                   Console(file=out, width=200))
    text = out.getvalue()
    assert code == cli.ExitStatus.FAILED
    assert ("steps: 3 changed, 0 ok, 0 failed, 1 skipped; checks: 5 passed, 1 failed, "
            "0 skipped") in text
    lines = text.splitlines()
    failed_at = lines.index("failed checks:")
    assert lines[failed_at + 1] == "  97-first · `hostname` prints the node's short name."
    assert lines[failed_at + 2] == "    ha2  assert 'localhost' == 'ha2'"  # pytest's words
    assert lines[-1].startswith("handover: ")  # the auditor's document, last
    paths = {m[1]: Path(m[2]) for m in re.finditer(r"^(report|junit|record): +(\S+)$", text, re.M)}
    assert set(paths) == {"report", "junit", "record"}
    assert {p.stem for p in paths.values()} == {paths["record"].stem}
    sha = re.search(r"^sha256: +([0-9a-f]{64})  \(of the record\)$", text, re.M)
    assert sha and sha[1] == hashlib.sha256(paths["record"].read_bytes()).hexdigest()
    record = read(paths["record"])
    assert record.invocation.command_line[:4] == ["runbook", "run", "97", "98"]
    assert record.invocation.ended is not None and record.invocation.runbooks == [
        "97-first", "98-second"]
    skipped = [(s.runbook, s.host) for s in record.steps if s.status == "skipped"]
    assert skipped == [("98-second", "ha2")]
    junit = ET.parse(paths["junit"]).getroot()
    steps = junit.find("testsuite[@name='runbook-steps']")
    assert steps is not None and [c.get("name") for c in steps] == [
        "mark[ha1]", "mark[ha2]", "mark[ha1]", "mark[ha2]"]
    page = paths["report"].read_text()
    assert "not run: failed the checks of 97-first" in page  # the step table, from the record
    assert paths["record"].name in page


def test_verify_prints_no_step_counts(
    checks_dir: pytest.Pytester, fake_nr: Nornir, cluster: ClusterInventory,
    monkeypatch: pytest.MonkeyPatch, inventory_dir: Path,
) -> None:
    books = runbooks(checks_dir.path)
    monkeypatch.setattr(engine, "discover", lambda: books)
    monkeypatch.setattr(cli, "open_nornir", lambda inv, **options: fake_nr)
    out = StringIO()
    code = cli.run(["verify", "-i", str(inventory_dir), "--report-dir",
                    str(checks_dir.path / "reports")], Console(file=out, width=200))
    assert code == cli.ExitStatus.OK
    assert "\nchecks: 6 passed, 0 failed, 0 skipped\n" in out.getvalue()
    text = out.getvalue()
    assert "steps:" not in text and "\nall checks passed\n" in text
    # passed checks fold into one line per runbook and node
    assert "  97-first   ha1  2/2 checks passed\n" in text
    assert "  98-second  ha2  1/1 checks passed\n" in text
    assert "test_hostname_is_the_short_name" not in text
    assert text.splitlines()[-1].startswith("handover: ") and text.rstrip().endswith(
        ".handover.html")


def test_the_description_is_the_docstrings_first_sentence() -> None:
    from runbook.pytest_plugin import first_sentence

    doc = '''Each resource is Secondary/Secondary when no DomU runs on it
        (Secondary/Secondary when stopped). The rest says why.'''
    assert first_sentence(doc) == ("Each resource is Secondary/Secondary when no DomU runs on "
                                   "it (Secondary/Secondary when stopped).")
    assert first_sentence("`xm info` reports Xen 3.2.0 as the inventory, e.g. the version.") == (
        "`xm info` reports Xen 3.2.0 as the inventory, e.g. the version.")
    assert first_sentence("No period at all\n\nA second paragraph.") == "No period at all"


def dry_run(checks_dir: pytest.Pytester, fake_nr: Nornir, monkeypatch: pytest.MonkeyPatch,
            inventory_dir: Path, *options: str, changed: bool = True) -> tuple[int, str]:
    books = runbooks(checks_dir.path)
    if not changed:
        keep = engine.Step("keep", lambda task: Result(host=task.host, changed=False), "no-op")
        books = [engine.Runbook(rb.id, rb.title, (keep,), rb.requires, rb.path, rb.checks_dir)
                 for rb in books]
    monkeypatch.setattr(engine, "discover", lambda: books)
    monkeypatch.setattr(cli, "open_nornir", lambda inv, **kw: fake_nr)
    out = StringIO()
    code = cli.run(["run", "97", "98", "--dry-run", *options, "-i", str(inventory_dir),
                    "--report-dir", str(checks_dir.path / "reports")],
                   Console(file=out, width=80))
    return code, out.getvalue()


def test_a_dry_run_with_changes_exits_2_with_detailed_exitcode_and_writes_the_plan(
    checks_dir: pytest.Pytester, fake_nr: Nornir, monkeypatch: pytest.MonkeyPatch,
    inventory_dir: Path,
) -> None:
    code, text = dry_run(checks_dir, fake_nr, monkeypatch, inventory_dir, "--detailed-exitcode")
    assert code == 2
    files = {m[1]: Path(m[2]) for m in re.finditer(r"^(junit|record|handover): +(\S+)$", text,
                                                    re.M)}
    assert set(files) == {"junit", "record", "handover"}
    assert text.splitlines()[-1].startswith("handover: ")
    record = read(files["record"])
    assert record.invocation.mode == "plan" and record.invocation.dry_run
    assert {s.status for s in record.steps} == {"changed"} and record.checks == []
    assert files["record"].name.split("-")[1] == "plan"
    suite = ET.parse(files["junit"]).getroot().find("testsuite[@name='runbook-steps']")
    assert suite is not None and len(suite) == 4
    assert "Dry run" in files["handover"].read_text()
    assert "4 step(s) would change something" in text
    assert "\nsteps: 4 changed, 0 ok, 0 failed, 0 skipped\n" in text and "checks:" not in text


def test_a_dry_run_exits_0_without_detailed_exitcode_and_when_nothing_would_change(
    checks_dir: pytest.Pytester, fake_nr: Nornir, monkeypatch: pytest.MonkeyPatch,
    inventory_dir: Path,
) -> None:
    assert dry_run(checks_dir, fake_nr, monkeypatch, inventory_dir)[0] == 0
    code, text = dry_run(checks_dir, fake_nr, monkeypatch, inventory_dir,
                         "--detailed-exitcode", changed=False)
    assert code == 0 and "nothing would change" in text


def test_detailed_exitcode_needs_dry_run(
    checks_dir: pytest.Pytester, fake_nr: Nornir, monkeypatch: pytest.MonkeyPatch,
    inventory_dir: Path,
) -> None:
    monkeypatch.setattr(engine, "discover", lambda: runbooks(checks_dir.path))
    out = StringIO()
    code = cli.run(["run", "97", "--detailed-exitcode", "-i", str(inventory_dir)],
                   Console(file=out, width=80))
    assert code == cli.ExitStatus.USAGE and "goes with --dry-run" in out.getvalue()


def test_verbose_prints_a_line_per_check(
    checks_dir: pytest.Pytester, fake_nr: Nornir, monkeypatch: pytest.MonkeyPatch,
    inventory_dir: Path,
) -> None:
    monkeypatch.setattr(engine, "discover", lambda: runbooks(checks_dir.path))
    monkeypatch.setattr(cli, "open_nornir", lambda inv, **options: fake_nr)
    out = StringIO()
    code = cli.run(["verify", "-v", "-i", str(inventory_dir), "--report-dir",
                    str(checks_dir.path / "reports")], Console(file=out, width=80))
    assert code == cli.ExitStatus.OK
    lines = out.getvalue().splitlines()
    assert "  passed  ha1  `hostname` prints the node's short name." in lines
    assert "  passed  ha2  98's mark answers." in lines
    assert sum(line.startswith("  passed  ") for line in lines) == 6
