"""Debian packages: install only what dpkg does not list as installed."""

from __future__ import annotations

from collections.abc import Sequence

from runbook.facts import Facts
from runbook.facts.packages import missing, packages
from runbook.plan import Action, InstallPackages, NodeReader, Plan, plan_of


def install_actions(facts: Facts, names: Sequence[str]) -> list[Action]:
    """apt-get install of the packages that are missing; nothing when all are installed."""
    absent = missing(facts.get(packages(names)), names)
    return [InstallPackages(tuple(absent))] if absent else []


def plan_packages(node: NodeReader, names: Sequence[str]) -> Plan:
    actions = install_actions(node.facts(packages(names)), names)
    return plan_of(actions, notes=[f"already installed: {', '.join(names)}"])
