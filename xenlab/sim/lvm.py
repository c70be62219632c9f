"""Simulated lvm2 2.02.26 (Ubuntu 8.04 "hardy"): one multi-call program for the LVM commands.

Installed by ``apt-get install lvm2`` as /sbin/{pvcreate,vgcreate,...} wrappers that run
``python3 lvm.py COMMAND ARGS``; ``lvm COMMAND ARGS`` works too. The state (PVs, VGs, LVs) is
the node's storage.json (see storage_state.py); a PV exists only while its real LVM2 label is on
the device's bytes. Output, messages and exit statuses follow lvm2 of that era: messages are
indented by two spaces, errors go to stderr, most failures exit 5 (ECMD_FAILED), command-line
errors exit 3 (EINVALID_CMD_LINE).

Like real 2.02.26, pvcreate does NOT refuse a device holding a filesystem: it zeroes the first
2 KiB and writes its label (wiping an ext3 superblock; a swap signature at 4086 survives). It only
refuses a PV of another VG without -ff. Refusing to overwrite data is the runbook's job.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import storage_state as ss

VERSION = "2.02.26 (2007-06-15)"
ECMD_FAILED = 5
EINVALID = 3
SIZE_ROWS = (
    (" Exabyte", " EB", "E"), (" Petabyte", " PB", "P"), (" Terabyte", " TB", "T"),
    (" Gigabyte", " GB", "G"), (" Megabyte", " MB", "M"), (" Kilobyte", " KB", "K"),
    ("", "", ""), (" Byte    ", " B ", "B"), (" Units   ", " Un", "U"),
    (" Sectors ", " Se", "S"), ("         ", "   ", " "),
)
LONG, SHORT, UNIT = 0, 1, 2
UNIT_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
NAME_RE = re.compile(r"^[a-zA-Z0-9+_.][a-zA-Z0-9+_.-]*$")
T = TypeVar("T")
COMMANDS = ("pvcreate", "pvremove", "pvdisplay", "pvs", "pvscan", "vgcreate", "vgremove",
            "vgdisplay", "vgs", "vgscan", "vgchange", "lvcreate", "lvremove", "lvdisplay", "lvs",
            "lvscan", "version")


class LvmError(Exception):
    def __init__(self, message: str, code: int = ECMD_FAILED) -> None:
        super().__init__(message)
        self.code = code


def say(text: str = "") -> None:
    sys.stdout.write(f"  {text}\n" if text else "\n")
    sys.stdout.flush()


def warn(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"  {text}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------- sizes


def unit_factor(unit: str) -> int:
    """Bytes per unit of --units: lowercase binary (1024), uppercase decimal (1000)."""
    if unit in "bB":
        return 1
    if unit in "sS":
        return 512
    low = unit.lower()
    if low not in UNIT_POWERS:
        raise LvmError(f'Invalid units specification "{unit}"', EINVALID)
    return (1024 if unit == low else 1000) ** UNIT_POWERS[low]


def display_size(size: int, style: int = SHORT, unit: str = "h", suffix: bool = True) -> str:
    """lvm2's _display_size: ``size`` in bytes, as vgdisplay (SHORT) or the reports (UNIT)."""
    row = 10
    for i in range(10):
        if unit.upper() == SIZE_ROWS[i][2][:1] and SIZE_ROWS[i][2]:
            row = i
            break
    if size == 0:
        return "0" + (SIZE_ROWS[row][style] if suffix else "")
    if row < 10:
        byte = unit_factor(unit)
    else:
        suffix = True
        base = 1000 if unit == "H" else 1024
        byte = base ** 6
        row = 0
        while size < byte and row < 9:
            row += 1
            byte //= base
    precision = 0 if unit.upper() in "BS" else 2
    return f"{size / byte:.{precision}f}" + (SIZE_ROWS[row][style] if suffix else "")


def parse_size(text: str, default_unit: str = "m") -> int:
    """A size argument in bytes, as 2.02.26's _size_arg reads it: a number, then optionally a
    unit whose FIRST letter counts (k m g t p e, either case, powers of 1024) and whose other
    letters are ignored, so xen-tools' "384Mb" is 384 MiB; no unit means ``default_unit``."""
    m = re.fullmatch(r"\+?(\d+(?:\.\d*)?)(.*)", text.strip(), re.S)
    if not m or (m.group(2) and m.group(2)[0].lower() not in UNIT_POWERS):
        raise LvmError(f'Invalid argument {text}', EINVALID)
    unit = (m.group(2)[:1] or default_unit).lower()
    return int(float(m.group(1)) * 1024 ** UNIT_POWERS[unit])


