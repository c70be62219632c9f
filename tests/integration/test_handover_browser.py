"""The handover report in a real browser: Debian's headless Chromium (installed by `make deps`).

The document is rendered from a record made in the test and the overview the tool read from a
lab (no lab needed here). With JavaScript on, Chromium's own `--dump-dom` and
`--print-to-pdf`; with JavaScript off, the DevTools protocol over `--remote-debugging-pipe`
(`Emulation.setScriptExecutionDisabled`), because this Chromium's `--dump-dom` and
`--print-to-pdf` print nothing under `--blink-settings=scriptEnabled=false`.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import html
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook import handover
from tests.unit.test_handover_sample import sample_overview, sample_record

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None,
                       reason="Debian's chromium is not installed (make deps installs it)"),
]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
FIRST_SCREEN_BUDGET_MS = 3000.0  # first contentful paint, JavaScript on (about 0.3 s idle)

# What must be on the page in every mode: the grid, a failed finding, folded evidence.
GRID = re.compile(r'<table class="grid">.*?02-xen.*?2 failed', re.S)
FINDING = ('/etc/modules on ha2: expected "loop max_loop=64", found no loop line; '
           "running max_loop is 8")
EVIDENCE = re.compile(r'<details class="evidence check failed" '
                      r'id="ev-02-xen-test_loop_devices_extended-ha2".*?'
                      r'cat /sys/module/loop/parameters/max_loop.*?</details>', re.S)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("handover")
    record = folder / "20261126T123713Z-run-02-xen+04-xen-tools.json"
    sample_record().write(record)
    handover.overview_path(record).write_text(sample_overview().to_json())
    return handover.write_handover(record)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def words(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def assert_complete(dom: str) -> None:
    assert GRID.search(dom), "no verdict grid with ha2's failures"
    assert FINDING in words(dom)
    assert EVIDENCE.search(dom), "no folded evidence of the failed check"


class DevTools:
    """The DevTools protocol over --remote-debugging-pipe: JSON messages ending in NUL on the
    browser's fds 3 (commands) and 4 (answers and events)."""

    def __init__(self, profile: Path) -> None:
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()
        # above 10, so the child can move them to 3 and 4 without clobbering either
        child_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(answers_w, fcntl.F_DUPFD, 10)

        def on_fds_3_and_4() -> None:
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self.process = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(3, 4, child_r, child_w), preexec_fn=on_fds_3_and_4,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (commands_r, answers_w, child_r, child_w):
            os.close(fd)
        self._buffer = b""
        self._last_id = 0
        self._events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def _message(self, timeout: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._answers], [], [], timeout)
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed its pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(message))

    def send(self, method: str, *, page: bool = False, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if page:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._message(60)
            if answer.get("id") == self._last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer["result"])
            self._events.append(answer)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self._events):
            self._events.append(self._message(max(end - time.monotonic(), 0.01)))
        self._events = [e for e in self._events if e.get("method") != event]

    def open(self, url: str, *, scripts: bool) -> None:
        self.send("Page.enable", page=True)
        self.send("Emulation.setScriptExecutionDisabled", page=True, value=not scripts)
        self.send("Page.navigate", page=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", page=True, expression=expression,
                         returnByValue=True)["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        finally:
            self.process.wait(30)


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[DevTools]:
    browser = DevTools(tmp_path / "profile")
    yield browser
    browser.close()


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    match = re.search(r"^Pages:\s+(\d+)$", info.stdout, re.M)
    assert match, info.stdout
    return int(match[1])


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_with_javascript_the_dom_holds_grid_finding_and_evidence(document: Path,
                                                                 tmp_path: Path) -> None:
    done = chromium(tmp_path / "profile", "--dump-dom", document.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert '<div id="toolbar" class="toolbar">' in done.stdout  # the script ran: filters shown
    assert_complete(done.stdout)


def test_without_javascript_the_dom_holds_the_same(document: Path, devtools: DevTools) -> None:
    devtools.open(document.as_uri(), scripts=False)
    dom = devtools.evaluate("document.documentElement.outerHTML")
    assert '<div id="toolbar" class="toolbar" hidden="">' in dom  # no script ran
    assert_complete(dom)
    # folded, yet there: its text is in the page, only not drawn until opened
    assert devtools.evaluate(
        "document.querySelector('details.check.failed pre').textContent").startswith("#")


def test_the_script_only_filters(document: Path, devtools: DevTools) -> None:
    devtools.open(document.as_uri(), scripts=True)
    shown = "document.querySelectorAll('details.check:not(.filtered)').length"
    everything = devtools.evaluate(shown)
    devtools.evaluate("var f = document.getElementById('f-failed'); f.checked = true;"
                      "f.dispatchEvent(new Event('change'))")
    assert devtools.evaluate(shown) == devtools.evaluate(
        "document.querySelectorAll('details.check.failed').length") == 3 < everything
    devtools.evaluate("var n = document.getElementById('f-node'); n.value = 'ha1';"
                      "n.dispatchEvent(new Event('change'))")
    assert devtools.evaluate(shown) == 0  # ha1 failed nothing
    # hidden, not removed: every check is still in the document
    assert devtools.evaluate("document.querySelectorAll('details.check').length") == everything


def test_printing_to_pdf_unfolds_the_evidence_and_drops_the_controls(document: Path,
                                                                     tmp_path: Path) -> None:
    pdf = tmp_path / "handover.pdf"
    done = chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    document.as_uri())
    assert done.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), done.stderr[-2000:]
    assert pdf_pages(pdf) >= 2
    text = pdf_text(pdf)
    assert "cat /sys/module/loop/parameters/max_loop" in text  # evidence, unfolded
    assert "running max_loop is 8" in text
    assert "8. Sign-off" in text and "Accepted by" in text
    assert "expand all evidence" not in text and "failures only" not in text
    assert re.search(r"page 1 of \d+", text)


