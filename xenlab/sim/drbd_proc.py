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
    """8.3.7's speed format: one comma only above 1000 (92160 -> 92,160; 1000 -> 1000)."""
    return f"{value // 1000},{value % 1000:03d}" if value > 1000 else str(value)


def bit2kb(bits: int) -> int:
    return bits * (BM_BLOCK // 1024)


def progress_permille(rs_left: int, rs_total: int) -> int:
    """drbd_get_syncer_progress: permille done, from the bits still to sync (large devices
    in units of 1024 bits, as the kernel avoids overflowing its arithmetic)."""
    if rs_total > 0x100000:
        return 1000 - (rs_left >> 10) * 1000 // ((rs_total >> 10) + 1)
    return 1000 - rs_left * 1000 // (rs_total + 1)


def sync_lines(dev: dict, now: float) -> str:
    """drbd_syncer_progress of 8.3.7: the bar and sync'ed line, then finish and speed.

    ``dev`` carries rs_total/rs_left (bits), rs_start (time) and rs_mark ((time, bits left)
    of the sync mark the resync updates every few seconds): the current speed is measured
    from that mark; more than 20 s without a new mark shows ``stalled``.
    """
    total, left = int(dev["rs_total"]), int(dev["rs_left"])
    res = progress_permille(left, total)
    x = res // 50
    bar = "=" * max(x - 1, 0) + ">" + "." * (20 - x)
    if total > 0x100000:
        amounts = f"({bit2kb(left >> 10)}/{bit2kb(total >> 10)})M"
    else:
        amounts = f"({bit2kb(left)}/{bit2kb(total)})K"
    text = f"\t[{bar}] sync'ed:{res // 10:3d}.{res % 10}% {amounts}\n\t"
    mark_time, mark_left = dev.get("rs_mark") or (dev["rs_start"], total)
    dt = int(now - float(mark_time))
    if dt > 20:
        return text + "stalled\n"
    dt = max(dt, 1)
    db = max(int(mark_left) - left, 0)
    rt = (dt * (left // (db // 100 + 1))) // 100
    speed = bit2kb(db // dt)
    dt_all = max(int(now - float(dev["rs_start"])), 1)
    average = bit2kb(max(total - left, 0) // dt_all)
    return (text + f"finish: {rt // 3600}:{rt % 3600 // 60:02d}:{rt % 60:02d} speed: "
            f"{thousands(speed)} ({thousands(average)}) K/sec\n")


def unconfigured(dev: dict) -> bool:
    return dev["cstate"] in ("Unconfigured", "StandAlone") and \
        dev.get("disk", "Diskless") == "Diskless" and dev.get("role", "Secondary") == "Secondary"


def minor_lines(dev: dict, now: float) -> str:
    """The lines of one minor in /proc/drbd (drbd_seq_show of 8.3.7)."""
    cs = dev["cstate"]
    minor = int(dev["minor"])
    if unconfigured(dev):
        return f"{minor:2d}: cs:Unconfigured\n"
    proto = dev["protocol"] if dev.get("net", cs != "StandAlone") else " "
    flags = ("s" if dev.get("susp") else "r") + "----"
    counters = dev.get("counters", {})
    oos = bit2kb(int(dev.get("oos", 0)))
    text = (f"{minor:2d}: cs:{cs} ro:{dev['role']}/{dev['peer_role']} "
            f"ds:{dev['disk']}/{dev['peer_disk']} {proto} {flags}\n"
            f"    ns:{counters.get('ns', 0)} nr:{counters.get('nr', 0)} "
            f"dw:{counters.get('dw', 0)} dr:{counters.get('dr', 0)} al:0 bm:0 lo:0 pe:0 ua:0 "
            f"ap:0 ep:1 wo:b oos:{oos}\n")
    if cs in ("SyncSource", "SyncTarget") and int(dev.get("rs_total", 0)) > 0:
        text += sync_lines(dev, now)
    return text


def render(devices: list[dict], now: float) -> str:
    """The whole /proc/drbd: version, GIT-hash, the minors in order; a gap in the minor
    numbers (minor 0 unused when the config starts at drbd1) prints an empty line."""
    text = header()
    expected = 0
    for dev in sorted(devices, key=lambda d: int(d["minor"])):
        if int(dev["minor"]) != expected:
            text += "\n"
        text += minor_lines(dev, now)
        expected = int(dev["minor"]) + 1
    return text


def status_table(devices: list[dict], mounted: dict[int, tuple[str, str]] | None = None,
                 now: float = 0.0) -> str:
    """``/etc/init.d/drbd status`` after its header: drbd_pretty_status of scripts/drbd 8.3.7.

    Its sed/join/cut/``column -t`` pipeline over /proc/drbd gives: unconfigured minors left
    out; a StandAlone device (no protocol letter) shows its flags in the p column; each sync
    progress line becomes a ``... sync'ed: N% (a/b)K`` row sorted before the devices.
    """
    mounted = mounted or {}
    rows = [["m:res", "cs", "ro", "ds", "p", "mounted", "fstype"]]
    syncing: list[list[str]] = []
    table: list[list[str]] = []
    for dev in sorted(devices, key=lambda d: int(d["minor"])):
        if unconfigured(dev):
            continue
        minor = int(dev["minor"])
        mount, fstype = mounted.get(minor, ("", ""))
        net = dev.get("net", dev["cstate"] != "StandAlone")
        proto = dev["protocol"] if net else ("s" if dev.get("susp") else "r") + "----"
        table.append([f"{minor}:{dev.get('name') or '??'}", dev["cstate"],
                      f"{dev['role']}/{dev['peer_role']}", f"{dev['disk']}/{dev['peer_disk']}",
                      proto, mount, fstype])
        if dev["cstate"] in ("SyncSource", "SyncTarget") and int(dev.get("rs_total", 0)):
            words = sync_lines(dev, now).split("\n", 1)[0].split()
            syncing.append(["...", *words[-3:]])  # sync'ed:, N%, (a/b)K
    rows += sorted(syncing, key=" ".join) + table
    width = max(len(r) for r in rows)
    widths = [max(len(r[i]) for r in rows if len(r) > i) for i in range(width)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def status(devices: list[dict], now: float = 0.0) -> str:
    return ("drbd driver loaded OK; device status:\n" + header()
            + status_table(devices, now=now))
