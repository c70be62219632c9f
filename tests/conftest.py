"""Session-wide hooks of the project's own tests.

The fidelity score lives here, not in tests/fidelity/conftest.py: under pytest-xdist only the
controller sees every result and writes the terminal summary, and it loads this conftest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[1] / "reports" / "fidelity.txt"
RUNNER = "tests/fidelity/test_fidelity.py"


@dataclass
class Score:
    """Per transcript (test node id): did every phase of its test pass?"""

    outcomes: dict[str, bool] = field(default_factory=dict)


SCORE = Score()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.startswith(RUNNER) and f"/{RUNNER}" not in report.nodeid:
        return
    if report.skipped and not hasattr(report, "wasxfail"):
        return  # skipped (no root): not replayed, not counted
    # A known difference (xfail) is counted, as not matching.
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
