"""What DRBD 8.3.7 prints about its devices: /proc/drbd and the init script's status table.

Pure functions over plain dicts (one per minor, as the lab's DRBD module keeps them), shared by
the module (which rewrites /proc/drbd) and by ``/etc/init.d/drbd status``. Shapes follow
drbd/drbd_proc.c (drbd_seq_show, drbd_syncer_progress) and scripts/drbd of 8.3.7.
"""

from __future__ import annotations

VERSION = "8.3.7"
API = "api:88/proto:86-91"
GIT_HASH = "ea9e28dbff98e331a62bcbcc63a6135808fe2917"
BUILD = "build by root@ha1, 2010-01-13 16:24:00"
BM_BLOCK = 4096  # one bitmap bit covers 4 KiB
SYNCING = ("SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT")


def header() -> str:
    return f"version: {VERSION} ({API})\nGIT-hash: {GIT_HASH} {BUILD}\n"


def thousands(value: int) -> str:
    """seq_printf_with_thousands_grouping: 92160 -> 92,160."""
    return f"{value:,}"


def bit2kb(bits: int) -> int:
    return bits * (BM_BLOCK // 1024)


def progress_permille(rs_left: int, rs_total: int) -> int:
    """drbd_get_syncer_progress: permille done, from the bits still to sync (large devices
    in units of 1024 bits, as the kernel avoids overflowing its arithmetic)."""
    if rs_total > 0x100000:
        return 1000 - (rs_left >> 10) * 1000 // ((rs_total >> 10) + 1)
    return 1000 - rs_left * 1000 // (rs_total + 1)


def sync_lines(dev: dict, now: float) -> str:
    """The bar, sync'ed, finish and speed lines of a syncing device.

    ``dev`` carries rs_total/rs_left (bits), rs_start (time) and rs_mark ((time, left) of the
    mark a few seconds back, for the current speed as the kernel's sync marks give it).
    """
    total, left = int(dev["rs_total"]), int(dev["rs_left"])
    res = progress_permille(left, total)
    x = res // 50
    bar = "=" * max(x - 1, 0) + ">" + "." * (20 - x)
    if total > (4 << 18):
        amounts = f"({bit2kb(left >> 10)}/{bit2kb(total >> 10)})M"
    else:
        amounts = f"({bit2kb(left)}/{bit2kb(total)})K"
    mark_time, mark_left = dev.get("rs_mark") or (dev["rs_start"], total)
    dt = max(int(now - float(mark_time)), 1)
    db = max(int(mark_left) - left, 0)
    rt = (dt * (left // (db // 100 + 1))) // 100
    speed = bit2kb(db // dt)
    dt_all = max(int(now - float(dev["rs_start"])), 1)
    average = bit2kb(max(total - left, 0) // dt_all)
    return (f"\t[{bar}] sync'ed:{res // 10:3d}.{res % 10}% {amounts}\n"
            f"\tfinish: {rt // 3600}:{rt % 3600 // 60:02d}:{rt % 60:02d} speed: "
            f"{thousands(speed)} ({thousands(average)}) K/sec\n")


def minor_lines(dev: dict, now: float) -> str:
    """The lines of one minor in /proc/drbd (8.3.7 shape)."""
    cs = dev["cstate"]
    minor = int(dev["minor"])
    if cs == "Unconfigured":
        return f"{minor:2d}: cs:Unconfigured\n"
    proto = " " if cs == "StandAlone" else f" {dev['protocol']} "
    flags = "r" + ("s" if dev.get("susp") else "-") + "---"
    counters = dev.get("counters", {})
    oos = bit2kb(int(dev.get("oos", 0)))
    text = (f"{minor:2d}: cs:{cs} ro:{dev['role']}/{dev['peer_role']} "
            f"ds:{dev['disk']}/{dev['peer_disk']}{proto}{flags}\n"
            f"    ns:{counters.get('ns', 0)} nr:{counters.get('nr', 0)} "
            f"dw:{counters.get('dw', 0)} dr:{counters.get('dr', 0)} al:0 bm:0 lo:0 pe:0 ua:0 "
            f"ap:0 ep:1 wo:b oos:{oos}\n")
    if cs in SYNCING and int(dev.get("rs_total", 0)) > 0:
        text += sync_lines(dev, now)
    return text


def render(devices: list[dict], now: float) -> str:
    """The whole /proc/drbd: version, GIT-hash, every configured minor in minor order."""
    return header() + "".join(minor_lines(d, now)
                              for d in sorted(devices, key=lambda d: int(d["minor"])))


def status_table(devices: list[dict], mounted: dict[int, tuple[str, str]] | None = None) -> str:
    """``/etc/init.d/drbd status`` after its header: the m:res table of drbd-overview.

    Columns are padded to their widest cell, as the 8.3 script's column formatting does.
    """
    mounted = mounted or {}
    rows = [["m:res", "cs", "ro", "ds", "p", "mounted", "fstype"]]
    for dev in sorted(devices, key=lambda d: int(d["minor"])):
        minor = int(dev["minor"])
        if dev["cstate"] == "Unconfigured":
            rows.append([f"{minor}:{dev.get('name') or '??'}", "Unconfigured", "", "", "", "",
                         ""])
            continue
        mount, fstype = mounted.get(minor, ("", ""))
        proto = "" if dev["cstate"] == "StandAlone" else dev["protocol"]
        rows.append([f"{minor}:{dev.get('name') or '??'}", dev["cstate"],
                     f"{dev['role']}/{dev['peer_role']}", f"{dev['disk']}/{dev['peer_disk']}",
                     proto, mount, fstype])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def status(devices: list[dict]) -> str:
    return ("drbd driver loaded OK; device status:\n" + header()
            + status_table(devices))
