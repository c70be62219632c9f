"""Section "migration": the defaults (relocation on the crossover, open to the peer only), the
guide's open setting as an explicit choice, the prober, and every bad value named by file,
host and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.inventory import MigrationSettings, load_inventory
from tests.unit.inventory.helpers import (
    EXAMPLE,
    LAB,
    Bad,
    G,
    lab_copy,
    section_error,
    setting,
    settings_of,
)

MIG = "xen_cluster.data.migration"


def migration_of(folder: Path) -> MigrationSettings:
    return settings_of(folder, "migration", MigrationSettings)


def test_lab_and_example_load() -> None:
    lab, example = migration_of(LAB), migration_of(EXAMPLE)
    assert (lab.prober_from, example.prober_from) == ("source", "control")
    assert lab.hosts_allow == example.hosts_allow == "peer"
    assert lab.relocation_address == "crossover" and not lab.open_hosts


def test_left_out_it_is_the_safe_default(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, lambda docs: docs[G]["xen_cluster"]["data"].pop("migration"))
    assert migration_of(folder) == MigrationSettings()


def test_the_guides_open_relocation_is_an_explicit_choice(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, setting(G, MIG, {"hosts_allow": "any",
                                                 "relocation_address": "any"}))
    chosen = migration_of(folder)
    assert chosen.open_hosts and chosen.open_address


def test_regexes_and_a_named_prober_host(tmp_path: Path) -> None:
    prober = {"from": "host", "host": "ops@mon1", "port": 2222}
    folder = lab_copy(tmp_path, setting(G, MIG, {"hosts_allow": ["^ha[12]X$"], "prober": prober}))
    chosen = migration_of(folder)
    assert chosen.hosts_allow == ("^ha[12]X$",)
    assert (chosen.prober_from, chosen.prober_host, chosen.prober_port) == ("host", "ops@mon1",
                                                                            2222)


BAD = {
    "not a mapping": Bad(setting(G, MIG, "yes"), G, "ha1", "data.migration",
                         "expected a mapping of migration settings"),
    "unknown key": Bad(setting(G, f"{MIG}.ssl", True), G, "ha1", "data.migration.ssl",
                       "unknown key"),
    "port": Bad(setting(G, f"{MIG}.relocation_port", 0), G, "ha1",
                "data.migration.relocation_port", "expected an integer from 1 to 65535"),
    "address": Bad(setting(G, f"{MIG}.relocation_address", "eth1"), G, "ha1",
                   "data.migration.relocation_address", "expected crossover, any or an IPv4"),
    "hosts_allow word": Bad(setting(G, f"{MIG}.hosts_allow", "nobody"), G, "ha1",
                            "data.migration.hosts_allow", "expected peer, any, or a list"),
    "regex with a space": Bad(setting(G, f"{MIG}.hosts_allow", ["^ha2X$ ^x$"]), G, "ha1",
                              "data.migration.hosts_allow[0]", "a regex without spaces"),
    "bad regex": Bad(setting(G, f"{MIG}.hosts_allow", ["(["]), G, "ha1",
                     "data.migration.hosts_allow[0]", "not a regex"),
    "prober from": Bad(setting(G, f"{MIG}.prober", {"from": "ha3"}), G, "ha1",
                       "data.migration.prober.from", "expected one of source, control, host"),
    "prober host missing": Bad(setting(G, f"{MIG}.prober", {"from": "host"}), G, "ha1",
                               "data.migration.prober.host", "expected [user@]host"),
    "prober host unsafe": Bad(setting(G, f"{MIG}.prober", {"from": "host", "host": "a;rm"}), G,
                              "ha1", "data.migration.prober.host", "expected [user@]host"),
    "prober host unused": Bad(setting(G, f"{MIG}.prober", {"host": "mon1"}), G, "ha1",
                              "data.migration.prober.host", "only used with from: host"),
    "interval": Bad(setting(G, f"{MIG}.prober", {"interval_s": 0}), G, "ha1",
                    "data.migration.prober.interval_s", "expected seconds from 0.01 to 5"),
    "gap": Bad(setting(G, f"{MIG}.max_gap_s", "2s"), G, "ha1", "data.migration.max_gap_s",
               "expected seconds"),
    "lost": Bad(setting(G, f"{MIG}.max_lost", -1), G, "ha1", "data.migration.max_lost",
                "expected an integer from 0"),
    "nodes differ": Bad(setting("hosts.yaml", "ha2.data.migration", {"max_lost": 1}),
                        "hosts.yaml", "ha2", "data.migration",
                        "differs from the migration settings of host 'ha1'"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_migration_settings_name_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    section_error(tmp_path, case, require=("migration",), valid=("drbd",))


def test_explicit_addresses_may_differ_between_nodes(tmp_path: Path) -> None:
    def per_node(docs: dict[str, object]) -> None:
        hosts = docs["hosts.yaml"]
        assert isinstance(hosts, dict)
        hosts["ha1"]["data"]["migration"] = {"relocation_address": "10.0.0.1"}
        hosts["ha2"]["data"]["migration"] = {"relocation_address": "10.0.0.2"}

    cluster = load_inventory(lab_copy(tmp_path, per_node), require=("migration",))
    assert [n.migration.relocation_address for n in cluster.nodes.values()  # type: ignore[union-attr]
            ] == ["10.0.0.1", "10.0.0.2"]