def test_printing_without_javascript_unfolds_the_evidence_too(document: Path,
                                                              devtools: DevTools,
                                                              tmp_path: Path) -> None:
    devtools.open(document.as_uri(), scripts=False)
    data = devtools.send("Page.printToPDF", page=True, printBackground=True,
                         preferCSSPageSize=True)["data"]
    pdf = tmp_path / "handover-no-js.pdf"
    pdf.write_bytes(base64.b64decode(data))
    assert "cat /sys/module/loop/parameters/max_loop" in pdf_text(pdf)


def test_the_first_screen_renders_within_its_budget(document: Path,
                                                    devtools: DevTools) -> None:
    devtools.open(document.as_uri(), scripts=True)
    paint = None
    for _ in range(50):  # the paint entry follows the load event by a frame or two
        paint = devtools.evaluate(
            "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
        if paint is not None:
            break
        time.sleep(0.05)
    assert paint is not None, "no first contentful paint"
    print(f"first contentful paint: {paint:.0f} ms")
    assert paint < FIRST_SCREEN_BUDGET_MS


# -- the newest report of a real run ----------------------------------------------------------

LAB, PORT_BASE = "rbho", 2491  # this module's own lab


def test_a_real_run_ends_with_its_handover_report(tmp_path: Path) -> None:
    """`runbook run 01-base` on a lab of its own: the overview is read over SSH, the handover
    report is written beside the others, and Chromium renders the newest report."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    from tests.integration.labtools import own_lab

    reports = tmp_path / "reports"
    runbook = str(Path(sys.executable).parent / "runbook")
    with own_lab(LAB, PORT_BASE) as lab:
        done = subprocess.run(
            [runbook, "run", "01-base", "-i", str(lab.inventory_dir), "--report-dir",
             str(reports), "--signoff-change", "CHG-1"],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, done.stdout + done.stderr
    files = dict(re.findall(r"^(report|junit|record|handover): +(\S+)$", done.stdout, re.M))
    assert set(files) == {"report", "junit", "record", "handover"}, done.stdout
    record, document = Path(files["record"]), Path(files["handover"])
    assert handover.newest_record(reports) == record
    overview = handover.report_overview.read(handover.overview_path(record))
    states = handover.cluster_view(overview).states
    assert [(s.host, s.unreachable, s.release) for s in states] == [
        ("ha1", "", "Ubuntu 8.04.4 LTS"), ("ha2", "", "Ubuntu 8.04.4 LTS")]
    page = document.read_text()
    assert hashlib.sha256(record.read_bytes()).hexdigest() in page
    assert f'href="{document.name}"' in Path(files["report"]).read_text()
    dom = chromium(tmp_path / "profile", "--dump-dom", document.as_uri()).stdout
    assert re.search(r'<table class="grid">.*?01-base.*?9 passed.*?9 passed', dom, re.S)
    assert "CHG-1" in words(dom) and "ha1.domain.local" in dom
    again = subprocess.run([runbook, "report", "--report-dir", str(reports)],
                           capture_output=True, text=True, timeout=120, check=True)
    assert again.stdout.strip() == str(document)
    rendered = re.compile(r"Rendered [^<]* UTC")
    assert rendered.sub("", document.read_text()) == rendered.sub("", page)
