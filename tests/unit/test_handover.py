"""The handover document (runbook.handover): grid, failures, findings, overview, evidence,
sign-off and footer, rendered from a record and an overview built in the test."""

from __future__ import annotations

import hashlib
import html
import json
import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from runbook import cli, handover
from runbook.handover import Cell, SignOff, grid, group_checks, plain_message
from runbook.record import RunRecord, StepRecord
from tests.unit.test_handover_overview import DRBD_CONF, DRBD_STATUS_83
from tests.unit.test_handover_sample import (
    FAILED_SENTENCE,
    check,
    sample_overview,
    sample_record,
    with_output,
)


def render(record: RunRecord | None = None, **options: object) -> str:
    record = record or sample_record()
    defaults: dict[str, object] = {"record_name": "r.json", "record_sha256": "ab" * 32,
                                   "overview": sample_overview()}
    return handover.render(record, **{**defaults, **options})  # type: ignore[arg-type]


def text_of(page: str) -> str:
    """The page's words, tags dropped and blanks folded (what a reader sees)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_grid_counts_checks_and_failed_steps_per_runbook_and_node() -> None:
    columns, rows = grid(sample_record(), ["ha1", "ha2"])
    assert columns == ["ha1", "ha2", "cluster"]
    assert (rows["02-xen"]["ha1"].status, rows["02-xen"]["ha1"].label) == ("passed", "1 passed")
    assert (rows["02-xen"]["ha2"].status, rows["02-xen"]["ha2"].label) == ("failed", "2 failed")
    assert rows["04-xen-tools"]["ha2"].label == "1 failed · 2 passed"
    assert rows["02-xen"]["cluster"].label == "none"
    assert rows["04-xen-tools"]["cluster"].label == "1 passed"


def test_a_node_left_out_by_limit_reads_not_run() -> None:
    _, rows = grid(sample_record(left_out=True), ["ha1", "ha2"])
    assert (rows["02-xen"]["ha2"].status, rows["02-xen"]["ha2"].label) == (
        "not-run", "left out by --limit")


def test_a_node_without_checks_of_its_own_is_not_called_not_run() -> None:
    record = sample_record()
    record.steps = []  # a verify: no step ran
    record.checks = [c for c in record.checks if c.host is None]
    _, rows = grid(record, ["ha1", "ha2"])
    assert rows["04-xen-tools"]["ha1"].label == "no checks of this node (see cluster-wide)"
    assert rows["02-xen"]["ha1"].label == "not run"


@pytest.mark.parametrize(("cell", "status"), [
    (Cell(steps_failed=1), "failed"), (Cell(passed=3, failed=1), "failed"),
    (Cell(passed=3), "passed"), (Cell(skipped=2), "skipped"), (Cell(), "not-run"),
    (Cell(steps_done=2), "none"), (Cell(cluster_wide=True), "none"),
    (Cell(row_checked=True), "none"), (Cell(row_checked=True, note="left out by --limit"),
                                       "not-run"),
])
def test_cell_status(cell: Cell, status: str) -> None:
    assert cell.status == status


@pytest.mark.parametrize(("finding", "plain"), [
    ("AssertionError: xen-tools is not installed", "xen-tools is not installed"),
    ("Failed: ha2 could not be checked: unreachable", "ha2 could not be checked: unreachable"),
    ("assert 1519 == 512", "the check failed without stating its finding (see its evidence)"),
    ("AssertionError", "the check failed without stating its finding (see its evidence)"),
])
def test_plain_messages_drop_pytest_wrapping_and_never_dump_an_assert(finding: str,
                                                                      plain: str) -> None:
    assert plain_message(check("02-xen", "test_x[ha1]", "ha1", "x", "failed", finding)) == plain


def test_a_parametrized_check_is_one_group_per_node_with_its_evidence_once() -> None:
    groups = {(g.function, g.node): g for g in group_checks(sample_record().checks)}
    settings = groups[("test_effective_setting", "ha2")]
    assert settings.count == "2/3" and settings.outcome == "failed"
    assert len(settings.evidence) == 1  # the same xen-tools.conf read by all three
    assert [(f.key, f.expected, f.found) for f in settings.findings] == [
        ("size", '"5Gb"', '"4Gb"')]


def test_failures_come_first_with_one_plain_sentence_each() -> None:
    page = render()
    failures = page[page.index('id="failures"'):page.index('id="overview"')]
    text = text_of(failures)
    assert FAILED_SENTENCE in text
    assert 'xen-tools.conf size on ha2: expected "5Gb", found "4Gb"' in text
    assert ("Domain-0 runs with the inventory's dom0 memory: failed, stating no finding "
            "(see its evidence)") in text
    assert "assert 1519" not in page  # never the assertion dump


def test_the_findings_table_says_expected_found_and_node() -> None:
    page = render()
    findings = page[page.index('id="findings"'):page.index('id="steps"')]
    assert re.search(r'<td class="expected">&#34;loop max_loop=64&#34;</td>\s*'
                     r'<td class="found">no loop line<div class="note">running max_loop is 8',
                     findings)


def test_evidence_is_folded_in_details_and_every_word_is_in_the_html() -> None:
    page = render()
    evidence = page[page.index('id="evidence"'):page.index('id="signoff"')]
    assert evidence.count("<details") == len(group_checks(sample_record().checks))
    assert "<details open" not in evidence
    assert "cat /sys/module/loop/parameters/max_loop" in evidence and ">8\n</pre>" in evidence
    assert "@media print" in page and "::details-content" in page  # unfolded in print


def test_the_steps_a_node_skipped_for_one_reason_are_one_row() -> None:
    record = sample_record()
    why = "not run: failed at 02-xen · packages: apt-get exited 100"
    record.steps += [StepRecord("02-xen", name, h, "skipped", 0.0, why)
                     for name in ("modules", "grub", "reboot") for h in ("ha1", "ha2")]
    rows = handover.steps_by_runbook(record.steps)["02-xen"]
    skipped = [(r.host, r.steps) for r in rows if r.status == "skipped"]
    assert skipped == [("ha1", ["modules", "grub", "reboot"]),
                       ("ha2", ["modules", "grub", "reboot"])]
    failed = StepRecord("02-xen", "packages", "ha2", "failed", 0.1, "apt-get exited 100")
    record.steps.append(failed)
    page = render(record)
    assert f'id="{handover.step_anchor(failed)}"' in page
    assert f'href="#{handover.step_anchor(failed)}"' in page


def test_an_output_two_checks_read_is_printed_once() -> None:
    record = sample_record()
    loop = next(c for c in record.checks if c.name == "test_loop_devices_extended[ha1]")
    record.checks.append(check("02-xen", "test_modules_file[ha1]", "ha1", "x",
                               evidence=list(loop.evidence)))
    rows = handover.evidence_rows(group_checks(record.checks))
    first = rows["ev-02-xen-test_loop_devices_extended-ha1"]
    again = rows["ev-02-xen-test_modules_file-ha1"]
    assert [s.first for s in first] == [None, None]
    assert [s.first for s in again] == [("02-xen test_loop_devices_extended on ha1",
                                         "ev-02-xen-test_loop_devices_extended-ha1")] * 2
    page = render(record)
    assert "the same output as printed under 02-xen test_loop_devices_extended on ha1" in page
    assert '<div class="screen-only">' in page  # on screen every check still shows it


def test_the_page_is_self_contained() -> None:
    page = render()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<script src" not in page


def test_the_header_says_who_ran_what_where_and_in_which_scope() -> None:
    text = text_of(render(sample_record(left_out=True)))
    for words in ("rbho", "ha1.domain.local", "eth0 192.168.1.11",
                  "runbook run 02-xen 04-xen-tools -i .lab/rbho/inventory", "root@vm",
                  "2026-11-26 12:37:13 UTC", "2a0f188149f7", "9" * 64,
                  "Left out by --limit: ha2", "--limit ha1"):
        assert words in text, words


def test_the_cluster_name_falls_back_to_the_inventory_folder_and_says_so() -> None:
    text = text_of(render(overview=None))
    assert "Cluster rbho (the inventory folder's name: no data.cluster_name" in text
    assert "no overview was read" in text.lower()


def test_the_overview_shows_each_node_and_domu() -> None:
    text = text_of(render())
    for words in ("Ubuntu 8.04.4 LTS", "2.6.24-19-xen", "3.2.0", "2,047 MiB / 512 MiB / 1,519 MiB",
                  "40,956 MiB / 35,452 MiB", "s to ha2", "test 192.168.1.50 ha1 nowhere",
                  "DRBD: not installed.", "Heartbeat: not installed.", "No drill run yet."):
        assert words in text, words


def test_drbd_and_heartbeat_appear_when_the_nodes_have_them() -> None:
    overview = sample_overview()
    for host in ("ha1", "ha2"):
        overview = with_output(overview, host, "drbd status", DRBD_STATUS_83)
        overview = with_output(overview, host, "drbd.conf devices", DRBD_CONF)
        overview = with_output(overview, host, "file /etc/ha.d/haresources", "ha1 xendomainsHA1\n")
    overview = with_output(overview, "ha1", "heartbeat status",
                           "Heartbeat is running on this machine.\nrscstatus: local\n")
    overview = with_output(overview, "ha2", "heartbeat status",
                           "Heartbeat is running on this machine.\nrscstatus: foreign\n")
    text = text_of(render(overview=overview))
    assert "test-disk ha1 Connected Primary/Secondary UpToDate/UpToDate" in text
    assert "test-disk on ha2: Connected Primary/Secondary" in text  # in the DomU's row
    assert "xendomainsHA1 ha1 ha1" in text  # held by its preferred node
    assert "Heartbeat: not installed" not in text


def test_the_last_drill_figures_when_a_drill_ran(tmp_path: Path) -> None:
    record = json.loads(sample_record().to_json())
    record["invocation"]["mode"] = "drill"
    record["drill"] = {"scenario": "ha1 power loss", "downtime_s": 41.5,
                       "time_to_recover_s": 63.0}
    (tmp_path / "20261127T100000Z-drill-all.json").write_text(json.dumps(record))
    drill = handover.last_drill(tmp_path)
    assert drill is not None and (drill.downtime_s, drill.time_to_recover_s) == (41.5, 63.0)
    text = text_of(render(drill=drill))
    assert "ha1 power loss" in text and "downtime 41.5 s" in text and "63.0 s" in text
    assert handover.last_drill(tmp_path / "none") is None


def test_cross_node_consistency_is_checked_and_its_findings_listed() -> None:
    page = render()
    section = text_of(page[page.index('id="consistency"'):page.index('id="findings"')])
    assert "Same package versions on both nodes" in section
    # the lab after 05-domu: the DomU's cfg is on its home node only (07 copies it)
    assert "ha2 /etc/xen/test.cfg the file (as on ha1) no such file" in section
    # each check points at the commands it compared, in the overview's evidence
    assert 'href="#ov-ha2-file-hashes">ha2: file hashes</a>' in page
    assert '<div class="cmd" id="ov-ha2-file-hashes">' in page
    verdicts = {v.name: v.outcome for v in handover.cluster_view(sample_overview()).verdicts}
    assert verdicts == {"packages": "passed", "files": "failed", "clock": "passed",
                        "memory": "passed", "lvs": "passed"}


def test_unused_lvs_are_not_judged_without_drbd_conf() -> None:
    overview = with_output(sample_overview(), "ha1", "drbd.conf devices", "", exit_status=2)
    verdicts = {v.name: v for v in handover.cluster_view(overview).verdicts}
    assert verdicts["lvs"].outcome == "not checked"
    assert verdicts["packages"].outcome == "passed"


def test_a_node_left_out_is_named_and_nothing_is_compared_with_it() -> None:
    overview = sample_overview()
    del overview.reads["ha2"]
    overview.left_out = ("ha2",)
    view = handover.cluster_view(overview)
    assert {v.unavailable for v in view.verdicts} == {
        "needs both nodes' facts: only ha1 was read (--limit)"}
    assert "Not read: ha2 (left out by --limit)." in text_of(
        render(sample_record(left_out=True), overview=overview))


def test_consistency_needs_both_nodes() -> None:
    overview = sample_overview()
    overview.reads["ha2"].error = "connection refused"
    outcomes = {v.outcome for v in handover.cluster_view(overview).verdicts}
    assert outcomes == {"not checked"}


def test_the_verdict_line() -> None:
    passed = sample_record()
    passed.checks = [c for c in passed.checks if c.outcome == "passed"]
    assert "Passed: every step succeeded and all 7 checks passed." in render(passed, overview=None)
    assert "Cross-node consistency: 1 finding to review" in render(passed)
    assert "Failed: 3 findings (and 1 cross-node) on ha2" in render()


def test_sign_off_from_options_then_inventory_then_the_operator() -> None:
    overview = sample_overview()
    overview.cluster.signoff.update({"reviewed_by": "J. Roe", "change": "CHG-1"})
    text = text_of(render(overview=overview, signoff=SignOff(accepted_by="A. Owner",
                                                              change="CHG-2")))
    assert "Change / ticket reference: CHG-2" in text
    assert "Performed by root@vm" in text and "Reviewed by J. Roe" in text
    assert "Accepted by A. Owner" in text


def test_sign_off_given_to_the_run_stays_when_the_report_is_rendered_again() -> None:
    overview = sample_overview()
    overview.signoff = {"change": "CHG-RUN", "reviewed_by": "At Run"}
    overview.cluster.signoff.update({"reviewed_by": "Inventory", "accepted_by": "Inv Owner"})
    again = handover.Overview.from_json(overview.to_json())
    text = text_of(render(overview=again, signoff=SignOff(reviewed_by="At Report")))
    assert "Change / ticket reference: CHG-RUN" in text
    assert "Reviewed by At Report" in text and "Accepted by Inv Owner" in text


def test_write_handover_puts_the_records_hash_in_the_footer(tmp_path: Path) -> None:
    record_file = tmp_path / "20261126T123713Z-run-02-xen.json"
    sha = sample_record().write(record_file)
    handover.overview_path(record_file).write_text(sample_overview().to_json())
    (tmp_path / "20261126T123713Z-run-02-xen.html").write_text("<html></html>")
    target = handover.write_handover(record_file)
    assert target == tmp_path / "20261126T123713Z-run-02-xen.handover.html"
    page = target.read_text()
    assert f"SHA-256 <span class=\"hash\">{sha}</span>" in page
    assert sha == hashlib.sha256(record_file.read_bytes()).hexdigest()
    assert 'href="20261126T123713Z-run-02-xen.html"' in page  # the per-check report


def test_runbook_report_renders_the_newest_record_and_prints_its_path(tmp_path: Path) -> None:
    sample_record().write(tmp_path / "20261126T100000Z-verify-all.json")
    sample_record().write(tmp_path / "20261126T110000Z-verify-all.json")
    handover.overview_path(tmp_path / "20261126T110000Z-verify-all.json").write_text(
        sample_overview().to_json())
    (tmp_path / "20261126T110000Z-verify-all.plan.json").write_text("{}")  # a sidecar
    out = StringIO()
    code = cli.run(["report", "--report-dir", str(tmp_path), "--signoff-reviewed-by", "J. Roe"],
                   Console(file=out, width=300))
    assert code == cli.ExitStatus.OK
    target = tmp_path / "20261126T110000Z-verify-all.handover.html"
    assert out.getvalue().strip() == str(target)
    assert "J. Roe" in target.read_text()


@pytest.mark.parametrize("content", [None, "not json", '{"schema_version": 99}'])
def test_runbook_report_refuses_a_missing_or_unreadable_record(tmp_path: Path,
                                                               content: str | None) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    out = StringIO()
    assert cli.run(["report", str(path)], Console(file=out, width=300)) == cli.ExitStatus.USAGE
    assert "error:" in out.getvalue()
    assert cli.run(["report", "--report-dir", str(tmp_path / "empty")],
                   Console(file=StringIO())) == cli.ExitStatus.USAGE
