"""``blkid`` of a lab node as Ubuntu 8.04 has it: e2fsprogs 1.40.8's misc/blkid.c.

The command line, the output formats and the exit statuses are 1.40.8's: options ``-c -g -h -l
-o -s -t -v -w`` only (glibc getopt, so ``-p``, ``-L``, ``-U`` or ``--anything`` is a usage error,
exit 4), output formats ``full`` (``/dev/sda1: UUID="..." SEC_TYPE="ext2" TYPE="ext3" `` with the
trailing blank), ``value`` and ``device`` (``-o export`` is "Invalid output format", exit 1),
exit 2 when no device matched, and ``-v`` prints libblkid's own version and exits 4 (``err`` is
still 4 when the version branch jumps to the exit).

Probing reads the real bytes of the node's device files with the control machine's blkid
(util-linux, ``-c /dev/null -o export``) and keeps what libblkid 1.40.8 reports: LABEL, UUID,
EXT_JOURNAL, SEC_TYPE and TYPE in the order probe.c sets them, with the 1.40.8 type names
(``lvm2pv`` for an LVM2 PV). The node's /dev/sda* and /dev/mapper/* are symlinks to sparse files
in the node state folder (storage_state.py); without device arguments blkid walks the node's
devices (sda1..3, then the active LVs as /dev/mapper/VG-LV), never the control machine's disks.
Differs on purpose: no /etc/blkid.tab is read or written (``-c``/``-w`` are accepted, every
device is probed afresh, which is what 1.40.8 does with ``-c /dev/null``).
"""

from __future__ import annotations

import re
import subprocess
import sys

import storage_state as ss

REAL = f"{ss.HOST_USR}/sbin/blkid"
ROOT = ss.NODE_ROOT
PROG = "blkid"
OPTSTRING = "c:f:ghlo:s:t:w:v"
VERSION = "blkid 1.0.0 (12-Feb-2003)\n"  # BLKID_VERSION, BLKID_DATE of lib/blkid/blkid.h
USAGE = (
    "usage:\tblkid [-c <file>] [-ghl] [-o format] [-s <tag>] [-t <token>]\n"
    "    [-v] [-w <file>] [dev ...]\n"
    "\t-c\tcache file (default: /etc/blkid.tab, /dev/null = none)\n"
    "\t-h\tprint this usage message and exit\n"
    "\t-g\tgarbage collect the blkid cache\n"
    "\t-s\tshow specified tag(s) (default show all tags)\n"
    "\t-t\tfind device with a specific token (NAME=value pair)\n"
    "\t-l\tlookup the the first device with arguments specified by -t\n"
    "\t-v\tprint version and exit\n"
    "\t-w\twrite cache to different file (/dev/null = no write)\n"
    "\tdev\tspecify device(s) to probe (default: all devices)\n"
)
TAG_ORDER = ("LABEL", "UUID", "EXT_JOURNAL", "SEC_TYPE", "TYPE")  # probe.c's blkid_set_tag order
TYPE_NAMES = {"LVM2_member": "lvm2pv", "swsuspend": "swsuspend"}
EXIT_USAGE = 4
EXIT_NOTFOUND = 2


class Exit(Exception):
    """Leave main with ``code`` after writing ``out``/``err`` (usage() and exit() of blkid.c)."""

    def __init__(self, code, out="", err=""):
        super().__init__(code)
        self.code, self.out, self.err = code, out, err


def usage(error):
    text = VERSION + USAGE
    return Exit(error, err=text) if error else Exit(0, out=text)


def getopt(argv, optstring=OPTSTRING):
    """glibc getopt(3) with argument permutation: ``[(letter, arg)]`` and the operands, or the
    glibc 2.7 diagnostic (``blkid: invalid option -- p``) as an :class:`Exit` of usage(4)."""
    takes = {c: optstring[i + 1:i + 2] == ":" for i, c in enumerate(optstring) if c != ":"}
    options, operands = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            operands += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            continue
        j = 1
        while j < len(arg):
            c = arg[j]
            j += 1
            if c not in takes:
                exc = usage(EXIT_USAGE)
                exc.err = f"{PROG}: invalid option -- {c}\n" + exc.err
                return options, operands, exc
            if not takes[c]:
                options.append((c, None))
                continue
            if j < len(arg):
                options.append((c, arg[j:]))
            elif i < len(argv):
                options.append((c, argv[i]))
                i += 1
            else:
                exc = usage(EXIT_USAGE)
                exc.err = f"{PROG}: option requires an argument -- {c}\n" + exc.err
                return options, operands, exc
            break
    return options, operands, None


def parse_tag(token):
    """blkid_parse_tag_string: NAME=value, the value optionally quoted; None when malformed."""
    name, eq, value = token.partition("=")
    if not eq:
        return None
    if value[:1] in ("'", '"'):
        quote, value = value[0], value[1:]
        end = value.rfind(quote)
        if end < 0:
            return None
        value = value[:end]
    return name, value


