"""The pytest plugin that turns a runbook invocation into an acceptance report.

The whole invocation is one pytest session, so one HTML report covers it:
before the first check of runbook N, the plugin applies runbook N (in ``run``
mode); the checks of N then run against the nodes over the same SSH sessions.
A host whose checks of N failed is kept out of the steps of N+1. Each check's
outcome, finding and evidence go into the run record (runbook.record), from
which the step table at the top of the HTML report is rendered. Once an interrupt is
requested (runbook.interrupt) no further check starts: the session ends as pytest's own
"interrupted", and the report and the record are still written.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nornir.core import Nornir
from rich.console import Console

from runbook import checking, console, handover, interrupt, progress, remote, report
from runbook.engine import Runbook, RunbookRun
from runbook.findings import findings_of
from runbook.inventory import ClusterInventory, NodeSettings
from runbook.record import (
    CheckOutcome,
    CheckRecord,
    CommandRecord,
    InterruptRecord,
    InvocationRecord,
    RunRecord,
)


@dataclass
class Invocation:
    """Everything one ``runbook run`` or ``runbook verify`` shares with its checks."""

    info: InvocationRecord  # mode, runbooks, hosts, times: the record's invocation
    runbooks: list[Runbook]
    cluster: ClusterInventory
    nornir: Nornir
    runner: RunbookRun
    console: Console
    verbose: bool = False  # -v: a line per passed check too (else folded per runbook, node)
    applied: set[str] = field(default_factory=set)
    checks: list[CheckRecord] = field(default_factory=list)  # in the order they ran
    record: RunRecord | None = None  # made when the session ends, before the HTML report
    record_file: Path | None = None  # where the CLI writes the record (named in the HTML)

    @property
    def mode(self) -> str:
        return self.info.mode

    @property
    def hosts(self) -> list[str]:
        return self.info.hosts

    def finish(self) -> RunRecord:
        """The run record as it stands now (the end time set once)."""
        if self.info.ended is None:
            self.info.ended = report.utc_now()
        self.record = RunRecord(
            invocation=self.info,
            steps=list(self.runner.outcomes),
            checks=list(self.checks),
            unreachable=remote.unreachable_hosts(),
            interrupted=_interruption(),
        )
        return self.record


def _interruption() -> InterruptRecord | None:
    stop = interrupt.requested()
    return stop.record() if stop is not None else None


def _runbook_of(item: pytest.Item, runbooks: list[Runbook]) -> Runbook | None:
    path = Path(str(item.fspath)).resolve()
    return next((rb for rb in runbooks if rb.checks.resolve() == path), None)


def _node_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "node" not in callspec.params:
        return None
    value = callspec.params["node"]
    return value.name if isinstance(value, NodeSettings) else str(value)


def _crash_line(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr or "")
    lines = text.splitlines()
    return lines[0] if lines else ""


def _outcome(rep: pytest.TestReport) -> CheckOutcome:
    """A failure outside the test body (a fixture, a gather) is an error, as pytest says."""
    if rep.passed:
        return "passed"
    if rep.skipped:
        return "skipped"
    return "failed" if rep.when == "call" else "error"


_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z`\"'(/]|\s*$)")


def first_sentence(doc: str) -> str:
    """A docstring's first sentence on one line: a sentence ends at ``.``, ``!`` or ``?``
    before a capital, a quote, a backtick, a parenthesis or a slash (so ``e.g. the`` and
    ``Xen 3.2.0`` go on), or at the docstring's first blank line."""
    paragraph = doc.strip().split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text


