"""What the storage sim tests share: a temporary node state folder (no root, no lab) and an
LVM command run as the node's wrapper runs it."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest


def state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *sims: ModuleType) -> str:
    """tmp_path/state, the ROOT of each of ``sims`` (each test file loads its own copies)."""
    if shutil.which("mke2fs") is None or shutil.which("mkswap") is None:
        pytest.skip("mke2fs/mkswap (e2fsprogs, util-linux) are needed for the disk layout")
    folder = tmp_path / "state"
    folder.mkdir()
    for sim in sims:
        monkeypatch.setattr(sim, "ROOT", str(folder))
    return str(folder)


def run(module: ModuleType, command: str, *args: str) -> int:
    """``module``'s command as lvm.py's main runs it: an LvmError is printed and is the status."""
    try:
        return int(module.dispatch(command, list(args)))
    except module.LvmError as exc:
        module.warn(str(exc))
        return int(exc.code)
