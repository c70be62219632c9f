"""The table of setting sections: a new section is one module and one line here.

Runbooks name the sections they need (``requires``); ``load_inventory(require=...)`` checks
those, in the order of this table, so a section's checks can read the fields of the ones
before it.
"""

from __future__ import annotations

from collections.abc import Iterable

from runbook.inventory import base, domu, drbd, heartbeat, lvm, migration, xen, xen_tools
from runbook.inventory.hosts import Section
from runbook.inventory.identity import SECTION as IDENTITY

#: The setting sections, by the name runbooks require them with. "base" is always checked.
SECTIONS: dict[str, Section] = {
    "base": base.SECTION,
    "xen": xen.SECTION,
    "lvm": lvm.SECTION,
    "xen_tools": xen_tools.SECTION,
    "domu": domu.SECTION,
    "drbd": drbd.SECTION,
    "migration": migration.SECTION,
    "heartbeat": heartbeat.SECTION,
    "identity": IDENTITY,  # the cluster's name and sign-off (the handover report)
}


def needed_sections(require: Iterable[str]) -> list[Section]:
    """The sections to check for ``require``: with "base" and what each implies, in order.

    An unknown section name is a programming error (ValueError).
    """
    require = list(require)
    unknown = [name for name in require if name not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown inventory sections {unknown}, known: {sorted(SECTIONS)}")
    needed = {"base", *require}
    pending = list(needed)
    while pending:
        for implied in SECTIONS[pending.pop()].implies:
            if implied not in needed:
                needed.add(implied)
                pending.append(implied)
    return [section for name, section in SECTIONS.items() if name in needed]
