"""Facts of the DomUs on one node: which run, their LVs, their cfg files, first boots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook.facts import Fact, Facts
from runbook.facts.lvm import LVS, lv_sizes
from runbook.facts.system import exists, file_content
from runbook.facts.xen import XM_LIST
from runbook.inventory import DomU
from runbook.parsers.xen import parse_domain_cfg, running
from runbook.remote import CommandResult

MARKER_DIR = "/var/lib/runbook"


def lv_names(domu: DomU) -> tuple[str, str]:
    return f"{domu.name}-disk", f"{domu.name}-swap"


def cfg_path(domu: DomU) -> str:
    return f"/etc/xen/{domu.name}.cfg"


def cfg_exists(domu: DomU) -> Fact[bool]:
    return exists(cfg_path(domu))


def cfg(domu: DomU) -> Fact[dict[str, object] | None]:
    """The parsed /etc/xen/NAME.cfg, or None when there is none."""
    raw = file_content(cfg_path(domu))

    def parse(result: CommandResult) -> dict[str, object] | None:
        text = raw.parse(result)
        return None if text is None else parse_domain_cfg(text)

    return Fact(f"cfg {domu.name}", raw.command, parse, raw.ok_codes)


def first_boot_marker(domu: DomU) -> Fact[bool]:
    """The first-boot test of this DomU passed on this node earlier."""
    return exists(f"{MARKER_DIR}/first-boot-{domu.name}")


@dataclass(frozen=True)
class Placement:
    """What one node has of the DomUs: which run there, their LVs and cfg files."""

    running: frozenset[str]
    lvs: dict[str, float]  # LV name -> size in MiB, in the DomUs' volume group
    cfgs: frozenset[str]  # DomU names with /etc/xen/NAME.cfg

    @classmethod
    def empty(cls) -> Placement:
        return cls(frozenset(), {}, frozenset())


def placement_facts(domus: tuple[DomU, ...]) -> list[Fact[Any]]:
    return [XM_LIST, LVS, *(cfg_exists(d) for d in domus)]


def placement(facts: Facts, domus: tuple[DomU, ...], vg: str) -> Placement:
    """The placement on one node, from :func:`placement_facts` (FactError if one failed)."""
    return Placement(
        running=frozenset(running(facts.get(XM_LIST))),
        lvs=lv_sizes(facts.get(LVS), vg),
        cfgs=frozenset(d.name for d in domus if facts.get(cfg_exists(d))),
    )
