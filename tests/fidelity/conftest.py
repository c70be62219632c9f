"""The fidelity suite's session: one lab for every transcript (the score is written by
tests/conftest.py, which the parallel runner's controller loads too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fidelity.states import LAB, PORT_BASE, Lab
from tests.integration.labtools import own_lab


@pytest.fixture(scope="session")
def fidelity_lab() -> Iterator[Lab]:
    with own_lab(LAB, PORT_BASE) as info:
        yield Lab(info)
