"""Facts of the package manager: which packages dpkg has installed, in one format."""

from __future__ import annotations

from collections.abc import Sequence

from runbook.facts import Fact, stdout_fact
from runbook.parsers import DPKG_FORMAT, PackageState, parse_dpkg_packages
from runbook.remote import quote


def packages(names: Sequence[str]) -> Fact[dict[str, PackageState]]:
    """dpkg's state of each package (absent: dpkg never heard of it; then it exits 1)."""
    command = f"dpkg-query -W -f='{DPKG_FORMAT}' {quote(*names)}"
    return stdout_fact(f"packages {' '.join(names)}", command, parse_dpkg_packages, (0, 1))


def missing(states: dict[str, PackageState], names: Sequence[str]) -> list[str]:
    """The names that are not ``install ok installed``, in the order asked."""
    return [n for n in names if not (n in states and states[n].installed)]
