"""Host side of the lab's DRBD: what a test or a fault injector reads and does from outside.

Everything goes through the node state folders (``.lab/<lab>/nodes/<node>/state``), which are
the nodes' /usr/lib/runbook-lab/node:

- :func:`proc_drbd`: the node's /proc/drbd text ("" when its DRBD module is not loaded);
- :func:`domu_last_write`: the last sequence number a running lab DomU wrote to its DRBD disk
  AND had acknowledged (protocol C: on both disks while connected), from the records the nodes'
  DRBD modules keep; :func:`disk_seq` reads the number actually on a node's LV, so
  ``disk_seq(survivor) >= domu_last_write(...)`` is "no acknowledged write was lost";
- :func:`fail_disk` / :func:`repair_disk`: the backing LV of a node starts/stops failing I/O;
  the module applies the resource's ``on-io-error`` (``detach``: Diskless, the peer serves).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from xenlab.layout import NODES, PROJECT_ROOT, Paths, check_name

BLOCK = 4096
SEQ_MAGIC = b"LABSEQ "


class DrbdLabError(Exception):
    """A DRBD fault or query could not be done; the message says why."""


def _state(name: str, node: str, project_root: Path) -> Path:
    try:
        check_name(name)
    except ValueError as exc:
        raise DrbdLabError(str(exc)) from None
    if node not in NODES:
        raise DrbdLabError(f"unknown node {node!r}: the lab has {', '.join(NODES)}")
    paths = Paths(Path(project_root), name)
    if not paths.meta.exists():
        raise DrbdLabError(f"lab {name} is not up: run `runbook lab up` first")
    return paths.node(node) / "state"


def _module_alive(state: Path) -> bool:
    """The node's module answers on its control socket (its pid is the node's, not ours)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(state / "drbd" / "ctl.sock"))
        except OSError:
            return False
    return True


def proc_drbd(name: str, node: str, project_root: Path = PROJECT_ROOT) -> str:
    state = _state(name, node, project_root)
    if not _module_alive(state):
        return ""
    try:
        return (state / "drbd" / "proc").read_text()
    except OSError:
        return ""


def domu_last_write(name: str, domu: str, project_root: Path = PROJECT_ROOT) -> int | None:
    """The highest acknowledged sequence number of ``domu`` on any node (None: never wrote)."""
    best: int | None = None
    for node in NODES:
        record = _state(name, node, project_root) / "drbd" / f"domu-{domu}.json"
        try:
            acked = int(json.loads(record.read_text())["acked"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        best = acked if best is None else max(best, acked)
    return best


def parse_seq(block: bytes) -> tuple[str, int] | None:
    """(domain, sequence number) of a lab DomU's record block."""
    if not block.startswith(SEQ_MAGIC):
        return None
    words = block.split(b"\n", 1)[0].split()
    if len(words) != 3 or not words[2].isdigit():
        return None
    return words[1].decode(errors="replace"), int(words[2])


def disk_seq(name: str, node: str, vg: str, lv: str,
             project_root: Path = PROJECT_ROOT) -> int | None:
    """The sequence number in the last 4 KiB block of ``node``'s LV ``vg/lv``."""
    path = _state(name, node, project_root) / "disks" / "lv" / vg / lv
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek((size // BLOCK - 1) * BLOCK)
            found = parse_seq(fh.read(BLOCK))
    except OSError:
        return None
    return found[1] if found else None


def _failed_file(name: str, node: str, project_root: Path) -> Path:
    folder = _state(name, node, project_root) / "drbd"
    folder.mkdir(exist_ok=True)
    return folder / "failed-disks"


def _failed(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def fail_disk(name: str, node: str, vg: str, lv: str,
              project_root: Path = PROJECT_ROOT) -> None:
    """``node``'s LV vg/lv fails every I/O from now on (DRBD sees it within half a second)."""
    if not (_state(name, node, project_root) / "disks" / "lv" / vg / lv).exists():
        raise DrbdLabError(f"node {node} has no logical volume {vg}/{lv}")
    path = _failed_file(name, node, project_root)
    entries = _failed(path)
    if f"{vg}/{lv}" not in entries:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{e}\n" for e in [*entries, f"{vg}/{lv}"]))
        os.replace(tmp, path)


def repair_disk(name: str, node: str, vg: str, lv: str,
                project_root: Path = PROJECT_ROOT) -> None:
    """The disk works again (a real admin then runs ``drbdadm attach RES``)."""
    path = _failed_file(name, node, project_root)
    entries = [e for e in _failed(path) if e != f"{vg}/{lv}"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{e}\n" for e in entries))
    os.replace(tmp, path)
