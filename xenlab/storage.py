"""Disks of the lab nodes, seen from the control machine: layout and fault injection.

Each node has one disk, /dev/sda, laid out as the guide's installation left it: sda1 (~5 GB,
ext3, the dom0 root), sda2 (~512 MB, swap) and sda3, the rest, free for LVM (``partition_size_gb``
GiB, 40 by default as in inventory/lab). The node's storage state (partition table, PVs, VGs,
LVs) is ``storage.json`` in the node state folder, and every device's CONTENT is a sparse file
there (``disks/``), so the real blkid, od or dd inside the node read real bytes. Details and the
in-node commands: xenlab/sim/storage_state.py, lvm.py, blkid.py, fdisk.py, storage_boot.py.

Fault injection (for tests and demos), under the same lock the node's commands take:

- :func:`write_signature`: put an ext3 filesystem (the real mkfs.ext3), a swap signature (the
  real mkswap), random data (1 MiB) or another VG's PV (label + metadata of a VG "othervg") on a
  device; what was there is overwritten like a real dd/mkfs would;
- :func:`reset_disk`: the fresh installation again (every PV, VG and LV gone).

Neither touches the node's /dev (the node's storage_boot.py and lvm commands own it); the host's
/dev is never touched at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from xenlab.layout import NODES, PROJECT_ROOT, Paths, check_name
from xenlab.nodefs import sim_module

__all__ = [
    "DEFAULT_PV_GB",
    "SIGNATURE_KINDS",
    "StorageFault",
    "create_layout",
    "layout",
    "read_state",
    "reset_disk",
    "state_dir",
    "write_signature",
]

DEFAULT_PV_GB = 40
SIGNATURE_KINDS = ("ext3", "swap", "data", "other-vg")
OTHER_VG = "othervg"


class StorageFault(Exception):
    """A storage operation on a lab node failed; the message says why."""


def _ss() -> ModuleType:
    return sim_module("storage_state")


def state_dir(lab: str, node: str, project_root: Path = PROJECT_ROOT) -> Path:
    """The node state folder (``/usr/lib/runbook-lab/node`` inside the node)."""
    try:
        check_name(lab)
    except ValueError as exc:
        raise StorageFault(str(exc)) from None
    if node not in NODES:
        raise StorageFault(f"unknown node {node!r}: the lab has {', '.join(NODES)}")
    return Paths(Path(project_root), lab).node(node) / "state"


def layout(partition_size_gb: int = DEFAULT_PV_GB) -> dict[str, Any]:
    """The partition table of a fresh node (pure: nothing is written)."""
    try:
        return cast(dict[str, Any], _ss().default_layout(partition_size_gb))
    except _ss().StorageError as exc:
        raise StorageFault(str(exc)) from None


def _root(lab: str, node: str, project_root: Path) -> str:
    root = state_dir(lab, node, project_root)
    if not root.is_dir():
        raise StorageFault(f"node {node} of lab {lab} does not exist ({root} is missing): "
                           "bring the lab up first")
    return str(root)


def _locked(root: str, action: Callable[[dict[str, Any] | None], Any]) -> Any:
    ss = _ss()
    try:
        with ss.locked(root):
            return action(ss.load(root))
    except ss.StorageError as exc:
        raise StorageFault(str(exc)) from None


def create_layout(lab: str, node: str, partition_size_gb: int = DEFAULT_PV_GB,
                  project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Lay the node's disk out afresh (same as :func:`reset_disk`), returning the state."""
    return reset_disk(lab, node, partition_size_gb, project_root)


def reset_disk(lab: str, node: str, partition_size_gb: int = DEFAULT_PV_GB,
               project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The fresh installation again: sda1 ext3, sda2 swap, sda3 empty; no PV, VG or LV.

    The node's /dev entries of removed LVs disappear at its next boot (or the next lvm command),
    as device-mapper nodes of a vanished VG would.
    """
    root = _root(lab, node, project_root)
    ss = _ss()
    state = _locked(root, lambda _old: ss.create_layout(root, partition_size_gb))
    return cast(dict[str, Any], state)


def read_state(lab: str, node: str, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The node's storage state (the layout is created if the node never booted with it)."""
    root = _root(lab, node, project_root)
    ss = _ss()
    state = _locked(root, lambda old: old if old is not None else ss.create_layout(root))
    return cast(dict[str, Any], state)


def write_signature(lab: str, node: str, device: str, kind: str,
                    project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Overwrite the start of ``device`` (``/dev/sda3``, ``/dev/vg/lv``...) with ``kind``.

    ``ext3``: the real mkfs.ext3; ``swap``: the real mkswap; ``data``: 1 MiB of random bytes
    (no signature any tool knows); ``other-vg``: an LVM2 PV label of a VG named "othervg" (also
    recorded in the node's LVM metadata, so pvs/vgs show it). A PV that was on the device is
    gone afterwards (its label is overwritten); a VG left without PVs goes with its LVs.
    """
    if kind not in SIGNATURE_KINDS:
        raise StorageFault(f"unknown signature kind {kind!r}: use one of "
                           f"{', '.join(SIGNATURE_KINDS)}")
    root = _root(lab, node, project_root)
    ss = _ss()

    def act(state: dict[str, Any] | None) -> dict[str, Any]:
        if state is None:
            state = ss.create_layout(root)
        assert state is not None
        found = ss.resolve_device(state, device, root)
        if found is None:
            raise StorageFault(f"{node} has no device {device}")
        what, path = found
        if what == "disk":
            raise StorageFault(f"{device} holds the partition table: write to a partition")
        ss.drop_pv(state, root, os.path.normpath(device))
        if kind == "other-vg":
            _other_vg(ss, state, os.path.normpath(device), path)
        else:
            ss.apply_signature(path, kind)
        part = ss.partition(state, os.path.normpath(device))
        if part is not None:
            part["signature"] = "LVM2_member" if kind == "other-vg" else kind
        elif what.startswith("lv:"):
            vg_name, lv_name = what[3:].split("/", 1)
            state["vgs"][vg_name]["lvs"][lv_name]["contents"] = {"type": kind}
        ss.save(state, root)
        return state

    return cast(dict[str, Any], _locked(root, act))


def _other_vg(ss: ModuleType, state: dict[str, Any], device: str, path: str) -> None:
    size = os.path.getsize(path)
    uuid = ss.new_uuid()
    ss.write_pv_label(path, uuid, size)
    vgs = state["vgs"]
    name = OTHER_VG
    if name in vgs:
        n = 2
        while f"{OTHER_VG}{n}" in vgs:
            n += 1
        name = f"{OTHER_VG}{n}"
    extent = ss.EXTENT
    state["pvs"][device] = {"uuid": uuid, "vg": name, "size": size, "pe_start": ss.PE_START,
                            "pe_count": (size - ss.PE_START * ss.SECTOR) // extent}
    vgs[name] = {"uuid": ss.new_uuid(), "extent_size": extent, "seqno": 3, "pvs": [device],
                 "lvs": {}, "created": 0}
