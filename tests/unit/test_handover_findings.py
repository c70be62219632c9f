"""How a check states its finding (runbook.findings), and how it reaches the run record."""

from __future__ import annotations

from io import StringIO

import pytest
from nornir.core import Nornir
from rich.console import Console

from runbook import report
from runbook.engine import Runbook, RunbookRun
from runbook.findings import (
    Finding,
    FindingFailed,
    expect,
    fail,
    fail_if,
    finding,
    findings_of,
    shown,
)
from runbook.inventory import ClusterInventory
from runbook.pytest_plugin import Invocation, RunbookPlugin

pytest_plugins = ["pytester"]


class Node:
    name = "ha2"


def test_expect_passes_on_equal_values() -> None:
    expect(512, 512, node="ha1", subject="Domain-0 memory")


def test_expect_fails_with_a_finding_not_an_assert() -> None:
    with pytest.raises(FindingFailed) as caught:
        expect(1519, 512, node=Node(), subject="Domain-0 memory (MiB, xm list)")
    assert caught.value.findings == (
        Finding("Domain-0 memory (MiB, xm list)", "512", "1519", "ha2"),)
    assert str(caught.value) == "Domain-0 memory (MiB, xm list) on ha2: expected 512, found 1519"


@pytest.mark.parametrize(("value", "text"), [
    (None, "nothing"), ("5Gb", '"5Gb"'), (64, "64"), (["a"], "['a']")])
def test_shown(value: object, text: str) -> None:
    assert shown(value) == text


def test_finding_takes_strings_as_written_and_shows_other_values() -> None:
    made = finding(subject="/etc/modules", expected='"loop max_loop=64"', found="no loop line",
                   node=Node(), note="running max_loop is 8")
    assert made.sentence() == ('/etc/modules on ha2: expected "loop max_loop=64", found no loop '
                               "line; running max_loop is 8")
    assert finding(subject="max_loop", expected=64, found=None, node=None).sentence() == (
        "max_loop: expected 64, found nothing")
    assert finding(subject="xen-tools.conf", key="size", expected="5Gb", found="4Gb",
                   node="ha1").sentence() == "xen-tools.conf size on ha1: expected 5Gb, found 4Gb"


def test_fail_if_fails_with_every_finding_or_passes_on_none() -> None:
    fail_if([])
    problems = [finding(subject=n, expected="resolves", found="does not resolve", node="ha1")
                for n in ("ha1X", "ha2X")]
    with pytest.raises(FindingFailed) as caught:
        fail_if(problems)
    assert findings_of(caught.value) == tuple(problems)
    with pytest.raises(ValueError):
        fail()


def test_findings_of_anything_else_is_none() -> None:
    assert findings_of(AssertionError("x")) == () and findings_of(None) == ()


CHECKS_96 = '''
from runbook.findings import expect, fail, finding


def test_dom0_memory(node):
    """Domain-0 runs with the inventory's memory."""
    expect(1519 if node.name == "ha2" else 512, 512, node=node, subject="Domain-0 memory")


def test_modules(node):
    """/etc/modules loads loop."""
    if node.name == "ha2":
        fail(finding(subject="/etc/modules", expected='"loop max_loop=64"',
                     found="no loop line", node=node, note="running max_loop is 8"))


def test_plain_assert(node):
    """A check that states no finding."""
    assert node.name != "ha2"
'''


@pytest.fixture
def checks_dir(nr: Nornir, pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester after Nornir (pytester unloads modules imported after it starts)."""
    return pytester


def test_the_plugin_stores_a_checks_findings_in_its_record_row(
    checks_dir: pytest.Pytester, nr: Nornir, cluster: ClusterInventory,
) -> None:
    (checks_dir.path / "test_96_findings.py").write_text(CHECKS_96)
    book = Runbook("96-findings", "96-findings", (), ("base",),
                   checks_dir.path / "96-findings.py", checks_dir.path / "test_96_findings.py")
    info = report.invocation_record(command_line=["runbook", "verify"], mode="verify",
                                    cluster=cluster, runbook_ids=[book.id], hosts=["ha1", "ha2"])
    inv = Invocation(info=info, runbooks=[book], cluster=cluster, nornir=nr,
                     runner=RunbookRun(nr, cluster), console=Console(file=StringIO()))
    inv.record_file = checks_dir.path / "20261126T000000Z-verify-96-findings.json"
    html_report = checks_dir.path / "report.html"
    checks_dir.runpytest_inprocess(str(checks_dir.path / "test_96_findings.py"),
                                   "-p", "no:cacheprovider", f"--html={html_report}",
                                   "--self-contained-html", plugins=[RunbookPlugin(inv)])
    rows = {c.name: c for c in inv.checks}
    assert rows["test_dom0_memory[ha2]"].findings == [
        Finding("Domain-0 memory", "512", "1519", "ha2")]
    assert rows["test_dom0_memory[ha2]"].finding == (
        "Failed: Domain-0 memory on ha2: expected 512, found 1519")  # as pytest.fail's
    assert rows["test_modules[ha2]"].findings[0].note == "running max_loop is 8"
    assert rows["test_plain_assert[ha2]"].outcome == "failed"
    assert rows["test_plain_assert[ha2]"].findings == []
    assert rows["test_dom0_memory[ha1]"].findings == [] and rows[
        "test_dom0_memory[ha1]"].outcome == "passed"
    page = html_report.read_text()
    assert 'href="20261126T000000Z-verify-96-findings.handover.html"' in page
