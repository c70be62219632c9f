"""Section "identity": the cluster's name and the handover report's sign-off.

``data.cluster_name`` names the cluster in the handover report's title and header (else the
inventory folder's name stands in); ``data.signoff`` holds the names of the sign-off block
(``performed_by``, ``reviewed_by``, ``accepted_by``, ``change``), which the ``--signoff-*``
options override. Both belong to the cluster, so both nodes must see the same values (set
them once, in groups.yaml). Both are optional.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import MISSING, kind, read_settings, read_text

SIGNOFF_KEYS: Final = ("performed_by", "reviewed_by", "accepted_by", "change")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,62}")
_SHARED: Final = "identity"


@dataclass(frozen=True)
class IdentitySettings:
    """The cluster's name ("" when the inventory names none) and the sign-off names given."""

    cluster_name: str = ""
    signoff: dict[str, str] = field(default_factory=dict)  # only the keys given, never empty


def _cluster_name(h: HostView) -> str | None:
    value = h.get(("data", "cluster_name"))
    if value is MISSING or value is None:
        return ""
    name = read_text(h, ("data", "cluster_name"), value, "the cluster's name, e.g. xen-ha-prod")
    if name is not None and not _NAME.fullmatch(name):
        h.problem(("data", "cluster_name"),
                  f"expected up to 63 letters, digits, '.', '_', '-' or spaces, starting with "
                  f"a letter or digit: {name!r}")
        return None
    return name


def _signoff(h: HostView) -> dict[str, str] | None:
    key = ("data", "signoff")
    if h.get(key) in (MISSING, None):
        return {}
    given = read_settings(h, key, SIGNOFF_KEYS, "a mapping of the sign-off names "
                                                f"({', '.join(SIGNOFF_KEYS)})")
    if given is None:
        return None
    start = h.problem_count()
    names: dict[str, str] = {}
    for name in SIGNOFF_KEYS:
        value = given.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            h.problem((*key, name), f"expected a name or a reference (text), got {kind(value)}")
        else:
            names[name] = value.strip()
    return names if h.problem_count() == start else None


def parse_host(h: HostView) -> dict[str, Any]:
    name, signoff = _cluster_name(h), _signoff(h)
    if name is not None and signoff is not None:
        h.shared[_SHARED] = IdentitySettings(name, signoff)
    return {}


def check_cluster(hosts: Sequence[HostView]) -> None:
    """One name and one sign-off for the cluster: a host that sees others is a problem."""
    parsed = [h for h in hosts if _SHARED in h.shared]
    if not parsed:
        return
    first: IdentitySettings = parsed[0].shared[_SHARED]
    for h in parsed[1:]:
        mine: IdentitySettings = h.shared[_SHARED]
        for key, a, b in (("cluster_name", first.cluster_name, mine.cluster_name),
                          ("signoff", first.signoff, mine.signoff)):
            if a != b:
                h.problem(("data", key),
                          f"differs from host {parsed[0].name!r}: it belongs to the cluster, "
                          "so both nodes need the same value (set it once, in groups.yaml)")


def identity_of(hosts: Sequence[HostView]) -> IdentitySettings:
    """The checked identity (the defaults when the section was not asked for)."""
    found = hosts[0].shared.get(_SHARED) if hosts else None
    return found if isinstance(found, IdentitySettings) else IdentitySettings()


SECTION: Final = Section(
    "data.cluster_name and data.signoff (performed_by, reviewed_by, accepted_by, change)",
    parse_host,
    check_cluster,
)