def node_devices(state):
    devices = [p["device"] for p in state["partitions"]]
    for vg_name, vg in sorted(state["vgs"].items()):
        for lv_name, lv in sorted(vg["lvs"].items()):
            if lv.get("active", True):
                devices.append(f"/dev/mapper/{ss.dm_name(vg_name, lv_name)}")
    return devices


def unescape(value):
    return re.sub(r"\\(.)", r"\1", value)


def era_tags(export):
    """util-linux ``-o export`` lines -> the tags libblkid 1.40.8 sets, in its order."""
    found = {}
    for line in export.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            found[key] = unescape(value)
    if "TYPE" not in found:
        return None
    found["TYPE"] = TYPE_NAMES.get(found["TYPE"], found["TYPE"])
    return [(key, found[key]) for key in TAG_ORDER if found.get(key)]


def probe(path):
    """The tags of the device file ``path`` (None: no file or no known signature)."""
    result = subprocess.run([REAL, "-c", "/dev/null", "-o", "export", path],
                            capture_output=True, text=True, check=False)
    return era_tags(result.stdout) if result.returncode == 0 else None


def safe(value):
    """safe_print(): non-printable bytes as ^X and M- notation."""
    out = []
    for ch in value.encode("utf-8", "surrogateescape"):
        text = ""
        if ch > 128:
            text, ch = "M-", ch - 128
        if ch < 32 or ch == 0x7F:
            text, ch = text + "^", ch ^ 0x40
        out.append(text + chr(ch))
    return "".join(out)


def render(name, tags, show, fmt):
    """print_tags(): one device in the chosen output format."""
    if fmt == "device":
        return f"{name}\n"
    chosen = [(k, v) for k, v in tags if not show or k in show]
    if fmt == "value":
        return "".join(f"{v}\n" for _, v in chosen)
    if not chosen:
        return ""
    return f"{name}: " + "".join(f'{k}="{safe(v)}" ' for k, v in chosen) + "\n"


class Config:
    def __init__(self):
        self.fmt = "full"
        self.show = []
        self.search = None
        self.lookup = False
        self.gc = False
        self.version = False


def configure(options):
    """The option loop of main(), in command-line order (the first bad option decides)."""
    cfg = Config()
    for letter, value in options:
        if letter == "o":
            if value not in ("value", "device", "full"):
                raise Exit(1, err=f"Invalid output format {value}.  Chose from value, device, "
                           "or full\n")
            cfg.fmt = value
        elif letter == "s":
            cfg.show.append(value)
        elif letter == "t":
            if cfg.search is not None:
                exc = usage(EXIT_USAGE)
                exc.err = "Can only search for one NAME=value pair\n" + exc.err
                raise exc
            cfg.search = parse_tag(value)
            if cfg.search is None:
                exc = usage(EXIT_USAGE)
                exc.err = "-t needs NAME=value pair\n" + exc.err
                raise exc
        elif letter == "l":
            cfg.lookup = True
        elif letter == "g":
            cfg.gc = True
        elif letter == "v":
            cfg.version = True
        elif letter == "h":
            raise usage(0)
        elif letter == "f":  # in the optstring, not in the switch: default -> usage(err)
            raise usage(EXIT_USAGE)
    return cfg


def run(argv, probe_device):
    """blkid's main(): (exit status, stdout, stderr). ``probe_device(name)`` -> tags or None."""
    options, devices, error = getopt(argv)
    try:
        if error is not None:
            # getopt reports the bad option when it reaches it: earlier options still count
            configure(options)
            raise error
        cfg = configure(options)
    except Exit as exc:
        return exc.code, exc.out, exc.err
    if cfg.version:
        return EXIT_USAGE, VERSION, ""
    if cfg.gc:
        return EXIT_NOTFOUND, "", ""
    if cfg.lookup and cfg.search is None:
        return 1, "", "The lookup option requires a search type specified using -t\n"
    out = []
    names = devices or probe_device(None)
    if cfg.lookup:  # blkid_find_dev_with_tag looks through every device it knows
        names = [*devices, *(n for n in probe_device(None) if n not in devices)]
    for name in names:
        tags = probe_device(name)
        if tags is None or (cfg.search is not None and cfg.search not in tags):
            continue
        out.append(render(name, tags, cfg.show, cfg.fmt))
        if cfg.lookup:
            break
    return (0 if out else EXIT_NOTFOUND), "".join(out), ""


def node_prober():
    """probe_device for the node: None -> the node's device list; a name -> its tags."""
    loaded = []

    def node_state():
        if not loaded:
            with ss.locked(ROOT):
                loaded.append(ss.load(ROOT) or ss.create_layout(ROOT))
        return loaded[0]

    def probe_device(name):
        state = node_state()
        if name is None:
            return node_devices(state)
        found = ss.resolve_device(state, name, ROOT)
        return probe(found[1] if found else name)

    return probe_device


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    code, out, err = run(argv, node_prober())
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main())
