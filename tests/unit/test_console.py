"""The terminal's format: wrapping at 80 columns, folded checks, the end of a run."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from types import MappingProxyType

from nornir.core.task import Result, Task
from rich.console import Console

from runbook import progress
from runbook.console import CheckPrinter, StepPrinter, fold_line, run_summary, wrap
from runbook.engine import Runbook, Step, StepOutcome
from runbook.progress import Activity, Note
from runbook.record import CheckRecord, Finding, InvocationRecord, RunRecord, StepRecord

WHEN = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)
LONG = ("wrote /etc/network/interfaces (eth0 static 192.168.1.101/24 gateway 192.168.1.1, "
        "eth1 static 10.0.0.1/30) and brought both interfaces up with ifup")


def console80() -> Console:
    return Console(file=StringIO(), width=80, force_terminal=False, highlight=False)


def text_of(console: Console) -> str:
    out = console.file
    assert isinstance(out, StringIO)
    return out.getvalue()


def words_intact(text: str, source: str) -> bool:
    """Every word of ``source`` appears whole in ``text`` (no word split across lines)."""
    tokens = set(text.split())
    return all(word in tokens for word in source.split())


def test_wrap_breaks_between_words_only_and_indents_the_rest() -> None:
    lines = wrap(LONG, 80, 10, 6)
    assert all(10 + len(lines[0]) <= 80 for _ in lines[:1])
    assert all(len(line) <= 80 for line in lines[1:])
    assert all(line.startswith("      ") and not line.startswith("       ")
               for line in lines[1:])
    assert " ".join(" ".join(lines).split()) == LONG


def test_wrap_starts_a_message_below_a_head_that_leaves_no_room() -> None:
    lines = wrap("a short message that will not fit beside", 80, 70, 6)
    assert lines[0] == "" and lines[1] == "      a short message that will not fit beside"


def test_a_short_message_stays_beside_a_long_head_and_each_line_of_a_message_starts_one() -> None:
    assert wrap("ok", 80, 70, 6) == ["ok"]
    assert wrap("E: Unable to locate package ntp\nE: broken", 80, 10, 6) == [
        "E: Unable to locate package ntp", "      E: broken"]


def test_a_path_longer_than_the_line_stays_whole() -> None:
    path = "/var/lib/runbook/" + "x" * 90
    assert path in wrap(f"see {path} now", 80, 10, 6)[1]


def book() -> Runbook:
    steps = (Step("interfaces", lambda task: Result(host=task.host), ""),
             Step("resource-scripts", lambda task: Result(host=task.host), ""))
    return Runbook("08-heartbeat", "t", steps, ("base",), Path("08-heartbeat.py"))


def test_step_lines_fit_80_columns_with_the_step_name_whole() -> None:
    console = console80()
    rb = book()
    rows = [StepOutcome("08-heartbeat", "interfaces", "ha1", "changed", 0.12, LONG),
            StepOutcome("08-heartbeat", "interfaces", "ha2", "ok", 0.05, "already there")]
    StepPrinter(console).done(rb, rb.steps[0], rows)
    text = text_of(console)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("  ha1  08-heartbeat · interfaces        changed")
    assert words_intact(text, LONG)
    assert lines[-1].startswith("  ha2  08-heartbeat · interfaces        ok")
    assert "already there" not in text  # an ok step's message is noise


def test_a_dry_run_says_would_change_and_prints_the_plan_indented() -> None:
    console = console80()
    rb = book()
    rows = [StepOutcome("08-heartbeat", "interfaces", "ha1", "changed", 0.1, "wrote x",
                        diff="--- a\n+++ b\n+line\n", plan=["write /etc/network/interfaces"])]
    StepPrinter(console, dry_run=True).done(rb, rb.steps[0], rows)
    lines = text_of(console).splitlines()
    assert "would change" in lines[0] and "wrote x" not in lines[0]
    assert lines[1:] == ["      write /etc/network/interfaces", "      --- a", "      +++ b",
                         "      +line"]


def check(outcome: str, host: str | None, runbook: str = "01-base",
          findings: tuple[Finding, ...] = ()) -> CheckRecord:
    return CheckRecord(runbook, f"test_01_base.py::test_x[{host}]", f"test_x[{host}]", host,
                       "/etc/modules loads loop with the inventory's max_loop.", outcome,  # type: ignore[arg-type]
                       "" if outcome == "passed" else "AssertionError", 0.1,
                       findings=list(findings))


MODULES = Finding("/etc/modules", '"loop max_loop=64"', "no loop line", "ha2",
                  note="running max_loop is 8")


def test_passed_checks_fold_into_one_line_per_runbook_and_node() -> None:
    console = console80()
    printer = CheckPrinter(console, id_width=7)
    for _ in range(9):
        printer.check(check("passed", "ha1"))
    for _ in range(8):
        printer.check(check("passed", "ha2"))
    printer.check(check("failed", "ha2", findings=(MODULES,)))
    printer.check(check("passed", None))
    printer.runbook_done("01-base")
    lines = text_of(console).splitlines()
    assert lines[0] == ("  failed  ha2  01-base · /etc/modules loads loop with the inventory's "
                        "max_loop.")
    assert lines[1] == ('          /etc/modules on ha2: expected "loop max_loop=64", found no loop '
                        "line;")  # at once, the finding below its check, wrapped between words
    assert lines[2] == "            running max_loop is 8"
    assert 'expected "loop max_loop=64"' in text_of(console)
    assert lines[-3:] == ["  01-base  ha1      9/9 checks passed",
                          "  01-base  ha2      8/9 checks passed, 1 failed",
                          "  01-base  cluster  1/1 checks passed"]
    printer.runbook_done("01-base")  # printed once
    assert text_of(console).splitlines()[-3:] == lines[-3:]


def test_verbose_prints_every_check() -> None:
    console = console80()
    printer = CheckPrinter(console, verbose=True)
    printer.check(check("passed", "ha1"))
    assert text_of(console).startswith("  passed  ha1  /etc/modules loads loop")


def test_fold_line_counts_skips_and_errors() -> None:
    line = fold_line("03-lvm", "ha1", Counter(passed=2, error=1, skipped=1))
    assert line.plain == "  03-lvm  ha1   2/4 checks passed, 1 error, 1 skipped"


def record(mode: str = "run", *, steps: list[StepRecord] | None = None,
           checks: list[CheckRecord] | None = None) -> RunRecord:
    info = InvocationRecord(["runbook", mode], mode, "root@ops", WHEN, WHEN, "0.1", "abc",
                            "/inv", "f" * 64, ["01-base"], ["ha1", "ha2"])
    return RunRecord(info, steps=steps or [], checks=checks or [])


FILES = [("report", Path("/r/x.html")), ("junit", Path("/r/x.xml")), ("record", Path("/r/x.json"))]


def test_the_end_of_a_run_counts_lists_failures_then_paths_with_the_handover_last() -> None:
    console = console80()
    steps = [StepRecord("01-base", "ntp", "ha1", "changed", 1.0),
             StepRecord("01-base", "ntp", "ha2", "failed", 1.0, "`apt-get` exited 100: E: x")]
    run_summary(console, record(steps=steps, checks=[check("failed", "ha2", findings=(MODULES,)),
                                                     check("passed", "ha1")]),
                FILES, "a" * 64, Path("/r/x.handover.html"))
    lines = text_of(console).splitlines()
    # 82 columns: at 80 the one line of counts breaks between the steps and the checks
    assert lines[:2] == ["steps: 1 changed, 0 ok, 1 failed, 0 skipped;",
                         "checks: 1 passed, 1 failed, 0 skipped"]
    assert lines[2].startswith("  failed  ha2  01-base · ntp  `apt-get` exited 100")
    assert lines[3] == "failed checks:"
    assert lines[4] == "  01-base · /etc/modules loads loop with the inventory's max_loop."
    assert lines[5].startswith('    ha2  /etc/modules on ha2: expected "loop max_loop=64"')
    body = " ".join(" ".join(lines[5:7]).split())
    assert ('/etc/modules on ha2: expected "loop max_loop=64", found no loop line; '
            "running max_loop is 8") in body
    assert all(len(line) <= 80 for line in lines if not line.startswith(("report", "sha256")))
    assert [line.split(":")[0] for line in lines[-5:]] == [
        "report", "junit", "record", "sha256", "handover"]
    assert lines[-1] == "handover: /r/x.handover.html"
    assert "passed" not in lines[-6]  # no verdict of success on a failed run


def test_verify_prints_no_step_counts_and_a_check_without_findings_says_so() -> None:
    console = console80()
    bare = check("failed", "ha1")
    bare.finding = ""
    run_summary(console, record("verify", checks=[bare]), FILES, "a" * 64)
    text = text_of(console)
    assert text.startswith("checks: 0 passed, 1 failed, 0 skipped\n")
    assert "failed, stating no finding" in " ".join(text.split())


def test_a_check_failed_on_both_nodes_is_one_heading_with_a_line_per_node() -> None:
    console = console80()
    on = [check("failed", host) for host in ("ha1", "ha2")]
    for c in on:
        c.finding = f"AssertionError: no /etc/drbd.conf on {c.host}"
    run_summary(console, record("verify", checks=on), FILES, "a" * 64)
    lines = text_of(console).splitlines()
    assert lines[1:5] == ["failed checks:",
                          "  01-base · /etc/modules loads loop with the inventory's max_loop.",
                          "    ha1  no /etc/drbd.conf on ha1",  # pytest's wrapper dropped
                          "    ha2  no /etc/drbd.conf on ha2"]


def test_a_passed_run_says_so_before_the_paths() -> None:
    console = console80()
    run_summary(console, record(steps=[StepRecord("01-base", "ntp", "ha1", "ok", 1.0)],
                                checks=[check("passed", "ha1")]), FILES, "a" * 64,
                Path("/r/h.html"))
    lines = text_of(console).splitlines()
    assert lines[:3] == ["steps: 0 changed, 1 ok, 0 failed, 0 skipped;",
                         "checks: 1 passed, 0 failed, 0 skipped", "all steps and checks passed"]
    assert lines[-1] == "handover: /r/h.html"


def test_the_counts_stay_one_line_where_they_fit() -> None:
    console = Console(file=StringIO(), width=100, highlight=False)
    run_summary(console, record(checks=[check("passed", "ha1")]), FILES, "a" * 64)
    assert text_of(console).splitlines()[0] == (
        "steps: 0 changed, 0 ok, 0 failed, 0 skipped; checks: 1 passed, 0 failed, 0 skipped")


def test_the_spinner_names_only_the_nodes_still_working() -> None:
    activity = Activity("02-xen · reboot", ("ha1", "ha2"), began=100.0,
                        notes=MappingProxyType({"ha2": Note("waiting for SSH", 110.0)}),
                        done=frozenset({"ha1"}))
    assert progress.spinner_text(activity, 150.0) == "02-xen · reboot · ha2: waiting for SSH (40 s)"
    assert progress.lines(activity, 150.0) == ["  ha2  02-xen · reboot  waiting for SSH (40 s)"]
    assert progress.spinner_text(Activity("01-base · ntp", ("ha1", "ha2")), 1.0) == (
        "01-base · ntp · ha1, ha2")


def test_a_node_through_its_step_is_told_to_the_listener() -> None:
    heard: list[tuple[str, str]] = []
    progress.reset()
    progress.listen(lambda host, text: heard.append((host, text)))
    try:
        progress.begin("01-base · ntp", ["ha1", "ha2"])
        progress.finished("ha1")
        progress.finished("ha1")
        assert progress.current().working == ("ha2",) and heard == [("ha1", "")]
    finally:
        progress.listen(None)
        progress.reset()


def unused(task: Task) -> Result:  # pragma: no cover - a Step needs a task
    return Result(host=task.host)
