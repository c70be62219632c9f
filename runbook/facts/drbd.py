"""Facts of DRBD on one node: /proc/drbd, drbdadm's queries, drbd.conf, meta data, DomU cfgs.

The plans read /proc/drbd (one file, every resource, 8.0 to 8.4 shapes); the checks read
drbdadm's answers too, as evidence. Meta data is told by the bytes of the meta LV at the
resource's index (indexed external meta-data: index N starts at N x 128 MiB), read with dd
and od, which every release has: drbdmeta's own readers (dump-md, show-gi) refuse a device
that is attached ("Device '/dev/drbd1' is configured!", exit 20), so they cannot serve a
check of a running cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.facts import Fact, stdout_fact
from runbook.facts.system import MISSING, exists, file_content
from runbook.inventory import DomU
from runbook.parsers.drbd import ProcDrbd, parse_proc_drbd, split_pair
from runbook.remote import CommandResult, quote

PROC_PATH = "/proc/drbd"
CONF_PATH = "/etc/drbd.conf"
MARKER_DIR = "/var/lib/runbook"
INDEX_BYTES = 128 * 2**20
BLOCK = 4096
# DRBD 8's on-disk superblock (drbdmeta.c md_on_disk_08): la_size, 4 UUIDs, device_uuid,
# reserved, flags, then the magic at byte 60, big-endian. 8.4 writes ..6c while unclean.
MAGIC_OFFSET = 60
MAGICS = {bytes.fromhex("8374026b"): "DRBD 8 meta data", bytes.fromhex("8374026c"):
          "DRBD 8.4 meta data (unclean)"}
# The lab's simulated drbdmeta writes its own header at the start of the index (its README).
LAB_MAGIC = b"DRBD-LAB-META v08\n"

_PROC = file_content(PROC_PATH)


def _proc(result: CommandResult) -> ProcDrbd | None:
    text = _PROC.parse(result)
    return None if text is None else parse_proc_drbd(text)


#: /proc/drbd, or None when the drbd module is not loaded (the file does not exist then).
PROC_DRBD: Fact[ProcDrbd | None] = Fact("proc drbd", _PROC.command, _proc, _PROC.ok_codes)
DRBD_CONF = file_content(CONF_PATH)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError(f"expected one line, got {text!r}")
    return lines[0]


def drbdadm_pair(what: str, resource: str) -> Fact[tuple[str, str]]:
    """``drbdadm role|dstate RES``: (local, peer), e.g. ("Primary", "Secondary")."""
    if what not in ("role", "dstate"):
        raise ValueError(f"not a drbdadm pair query: {what}")
    return stdout_fact(f"drbdadm {what} {resource}", quote("drbdadm", what, resource),
                       lambda text: split_pair(_one_line(text)))


def drbdadm_cstate(resource: str) -> Fact[str]:
    """``drbdadm cstate RES``: Connected, WFConnection, StandAlone, Unconfigured..."""
    return stdout_fact(f"drbdadm cstate {resource}", quote("drbdadm", "cstate", resource),
                       _one_line)


@dataclass(frozen=True)
class MetaSlot:
    """What the meta LV holds at one index."""

    device_exists: bool
    kind: str  # "DRBD 8 meta data", ...; "" when the index holds no DRBD meta data

    @property
    def present(self) -> bool:
        return bool(self.kind)


def parse_od_bytes(text: str) -> bytes:
    """``od -An -tx1 -v`` output back to bytes."""
    words = text.split()
    if any(len(w) != 2 for w in words):
        raise ValueError(f"not od -tx1 output: {text[:80]!r}")
    return bytes.fromhex("".join(words))


def meta_kind(head: bytes) -> str:
    """Which meta data the first bytes of an index hold ("" for none)."""
    if head.startswith(LAB_MAGIC):
        return "DRBD 8 meta data (lab)"
    return MAGICS.get(head[MAGIC_OFFSET:MAGIC_OFFSET + 4], "")


def meta_slot(device: str, index: int) -> Fact[MetaSlot]:
    """The first 64 bytes of index ``index`` of the meta LV (dd seeks; od prints them)."""
    dev = quote(device)
    skip = index * INDEX_BYTES // BLOCK
    command = (f"if [ -e {dev} ]; then dd if={dev} bs={BLOCK} skip={skip} count=1 2>/dev/null "
               f"| od -An -tx1 -v -N 64; else exit {MISSING}; fi")

    def parse(result: CommandResult) -> MetaSlot:
        if result.exit_status == MISSING:
            return MetaSlot(False, "")
        return MetaSlot(True, meta_kind(parse_od_bytes(result.stdout)))

    return Fact(f"meta {device}[{index}]", command, parse, frozenset({0, MISSING}))


def cfg_text(domu: DomU) -> Fact[str | None]:
    """/etc/xen/NAME.cfg as text, or None when there is none."""
    return file_content(f"/etc/xen/{domu.name}.cfg")


def md_marker_path(resource: str) -> str:
    return f"{MARKER_DIR}/drbd-create-md-{resource}"


def sync_marker_path(resource: str) -> str:
    return f"{MARKER_DIR}/drbd-initial-sync-{resource}"


def boot_marker_path(domu: DomU) -> str:
    return f"{MARKER_DIR}/drbd-boot-{domu.name}"


def md_marker(resource: str) -> Fact[bool]:
    """This tool created the resource's meta data on this node (so it is not foreign)."""
    return exists(md_marker_path(resource))


def sync_marker(resource: str) -> Fact[str | None]:
    """When this node forced the resource's initial sync (the marker's text), or None."""
    return file_content(sync_marker_path(resource))


def boot_marker(domu: DomU) -> Fact[bool]:
    """The DomU passed its boot test on DRBD disks on this node."""
    return exists(boot_marker_path(domu))
