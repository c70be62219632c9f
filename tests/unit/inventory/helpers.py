"""Shared by the inventory tests: the committed folders, a lab copy with one change, and
the shape of a bad case."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from runbook.inventory import InventoryError, load_inventory

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "inventory" / "lab"
EXAMPLE = ROOT / "inventory" / "example"
DATA = ROOT / "tests" / "data" / "inventory"
ALL_SECTIONS = ("xen", "lvm", "xen_tools", "domu")

Docs = dict[str, Any]  # file name -> loaded YAML document
S = TypeVar("S")


def load_error(folder: Path, **kwargs: Any) -> InventoryError:
    with pytest.raises(InventoryError) as caught:
        load_inventory(folder, **kwargs)
    return caught.value


def settings_of(folder: Path, section: str, kind: type[S]) -> S:
    """``section``'s settings of ``folder`` loaded with it required: one value for the cluster."""
    cluster = load_inventory(folder, require=(section,))
    found = {name: getattr(node, section) for name, node in cluster.nodes.items()}
    first = found["ha1"]
    assert found["ha2"] == first and isinstance(first, kind)
    return first


def lab_copy(tmp_path: Path, mutate: Callable[[Docs], object] | None = None) -> Path:
    """inventory/lab copied to tmp_path/inv, its YAML documents changed by ``mutate``."""
    folder = tmp_path / "inv"
    shutil.copytree(LAB, folder)
    if mutate is not None:
        docs = {p.name: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")}
        mutate(docs)
        for name, doc in docs.items():
            path = folder / name
            if doc is None:
                path.unlink()
            else:
                path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


# Bad inventories: one change to the lab each, and the problem it must name


@dataclass(frozen=True)
class Bad:
    mutate: Callable[[Docs], object]
    file: str
    host: str | None
    key: str | None
    problem: str  # a part of the first problem's text


def section_error(
    tmp_path: Path, case: Bad, require: tuple[str, ...], valid: tuple[str, ...]
) -> InventoryError:
    """The error of ``case`` when ``require`` is loaded, checked to name the case's file, host,
    key, problem and line; loading only ``valid`` still works, so only the section is wrong."""
    folder = lab_copy(tmp_path, case.mutate)
    load_inventory(folder, require=valid)
    error = load_error(folder, require=require)
    assert (error.file, error.host, error.key) == (folder / case.file, case.host, case.key)
    assert case.problem in error.problem
    assert error.line is not None
    return error


def walk(doc: Any, names: list[str]) -> Any:
    for name in names:
        doc = doc[int(name)] if isinstance(doc, list) else doc[name]
    return doc


def _set(doc: Docs, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    parent = walk(doc, parents)
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


def setting(file: str, path: str, value: Any) -> Callable[[Docs], object]:
    return lambda docs: _set(docs[file], path, value)


def removal(file: str, path: str) -> Callable[[Docs], object]:
    *parents, last = path.split(".")

    def remove(docs: Docs) -> None:
        del walk(docs[file], parents)[last]

    return remove


def third_host(docs: Docs) -> None:
    docs["hosts.yaml"]["ha3"] = {"hostname": "127.0.0.1", "port": 2203, "username": "root"}


H = "hosts.yaml"
G = "groups.yaml"
D = "defaults.yaml"
ETH0 = "ha1.data.interfaces.eth0"
ETH1 = "ha1.data.interfaces.eth1"