class RunbookPlugin:
    def __init__(self, invocation: Invocation) -> None:
        self.inv = invocation
        self.printer = console.CheckPrinter(
            invocation.console, verbose=invocation.verbose,
            id_width=max((len(rb.id) for rb in invocation.runbooks), default=0))
        self._checking: str | None = None  # the runbook whose checks are running
        self._meta: dict[str, str] | None = None  # pytest-metadata's environment table
        self._setup_time: dict[str, float] = {}  # nodeid -> seconds its setup took

    # -- fixtures -----------------------------------------------------------
    @pytest.fixture(scope="session")
    def cluster(self) -> ClusterInventory:
        return self.inv.cluster

    @pytest.fixture(scope="session")
    def nornir(self) -> Nornir:
        return self.inv.nornir

    @pytest.fixture(scope="session")
    def gather(self) -> Any:
        """``gather(builder)``: run builder's commands on all nodes, one round trip each."""
        cache: dict[Any, checking.Gathered] = {}

        def _gather(builder: checking.CommandBuilder) -> checking.Gathered:
            if builder not in cache:
                cache[builder] = checking.gather_facts(self.inv.nornir, self.inv.cluster, builder)
            return cache[builder]

        return _gather

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "node" in metafunc.fixturenames:
            nodes = [self.inv.cluster.nodes[h] for h in self.inv.hosts]
            metafunc.parametrize("node", nodes, ids=[n.name for n in nodes], scope="function")
        if "domu" in metafunc.fixturenames:
            domus = list(self.inv.cluster.domus)
            metafunc.parametrize("domu", domus, ids=[d.name for d in domus], scope="function")
        if "resource" in metafunc.fixturenames:  # 06-drbd: one DRBD resource per DomU LV
            drbd = next(iter(self.inv.cluster.nodes.values())).drbd
            resources = list(drbd.resources) if drbd is not None else []
            metafunc.parametrize("resource", resources, ids=[r.name for r in resources],
                                 scope="function")

    # -- metadata and title ------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover - pytest-html always brings it
            return
        meta = config.stash[metadata_key]
        for noisy in ("Plugins", "Packages"):
            meta.pop(noisy, None)
        info = self.inv.info
        meta.update(
            {
                "Mode": info.mode,
                "Runbooks": ", ".join(info.runbooks),
                "Operator": info.operator,
                "UTC start": f"{info.started:%Y-%m-%d %H:%M:%S} UTC",
                "Tool version": info.tool_version,
                "Project git commit": info.git_commit,
                "Inventory folder": info.inventory_folder,
                "Inventory SHA-256": info.inventory_sha256,
                "Hosts": ", ".join(info.hosts),
            }
        )
        if info.left_out:
            meta["Left out by --limit"] = ", ".join(info.left_out)
        if self.inv.record_file is not None:
            meta["Run record"] = self.inv.record_file.name
        self._meta = meta

    def _fold(self) -> None:
        """The folded lines of the runbook whose checks just ended."""
        if self._checking is not None:
            self.printer.runbook_done(self._checking)
            self._checking = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        progress.end()
        self._fold()
        self.printer.flush()
        record = self.inv.finish()  # before pytest-html renders the report from it
        if self._meta is not None and record.invocation.ended is not None:
            self._meta["UTC end"] = f"{record.invocation.ended:%Y-%m-%d %H:%M:%S} UTC"

    def pytest_html_report_title(self, report: Any) -> None:
        ids = ", ".join(rb.id for rb in self.inv.runbooks)
        verb = "run and verification" if self.inv.mode == "run" else "verification"
        report.title = f"Acceptance report: {ids} ({verb}) on {self.inv.cluster.folder.name}"

    # -- applying runbooks before their checks ---------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        order = {rb.id: i for i, rb in enumerate(self.inv.runbooks)}

        def key(item: pytest.Item) -> int:
            rb = _runbook_of(item, self.inv.runbooks)
            return order.get(rb.id, len(order)) if rb else len(order)

        items.sort(key=key)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._stop_if_interrupted(item)
        rb = _runbook_of(item, self.inv.runbooks)
        if rb is not None and rb.id != self._checking:
            capture = item.config.pluginmanager.getplugin("capturemanager")
            with (capture.global_and_fixture_disabled() if capture is not None
                  else contextlib.nullcontext()):  # setup's output is captured otherwise
                self._fold()
            self._checking = rb.id
        if rb is not None and rb.id not in self.inv.applied:
            self._apply_up_to(rb, item)
            self._stop_if_interrupted(item)
            progress.begin(f"the checks of {rb.id}", self.inv.hosts)
        checking.begin_evidence()

    @staticmethod
    def _stop_if_interrupted(item: pytest.Item) -> None:
        """No check starts once a stop is requested: end the session as interrupted."""
        stop = interrupt.requested()
        if stop is not None:
            raise item.session.Interrupted(f"{stop.signal}: {stop.line()}")

    def _apply_up_to(self, target: Runbook, item: pytest.Item) -> None:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        for rb in self.inv.runbooks:
            if rb.id in self.inv.applied:
                continue
            self.inv.applied.add(rb.id)
            self._exclude_hosts_failing_earlier_checks()
            if self.inv.mode == "run":
                if capture is not None:
                    with capture.global_and_fixture_disabled():
                        self._apply(rb)
                else:
                    self._apply(rb)
            if rb.id == target.id:
                break

    def _apply(self, rb: Runbook) -> None:
        self.inv.console.rule(f"{rb.id}: {rb.title}")
        self.inv.runner.run(rb)
        if not interrupt.requested():
            self.inv.console.print(f"[bold]checks of {rb.id}[/bold]", highlight=False)

    def _exclude_hosts_failing_earlier_checks(self) -> None:
        # From the record's rows, which know their runbook from the item itself (a report's
        # fspath is relative to the rootdir, not to where the operator stands).
        for check in self.inv.checks:
            if check.outcome in ("failed", "error") and check.host in self.inv.hosts:
                self.inv.runner.exclude(check.host, f"failed the checks of {check.runbook}")

    # -- evidence and per-check rows ---------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        outcome = yield
        rep = outcome.get_result()
        doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
        rep.check_description = first_sentence(doc)
        rep.check_node = _node_of(item) or "both nodes"
        rep.check_findings = findings_of(call.excinfo.value if call.excinfo else None)
        if call.when == "setup" and rep.passed:
            self._setup_time[item.nodeid] = rep.duration
            return
        if call.when == "teardown" and not rep.failed:
            return
        if call.when == "teardown":  # its call's row holds the evidence already
            self._record_check(item, rep, [])
            return
        evidence = [CommandRecord.of(r) for r in checking.collected_evidence()]
        self._record_check(item, rep, evidence)
        try:
            from pytest_html import extras
        except ImportError:  # pragma: no cover
            return
        evidence_html = extras.html(report.render_evidence(evidence))
        rep.extras = [*getattr(rep, "extras", []), evidence_html]

    def _record_check(
        self, item: pytest.Item, rep: pytest.TestReport, evidence: list[CommandRecord]
    ) -> None:
        rb = _runbook_of(item, self.inv.runbooks)
        check = CheckRecord(
            runbook=rb.id if rb else "",
            nodeid=item.nodeid,
            name=item.name,
            host=_node_of(item),
            description=rep.check_description,
            outcome=_outcome(rep),
            finding="" if rep.passed else _crash_line(rep),
            duration=self._setup_time.pop(item.nodeid, 0.0) + rep.duration,
            evidence=evidence,
            findings=list(getattr(rep, "check_findings", ())),
        )
        self.inv.checks.append(check)
        self.printer.check(check)

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="node">Node</th>')
        cells.insert(2, '<th data-column-type="check">Check</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        node = html.escape(getattr(report, "check_node", ""))
        desc = html.escape(getattr(report, "check_description", ""))
        cells.insert(1, f'<td class="col-node">{node}</td>')
        cells.insert(2, f'<td class="col-check">{desc}</td>')

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        # The evidence is the point of a row; pytest-html's empty log box is noise.
        if data == ["No log output captured."]:
            data.clear()

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        if self.inv.record_file is not None:  # the auditor's document, rendered at the end
            name = html.escape(handover.handover_path(self.inv.record_file).name)
            prefix.append(f'<p class="rb-handover">Handover report (overview, findings, '
                          f'sign-off): <a href="{name}">{name}</a></p>')
        postfix.append(report.render_steps(self.inv.record or self.inv.finish()))
