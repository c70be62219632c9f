"""``blkid`` of a lab node: the REAL blkid (util-linux of the control machine) reading the real
bytes of the node's device files, answering under the node's device names.

The node's /dev/sda* and /dev/mapper/* are symlinks to sparse files in the node state folder
(storage_state.py). This wrapper maps each device name to its file, runs the host's blkid on the
files with an empty cache (``-c /dev/null``) and writes the node's names back into the output.
Without device arguments it probes the node's devices (sda1..3, then the active LVs as
/dev/mapper/VG-LV), never the control machine's disks. ``-L``/``-U`` search the same devices.
The one change to the real output: the BLOCK_SIZE tag (util-linux >= 2.35) is dropped, since the
2008 blkid never printed it. Exit statuses are blkid's own (2: nothing found).
"""

from __future__ import annotations

import re
import subprocess
import sys

import storage_state as ss

REAL = f"{ss.HOST_USR}/sbin/blkid"
WITH_VALUE = {"-c", "-o", "-s", "-t", "-w", "-L", "-U", "-n", "-u", "-O", "-S", "-H",
              "--cache-file", "--output", "--match-tag", "--match-token", "--label", "--uuid",
              "--match-types", "--usages", "--offset", "--size", "--hint"}
ROOT = ss.NODE_ROOT


def node_devices(state: dict) -> list[str]:
    devices = [p["device"] for p in state["partitions"]]
    for vg_name, vg in sorted(state["vgs"].items()):
        for lv_name, lv in sorted(vg["lvs"].items()):
            if lv.get("active", True):
                devices.append(f"/dev/mapper/{ss.dm_name(vg_name, lv_name)}")
    return devices


def split(argv: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    options, devices, values = [], [], {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.partition("=")
            if name in WITH_VALUE and not eq:
                if len(name) == 2 or name.startswith("--"):
                    value = argv[i] if i < len(argv) else ""
                    i += 1
                options += [name, value]
                values[name] = value
            elif len(name) > 2 and not name.startswith("--") and name[:2] in WITH_VALUE:
                options.append(arg)
                values[name[:2]] = arg[2:]
            else:
                options.append(arg)
                if eq:
                    values[name] = value
        else:
            devices.append(arg)
    return options, devices, values


def clean(text: str) -> str:
    text = re.sub(r' BLOCK_SIZE="[^"]*"', "", text)
    return re.sub(r"(?m)^BLOCK_SIZE=.*\n", "", text)


def run_real(options: list[str], files: list[str]) -> tuple[int, str, str]:
    result = subprocess.run([REAL, *options, *files], capture_output=True, text=True,
                            check=False)
    return result.returncode, result.stdout, result.stderr


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, devices, values = split(argv)
    if any(o in options for o in ("-V", "--version", "-h", "--help")):
        rc, out, err = run_real(options, [])
        sys.stdout.write(out)
        sys.stderr.write(err)
        return rc
    with ss.locked(ROOT):
        state = ss.load(ROOT) or ss.create_layout(ROOT)
    lookup = values.get("-L") or values.get("--label") or values.get("-U") or values.get("--uuid")
    if lookup is not None:
        key = "LABEL" if ("-L" in values or "--label" in values) else "UUID"
        for dev in node_devices(state):
            found = ss.resolve_device(state, dev, ROOT)
            if found is None:
                continue
            rc, out, _ = run_real(["-c", "/dev/null", "-o", "export"], [found[1]])
            if f"\n{key}={lookup}\n" in f"\n{out}":
                print(dev)
                return 0
        return 2
    if not any(o in options for o in ("-c", "--cache-file")):
        options = ["-c", "/dev/null", *options]
    names = devices or node_devices(state)
    files, mapping = [], {}
    for name in names:
        found = ss.resolve_device(state, name, ROOT)
        path = found[1] if found else name
        files.append(path)
        mapping[path] = name
    rc, out, err = run_real(options, files)
    for path, name in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        if path != name:
            out = out.replace(f"{path}:", f"{name}:").replace(f"DEVNAME={path}\n",
                                                             f"DEVNAME={name}\n")
            out = re.sub(rf"(?m)^{re.escape(path)}$", name, out)
            err = err.replace(path, name)
    sys.stdout.write(clean(out))
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
