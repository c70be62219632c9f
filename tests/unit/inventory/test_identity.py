"""Section identity: data.cluster_name and data.signoff, one value for the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.inventory import load_inventory
from runbook.inventory.identity import IdentitySettings
from tests.unit.inventory.helpers import (
    EXAMPLE,
    LAB,
    Bad,
    G,
    H,
    lab_copy,
    load_error,
    removal,
    setting,
)

SIGNOFF = "xen_cluster.data.signoff"


def test_lab_and_example_name_their_cluster() -> None:
    assert load_inventory(LAB, require=("identity",)).identity == IdentitySettings("xen-ha-lab")
    example = load_inventory(EXAMPLE, require=("identity",)).identity
    assert example.cluster_name == "xen-ha-prod"
    assert example.signoff == {"performed_by": "Jane Operator", "reviewed_by": "Sam Reviewer",
                               "accepted_by": "Alex Owner (service owner)", "change": "CHG-0042"}


def test_both_are_optional(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, removal(G, "xen_cluster.data.cluster_name"))
    assert load_inventory(folder, require=("identity",)).identity == IdentitySettings()


def test_a_partial_signoff_keeps_the_keys_given(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, setting(G, SIGNOFF, {"change": " CHG-7 ", "reviewed_by": None}))
    assert load_inventory(folder, require=("identity",)).identity.signoff == {"change": "CHG-7"}


def test_not_checked_unless_asked_for(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, setting(G, "xen_cluster.data.cluster_name", ["a", "list"]))
    assert load_inventory(folder).identity == IdentitySettings()


BAD = {
    "name not text": Bad(setting(G, "xen_cluster.data.cluster_name", 42), G, "ha1",
                         "data.cluster_name", "expected the cluster's name"),
    "name with a slash": Bad(setting(G, "xen_cluster.data.cluster_name", "a/b"), G, "ha1",
                             "data.cluster_name", "letters, digits"),
    "signoff not a mapping": Bad(setting(G, SIGNOFF, "Jane"), G, "ha1", "data.signoff",
                                 "a mapping of the sign-off names"),
    "unknown signoff key": Bad(setting(G, SIGNOFF, {"approved_by": "x"}), G, "ha1",
                               "data.signoff.approved_by", "unknown key"),
    "signoff name not text": Bad(setting(G, SIGNOFF, {"change": 42}), G, "ha1",
                                 "data.signoff.change", "expected a name or a reference"),
    "nodes differ": Bad(setting(H, "ha2.data.cluster_name", "other"), H, "ha2",
                        "data.cluster_name", "differs from host 'ha1'"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_identity_names_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    folder = lab_copy(tmp_path, case.mutate)
    error = load_error(folder, require=("identity",))
    assert (error.file, error.host, error.key) == (folder / case.file, case.host, case.key)
    assert case.problem in error.problem
