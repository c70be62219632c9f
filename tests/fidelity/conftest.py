"""The fidelity suite's session: one lab for every transcript, and the score at the end
(``fidelity: N/M transcripts match`` on the terminal and in reports/fidelity.txt)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fidelity.states import LAB, PORT_BASE, Lab
from tests.integration.labtools import own_lab

REPORT = Path(__file__).resolve().parents[2] / "reports" / "fidelity.txt"
RUNNER = "tests/fidelity/test_fidelity.py"


@pytest.fixture(scope="session")
def fidelity_lab() -> Iterator[Lab]:
    with own_lab(LAB, PORT_BASE) as info:
        yield Lab(info)


@dataclass
class Score:
    """Per transcript (test node id): did every phase of its test pass?"""

    outcomes: dict[str, bool] = field(default_factory=dict)


SCORE = Score()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.startswith(RUNNER) and f"/{RUNNER}" not in report.nodeid:
        return
    if report.skipped:
        return
    ok = SCORE.outcomes.get(report.nodeid, True) and report.passed
    SCORE.outcomes[report.nodeid] = ok


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SCORE.outcomes:
        return
    total = len(SCORE.outcomes)
    matching = sum(SCORE.outcomes.values())
    line = f"fidelity: {matching}/{total} transcripts match"
    terminalreporter.write_sep("=", line)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    failed = sorted(nodeid.split("[", 1)[-1].rstrip("]")
                    for nodeid, ok in SCORE.outcomes.items() if not ok)
    REPORT.write_text(line + "\n" + "".join(f"  differs: {name}\n" for name in failed),
                      encoding="utf-8")
