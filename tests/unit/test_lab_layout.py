"""Names, ports and inventory of a lab (pure, no root)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xenlab import inventory
from xenlab.layout import (
    DEFAULT_LAB,
    DEFAULT_PORT_BASE,
    Paths,
    all_netns,
    check_name,
    node_ports,
    port_base_for,
)

PROJECT = Path(__file__).resolve().parents[2]


def test_default_lab_ports() -> None:
    assert port_base_for(DEFAULT_LAB) == DEFAULT_PORT_BASE == 2201
    assert node_ports(2201) == {"ha1": 2201, "ha2": 2202}


def test_explicit_port_base_wins() -> None:
    assert port_base_for("rbtl", 2241) == 2241
    with pytest.raises(ValueError):
        port_base_for("rbtl", 80)


def test_derived_port_base_is_stable_and_even() -> None:
    base = port_base_for("cilab")
    assert base == port_base_for("cilab")
    assert 22000 <= base < 24000 and base % 2 == 0
    assert base != port_base_for("cilab2")


@pytest.mark.parametrize("name", ["rblab", "rbtl", "ci42"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "a", "RB", "rb-lab", "1lab", "averyverylongname"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid lab name"):
        check_name(name)


def test_everything_carries_the_lab_name(tmp_path: Path) -> None:
    assert all_netns("rbtl") == ["rbtl-ha1", "rbtl-ha2", "rbtl-lan"]
    paths = Paths(tmp_path, "rbtl")
    assert paths.state_dir == tmp_path / ".lab" / "rbtl"
    assert paths.pidfile("ha1", "init").parent == paths.state_dir / "pids"


def test_rewrite_ports_and_key_paths(tmp_path: Path) -> None:
    doc = {
        "ha1": {"hostname": "127.0.0.1", "port": 2201, "data": {"fqdn": "ha1.domain.local"}},
        "ha2": {"hostname": "127.0.0.1", "port": 2202},
        "data": {"ssh": {"key_file": "../../.lab/rblab/id_ed25519",
                         "known_hosts": "../../.lab/rblab/known_hosts"}},
    }
    out = inventory.rewrite(doc, {"ha1": 2241, "ha2": 2242}, tmp_path)
    assert out["ha1"]["port"] == 2241 and out["ha2"]["port"] == 2242
    assert out["ha1"]["data"] == {"fqdn": "ha1.domain.local"}
    assert out["data"]["ssh"]["key_file"] == str(tmp_path / "id_ed25519")
    assert out["data"]["ssh"]["known_hosts"] == str(tmp_path / "known_hosts")


def test_write_inventory_copies_every_yaml(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "hosts.yaml").write_text("ha1:\n  port: 2201\nha2:\n  port: 2202\n")
    (source / "defaults.yaml").write_text("data:\n  ssh:\n    key_file: ../../.lab/rblab/k\n")
    target = inventory.write_inventory(source, tmp_path / "out", {"ha1": 5, "ha2": 6}, tmp_path)
    hosts = yaml.safe_load((target / "hosts.yaml").read_text())
    assert hosts == {"ha1": {"port": 5}, "ha2": {"port": 6}}
    defaults = yaml.safe_load((target / "defaults.yaml").read_text())
    assert defaults["data"]["ssh"]["key_file"] == str(tmp_path / "k")


def test_write_inventory_without_a_project_inventory(tmp_path: Path) -> None:
    target = inventory.write_inventory(tmp_path / "missing", tmp_path / "out",
                                       {"ha1": 5, "ha2": 6}, tmp_path)
    hosts = yaml.safe_load((target / "hosts.yaml").read_text())
    assert hosts["ha2"]["port"] == 6 and hosts["ha1"]["username"] == "root"
    assert hosts["ha1"]["data"]["ssh_key_file"] == str(tmp_path / "id_ed25519")


@pytest.mark.skipif(not (PROJECT / "inventory/lab/hosts.yaml").exists(),
                    reason="no committed lab inventory yet")
def test_committed_inventory_rewrites_for_another_lab(tmp_path: Path) -> None:
    target = inventory.write_inventory(PROJECT / "inventory/lab", tmp_path / "inv",
                                       {"ha1": 2241, "ha2": 2242}, tmp_path)
    text = "".join(p.read_text() for p in target.glob("*.yaml"))
    assert ".lab/rblab" not in text
    hosts = yaml.safe_load((target / "hosts.yaml").read_text())
    assert hosts["ha1"]["port"] == 2241 and hosts["ha2"]["port"] == 2242
