"""The Nornir inventory of a lab that is not the default one (pure, unit-tested).

The committed ``inventory/lab/`` describes the default lab (rblab, ports 2201/2202, keys under
``.lab/rblab/``). Another lab gets a copy with its own ports and absolute key paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_MARKER = ".lab/rblab/"


def _rewrite_paths(value: Any, state_dir: Path) -> Any:
    if isinstance(value, str) and DEFAULT_MARKER in value:
        tail = value.split(DEFAULT_MARKER, 1)[1]
        return str(state_dir / tail)
    if isinstance(value, dict):
        return {k: _rewrite_paths(v, state_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_paths(v, state_dir) for v in value]
    return value


def rewrite(doc: Any, ports: dict[str, int], state_dir: Path) -> Any:
    """Rewrite one loaded inventory YAML document for another lab."""
    doc = _rewrite_paths(doc, state_dir)
    if isinstance(doc, dict):
        for host, spec in doc.items():
            if host in ports and isinstance(spec, dict) and "port" in spec:
                spec["port"] = ports[host]
    return doc


def minimal_hosts(ports: dict[str, int], state_dir: Path) -> dict[str, Any]:
    """hosts.yaml when the project has no inventory/lab/ yet."""
    return {
        node: {
            "hostname": "127.0.0.1",
            "port": port,
            "username": "root",
            "data": {
                "ssh_key_file": str(state_dir / "id_ed25519"),
                "known_hosts": str(state_dir / "known_hosts"),
            },
        }
        for node, port in ports.items()
    }


def write_inventory(source: Path, target: Path, ports: dict[str, int], state_dir: Path) -> Path:
    """Write ``target`` (a folder) from the default inventory folder ``source``."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(source.glob("*.yaml")) if source.is_dir() else []
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out = rewrite(doc, ports, state_dir)
        (target / path.name).write_text(
            yaml.safe_dump(out, default_flow_style=False, sort_keys=False), encoding="utf-8"
        )
    if not files:
        (target / "hosts.yaml").write_text(
            yaml.safe_dump(minimal_hosts(ports, state_dir), sort_keys=False), encoding="utf-8"
        )
    return target
