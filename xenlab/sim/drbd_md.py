"""DRBD meta data of the lab on the meta LV (stdlib only).

``meta-disk /dev/vg/meta[N]`` is indexed external meta-data: slot N starts at N x 128 MiB of
the meta LV, as in DRBD 8.3. A slot holds a header block (magic, generation identifiers, disk
state, size) and, from 4 KiB on, the bitmap (one bit per 4 KiB block of the data LV). The
header is JSON after a magic line: the lab's own layout, not drbdmeta's binary one.
"""

from __future__ import annotations

import json
import os

MAGIC = b"DRBD-LAB-META v08\n"
SLOT = 128 * 1024 * 1024
HEADER = 4096
JUST_CREATED = 4


class MetaError(Exception):
    pass


def slot_offset(index: int) -> int:
    return index * SLOT


def bitmap_bytes(size: int) -> int:
    return ((size + 4095) // 4096 + 7) // 8


MD_BM_OFFSET_BYTES = 72 * 512  # MD_BM_OFFSET_07: the smallest meta device drbdmeta takes


def check_device(meta_file: str, index: int, meta_name: str) -> None:
    """drbdmeta's checks of an indexed meta device (drbdmeta.c v07_style_md_open)."""
    size = os.path.getsize(meta_file)
    if size < MD_BM_OFFSET_BYTES:
        raise MetaError(f"{meta_name} is only {size} bytes. That's not enough.")
    if slot_offset(index) > size - 4096:
        raise MetaError(f"Device too small: expecting meta data block at\nbyte offset "
                        f"{slot_offset(index)}, but {meta_name} is only {size} bytes.")


def check_room(meta_file: str, index: int, data_size: int) -> None:
    """The lab's slot (header, then the bitmap) must fit on the meta device."""
    need = slot_offset(index) + HEADER + bitmap_bytes(data_size)
    size = os.path.getsize(meta_file)
    if need > size:
        raise MetaError(f"Meta device too small: index {index} needs {need} bytes, "
                        f"the device has {size}")


def read(meta_file: str, index: int) -> dict | None:
    """The header of slot ``index``; None when there is no valid meta data."""
    try:
        with open(meta_file, "rb") as fh:
            fh.seek(slot_offset(index))
            block = fh.read(HEADER)
    except OSError:
        return None
    if not block.startswith(MAGIC):
        return None
    try:
        header = json.loads(block[len(MAGIC):].rstrip(b"\0").decode())
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def write(meta_file: str, index: int, header: dict) -> None:
    body = MAGIC + json.dumps(header, sort_keys=True).encode()
    if len(body) > HEADER:
        raise MetaError("meta data header too large")
    with open(meta_file, "r+b") as fh:
        fh.seek(slot_offset(index))
        fh.write(body + b"\0" * (HEADER - len(body)))
        fh.flush()
        os.fsync(fh.fileno())


def read_bitmap(meta_file: str, index: int, size: int) -> bytearray:
    with open(meta_file, "rb") as fh:
        fh.seek(slot_offset(index) + HEADER)
        data = fh.read(bitmap_bytes(size))
    return bytearray(data.ljust(bitmap_bytes(size), b"\0"))


def write_bitmap(meta_file: str, index: int, bitmap: bytes | bytearray) -> None:
    with open(meta_file, "r+b") as fh:
        fh.seek(slot_offset(index) + HEADER)
        fh.write(bytes(bitmap))
        fh.flush()


def create(meta_file: str, index: int, data_size: int, meta_name: str = "") -> dict:
    """drbdmeta create-md: fresh UUIDs (current = JUST_CREATED), Inconsistent, clear bitmap."""
    check_device(meta_file, index, meta_name or meta_file)
    check_room(meta_file, index, data_size)
    header = {"uuids": [JUST_CREATED, 0, 0, 0], "disk": "Inconsistent", "size": data_size,
              "primary": False}
    write(meta_file, index, header)
    write_bitmap(meta_file, index, bytearray(bitmap_bytes(data_size)))
    return header
