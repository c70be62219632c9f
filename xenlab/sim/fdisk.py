"""``fdisk -l`` / ``fdisk -s`` of a lab node, as util-linux 2.13 (Ubuntu 8.04) printed them.

It reads the REAL bytes: the DOS partition table in the MBR of the node's /dev/sda (a sparse
file written when the node's disk was laid out) and the device sizes from the files. Geometry is
the installer's 255 heads / 63 sectors per track. Interactive fdisk is not simulated.
"""

from __future__ import annotations

import os
import sys

import storage_state as ss

ROOT = ss.NODE_ROOT


def listing(device: str, path: str, heads: int = ss.HEADS, spt: int = ss.SPT) -> str:
    size = os.path.getsize(path)
    sectors = size // ss.SECTOR
    cyl = heads * spt
    megabytes = size // 1000000
    lines = [""]
    if megabytes < 10000:
        lines.append(f"Disk {device}: {megabytes} MB, {size} bytes")
    else:  # list_disk_geometry truncates: megabytes/1000, (megabytes/100)%10
        lines.append(f"Disk {device}: {megabytes // 1000}.{(megabytes // 100) % 10} GB, "
                     f"{size} bytes")
    lines.append(f"{heads} heads, {spt} sectors/track, {sectors // cyl} cylinders")
    lines.append(f"Units = cylinders of {cyl} * {ss.SECTOR} = {cyl * ss.SECTOR} bytes")
    lines.append(f"Disk identifier: 0x{ss.disk_identifier(path):08x}")
    lines.append("")
    parts = ss.read_mbr(path)
    if parts is None:
        lines.append(f"Disk {device} doesn't contain a valid partition table")
        return "\n".join(lines) + "\n"
    w = len(device)
    lines.append(f"{'Device':>{w + 1}} Boot      Start         End      Blocks   Id  System")
    for p in parts:
        start = p["start"] // cyl + 1
        end = (p["start"] + p["sectors"] - 1) // cyl + 1
        blocks, odd = divmod(p["sectors"], 2)
        name = f"{device}{p['number']}".ljust(w + 2)
        system = ss.PART_TYPES.get(p["id"], "Unknown")
        lines.append(f"{name}  {'*' if p['boot'] else ' '} {start:11d} {end:11d} "
                     f"{blocks:11d}{'+' if odd else ' '} {p['id']:3x}  {system}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with ss.locked(ROOT):
        state = ss.load(ROOT) or ss.create_layout(ROOT)
    flags = [a for a in argv if a.startswith("-")]
    devices = [a for a in argv if not a.startswith("-")]
    if "-v" in flags or "-V" in flags:
        print("fdisk (util-linux-ng 2.13.1)")
        return 0
    if "-s" in flags:
        rc = 0
        for dev in devices:
            found = ss.resolve_device(state, dev, ROOT)
            if found is None:
                sys.stderr.write(f"cannot open {dev}\n")
                rc = 1
                continue
            blocks = os.path.getsize(found[1]) // 1024
            print(blocks if len(devices) == 1 else f"{dev}: {blocks}")
        return rc
    if "-l" in flags:
        disk = state["disk"]
        out = []
        for dev in devices or [disk["device"]]:
            found = ss.resolve_device(state, dev, ROOT)
            if found is None:
                sys.stderr.write(f"Cannot open {dev}\n")
                continue
            out.append(listing(dev, found[1], disk["heads"], disk["sectors_per_track"]))
        sys.stdout.write("".join(out))
        return 0
    sys.stderr.write("fdisk: the lab simulates only `fdisk -l [DEVICE...]` and `fdisk -s "
                     "DEVICE`; interactive partitioning is not available\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
