"""Debian packages: ask dpkg what is installed, install only what is missing."""

from __future__ import annotations

from collections.abc import Sequence

from nornir.core.task import Task

from runbook import remote


def installed_packages(dpkg_output: str) -> set[str]:
    """Package names that :func:`query_command` reports as ``install ok installed``."""
    found = set()
    for line in dpkg_output.splitlines():
        name, _, status = line.partition("\t")
        if status.strip() == "install ok installed":
            found.add(name.strip())
    return found


def query_command(names: Sequence[str]) -> str:
    return "dpkg-query -W -f='${Package}\\t${Status}\\n' " + remote.quote(*names)


def missing_packages(task: Task, names: Sequence[str]) -> list[str]:
    result = remote.run(task, query_command(names), ok_codes=(0, 1))
    have = installed_packages(result.stdout)
    return [name for name in names if name not in have]


def ensure_packages(task: Task, names: Sequence[str]) -> list[str]:
    """Install the packages that are missing (dry run: predicted); return their names."""
    missing = missing_packages(task, names)
    if missing:
        remote.run(
            task,
            f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {remote.quote(*missing)}",
            changes=True,
            timeout=900,
        )
    return missing
