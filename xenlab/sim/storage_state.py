"""Disks, partitions and LVM state of a lab node (stdlib only; shared by the storage sims).

Where things live (``root`` is the node state folder: /usr/lib/runbook-lab/node inside the node,
``.lab/<lab>/nodes/<node>/state`` on the host):

- ``storage.json``: the metadata (partition table as installed, PVs, VGs, LVs), read and written
  only under ``flock(storage.lock)`` so the node's commands and the host's fault injector agree.
- ``disks/sda``, ``disks/sda1`` .. ``disks/sda3``, ``disks/lv/VG/LV``: the CONTENT of each
  device, a sparse file of the device's full size (only written blocks use disk space). Real
  bytes: the MBR of sda, an ext3 superblock made by the real mkfs.ext3, a swap signature by the
  real mkswap, the LVM2 label ("LABELONE" + "LVM2 001" + PV UUID, CRC as lvm2 computes it) that
  pvcreate writes. So the REAL blkid, od or dd read the truth: data detection is a real read.

In the node, /dev/sda, /dev/sda1..3 and /dev/mapper/VG-LV are SYMLINKS to those files and
/dev/VG/LV -> /dev/mapper/VG-LV as udev/lvm2 make them. They are not block devices: a block
special file with the real numbers (8:3) would open the control machine's own disk, so the lab
never creates one. ``test -b /dev/sda3`` is therefore false in the lab.

Holders (what keeps an LV open): ``lv["holders"]`` in storage.json lists who has the LV's
device open, one entry per holder, as the kernel's open count would count them:

- ``domain:<name>``: a running Xen domain uses the LV as a ``phy:`` disk (maintained by the lab's
  hypervisor on xm create / shutdown / destroy / migrate and when dom0 goes down);
- ``drbd:<minor>``: a DRBD device is attached to the LV as its backing disk (maintained by the
  DRBD simulation when it attaches / detaches).

lvs shows such an LV as ``-wi-ao``, lvdisplay its ``# open`` count, and lvremove / vgremove /
vgchange -an refuse it. The API (each call takes the lock itself, so never call it while
holding ``locked(root)``; never ask the hypervisor for anything while holding the lock):

- :func:`add_holder` (root, vg, lv, holder): add (idempotent; StorageError for an unknown LV);
- :func:`remove_holder` (root, vg, lv, holder) -> bool: drop it (False when it was not there);
- :func:`holders` (root, vg, lv) -> list: the current holders ([] for an unknown LV);
- :func:`release_holder` (root, holder) -> ["vg/lv", ...]: drop one holder from every LV;
- :func:`release_kind` (root, kind) -> ["vg/lv", ...]: drop every holder of a kind ("domain");
- :func:`lv_of_device` (state, device, root) -> (vg, lv) | None: the LV behind /dev/VG/LV or
  /dev/mapper/VG-LV, to turn a ``phy:`` target or a DRBD ``disk`` into (vg, lv).

Simplifications (documented, deliberate): an LV's content is its own file, not a slice of the
PV's file (a recreated LV reads as zeros); the VG metadata lives in storage.json, the PV's
on-disk metadata area holds only the mda header. LVM commands do check the on-disk label: a PV
whose label was overwritten (mkfs, dd) is no longer seen, like real lvm2.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import string
import struct
import subprocess
import zlib

NODE_ROOT = "/usr/lib/runbook-lab/node"
HOST_USR = "/usr/lib/runbook-lab/host-usr"
STATE = "storage.json"
LOCK = "storage.lock"
DISK = "sda"
SECTOR = 512
HEADS = 255
SPT = 63
CYL = HEADS * SPT  # sectors per cylinder: 16065
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
EXTENT = 4 * MIB
PE_START = 384  # sectors: lvm2 2.02.26 puts the first extent 192 KiB into the PV
DM_MAJOR = 254
DEFAULT_PV_GB = 40
SIGNATURES = ("none", "ext3", "swap", "LVM2_member", "data")
PART_TYPES = {0x83: "Linux", 0x82: "Linux swap / Solaris", 0x8E: "Linux LVM", 0x05: "Extended",
              0xFD: "Linux raid autodetect", 0x00: "Empty"}
UUID_CHARS = string.ascii_letters + string.digits
LVM_LABEL_SECTOR = 1
LVM_INITIAL_CRC = 0xF597A6CF
MDA_MAGIC = b" LVM2 x[5A%r0N*>"


class StorageError(Exception):
    pass


# ----------------------------------------------------------------------------- layout


def default_layout(pv_size_gb: int = DEFAULT_PV_GB) -> dict:
    """The guide's installation: sda1 ext3 root (~5 GB), sda2 swap (~512 MB), sda3 the rest.

    sda1/sda2 end on cylinder boundaries like the 2008 installer made them; sda3 is exactly
    ``pv_size_gb`` GiB (so a 40 GiB PV has 10239 extents of 4 MiB after lvm2's 192 KiB header).
    """
    if pv_size_gb < 1:
        raise StorageError("partition_size_gb must be at least 1")
    sda1_end = 608 * CYL
    sda2_end = 673 * CYL
    sda3_sectors = pv_size_gb * GIB // SECTOR
    end = sda2_end + sda3_sectors
    disk_sectors = -(-end // CYL) * CYL
    rng = random.Random()
    return {
        "format": 1,
        "disk": {"device": f"/dev/{DISK}", "sectors": disk_sectors, "heads": HEADS,
                 "sectors_per_track": SPT, "identifier": rng.randrange(1, 1 << 20)},
        "partitions": [
            {"device": f"/dev/{DISK}1", "number": 1, "start": SPT, "sectors": sda1_end - SPT,
             "id": 0x83, "boot": True, "signature": "ext3", "role": "dom0 root (/)"},
            {"device": f"/dev/{DISK}2", "number": 2, "start": sda1_end,
             "sectors": sda2_end - sda1_end, "id": 0x82, "boot": False, "signature": "swap",
             "role": "dom0 swap"},
            {"device": f"/dev/{DISK}3", "number": 3, "start": sda2_end, "sectors": sda3_sectors,
             "id": 0x83, "boot": False, "signature": "none", "role": "free for LVM"},
        ],
        "pvs": {},
        "vgs": {},
    }


def disk_file(root: str, name: str) -> str:
    return os.path.join(root, "disks", name)


def lv_file(root: str, vg: str, lv: str) -> str:
    return os.path.join(root, "disks", "lv", vg, lv)


def dm_name(vg: str, lv: str) -> str:
    return f"{vg.replace('-', '--')}-{lv.replace('-', '--')}"


def partition(state: dict, device: str) -> dict | None:
    for part in state["partitions"]:
        if part["device"] == device:
            return part
    return None


def part_size(part: dict) -> int:
    return int(part["sectors"]) * SECTOR


# ----------------------------------------------------------------------------- state + lock


@contextlib.contextmanager
def locked(root: str = NODE_ROOT):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, LOCK), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def load(root: str = NODE_ROOT) -> dict | None:
    try:
        with open(os.path.join(root, STATE), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def save(state: dict, root: str = NODE_ROOT) -> None:
    path = os.path.join(root, STATE)
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------- real bytes


def _tool(name: str) -> str:
    for folder in (f"{HOST_USR}/sbin", "/usr/sbin", "/sbin", "/usr/bin"):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if not found:
        raise StorageError(f"{name} not found on this machine (install e2fsprogs/util-linux)")
    return found


def sparse_file(path: str, size: int) -> None:
    """A sparse file of ``size`` bytes, all zeros (no blocks used)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


def write_at(path: str, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def read_at(path: str, offset: int, size: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


def zero_range(path: str, offset: int, size: int) -> None:
    """Zero a range, writing only chunks that hold data (zeros on zeros would unsparse it)."""
    chunk = 64 * KIB
    pos = offset
    while pos < offset + size:
        n = min(chunk, offset + size - pos)
        if any(read_at(path, pos, n)):
            write_at(path, pos, bytes(n))
        pos += n


def mkfs_ext3(path: str, label: str = "") -> None:
    """The real mkfs.ext3 on the (sparse) file; lazy init and a small journal keep it sparse."""
    argv = [_tool("mke2fs"), "-t", "ext3", "-F", "-q", "-E",
            "lazy_itable_init=1,lazy_journal_init=1", "-J", "size=4"]
    if label:
        argv += ["-L", label]
    _run_tool([*argv, path])


def mkswap(path: str) -> None:
    _run_tool([_tool("mkswap"), path])


def _run_tool(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise StorageError(f"{' '.join(argv)}: {(result.stderr or result.stdout).strip()}")


def random_data(path: str, size: int = MIB) -> None:
    write_at(path, 0, os.urandom(size))


def mbr(state: dict) -> bytes:
    """A DOS partition table (the real on-disk format) for the layout."""
    table = bytearray(512)
    disk = state["disk"]
    struct.pack_into("<I", table, 440, disk["identifier"])
    for i, part in enumerate(state["partitions"][:4]):
        start, sectors = int(part["start"]), int(part["sectors"])
        entry = (bytes([0x80 if part.get("boot") else 0]) + _chs(start)
                 + bytes([int(part["id"])]) + _chs(start + sectors - 1)
                 + struct.pack("<II", start, sectors))
        table[446 + 16 * i:446 + 16 * (i + 1)] = entry
    table[510:512] = b"\x55\xaa"
    return bytes(table)


def _chs(lba: int) -> bytes:
    cyl, rest = divmod(lba, CYL)
    head, sector = divmod(rest, SPT)
    if cyl > 1023:
        cyl, head, sector = 1023, HEADS - 1, SPT - 1
    sector += 1
    return bytes([head, ((cyl >> 2) & 0xC0) | sector, cyl & 0xFF])


def read_mbr(path: str) -> list[dict] | None:
    """Partition entries of a DOS table read from the device's bytes (None: no valid table)."""
    data = read_at(path, 0, 512)
    if len(data) < 512 or data[510:512] != b"\x55\xaa":
        return None
    parts = []
    for i in range(4):
        entry = data[446 + 16 * i:446 + 16 * (i + 1)]
        start, sectors = struct.unpack("<II", entry[8:16])
        if entry[4] == 0 or sectors == 0:
            continue
        parts.append({"number": i + 1, "boot": entry[0] == 0x80, "id": entry[4],
                      "start": start, "sectors": sectors})
    return parts


def disk_identifier(path: str) -> int:
    data = read_at(path, 440, 4)
    return struct.unpack("<I", data)[0] if len(data) == 4 else 0


# ----------------------------------------------------------------------------- LVM2 label


def new_uuid() -> str:
    rng = random.SystemRandom()
    return "".join(rng.choice(UUID_CHARS) for _ in range(32))


def format_uuid(raw: str) -> str:
    """lvm2's display form: 6-4-4-4-4-4-6."""
    parts, pos = [], 0
    for n in (6, 4, 4, 4, 4, 4, 6):
        parts.append(raw[pos:pos + n])
        pos += n
    return "-".join(parts)


def lvm_crc(data: bytes, initial: int = LVM_INITIAL_CRC) -> int:
    """lvm2's calc_crc: reflected CRC-32 without the final inversion, seeded 0xf597a6cf."""
    return zlib.crc32(data, initial ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def lvm_label(uuid: str, dev_size: int, pe_start: int = PE_START) -> bytes:
    """Sector 1 of a PV: label_header + pv_header (one data area, one metadata area)."""
    sector = bytearray(SECTOR)
    pv = struct.pack("<32sQ", uuid.encode(), dev_size)
    data_area = struct.pack("<QQ", pe_start * SECTOR, 0) + bytes(16)
    mda_area = struct.pack("<QQ", 4096, pe_start * SECTOR - 4096) + bytes(16)
    body = pv + data_area + mda_area
    sector[32:32 + len(body)] = body
    sector[0:8] = b"LABELONE"
    struct.pack_into("<Q", sector, 8, LVM_LABEL_SECTOR)
    struct.pack_into("<I", sector, 20, 32)
    sector[24:32] = b"LVM2 001"
    struct.pack_into("<I", sector, 16, lvm_crc(bytes(sector[20:])))
    return bytes(sector)


def mda_header(pe_start: int = PE_START) -> bytes:
    header = bytearray(SECTOR)
    header[4:20] = MDA_MAGIC
    struct.pack_into("<IQQ", header, 20, 1, 4096, pe_start * SECTOR - 4096)
    struct.pack_into("<I", header, 0, lvm_crc(bytes(header[4:])))
    return bytes(header)


def write_pv_label(path: str, uuid: str, dev_size: int) -> None:
    """What pvcreate 2.02.26 writes: zeroes the first 2 KiB, the label, the mda header."""
    zero_range(path, 0, 2048)
    write_at(path, LVM_LABEL_SECTOR * SECTOR, lvm_label(uuid, dev_size))
    write_at(path, 4096, mda_header())


def read_pv_label(path: str) -> str | None:
    """The PV UUID of a valid LVM2 label in the first 4 sectors (like lvm2's label scan)."""
    data = read_at(path, 0, 4 * SECTOR)
    for n in range(4):
        sector = data[n * SECTOR:(n + 1) * SECTOR]
        if len(sector) < SECTOR or sector[0:8] != b"LABELONE":
            continue
        (crc,) = struct.unpack_from("<I", sector, 16)
        if sector[24:32] != b"LVM2 001" or crc != lvm_crc(sector[20:]):
            continue
        return sector[32:64].decode("ascii", "replace")
    return None


def wipe_pv_label(path: str) -> None:
    for n in range(4):
        if read_at(path, n * SECTOR, 8) == b"LABELONE":
            zero_range(path, n * SECTOR, SECTOR)


def has_data(path: str, size: int = MIB) -> bool:
    """True when the first ``size`` bytes hold anything but zeros (a real read)."""
    data = read_at(path, 0, size)
    return any(data)


# ----------------------------------------------------------------------------- building


def build_disks(root: str, state: dict) -> None:
    """Create the device files of a fresh layout with their real signatures."""
    disks = os.path.join(root, "disks")
    if os.path.isdir(disks):
        shutil.rmtree(disks)
    os.makedirs(os.path.join(disks, "lv"))
    whole = disk_file(root, DISK)
    sparse_file(whole, int(state["disk"]["sectors"]) * SECTOR)
    write_at(whole, 0, mbr(state))
    for part in state["partitions"]:
        path = disk_file(root, os.path.basename(part["device"]))
        sparse_file(path, part_size(part))
        apply_signature(path, part["signature"])


def apply_signature(path: str, kind: str, label: str = "") -> None:
    """Write a real signature of ``kind`` at the start of the device file."""
    if kind == "ext3":
        zero_range(path, 0, MIB)
        mkfs_ext3(path, label)
    elif kind == "swap":
        zero_range(path, 0, MIB)
        mkswap(path)
    elif kind == "data":
        random_data(path)
    elif kind == "none":
        zero_range(path, 0, MIB)
    else:
        raise StorageError(f"unknown signature kind {kind!r}")


def create_layout(root: str, pv_size_gb: int = DEFAULT_PV_GB) -> dict:
    """A fresh disk (the guide's installation): state + device files. Caller holds the lock."""
    state = default_layout(pv_size_gb)
    build_disks(root, state)
    save(state, root)
    return state


def ensure_layout(root: str = NODE_ROOT, pv_size_gb: int = DEFAULT_PV_GB) -> dict:
    with locked(root):
        state = load(root)
        if state is None:
            state = create_layout(root, pv_size_gb)
        return state


def drop_pv(state: dict, root: str, device: str) -> list[str]:
    """Forget the PV on ``device``; a VG left without PVs goes (its LV files too)."""
    gone = []
    pv = state["pvs"].pop(device, None)
    if pv and pv.get("vg"):
        vg = state["vgs"].get(pv["vg"])
        if vg is not None:
            vg["pvs"] = [p for p in vg["pvs"] if p != device]
            if not vg["pvs"]:
                for lv in vg["lvs"]:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(lv_file(root, pv["vg"], lv))
                state["vgs"].pop(pv["vg"])
                gone.append(pv["vg"])
    return gone


# ----------------------------------------------------------------------------- the node's /dev


def own_dev() -> bool:
    """True only inside a lab node whose /dev is its own tmpfs (never the host's devtmpfs).

    Every function below that writes under /dev checks this first: the control machine's /dev
    must never be touched.
    """
    mounts: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            for line in fh:
                fields = line.split()
                if "-" in fields[6:]:
                    sep = fields.index("-", 6)
                    mounts[fields[4]] = fields[sep + 1]  # the last mount on a path wins
    except OSError:
        return False
    fstype = mounts.get("/dev") if NODE_ROOT in mounts else None
    return fstype == "tmpfs"


def _symlink(target: str, path: str) -> None:
    if os.path.islink(path) and os.readlink(path) == target:
        return
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise StorageError(f"{path} is a directory")
        os.unlink(path)
    os.symlink(target, path)


def wanted_dev_links(state: dict, root: str = NODE_ROOT) -> dict[str, str]:
    """/dev path -> symlink target for the disk, its partitions and every active LV."""
    links = {f"/dev/{DISK}": disk_file(root, DISK)}
    for part in state["partitions"]:
        links[part["device"]] = disk_file(root, os.path.basename(part["device"]))
    for vg_name, vg in state["vgs"].items():
        for lv_name, lv in vg["lvs"].items():
            if not lv.get("active", True):
                continue
            mapper = f"/dev/mapper/{dm_name(vg_name, lv_name)}"
            links[mapper] = lv_file(root, vg_name, lv_name)
            links[f"/dev/{vg_name}/{lv_name}"] = mapper
    return links


def sync_dev(state: dict, root: str = NODE_ROOT) -> bool:
    """Make the node's /dev match the state (what udev and lvm2 do). False: not our /dev."""
    if not own_dev():
        return False
    links = wanted_dev_links(state, root)
    os.makedirs("/dev/mapper", exist_ok=True)
    disks = os.path.join(root, "disks")
    # stale LV links: /dev/mapper/* into our disks, /dev/VG/* pointing at /dev/mapper/
    for entry in os.listdir("/dev/mapper"):
        path = f"/dev/mapper/{entry}"
        if path not in links and os.path.islink(path) and os.readlink(path).startswith(disks):
            os.unlink(path)
    for entry in os.listdir("/dev"):
        folder = f"/dev/{entry}"
        if entry == "mapper" or os.path.islink(folder) or not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = f"{folder}/{name}"
            if (path not in links and os.path.islink(path)
                    and os.readlink(path).startswith("/dev/mapper/")):
                os.unlink(path)
        with contextlib.suppress(OSError):
            if not os.listdir(folder) and entry not in ("pts", "shm", "mapper"):
                os.rmdir(folder)
    for path, target in sorted(links.items()):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _symlink(target, path)
    return True


def resolve_device(state: dict, device: str, root: str = NODE_ROOT) -> tuple[str, str] | None:
    """(kind, backing file) of a device name: kind is "disk", "part" or "lv:VG/LV"."""
    dev = os.path.normpath(device)
    if dev == f"/dev/{DISK}":
        return "disk", disk_file(root, DISK)
    if partition(state, dev) is not None:
        return "part", disk_file(root, os.path.basename(dev))
    for vg_name, vg in state["vgs"].items():
        for lv_name in vg["lvs"]:
            names = (f"/dev/{vg_name}/{lv_name}", f"/dev/mapper/{dm_name(vg_name, lv_name)}")
            if dev in names:
                return f"lv:{vg_name}/{lv_name}", lv_file(root, vg_name, lv_name)
    return None


# ----------------------------------------------------------------------------- holders


HOLDER_KINDS = ("domain", "drbd")


def check_holder(holder: str) -> None:
    kind, sep, name = holder.partition(":")
    if not sep or kind not in HOLDER_KINDS or not name:
        raise StorageError(f"bad holder {holder!r}: want domain:NAME or drbd:MINOR")


def lv_holders(lv: dict) -> list[str]:
    """The holders recorded on an LV entry of the state (the open count is their number)."""
    return list(lv.get("holders") or [])


def lv_of_device(state: dict, device: str, root: str = NODE_ROOT) -> tuple[str, str] | None:
    """(vg, lv) of an LV device name (/dev/VG/LV, /dev/mapper/VG-LV); None for anything else."""
    found = resolve_device(state, device, root)
    if found is None or not found[0].startswith("lv:"):
        return None
    vg, _, lv = found[0][3:].partition("/")
    return vg, lv


def _lv_entry(state: dict | None, vg: str, lv: str) -> dict | None:
    if state is None:
        return None
    return state.get("vgs", {}).get(vg, {}).get("lvs", {}).get(lv)


def add_holder(root: str, vg: str, lv: str, holder: str) -> None:
    """Record that ``holder`` has the LV open (idempotent)."""
    check_holder(holder)
    with locked(root):
        state = load(root)
        entry = _lv_entry(state, vg, lv)
        if state is None or entry is None:
            raise StorageError(f'logical volume "{vg}/{lv}" not found')
        current = lv_holders(entry)
        if holder not in current:
            entry["holders"] = [*current, holder]
            save(state, root)


def remove_holder(root: str, vg: str, lv: str, holder: str) -> bool:
    """Forget that ``holder`` has the LV open; False when it was not recorded."""
    with locked(root):
        state = load(root)
        entry = _lv_entry(state, vg, lv)
        if state is None or entry is None or holder not in lv_holders(entry):
            return False
        entry["holders"] = [h for h in lv_holders(entry) if h != holder]
        save(state, root)
        return True


def holders(root: str, vg: str, lv: str) -> list[str]:
    with locked(root):
        entry = _lv_entry(load(root), vg, lv)
        return lv_holders(entry) if entry is not None else []


def _release(root: str, drop) -> list[str]:
    released = []
    with locked(root):
        state = load(root)
        if state is None:
            return []
        for vg_name, vg in state["vgs"].items():
            for lv_name, lv in vg["lvs"].items():
                kept = [h for h in lv_holders(lv) if not drop(h)]
                if kept != lv_holders(lv):
                    lv["holders"] = kept
                    released.append(f"{vg_name}/{lv_name}")
        if released:
            save(state, root)
    return sorted(released)


def release_holder(root: str, holder: str) -> list[str]:
    """Drop ``holder`` from every LV (a domain that stopped); returns the "vg/lv" it held."""
    return _release(root, lambda h: h == holder)


def release_kind(root: str, kind: str) -> list[str]:
    """Drop every holder of ``kind`` ("domain", "drbd"): dom0 went down, nothing holds them."""
    return _release(root, lambda h: h.partition(":")[0] == kind)