def extents_for(size: int, extent: int) -> int:
    return -(-size // extent)


# ----------------------------------------------------------------------------- options


class Args:
    """A tiny getopt: flags, options with values (-L5G, -L 5G, --size=5G, --size 5G)."""

    def __init__(self, argv: list[str], with_value: dict[str, str], flags: dict[str, str]):
        self.values: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.words: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                self.words.extend(argv[i:])
                break
            if arg.startswith("--"):
                name, eq, value = arg[2:].partition("=")
                key = with_value.get(f"--{name}") or flags.get(f"--{name}")
                if key is None:
                    raise LvmError(f"{sys.argv[0]}: unrecognized option '{arg}'", EINVALID)
                if key in with_value.values() and f"--{name}" in with_value:
                    if not eq:
                        if i >= len(argv):
                            raise LvmError(f"Option {arg} requires an argument", EINVALID)
                        value = argv[i]
                        i += 1
                    self.values[key] = value
                else:
                    self.counts[key] = self.counts.get(key, 0) + 1
                continue
            if arg.startswith("-") and len(arg) > 1:
                j = 1
                while j < len(arg):
                    opt = f"-{arg[j]}"
                    if opt in with_value:
                        value = arg[j + 1:]
                        if not value:
                            if i >= len(argv):
                                raise LvmError(f"Option {opt} requires an argument", EINVALID)
                            value = argv[i]
                            i += 1
                        self.values[with_value[opt]] = value
                        break
                    if opt not in flags:
                        raise LvmError(f"{os.path.basename(sys.argv[0])}: invalid option -- "
                                       f"{arg[j]}", EINVALID)
                    self.counts[flags[opt]] = self.counts.get(flags[opt], 0) + 1
                    j += 1
                continue
            self.words.append(arg)

    def flag(self, key: str) -> int:
        return self.counts.get(key, 0)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


COMMON_FLAGS = {"-v": "verbose", "--verbose": "verbose", "-d": "debug", "--debug": "debug",
                "-t": "test", "--test": "test", "-q": "quiet", "--quiet": "quiet",
                "-h": "help", "-?": "help", "--help": "help", "-A": "autobackup_flag"}
COMMON_VALUES = {"--config": "config", "-A": "autobackup", "--autobackup": "autobackup"}


# ----------------------------------------------------------------------------- the model


ROOT = ss.NODE_ROOT  # the node state folder (tests point it at a temporary folder)


class Lvm:
    def __init__(self, root: str | None = None) -> None:
        self.root = root = root or ROOT
        self.lock = ss.locked(root)
        self.lock.__enter__()
        state = ss.load(root)
        if state is None:
            state = ss.create_layout(root)
        self.state = state
        self.missing: dict[str, str] = {}  # device -> PV uuid whose label is gone
        for dev, pv in state["pvs"].items():
            path = self.file_of(dev)
            if path is None or ss.read_pv_label(path) != pv["uuid"]:
                self.missing[dev] = pv["uuid"]

    def close(self, changed: bool) -> None:
        if changed:
            ss.save(self.state, self.root)
            ss.sync_dev(self.state, self.root)
        self.lock.__exit__(None, None, None)

    # -- lookups
    def file_of(self, device: str) -> str | None:
        found = ss.resolve_device(self.state, device, self.root)
        return found[1] if found else None

    @property
    def vgs(self) -> dict:
        return self.state["vgs"]

    def pvs(self) -> dict:
        """Visible PVs: state entries whose label is really on the device."""
        return {d: p for d, p in self.state["pvs"].items() if d not in self.missing}

    def visible_vgs(self) -> dict:
        shown = {}
        for name, vg in self.vgs.items():
            lost = [d for d in vg["pvs"] if d in self.missing]
            for dev in lost:
                warn(f"Couldn't find device with uuid '{ss.format_uuid(self.missing[dev])}'.")
            if len(lost) < len(vg["pvs"]):
                shown[name] = vg
        return dict(sorted(shown.items()))

    def vg(self, name: str) -> dict:
        name = name.removeprefix("/dev/").rstrip("/")
        vg = self.visible_vgs().get(name)
        if vg is None:
            raise LvmError(f'Volume group "{name}" not found')
        return vg

    def pv_free(self, dev: str) -> int:
        pv = self.state["pvs"][dev]
        vg = self.vgs.get(pv.get("vg") or "")
        used = 0
        if vg:
            for lv in vg["lvs"].values():
                used += sum(seg[2] for seg in lv["segments"] if seg[0] == dev)
        return int(pv["pe_count"]) - used

    def mark_partition(self, dev: str, signature: str) -> None:
        """What blkid reports for ``dev`` from now on, when it is a partition of a disk."""
        part = ss.partition(self.state, dev)
        if part is not None:
            part["signature"] = signature

    def vg_free(self, vg: dict) -> int:
        return sum(self.pv_free(d) for d in vg["pvs"] if d not in self.missing)

    def vg_total(self, vg: dict) -> int:
        return sum(int(self.state["pvs"][d]["pe_count"]) for d in vg["pvs"])

    def vg_name_of(self, vg: dict) -> str:
        return next(n for n, v in self.vgs.items() if v is vg)

    def free_ranges(self, vg: dict) -> list[tuple[str, int, int]]:
        ranges = []
        for dev in vg["pvs"]:
            if dev in self.missing:
                continue
            taken = sorted((s[1], s[2]) for lv in vg["lvs"].values() for s in lv["segments"]
                           if s[0] == dev)
            pos = 0
            for start, count in taken:
                if start > pos:
                    ranges.append((dev, pos, start - pos))
                pos = max(pos, start + count)
            total = int(self.state["pvs"][dev]["pe_count"])
            if pos < total:
                ranges.append((dev, pos, total - pos))
        return ranges

    def allocate(self, vg: dict, extents: int) -> list[list]:
        ranges = self.free_ranges(vg)
        for dev, start, count in ranges:  # contiguous first
            if count >= extents:
                return [[dev, start, extents]]
        segments, need = [], extents
        for dev, start, count in ranges:
            take = min(count, need)
            segments.append([dev, start, take])
            need -= take
            if not need:
                break
        return segments

    def next_minor(self) -> int:
        used = {lv.get("minor") for vg in self.vgs.values() for lv in vg["lvs"].values()
                if lv.get("active", True)}
        minor = 0
        while minor in used:
            minor += 1
        return minor

    def find_lvs(self, names: list[str]) -> tuple[list[tuple[str, str]], int]:
        """(vg, lv) pairs for LV arguments (VG, VG/LV, /dev/VG/LV, /dev/mapper/VG-LV) and the
        status so far, as 2.02.26's process_each_lv: no arguments and no VG prints "No volume
        groups found" (status 0); a missing VG prints 'Volume group "x" not found' and a
        missing LV "One or more specified logical volume(s) not found." (status 5 each); the
        LVs that were found are still processed."""
        visible = self.visible_vgs()
        if not names:
            if not visible:
                warn("No volume groups found")
            return [(v, lv) for v, vg in visible.items() for lv in vg["lvs"]], 0
        wanted: dict[str, list[str] | None] = {}
        for name in names:
            path = name.lstrip("/")
            path = path.removeprefix("dev/") if name.startswith("/") else path
            if path.startswith("mapper/"):
                for v, vg in self.vgs.items():
                    for lv in vg["lvs"]:
                        if ss.dm_name(v, lv) == path[7:]:
                            path = f"{v}/{lv}"
            vg_name, _, lv_name = path.partition("/")
            lv_name = lv_name.strip("/")
            if not lv_name:
                wanted[vg_name] = None
            elif vg_name not in wanted:
                wanted[vg_name] = [lv_name]
            elif (listed := wanted[vg_name]) is not None:
                listed.append(lv_name)
        found: list[tuple[str, str]] = []
        status = 0
        for vg_name, lv_names in wanted.items():
            vg = visible.get(vg_name)
            if vg is None:
                warn(f'Volume group "{vg_name}" not found')
                status = ECMD_FAILED
                continue
            if lv_names is None:
                found.extend((vg_name, lv) for lv in vg["lvs"])
                continue
            matched = [lv for lv in vg["lvs"] if lv in lv_names]
            found.extend((vg_name, lv) for lv in matched)
            if len(matched) != len(set(lv_names)):
                warn("One or more specified logical volume(s) not found.")
                status = ECMD_FAILED
        return found, status


class Refused(Exception):
    """One argument of a per-argument command is refused: reported, and the others go on."""

    def __init__(self, message: str, to_stdout: bool = False) -> None:
        super().__init__(message)
        self.to_stdout = to_stdout  # lvm2's log_print, where log_error goes to stderr


def change_each(lvm: Lvm, items: Iterable[T], change: Callable[[T], str], rc: int = 0) -> int:
    """lvm2's process_each_*: ``change`` each item and print the line it returns; a Refused
    item makes the status ECMD_FAILED, an LvmError stops all. Saves if anything changed."""
    changed = False
    try:
        for item in items:
            try:
                done = change(item)
            except Refused as exc:
                say(str(exc)) if exc.to_stdout else warn(str(exc))
                rc = ECMD_FAILED
                continue
            changed = True
            say(done)
    finally:
        lvm.close(changed)
    return rc


def lv_path(vg: str, lv: str) -> str:
    return f"/dev/{vg}/{lv}"


def open_count(lv: dict) -> int:
    """The device's open count: one per holder (a running domain, an attached DRBD device)."""
    return len(ss.lv_holders(lv)) if lv.get("active", True) else 0


def lv_attr(lv: dict) -> str:
    active = lv.get("active", True)
    return f"-wi-{'a' if active else '-'}{'o' if open_count(lv) else '-'}"


def ask(question: str) -> bool:
    """lvm2's yes_no_prompt: the last y/n of a line answers, another line asks again, EOF is
    "n" (followed by a newline, as lvm2 prints when the answer did not end a line)."""
    answer, char, asked = "", "", False
    while True:
        if char == "\n" or not asked:
            sys.stdout.write(question)
            sys.stdout.flush()
            asked = True
        char = sys.stdin.read(1)
        if not char:
            answer = "n"
            break
        char = char.lower()
        if char in ("y", "n"):
            answer = char
        if answer and char == "\n":
            break
    if char != "\n":
        sys.stdout.write("\n")
    sys.stdout.flush()
    return answer == "y"


# ----------------------------------------------------------------------------- PV commands


def pvcreate(argv: list[str]) -> int:
    args = Args(argv, {"-u": "uuid", "--uuid": "uuid", **COMMON_VALUES},
                {"-f": "force", "--force": "force", "-y": "yes", "--yes": "yes",
                 "-Z": "zero", **COMMON_FLAGS})
    if not args.words:
        raise LvmError("Please enter a physical volume path", EINVALID)
    lvm = Lvm()

    def create(dev: str) -> str:
        kind = ss.resolve_device(lvm.state, dev, lvm.root)
        if kind is None or kind[0] == "disk":
            raise Refused(f"Device {dev} not found (or ignored by filtering).")
        path = kind[1]
        pv = lvm.pvs().get(dev)
        if pv and pv.get("vg"):
            if args.flag("force") < 2:
                raise Refused(f'Can\'t initialize physical volume "{dev}" of volume group '
                              f'"{pv["vg"]}" without -ff')
            if not args.flag("yes") and not ask(
                    f'Really INITIALIZE physical volume "{dev}" of volume group '
                    f'"{pv["vg"]}" [y/n]? '):
                raise Refused(f"{dev}: physical volume not initialized", to_stdout=True)
            say(f'WARNING: Forcing physical volume creation on {dev} of volume group '
                f'"{pv["vg"]}"')  # log_print in pvcreate_check: stdout
            ss.drop_pv(lvm.state, lvm.root, dev)
        size = os.path.getsize(path)
        uuid = ss.new_uuid()
        ss.write_pv_label(path, uuid, size)
        lvm.state["pvs"][dev] = {"uuid": uuid, "vg": None, "size": size,
                                 "pe_start": ss.PE_START, "pe_count": 0}
        lvm.missing.pop(dev, None)
        lvm.mark_partition(dev, "LVM2_member")
        return f'Physical volume "{dev}" successfully created'

    return change_each(lvm, args.words, create)


def pvremove(argv: list[str]) -> int:
    args = Args(argv, dict(COMMON_VALUES), {"-f": "force", "--force": "force", "-y": "yes",
                                            "--yes": "yes", **COMMON_FLAGS})
    if not args.words:
        raise LvmError("Please enter a physical volume path", EINVALID)
    lvm = Lvm()

    def remove(dev: str) -> str:
        pv = lvm.pvs().get(dev)
        path = lvm.file_of(dev)
        if pv is None or path is None:
            raise Refused(f"No PV label found on {dev}.")
        if pv.get("vg") and args.flag("force") < 2:
            raise Refused(f'Can\'t pvremove physical volume "{dev}" of volume group '
                          f'"{pv["vg"]}" without -ff')
        ss.wipe_pv_label(path)
        ss.drop_pv(lvm.state, lvm.root, dev)
        lvm.mark_partition(dev, "none")
        return f'Labels on physical volume "{dev}" successfully wiped'

    return change_each(lvm, args.words, remove)


def pvdisplay(argv: list[str]) -> int:
    args = Args(argv, {"--units": "units", **COMMON_VALUES},
                {"-c": "colon", "-s": "short", "-m": "maps", **COMMON_FLAGS})
    lvm = Lvm()
    rc = 0
    try:
        pvs = lvm.pvs()
        devices = args.words or sorted(pvs)
        for dev in devices:
            pv = pvs.get(dev)
            if pv is None:
                warn(f'Failed to read physical volume "{dev}"')
                rc = ECMD_FAILED
                continue
            size = int(pv["size"])
            if not pv.get("vg"):
                say(f'"{dev}" is a new physical volume of "{display_size(size)}"')
                say("--- NEW Physical volume ---")
                rows = [("PV Name", dev), ("VG Name", ""), ("PV Size", display_size(size)),
                        ("Allocatable", "NO"), ("PE Size (KByte)", "0"), ("Total PE", "0"),
                        ("Free PE", "0"), ("Allocated PE", "0")]
            else:
                vg = lvm.vgs[pv["vg"]]
                extent = int(vg["extent_size"])
                total = int(pv["pe_count"])
                free = lvm.pv_free(dev)
                unusable = size - total * extent
                say("--- Physical volume ---")
                rows = [("PV Name", dev), ("VG Name", pv["vg"]),
                        ("PV Size", f"{display_size(size)} / not usable "
                                    f"{display_size(unusable)}"),
                        ("Allocatable", "yes " if free else "yes (but full)"),
                        ("PE Size (KByte)", str(extent // 1024)), ("Total PE", str(total)),
                        ("Free PE", str(free)), ("Allocated PE", str(total - free))]
            rows.append(("PV UUID", ss.format_uuid(pv["uuid"])))
            for label, value in rows:
                say(f"{label:<21} {value}")
            say(" ")
    finally:
        lvm.close(False)
    return rc


def pvscan(argv: list[str]) -> int:
    Args(argv, dict(COMMON_VALUES), {"-e": "exported", "-n": "novolumegroup", "-u": "uuid",
                                     "-s": "short", **COMMON_FLAGS})
    lvm = Lvm()
    try:
        pvs = lvm.pvs()
        if not pvs:
            say("No matching physical volumes found")
            return 0
        width = max(len(d) for d in pvs)
        total = in_vg = orphan = 0
        for dev, pv in sorted(pvs.items()):
            size = int(pv["size"])
            if pv.get("vg"):
                vg = lvm.vgs[pv["vg"]]
                extent = int(vg["extent_size"])
                usable = int(pv["pe_count"]) * extent
                say(f"PV {dev:<{width}}   VG {pv['vg']:<{max(len(v) for v in lvm.vgs)}}   "
                    f"lvm2 [{display_size(usable)} / {display_size(lvm.pv_free(dev) * extent)}"
                    " free]")
                in_vg += usable
                total += usable
            else:
                say(f"PV {dev:<{width}}         lvm2 [{display_size(size)}]")
                orphan += size
                total += size
        n_vg = sum(1 for p in pvs.values() if p.get("vg"))
        say(f"Total: {len(pvs)} [{display_size(total)}] / in use: {n_vg} "
            f"[{display_size(in_vg)}] / in no VG: {len(pvs) - n_vg} [{display_size(orphan)}]")
    finally:
        lvm.close(False)
    return 0


# ----------------------------------------------------------------------------- VG commands


def check_name(name: str, what: str) -> None:
    if not NAME_RE.match(name) or name in (".", "..") or len(name) > 127:
        raise LvmError(f'New {what} name "{name}" is invalid', EINVALID)


def vgcreate(argv: list[str]) -> int:
    args = Args(argv, {"-s": "extent", "--physicalextentsize": "extent", "-l": "maxlv",
                       "--maxlogicalvolumes": "maxlv", "-p": "maxpv",
                       "--maxphysicalvolumes": "maxpv", **COMMON_VALUES}, dict(COMMON_FLAGS))
    if not args.words:
        raise LvmError("Please provide volume group name and physical volumes", EINVALID)
    name, devices = args.words[0], args.words[1:]
    if not devices:
        raise LvmError("Please enter physical volume name(s)", EINVALID)
    check_name(name, "volume group")
    extent = parse_size(args.get("extent") or "4m")
    if extent < 8 * 1024 or extent & (extent - 1):
        raise LvmError("Physical extent size must be a power of 2.", EINVALID)
    lvm = Lvm()
    changed = False
    try:
        if name in lvm.visible_vgs():
            raise LvmError(f"A volume group called '{name}' already exists.")
        if os.path.lexists(f"/dev/{name}"):
            raise LvmError(f"/dev/{name}: already exists in filesystem")
        for dev in devices:
            if lvm.file_of(dev) is None:
                raise LvmError(f"Device {dev} not found (or ignored by filtering).")
            pv = lvm.pvs().get(dev)
            if pv is None:
                warn(f"No physical volume label read from {dev}")
                raise LvmError(f"{dev} not identified as an existing physical volume")
            if pv.get("vg"):
                warn(f"Physical volume '{dev}' is already in volume group '{pv['vg']}'")
                raise LvmError(f"Unable to add physical volume '{dev}' to volume group "
                               f"'{name}'.")
        for dev in devices:
            pv = lvm.state["pvs"][dev]
            pv["vg"] = name
            pv["pe_count"] = (int(pv["size"]) - ss.PE_START * ss.SECTOR) // extent
        lvm.vgs[name] = {"uuid": ss.new_uuid(), "extent_size": extent, "seqno": 1,
                         "pvs": list(devices), "lvs": {}, "created": int(time.time())}
        changed = True
        say(f'Volume group "{name}" successfully created')
    finally:
        lvm.close(changed)
    return 0


def vgremove(argv: list[str]) -> int:
    args = Args(argv, dict(COMMON_VALUES), {"-f": "force", "--force": "force", **COMMON_FLAGS})
    if not args.words:
        raise LvmError("Please enter one or more volume group paths", EINVALID)
    lvm = Lvm()

    def remove(name: str) -> str:
        vg = visible_vg(lvm, name)
        name = lvm.vg_name_of(vg)
        if vg["lvs"] and not args.flag("force"):
            raise Refused(f'Volume group "{name}" still contains {len(vg["lvs"])} logical '
                          "volume(s)")
        for lv_name in list(vg["lvs"]):
            if open_count(vg["lvs"][lv_name]):
                raise LvmError(f'Can\'t remove open logical volume "{lv_name}"')
            remove_lv(lvm, name, lv_name)
        for dev in vg["pvs"]:
            pv = lvm.state["pvs"].get(dev)
            if pv:
                pv["vg"] = None
                pv["pe_count"] = 0
        del lvm.vgs[name]
        return f'Volume group "{name}" successfully removed'

    return change_each(lvm, args.words, remove)


def visible_vg(lvm: Lvm, name: str) -> dict:
    """The VG an argument names; one that is not found refuses that argument only."""
    try:
        return lvm.vg(name)
    except LvmError as exc:
        raise Refused(str(exc)) from exc


def vgdisplay(argv: list[str]) -> int:
    args = Args(argv, {"--units": "units", **COMMON_VALUES},
                {"-c": "colon", "-s": "short", "-A": "active", **COMMON_FLAGS})
    lvm = Lvm()
    try:
        vgs = lvm.visible_vgs()
        if not vgs and not args.words:
            warn("No volume groups found")
            return 0
        names = args.words or list(vgs)
        for name in names:
            try:
                vg = lvm.vg(name)
            except LvmError as exc:  # printed, but 2.02.26's vgdisplay still exits 0
                warn(str(exc))
                continue
            name = lvm.vg_name_of(vg)
            if args.flag("short"):
                extent = int(vg["extent_size"])
                total, free = lvm.vg_total(vg), lvm.vg_free(vg)
                say(f'"{name}" {display_size(total * extent)} '
                    f"[{display_size((total - free) * extent)} used / "
                    f"{display_size(free * extent)} free]")
                continue
            for line in render_vgdisplay(lvm, name, vg):
                say(line) if line else print()
            if args.flag("verbose"):
                for lv_name in vg["lvs"]:
                    for line in render_lvdisplay(lvm, name, lv_name):
                        say(line) if line else print()
                say("--- Physical volumes ---")
                for dev in vg["pvs"]:
                    extent = int(vg["extent_size"])
                    pv = lvm.state["pvs"][dev]
                    say(f"{'PV Name':<21} {dev}     ")
                    say(f"{'PV UUID':<21} {ss.format_uuid(pv['uuid'])}")
                    say(f"{'PV Status':<21} allocatable")
                    say(f"{'Total PE / Free PE':<21} {pv['pe_count']} / {lvm.pv_free(dev)}")
                    say(" ")
    finally:
        lvm.close(False)
    return 0


def render_vgdisplay(lvm: Lvm, name: str, vg: dict) -> list[str]:
    extent = int(vg["extent_size"])
    total, free = lvm.vg_total(vg), lvm.vg_free(vg)
    alloc = total - free
    n_pv = len(vg["pvs"])
    act_pv = n_pv - sum(1 for d in vg["pvs"] if d in lvm.missing)
    rows = [
        ("VG Name", name), ("System ID", ""), ("Format", "lvm2"),
        ("Metadata Areas", str(act_pv)), ("Metadata Sequence No", str(vg["seqno"])),
        ("VG Access", "read/write"), ("VG Status", "resizable"), ("MAX LV", "0"),
        ("Cur LV", str(len(vg["lvs"]))),
        ("Open LV", str(sum(1 for lv in vg["lvs"].values() if open_count(lv)))),
        ("Max PV", "0"), ("Cur PV", str(n_pv)), ("Act PV", str(act_pv)),
        ("VG Size", display_size(total * extent)), ("PE Size", display_size(extent)),
        ("Total PE", str(total)), ("Alloc PE / Size", f"{alloc} / {display_size(alloc * extent)}"),
        ("Free  PE / Size", f"{free} / {display_size(free * extent)}"),
        ("VG UUID", ss.format_uuid(vg["uuid"])),
    ]
    return ["--- Volume group ---", *(f"{k:<21} {v}" for k, v in rows), " "]


def vgscan(argv: list[str]) -> int:
    Args(argv, dict(COMMON_VALUES), {"--mknodes": "mknodes", "--ignorelockingfailure": "ilf",
                                     **COMMON_FLAGS})
    lvm = Lvm()
    try:
        say("Reading all physical volumes.  This may take a while...")
        vgs = lvm.visible_vgs()
        if not vgs:
            say("No volume groups found")
        for name in vgs:
            say(f'Found volume group "{name}" using metadata type lvm2')
    finally:
        lvm.close(bool(lvm.vgs))
    return 0


def vgchange(argv: list[str]) -> int:
    args = Args(argv, {"-a": "activate", "--available": "activate", **COMMON_VALUES},
                dict(COMMON_FLAGS))
    value = args.get("activate")
    if value not in ("y", "n", "ey", "ly", "en", "ln"):
        raise LvmError("Please give one of -a|-l|-p|-x|... (the lab simulates -a y|n)", EINVALID)
    on = value.endswith("y")
    lvm = Lvm()

    def switch(name: str) -> str:
        vg = visible_vg(lvm, name)
        name = lvm.vg_name_of(vg)
        for lv in vg["lvs"].values():
            if not on and open_count(lv):
                raise LvmError(f"Can't deactivate volume group \"{name}\" with "
                               f"{sum(1 for x in vg['lvs'].values() if open_count(x))} "
                               "open logical volume(s)")
        for lv in vg["lvs"].values():
            if on and not lv.get("active", True):
                lv["minor"] = lvm.next_minor()
            lv["active"] = on
        count = len(vg["lvs"]) if on else 0
        return f'{count} logical volume(s) in volume group "{name}" now active'

    return change_each(lvm, args.words or list(lvm.visible_vgs()), switch)


# ----------------------------------------------------------------------------- LV commands


def lvcreate(argv: list[str]) -> int:
    args = Args(argv, {"-L": "size", "--size": "size", "-l": "extents", "--extents": "extents",
                       "-n": "name", "--name": "name", "-i": "stripes", "--stripes": "stripes",
                       "-I": "stripesize", "-r": "readahead", "-C": "contiguous", "-Z": "zero",
                       "-p": "permission", **COMMON_VALUES}, dict(COMMON_FLAGS))
    if not args.words:
        raise LvmError("Please provide a volume group name", EINVALID)
    if (args.get("size") is None) == (args.get("extents") is None):
        raise LvmError("Please specify either size or extents (not both)", EINVALID)
    vg_name = args.words[0].removeprefix("/dev/").rstrip("/")
    name = args.get("name")
    if "/" in vg_name:
        vg_name, _, path_name = vg_name.partition("/")
        name = name or path_name
    if name is not None:
        if name.startswith("/dev/"):
            parts = name.split("/")
            name = parts[-1]
        check_name(name, "logical volume")
        if name.startswith("snapshot") or name.startswith("pvmove"):
            raise LvmError('Names starting "snapshot" or "pvmove" are reserved. Please '
                           'choose a different LV name.', EINVALID)
    lvm = Lvm()
    changed = False
    try:
        vg = lvm.visible_vgs().get(vg_name)
        if vg is None:
            raise LvmError(f'Volume group "{vg_name}" doesn\'t exist')
        extent = int(vg["extent_size"])
        if name is None:
            n = 0
            while f"lvol{n}" in vg["lvs"]:
                n += 1
            name = f"lvol{n}"
        if name in vg["lvs"]:
            raise LvmError(f'Logical volume "{name}" already exists in volume group '
                           f'"{vg_name}"')
        free = lvm.vg_free(vg)
        if args.get("size") is not None:
            size = parse_size(args.get("size") or "")
            if size <= 0:
                raise LvmError("Negative size is invalid", EINVALID)
            extents = extents_for(size, extent)
            if extents * extent != size:
                say(f"Rounding up size to full physical extent "
                    f"{display_size(extents * extent)}")
        else:
            text = args.get("extents") or ""
            m = re.fullmatch(r"(\d+)(?:%(VG|FREE))?", text, re.IGNORECASE)
            if not m:
                raise LvmError(f"Invalid argument {text}", EINVALID)
            extents = int(m.group(1))
            if m.group(2):
                base = free if m.group(2).upper() == "FREE" else lvm.vg_total(vg)
                extents = base * extents // 100
        if extents <= 0:
            raise LvmError("Unable to create new logical volume with no extents")
        if extents > free:
            raise LvmError(f"Insufficient free extents ({free}) in volume group {vg_name}: "
                           f"{extents} required")
        segments = lvm.allocate(vg, extents)
        vg["lvs"][name] = {"uuid": ss.new_uuid(), "extents": extents, "segments": segments,
                           "minor": lvm.next_minor(), "active": True, "holders": [],
                           "contents": None, "created": int(time.time())}
        vg["seqno"] = int(vg["seqno"]) + 1
        ss.sparse_file(ss.lv_file(lvm.root, vg_name, name), extents * extent)
        changed = True
        say(f'Logical volume "{name}" created')
    finally:
        lvm.close(changed)
    return 0


def remove_lv(lvm: Lvm, vg_name: str, lv_name: str) -> None:
    vg = lvm.vgs[vg_name]
    del vg["lvs"][lv_name]
    vg["seqno"] = int(vg["seqno"]) + 1
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ss.lv_file(lvm.root, vg_name, lv_name))


def lvremove(argv: list[str]) -> int:
    args = Args(argv, dict(COMMON_VALUES), {"-f": "force", "--force": "force", **COMMON_FLAGS})
    if not args.words:
        raise LvmError("Please enter one or more logical volume paths", EINVALID)
    lvm = Lvm()

    def remove(found: tuple[str, str]) -> str:
        vg_name, lv_name = found
        lv = lvm.vgs[vg_name]["lvs"][lv_name]
        if open_count(lv):
            raise Refused(f'Can\'t remove open logical volume "{lv_name}"')
        if (not args.flag("force") and lv.get("active", True) and not ask(
                f'Do you really want to remove active logical volume "{lv_name}"? [y/n]: ')):
            raise Refused(f'Logical volume "{lv_name}" not removed', to_stdout=True)
        remove_lv(lvm, vg_name, lv_name)
        return f'Logical volume "{lv_name}" successfully removed'

    found, rc = lvm.find_lvs(args.words)
    return change_each(lvm, found, remove, rc)


def render_lvdisplay(lvm: Lvm, vg_name: str, lv_name: str) -> list[str]:
    vg = lvm.vgs[vg_name]
    lv = vg["lvs"][lv_name]
    extent = int(vg["extent_size"])
    rows = [("LV Name", lv_path(vg_name, lv_name)), ("VG Name", vg_name),
            ("LV UUID", ss.format_uuid(lv["uuid"])), ("LV Write Access", "read/write")]
    if lv.get("active", True):
        rows += [("LV Status", "available"), ("# open", str(open_count(lv)))]
    else:
        rows += [("LV Status", "NOT available")]
    rows += [("LV Size", display_size(int(lv["extents"]) * extent)),
             ("Current LE", str(lv["extents"])), ("Segments", str(len(lv["segments"]))),
             ("Allocation", "inherit"), ("Read ahead sectors", "0")]
    if lv.get("active", True):
        rows.append(("Block device", f"{ss.DM_MAJOR}:{lv['minor']}"))
    return ["--- Logical volume ---", *(f"{k:<22} {v}" for k, v in rows), " "]


def lvdisplay(argv: list[str]) -> int:
    args = Args(argv, {"--units": "units", **COMMON_VALUES},
                {"-c": "colon", "-m": "maps", "-a": "all", **COMMON_FLAGS})
    lvm = Lvm()
    try:
        found, rc = lvm.find_lvs(args.words)
        for vg_name, lv_name in found:
            for line in render_lvdisplay(lvm, vg_name, lv_name):
                say(line) if line else print()
    finally:
        lvm.close(False)
    return rc


def lvscan(argv: list[str]) -> int:
    Args(argv, dict(COMMON_VALUES), {"-a": "all", "-b": "blockdevice", **COMMON_FLAGS})
    lvm = Lvm()
    try:
        found, _ = lvm.find_lvs([])
        for vg_name, lv_name in found:
            vg = lvm.vgs[vg_name]
            lv = vg["lvs"][lv_name]
            state = "ACTIVE" if lv.get("active", True) else "inactive"
            size = display_size(int(lv["extents"]) * int(vg["extent_size"]))
            say(f"{state:<18}'{lv_path(vg_name, lv_name)}' [{size}] inherit")
    finally:
        lvm.close(False)
    return 0


# ----------------------------------------------------------------------------- reports


class Field:
    def __init__(self, heading: str, width: int, kind: str, get):
        self.heading, self.width, self.kind, self.get = heading, width, kind, get


def _pv_fields(lvm: Lvm) -> dict[str, Field]:
    def ext(pv: dict) -> int:
        vg = lvm.vgs.get(pv.get("vg") or "")
        return int(vg["extent_size"]) if vg else 0

    def size(dev: str, pv: dict) -> int:
        return int(pv["pe_count"]) * ext(pv) if pv.get("vg") else int(pv["size"])

    def free(dev: str, pv: dict) -> int:
        return lvm.pv_free(dev) * ext(pv) if pv.get("vg") else int(pv["size"])

    return {
        "pv_name": Field("PV", 10, "str", lambda d, p: d),
        "vg_name": Field("VG", 4, "str", lambda d, p: p.get("vg") or ""),
        "pv_fmt": Field("Fmt", 3, "str", lambda d, p: "lvm2"),
        "pv_attr": Field("Attr", 4, "str", lambda d, p: "a-" if p.get("vg") else "--"),
        "pv_size": Field("PSize", 5, "size", size),
        "pv_free": Field("PFree", 5, "size", free),
        "pv_used": Field("Used", 4, "size", lambda d, p: size(d, p) - free(d, p)),
        "dev_size": Field("DevSize", 7, "size", lambda d, p: int(p["size"])),
        "pv_uuid": Field("PV UUID", 38, "str", lambda d, p: ss.format_uuid(p["uuid"])),
        "pe_start": Field("1st PE", 7, "size", lambda d, p: int(p["pe_start"]) * ss.SECTOR),
        "pv_pe_count": Field("PE", 3, "num", lambda d, p: int(p["pe_count"])),
        "pv_pe_alloc_count": Field("Alloc", 5, "num",
                                   lambda d, p: int(p["pe_count"]) - lvm.pv_free(d)
                                   if p.get("vg") else 0),
        "pv_tags": Field("PV Tags", 7, "str", lambda d, p: ""),
    }


def _vg_fields(lvm: Lvm) -> dict[str, Field]:
    def ext(vg: dict) -> int:
        return int(vg["extent_size"])

    return {
        "vg_name": Field("VG", 4, "str", lambda n, v: n),
        "vg_fmt": Field("Fmt", 3, "str", lambda n, v: "lvm2"),
        "vg_attr": Field("Attr", 5, "str", lambda n, v: "wz--n-"),
        "vg_size": Field("VSize", 5, "size", lambda n, v: lvm.vg_total(v) * ext(v)),
        "vg_free": Field("VFree", 5, "size", lambda n, v: lvm.vg_free(v) * ext(v)),
        "vg_uuid": Field("VG UUID", 38, "str", lambda n, v: ss.format_uuid(v["uuid"])),
        "vg_extent_size": Field("Ext", 3, "size", lambda n, v: ext(v)),
        "vg_extent_count": Field("#Ext", 5, "num", lambda n, v: lvm.vg_total(v)),
        "vg_free_count": Field("Free", 4, "num", lambda n, v: lvm.vg_free(v)),
        "max_lv": Field("MaxLV", 5, "num", lambda n, v: 0),
        "max_pv": Field("MaxPV", 5, "num", lambda n, v: 0),
        "pv_count": Field("#PV", 3, "num", lambda n, v: len(v["pvs"])),
        "lv_count": Field("#LV", 3, "num", lambda n, v: len(v["lvs"])),
        "snap_count": Field("#SN", 3, "num", lambda n, v: 0),
        "vg_seqno": Field("Seq", 3, "num", lambda n, v: int(v["seqno"])),
        "vg_sysid": Field("SYS ID", 6, "str", lambda n, v: ""),
        "vg_tags": Field("VG Tags", 7, "str", lambda n, v: ""),
    }


def _lv_fields(lvm: Lvm) -> dict[str, Field]:
    def lv(v: str, n: str) -> dict:
        return lvm.vgs[v]["lvs"][n]

    def devices(v: str, n: str) -> str:
        return ",".join(f"{s[0]}({s[1]})" for s in lv(v, n)["segments"])

    return {
        "lv_name": Field("LV", 4, "str", lambda v, n: n),
        "vg_name": Field("VG", 4, "str", lambda v, n: v),
        "lv_attr": Field("Attr", 4, "str", lambda v, n: lv_attr(lv(v, n))),
        "lv_size": Field("LSize", 5, "size",
                         lambda v, n: int(lv(v, n)["extents"]) * int(lvm.vgs[v]["extent_size"])),
        "lv_uuid": Field("LV UUID", 38, "str", lambda v, n: ss.format_uuid(lv(v, n)["uuid"])),
        "origin": Field("Origin", 6, "str", lambda v, n: ""),
        "snap_percent": Field("Snap%", 6, "str", lambda v, n: ""),
        "move_pv": Field("Move", 4, "str", lambda v, n: ""),
        "mirror_log": Field("Log", 3, "str", lambda v, n: ""),
        "copy_percent": Field("Copy%", 6, "str", lambda v, n: ""),
        "lv_kernel_major": Field("KMaj", 4, "num",
                                 lambda v, n: ss.DM_MAJOR if lv(v, n).get("active", True) else -1),
        "lv_kernel_minor": Field("KMin", 4, "num",
                                 lambda v, n: lv(v, n)["minor"] if lv(v, n).get("active", True)
                                 else -1),
        "lv_major": Field("Maj", 3, "num", lambda v, n: -1),
        "lv_minor": Field("Min", 3, "num", lambda v, n: -1),
        "seg_count": Field("#Seg", 4, "num", lambda v, n: len(lv(v, n)["segments"])),
        "devices": Field("Devices", 5, "str", devices),
        "lv_tags": Field("LV Tags", 7, "str", lambda v, n: ""),
    }


DEFAULT_COLUMNS = {
    "pvs": "pv_name,vg_name,pv_fmt,pv_attr,pv_size,pv_free",
    "vgs": "vg_name,pv_count,lv_count,snap_count,vg_attr,vg_size,vg_free",
    "lvs": "lv_name,vg_name,lv_attr,lv_size,origin,snap_percent,move_pv,mirror_log,copy_percent",
}
PREFIX = {"pvs": "pv_", "vgs": "vg_", "lvs": "lv_"}


class UnknownField(Exception):
    """A -o name that no field has: lvm2 prints the field list, then the error."""


# Every field 2.02.26 knows, in lib/report/columns.h order: (id, description), per object type.
FIELD_HELP = (
    ("Logical Volume", (
        ("lv_uuid", "Unique identifier"),
        ("lv_name", "Name.  LVs created for internal use are enclosed in brackets."),
        ("lv_attr", "Various attributes - see man page."),
        ("lv_major", "Persistent major number or -1 if not persistent."),
        ("lv_minor", "Persistent minor number or -1 if not persistent."),
        ("lv_kernel_major", "Currently assigned major number or -1 if LV is not active."),
        ("lv_kernel_minor", "Currently assigned minor number or -1 if LV is not active."),
        ("lv_size", "Size of LV in current units."),
        ("seg_count", "Number of segments in LV."),
        ("origin", "For snapshots, the origin device of this LV"),
        ("snap_percent", "For snapshots, the percentage full if LV is active."),
        ("copy_percent", "For mirrors and pvmove, current percentage in-sync."),
        ("move_pv", "For pvmove, Source PV of temporary LV created by pvmove"),
        ("lv_tags", "Tags, if any."),
        ("mirror_log", "For mirrors, the LV holding the synchronisation log."),
        ("modules", "Kernel device-mapper modules required for this LV."))),
    ("Physical Volume", (
        ("pv_fmt", "Type of metadata."),
        ("pv_uuid", "Unique identifier."),
        ("pv_size", "Size of PV in current units."),
        ("dev_size", "Size of underlying device in current units."),
        ("pe_start", "Offset to the start of data on the underlying device."),
        ("pv_free", "Total amount of unallocated space in current units."),
        ("pv_used", "Total amount of allocated space in current units."),
        ("pv_name", "Name."),
        ("pv_attr", "Various attributes - see man page."),
        ("pv_pe_count", "Total number of Physical Extents."),
        ("pv_pe_alloc_count", "Total number of allocated Physical Extents."),
        ("pv_tags", "Tags, if any."))),
    ("Volume Group", (
        ("vg_fmt", "Type of metadata."),
        ("vg_uuid", "Unique identifier."),
        ("vg_name", "Name."),
        ("vg_attr", "Various attributes - see man page."),
        ("vg_size", "Total size of VG in current units."),
        ("vg_free", "Total amount of free space in current units."),
        ("vg_sysid", "System ID indicating when and where it was created."),
        ("vg_extent_size", "Size of Physical Extents in current units."),
        ("vg_extent_count", "Total number of Physical Extents."),
        ("vg_free_count", "Total number of unallocated Physical Extents."),
        ("max_lv", "Maximum number of LVs allowed in VG or 0 if unlimited."),
        ("max_pv", "Maximum number of PVs allowed in VG or 0 if unlimited."),
        ("pv_count", "Number of PVs."),
        ("lv_count", "Number of LVs."),
        ("snap_count", "Number of snapshots."),
        ("vg_seqno", "Revision number of internal metadata.  Incremented whenever it changes."),
        ("vg_tags", "Tags, if any."))),
    ("Logical Volume Segment", (
        ("segtype", "Type of LV segment"),
        ("stripes", "Number of stripes or mirror legs."),
        ("stripesize", "For stripes, amount of data placed on one device before switching to "
                       "the next."),
        ("stripe_size", "For stripes, amount of data placed on one device before switching to "
                        "the next."),
        ("regionsize", "For mirrors, the unit of data copied when synchronising devices."),
        ("region_size", "For mirrors, the unit of data copied when synchronising devices."),
        ("chunksize", "For snapshots, the unit of data used when tracking changes."),
        ("chunk_size", "For snapshots, the unit of data used when tracking changes."),
        ("seg_start", "Offset within the LV to the start of the segment in current units."),
        ("seg_size", "Size of segment in current units."),
        ("seg_tags", "Tags, if any."),
        ("devices", "Underlying devices used with starting extent numbers."))),
    ("Physical Volume Segment", (
        ("pvseg_start", "Physical Extent number of start of segment."),
        ("pvseg_size", "Number of extents in segment."))),
)


def field_list() -> list[str]:
    """libdm-report's _display_fields (each line then goes through log_print's indent)."""
    width = max(len(fid) for _, fields in FIELD_HELP for fid, _ in fields)
    lines: list[str] = []
    for desc, fields in FIELD_HELP:
        if lines:
            lines.append(" ")
        lines += [f"{desc} Fields", "-" * (len(desc) + 7)]
        lines += [f"  {fid:<{width}} - {text}" for fid, text in fields]
    return [*lines, " "]


def _columns(report: str, spec: str | None, fields: dict[str, Field]) -> list[str]:
    text = spec or DEFAULT_COLUMNS[report]
    if text.startswith("+"):
        text = DEFAULT_COLUMNS[report] + "," + text[1:]
    columns = []
    for name in (c.strip() for c in text.split(",")):
        if not name:
            continue
        key = name if name in fields else PREFIX[report] + name
        if key not in fields:
            raise UnknownField(name)
        columns.append(key)
    return columns


def report(report: str, argv: list[str]) -> int:
    args = Args(argv, {"-o": "options", "--options": "options", "-O": "sort", "--sort": "sort",
                       "--separator": "separator", "--units": "units", **COMMON_VALUES},
                {"--noheadings": "noheadings", "--nosuffix": "nosuffix",
                 "--aligned": "aligned", "--unbuffered": "unbuffered", "-a": "all",
                 "--all": "all", "-P": "partial", "--segments": "segments", **COMMON_FLAGS})
    unit = args.get("units") or "h"
    if unit != "h" and unit != "H":
        unit_factor(unit)
    suffix = not args.flag("nosuffix")
    lvm = Lvm()
    try:
        fields = {"pvs": _pv_fields, "vgs": _vg_fields, "lvs": _lv_fields}[report](lvm)
        try:
            columns = _columns(report, args.get("options"), fields)
        except UnknownField as exc:  # report_init fails, yet the command returns 0 (exit 0)
            for line in field_list():
                say(line)
            if str(exc).lower() != "help" and str(exc) != "?":
                warn(f"Unrecognised field: {exc}")
            return 0
        rc = 0
        if report == "pvs":
            pvs = lvm.pvs()
            for dev in args.words:
                if dev not in pvs:
                    raise LvmError(f'Failed to read physical volume "{dev}"')
            keys = sorted(args.words or pvs)
            rows_src: list[tuple] = [(k, pvs[k]) for k in keys]
        elif report == "vgs":
            vgs = lvm.visible_vgs()
            if not vgs and not args.words:
                warn("No volume groups found")
            names = [n.removeprefix("/dev/") for n in args.words] or list(vgs)
            for name in names:
                if name not in vgs:
                    raise LvmError(f'Volume group "{name}" not found')
            rows_src = [(n, vgs[n]) for n in sorted(names)]
        else:
            found, rc = lvm.find_lvs(args.words)
            rows_src = sorted(found)
        if not rows_src:  # dm_report_output prints nothing at all, not even the headings
            return rc
        rows = []
        for src in rows_src:
            row = []
            for key in columns:
                field = fields[key]
                value = field.get(*src)
                if field.kind == "size":
                    text = display_size(int(value), UNIT, unit, suffix)
                else:
                    text = str(value)
                row.append(text)
            rows.append(row)
        sep = args.get("separator")
        align = sep is None or bool(args.flag("aligned"))
        sep = " " if sep is None else sep
        widths = [max([fields[k].width, len(fields[k].heading)] + [len(r[i]) for r in rows])
                  for i, k in enumerate(columns)]
        lines = []
        if not args.flag("noheadings"):
            if align:
                lines.append(sep.join(fields[k].heading.ljust(widths[i])
                                      for i, k in enumerate(columns)))
            else:
                lines.append(sep.join(fields[k].heading for k in columns))
        for row in rows:
            cells = []
            for i, k in enumerate(columns):
                if not align:
                    cells.append(row[i])
                elif fields[k].kind == "str":
                    cells.append(row[i].ljust(widths[i]))
                else:
                    cells.append(row[i].rjust(widths[i]))
            lines.append(sep.join(cells))
        for line in lines:
            say(line)
    finally:
        lvm.close(False)
    return rc


# ----------------------------------------------------------------------------- entry point


def version(argv: list[str]) -> int:
    say(f"LVM version:     {VERSION}")
    say("Library version: 1.02.20 (2007-06-15)")
    say("Driver version:  4.12.0")
    return 0


def dispatch(command: str, argv: list[str]) -> int:
    if command in ("pvs", "vgs", "lvs"):
        return report(command, argv)
    handler = globals().get(command)
    if command not in COMMANDS or handler is None:
        warn(f"No such command '{command}'.  Try 'help'.")
        return EINVALID
    return handler(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    command = os.path.basename(argv[0]).removesuffix(".py")
    rest = argv[1:]
    if command == "lvm":
        if not rest:
            warn("Please run 'lvm help' (interactive lvm shell is not simulated in the lab)")
            return EINVALID
        command, rest = rest[0], rest[1:]
    if os.geteuid() != 0:
        warn("/var/lock/lvm/P_global: open failed: Permission denied")
        warn("Can't get lock for orphan PVs" if command.startswith("pv") else
             "Unable to obtain global lock.")
        return ECMD_FAILED
    try:
        return dispatch(command, rest)
    except LvmError as exc:
        warn(str(exc))
        return exc.code
    except ss.StorageError as exc:
        warn(str(exc))
        return ECMD_FAILED


if __name__ == "__main__":
    sys.exit(main())
