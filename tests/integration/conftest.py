"""Fixtures shared by the lab integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder per test module, so tests never write into the project's reports/."""
    return tmp_path_factory.mktemp("reports")
