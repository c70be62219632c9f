"""Fixtures shared by the lab integration tests, and the order the suite's modules start in."""

from __future__ import annotations

from pathlib import Path

import pytest

# The modules that build the cluster through many runbooks, longest first (measured on the
# 2-core dev machine). `make test` hands whole modules to its workers in collection order
# (xdist --dist loadfile --no-loadscope-reorder): starting these first lets the short modules
# and the unit tests fill the workers at the end instead of one long module running alone.
LONGEST_FIRST = (
    "test_heartbeat_lab.py",  # runbooks 01-08 from fresh nodes, then its refusals
    "test_drbd_lab.py",  # 01-06 from fresh nodes
    "test_fidelity.py",  # ~6 min: every lab state up to a running DomU, ~130 transcripts
    "test_cluster_lab.py",  # ~5 min: 01-05 and their refusals, then `run all`
    "test_wheel.py",  # ~3 min: `run all` with the installed wheel
    "test_faults_lab.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long lab modules first, then every other module with a lab test, then the rest;
    a module's own tests keep their file order (each lab module is one scenario)."""
    with_lab = {item.path for item in items if item.get_closest_marker("integration")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = item.path.name
        if name in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(name))
        return (1, 0) if item.path in with_lab else (2, 0)

    items.sort(key=rank)  # stable


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder per test module, so tests never write into the project's reports/."""
    return tmp_path_factory.mktemp("reports")
