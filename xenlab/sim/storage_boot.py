"""Boot hook of a lab node's storage (run by node_init at every boot, before the services).

What the kernel, udev and lvm2's init script do at a real boot:
- the disk: on the very first boot the node's disk is laid out as the guide's installation left
  it (storage_state.default_layout: sda1 ext3 root, sda2 swap, sda3 free, 40 GiB);
- /dev: /dev/sda, /dev/sda1..3 and, when lvm2 is installed, /dev/mapper/VG-LV and /dev/VG/LV for
  every LV (activated in order, device-mapper minors 254:0, 254:1, ...). Only when /dev is the
  node's own tmpfs (storage_state.own_dev); otherwise /dev is left alone.
- no domain runs and no DRBD device is attached after a boot: every LV loses its holders.
- the base system's blkid and fdisk become the lab's (blkid.py / fdisk.py) in the node's /usr.
"""

from __future__ import annotations

import os
import sys

import storage_state as ss

SIM = "/usr/lib/runbook-lab/sim"
BASE_TOOLS = {"/usr/sbin/blkid": "blkid.py", "/usr/sbin/fdisk": "fdisk.py"}
LVM2_INSTALLED = "/usr/sbin/vgchange"


def install_base_tools() -> None:
    for path, script in BASE_TOOLS.items():
        text = f'#!/bin/sh\nexec /usr/bin/python3 {SIM}/{script} "$@"\n'
        try:
            with open(path, encoding="utf-8") as fh:
                if fh.read() == text:
                    continue
        except (OSError, UnicodeDecodeError):
            pass
        if os.path.lexists(path):
            os.unlink(path)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(path, 0o755)


def activate(state: dict) -> list[str]:
    messages = []
    lvm2 = os.path.exists(LVM2_INSTALLED)
    minor = 0
    if lvm2 and state["vgs"]:
        messages.append("  Reading all physical volumes.  This may take a while...")
    for vg_name, vg in sorted(state["vgs"].items()):
        if lvm2:
            messages.append(f'  Found volume group "{vg_name}" using metadata type lvm2')
        for lv in vg["lvs"].values():
            lv["holders"] = []  # after a boot no domain or DRBD device holds an LV
            lv["active"] = lvm2
            if lvm2:
                lv["minor"] = minor
                minor += 1
        if lvm2:
            messages.append(f'  {len(vg["lvs"])} logical volume(s) in volume group '
                            f'"{vg_name}" now active')
    return messages


def main() -> int:
    root = ss.NODE_ROOT
    with ss.locked(root):
        state = ss.load(root)
        if state is None:
            state = ss.create_layout(root)
            print("storage: laid out /dev/sda (sda1 ext3 /, sda2 swap, sda3 "
                  f"{state['partitions'][2]['sectors'] * ss.SECTOR // ss.GIB} GiB free)")
        messages = activate(state)
        ss.save(state, root)
        if not ss.sync_dev(state, root):
            print("storage: /dev is not this node's own tmpfs: device files not created")
    if messages:
        print(" * Setting up LVM Volume Groups...")
        for line in messages:
            print(line)
    try:
        install_base_tools()
    except OSError as exc:
        print(f"storage: could not install blkid/fdisk: {exc}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
