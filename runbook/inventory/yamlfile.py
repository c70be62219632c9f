"""Reading one inventory YAML file: its document, the line of every key, and its bytes' hash.

Each file is read once per load; the document read here is also what Nornir's inventory is
built from (:mod:`runbook.inventory.nornir_adapter`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook.inventory.errors import InventoryError, KeyPath, Problems


@dataclass
class YamlDoc:
    path: Path
    raw: bytes
    data: Any
    lines: dict[KeyPath, int]  # 1-based line of every mapping key and sequence item


def read_yaml(path: Path, problems: Problems) -> YamlDoc | None:
    """The document in ``path``, or None after reporting why it cannot be read."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        problems.add(f"cannot read: {exc.strerror}", file=path)
        return None
    except UnicodeDecodeError as exc:
        problems.add(f"not UTF-8 text (byte {exc.start})", file=path)
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            _index_lines(node, (), lines, path, problems, frozenset())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(m for m in (exc.context, exc.problem) if m) or "invalid YAML"
        problems.items.append(
            InventoryError(
                what,
                file=path,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            )
        )
        return None
    except yaml.YAMLError as exc:
        problems.add(f"invalid YAML: {exc}", file=path)
        return None
    finally:
        loader.dispose()
    problems.lines[path] = lines
    return YamlDoc(path, raw, data, lines)


def _index_lines(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    file: Path,
    problems: Problems,
    parents: frozenset[int],
) -> None:
    """Record the line of every key and item below ``node``; report duplicate keys.

    PyYAML silently keeps the last of two equal keys (Nornir's loader refuses them), which
    would hide a host or a setting: that is reported here.
    """
    if id(node) in parents:  # a recursive alias
        return
    parents = parents | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if (*path, key) in lines:
                problems.items.append(
                    InventoryError(
                        f"duplicate key {key!r} (first on line {lines[(*path, key)]})",
                        file=file,
                        line=line,
                        column=key_node.start_mark.column + 1,
                    )
                )
                continue
            lines[(*path, key)] = line
            _index_lines(value_node, (*path, key), lines, file, problems, parents)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_lines(item, (*path, index), lines, file, problems, parents)


def files_sha256(docs: Sequence[YamlDoc]) -> str:
    """SHA-256 over the inventory files, by name, each as name, size and content."""
    digest = hashlib.sha256()
    for doc in sorted(docs, key=lambda d: d.path.name):
        digest.update(f"{doc.path.name}\0{len(doc.raw)}\0".encode())
        digest.update(doc.raw)
    return digest.hexdigest()
