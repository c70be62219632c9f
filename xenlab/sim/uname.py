"""``uname`` of a lab node: coreutils 6.10 (Ubuntu 8.04) reporting the kernel the node booted.

The node's init binds the era's texts over /proc/version, /proc/sys/kernel/osrelease and
/proc/sys/kernel/version at every boot (node_init.py, from :func:`proc_texts`), so ``uname``,
``cat /proc/version`` and anything else reading procfs agree on the booted kernel
(2.6.24-19-server, or 2.6.24-19-xen once the node rebooted into Xen). Options, output order and
messages are coreutils 6.10's src/uname.c; ``-p``/``-i`` are "unknown" on Ubuntu, so ``-a``
leaves them out. The machine is x86_64 (the lab's nodes are amd64).
"""

from __future__ import annotations

import socket
import sys

# Build strings and buildd of Ubuntu's linux 2.6.24-19.41 amd64 images (hardy-updates, as
# reported by `uname -a` and /proc/version on such machines).
KERNEL_BUILDS = {
    "2.6.24-19-server": ("#1 SMP Wed Aug 20 18:43:06 UTC 2008", "crested"),
    "2.6.24-19-xen": ("#1 SMP Wed Aug 20 21:08:51 UTC 2008", "crested"),
}
DEFAULT_BUILD = ("#1 SMP Wed Aug 20 18:43:06 UTC 2008", "crested")
GCC = "gcc version 4.2.3 (Ubuntu 4.2.3-2ubuntu7)"
MACHINE = "x86_64"
PROC = "/proc/sys/kernel"
VERSION_TEXT = """\
uname (GNU coreutils) 6.10
Copyright (C) 2008 Free Software Foundation, Inc.
License GPLv3+: GNU GPL version 3 or later <http://gnu.org/licenses/gpl.html>
This is free software: you are free to change and redistribute it.
There is NO WARRANTY, to the extent permitted by law.

Written by David MacKenzie.
"""
HELP_TEXT = """\
Usage: uname [OPTION]...
Print certain system information.  With no OPTION, same as -s.

  -a, --all                print all information, in the following order,
                             except omit -p and -i if unknown:
  -s, --kernel-name        print the kernel name
  -n, --nodename           print the network node hostname
  -r, --kernel-release     print the kernel release
  -v, --kernel-version     print the kernel version
  -m, --machine            print the machine hardware name
  -p, --processor          print the processor type or "unknown"
  -i, --hardware-platform  print the hardware platform or "unknown"
  -o, --operating-system   print the operating system
      --help     display this help and exit
      --version  output version information and exit

Report bugs to <bug-coreutils@gnu.org>.
"""
FIELDS = "snrvmpio"  # output order of uname.c
LONG = {"--all": "a", "--kernel-name": "s", "--nodename": "n", "--kernel-release": "r",
        "--kernel-version": "v", "--machine": "m", "--processor": "p",
        "--hardware-platform": "i", "--operating-system": "o"}
TRY = "Try `uname --help' for more information.\n"


def proc_texts(release):
    """What the node's init binds over procfs for the kernel ``release``: path -> text."""
    build, buildd = KERNEL_BUILDS.get(release, DEFAULT_BUILD)
    return {
        "/proc/version": f"Linux version {release} (buildd@{buildd}) ({GCC}) {build}\n",
        f"{PROC}/osrelease": f"{release}\n",
        f"{PROC}/version": f"{build}\n",
    }


def read_proc(name):
    with open(f"{PROC}/{name}", encoding="utf-8") as fh:
        return fh.read().strip()


def system_values():
    return {"s": "Linux", "n": socket.gethostname(), "r": read_proc("osrelease"),
            "v": read_proc("version"), "m": MACHINE, "p": "unknown", "i": "unknown",
            "o": "GNU/Linux"}


def select(argv):
    """The fields asked for, or (status, stdout, stderr) for --help, --version and errors."""
    chosen = set()
    for index, arg in enumerate(argv):
        if arg == "--":
            rest = argv[index + 1:]
            if rest:
                return 1, "", f"uname: extra operand `{rest[0]}'\n{TRY}"
            break
        if arg == "--help":
            return 0, HELP_TEXT, ""
        if arg == "--version":
            return 0, VERSION_TEXT, ""
        if arg.startswith("--"):
            matches = [name for name in (*LONG, "--help", "--version")
                       if name.startswith(arg.split("=")[0])]
            if len(matches) != 1:
                word = "ambiguous" if matches else "unrecognized"
                return 1, "", f"uname: {word} option `{arg}'\n{TRY}"
            return select([matches[0], *argv[index + 1:]]) if matches[0] in (
                "--help", "--version") else _add(chosen, LONG[matches[0]], argv, index)
        if arg.startswith("-") and arg != "-":
            for letter in arg[1:]:
                if letter not in "a" + FIELDS:
                    return 1, "", f"uname: invalid option -- {letter}\n{TRY}"
                chosen.add(letter)
            continue
        return 1, "", f"uname: extra operand `{arg}'\n{TRY}"
    return chosen


def _add(chosen, letter, argv, index):
    chosen.add(letter)
    rest = select(argv[index + 1:])
    return rest if isinstance(rest, tuple) else chosen | rest


def run(argv, values):
    chosen = select(argv)
    if isinstance(chosen, tuple):
        return chosen
    if not chosen:
        chosen = {"s"}
    fields = []
    for letter in FIELDS:
        if "a" in chosen and letter in "pi" and values[letter] == "unknown":
            continue
        if "a" in chosen or letter in chosen:
            fields.append(values[letter])
    return 0, " ".join(fields) + "\n", ""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    status, out, err = run(argv, system_values())
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main())
