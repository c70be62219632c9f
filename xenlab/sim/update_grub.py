"""Simulated ``update-grub`` of Ubuntu 8.04 (grub 0.97) and the menu.lst logic of a lab node.

Pure functions (unit-tested on the host) plus :func:`main`, installed in the nodes as
/usr/sbin/update-grub. The node's init (node_init.py) uses :func:`parse_menu` and
:func:`choose_entry` to pick the kernel of each boot from /boot/grub/menu.lst, as grub would.

update-grub regenerates the part of menu.lst between ``### BEGIN AUTOMAGIC KERNELS LIST`` and
``### END DEBIAN AUTOMAGIC KERNELS LIST`` from the kernels in /boot, like hardy's: Xen entries
first (hypervisor ``/boot/xen-*.gz`` + a ``-xen`` kernel as module), then the other kernels,
newest first, each followed by its recovery-mode entry, then memtest86+. The "## ## Start Default
Options ##" block keeps the admin's ``# kopt=``, ``# xenhopt=``, ``# xenkopt=``, ... lines.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

BEGIN = "### BEGIN AUTOMAGIC KERNELS LIST"
END = "### END DEBIAN AUTOMAGIC KERNELS LIST"
START_OPTS = "## ## Start Default Options ##"
END_OPTS = "## ## End Default Options ##"
TOTAL_MB = 2047

HEAD = """\
# menu.lst - See: grub(8), info grub, update-grub(8)
#            grub-install(8), grub-floppy(8),
#            grub-md5-crypt, /usr/share/doc/grub
#            and /usr/share/doc/grub-doc/.

## default num
# Set the default entry to the entry number NUM. Numbering starts from 0, and
# the entry number 0 is the default if the command is not used.
#
# You can specify 'saved' instead of a number. In this case, the default entry
# is the entry saved with the command 'savedefault'.
# WARNING: If you are using dmraid do not use 'savedefault' or your
# array will desync and will not let you boot your system.
default\t\t0

## timeout sec
# Set a timeout, in SEC seconds, before automatically booting the default entry
# (normally the first entry defined).
timeout\t\t3

## hiddenmenu
# Hides the menu by default (press ESC to see the menu)
hiddenmenu

# Pretty colours
#color cyan/blue white/blue

## password ['--md5'] passwd
# If used in the first section of a menu file, disable all interactive editing
# control (menu entry editor and command-line)  and entries protected by the
# command 'lock'
# e.g. password topsecret
#      password --md5 $1$gLhU0/$aW78kHK1QfV3P2b2znUoe/
# password topsecret

#
# examples
#
# title\t\tWindows 95/98/NT/2000
# root\t\t(hd0,0)
# makeactive
# chainloader\t+1
#
# title\t\tLinux
# root\t\t(hd0,1)
# kernel\t/vmlinuz root=/dev/hda2 ro
#

#
# Put static boot stanzas before and/or after AUTOMAGIC KERNEL LIST

"""

DEFAULT_OPTIONS = """\
## lines between the AUTOMAGIC KERNELS LIST markers will be modified
## by the debian update-grub script except for the default options below

## DO NOT UNCOMMENT THEM, Just edit them to your needs

## ## Start Default Options ##
## default kernel options
## default kernel options for automagic boot options
## If you want special options for specific kernels use kopt_x_y_z
## where x.y.z is kernel version. Minor versions can be omitted.
## e.g. kopt=root=/dev/hda1 ro
##      kopt_2_6_8=root=/dev/hdc1 ro
##      kopt_2_6_8_2_686=root=/dev/hdc2 ro
# kopt=root=/dev/sda1 ro

## default grub root device
## e.g. groot=(hd0,0)
# groot=(hd0,0)

## should update-grub create alternative automagic boot options
## e.g. alternative=true
##      alternative=false
# alternative=true

## should update-grub lock alternative automagic boot options
## e.g. lockalternative=true
##      lockalternative=false
# lockalternative=false

## additional options to use with the default boot option, but not with the
## alternatives
## e.g. defoptions=vga=791 resume=/dev/hda5
# defoptions=quiet splash

## should update-grub lock old automagic boot options
## e.g. lockold=false
##      lockold=true
# lockold=false

## Xen hypervisor options to use with the default Xen boot option
# xenhopt=

## Xen Linux kernel options to use with the default Xen boot option
# xenkopt=console=tty0

## altoption boot targets option
## multiple altoptions lines are allowed
## e.g. altoptions=(extra menu suffix) extra boot options
##      altoptions=(recovery) single
# altoptions=(recovery mode) single

## controls how many kernels should be put into the menu.lst
## only counts the first occurence of a kernel, not the
## alternative kernel options
## e.g. howmany=all
##      howmany=7
# howmany=all

## should update-grub create memtest86 boot option
## e.g. memtest86=true
##      memtest86=false
# memtest86=true

## should update-grub adjust the value of the default booted system
## can be true or false
# updatedefaultentry=false

## should update-grub add savedefault to the default options
## can be true or false
# savedefault=false

## ## End Default Options ##
"""

DISTRIB = "Ubuntu 8.04.4 LTS"


@dataclass
class Entry:
    """One ``title`` stanza of menu.lst."""

    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (command, arguments)

    def commands(self, name: str) -> list[str]:
        return [args for cmd, args in self.lines if cmd == name]

    @property
    def kernel(self) -> str:
        found = self.commands("kernel")
        return found[0] if found else ""

    @property
    def is_xen(self) -> bool:
        image = self.kernel.split()[0] if self.kernel else ""
        return os.path.basename(image).startswith("xen")

    def boot_image(self) -> tuple[str, str]:
        """(path of the Linux kernel image, its command line)."""
        line = self.commands("module")[0] if self.is_xen and self.commands("module") \
            else self.kernel
        image, _, args = line.partition(" ")
        return image, args.strip()


@dataclass
class Menu:
    default: str = "0"
    fallback: str | None = None
    entries: list[Entry] = field(default_factory=list)


@dataclass
class BootChoice:
    """What the node boots: kernel release, hypervisor (or None), dom0 memory in MB."""

    release: str
    hypervisor: str | None
    dom0_mem: int
    title: str
    cmdline: str
    xen_cmdline: str = ""
    problem: str | None = None  # what grub complained about (the entry it fell back from)


def parse_menu(text: str) -> Menu:
    menu = Menu()
    current: Entry | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cmd, args = _split(line)
        if cmd == "title":
            current = Entry(args)
            menu.entries.append(current)
        elif current is None:
            if cmd == "default":
                menu.default = args.split()[0] if args else "0"
            elif cmd == "fallback":
                menu.fallback = args.split()[0] if args else None
        else:
            current.lines.append((cmd, args))
    return menu


def _split(line: str) -> tuple[str, str]:
    """``kernel  /boot/x ro`` -> (kernel, /boot/x ro); grub also accepts ``default=0``."""
    match = re.match(r"([^\s=]+)(?:\s*=\s*|\s+|$)(.*)", line)
    if match is None:
        return line, ""
    return match.group(1), match.group(2).strip()


def release_of(image: str) -> str:
    """``/boot/vmlinuz-2.6.24-19-xen`` -> ``2.6.24-19-xen``."""
    base = os.path.basename(image)
    return base.split("-", 1)[1] if "-" in base else base


def hypervisor_of(image: str) -> str:
    """``/boot/xen-3.2-1-amd64.gz`` -> ``3.2-1-amd64``."""
    base = os.path.basename(image)
    base = base[:-3] if base.endswith(".gz") else base
    return base.split("-", 1)[1] if "-" in base else base


def parse_mem_mb(value: str) -> int | None:
    """Xen's size syntax (dom0_mem=512M, 1G, 524288K, 524288 = KiB) in MB."""
    value = value.split(",")[0]
    match = re.fullmatch(r"(?:min:|max:)?(\d+)([kKmMgG]?)[bB]?", value)
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    return {"g": number * 1024, "m": number, "k": number // 1024, "": number // 1024}[unit]


def _files_exist(entry: Entry, root: str) -> str | None:
    """None if grub can load every file of the entry, else grub's complaint."""
    paths = [entry.kernel.split()[0]] if entry.kernel else []
    paths += [m.split()[0] for m in entry.commands("module") if m.split()]
    paths += [i.split()[0] for i in entry.commands("initrd") if i.split()]
    if not paths:
        return "Error 13: Invalid or unsupported executable format"
    for path in paths:
        if not os.path.exists(os.path.join(root, path.lstrip("/"))):
            return f"Error 15: File not found ({path})"
    return None


def choose_entry(menu: Menu, root: str = "/", total_mb: int = TOTAL_MB) -> BootChoice | None:
    """The entry grub boots: ``default``, else ``fallback``, else the first one that loads."""
    order: list[int] = []
    for spec in (menu.default, menu.fallback):
        if spec is not None and spec.isdigit():
            order.append(int(spec))
    order += range(len(menu.entries))
    problem = None
    for index in dict.fromkeys(order):
        if not 0 <= index < len(menu.entries):
            problem = problem or f"default entry {index} does not exist"
            continue
        entry = menu.entries[index]
        if "memtest" in entry.kernel:
            continue
        error = _files_exist(entry, root)
        if error:
            problem = problem or f"{entry.title}: {error}"
            continue
        image, cmdline = entry.boot_image()
        choice = BootChoice(release=release_of(image), hypervisor=None, dom0_mem=total_mb,
                            title=entry.title, cmdline=cmdline, problem=problem)
        if entry.is_xen:
            xen_image, _, xen_args = entry.kernel.partition(" ")
            choice.hypervisor = hypervisor_of(xen_image)
            choice.xen_cmdline = xen_args.strip()
            for word in xen_args.split():
                if word.startswith("dom0_mem="):
                    mem = parse_mem_mb(word[len("dom0_mem="):])
                    if mem:
                        choice.dom0_mem = min(mem, total_mb)
        return choice
    return None


# ----------------------------------------------------------------------------- update-grub


def default_options(text: str) -> dict[str, str]:
    """The ``# key=value`` lines of the Default Options block."""
    opts = {"kopt": "root=/dev/sda1 ro", "groot": "(hd0,0)", "alternative": "true",
            "defoptions": "quiet splash", "xenhopt": "", "xenkopt": "console=tty0",
            "altoptions": "(recovery mode) single", "howmany": "all", "memtest86": "true"}
    inside = False
    for line in text.splitlines():
        if line.startswith(START_OPTS):
            inside = True
        elif line.startswith(END_OPTS):
            break
        elif inside and line.startswith("# ") and "=" in line:
            key, _, value = line[2:].partition("=")
            if re.fullmatch(r"[a-z0-9_]+", key):
                opts[key] = value.strip()
    return opts


def _version_key(release: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", release)]


def find_kernels(boot: str) -> tuple[list[str], list[str]]:
    """(kernel releases newest first, Xen hypervisor versions) found in ``boot``."""
    try:
        names = os.listdir(boot)
    except FileNotFoundError:
        names = []
    kernels = sorted((n[len("vmlinuz-"):] for n in names if n.startswith("vmlinuz-")),
                     key=_version_key, reverse=True)
    xens = sorted((hypervisor_of(n) for n in names if re.fullmatch(r"xen-[\d.]+-.*\.gz", n)),
                  key=_version_key, reverse=True)
    return kernels, xens


def _stanza(title: str, root: str, lines: list[tuple[str, str]], quiet: bool) -> str:
    out = [f"title\t\t{title}", f"root\t\t{root}"]
    out += [f"{cmd}\t\t{args}" for cmd, args in lines]
    if quiet:
        out.append("quiet")
    return "\n".join(out) + "\n"


def automagic(opts: dict[str, str], kernels: list[str], xens: list[str], boot: str,
              distrib: str = DISTRIB) -> tuple[str, list[str]]:
    """The generated stanzas and update-grub's "Found ..." lines."""
    groot = opts.get("groot", "(hd0,0)")
    kopt = opts.get("kopt", "root=/dev/sda1 ro")
    alternative = opts.get("alternative", "true") == "true"
    alt_title, _, alt_args = opts.get("altoptions", "(recovery mode) single").partition(") ")
    alt_title = alt_title.lstrip("(")
    stanzas: list[str] = []
    found: list[str] = []

    def initrd(release: str) -> list[tuple[str, str]]:
        path = f"/boot/initrd.img-{release}"
        return [("initrd", path)] if os.path.exists(os.path.join(boot, path[6:])) else []

    for xen in xens:
        for release in (k for k in kernels if k.endswith("-xen")):
            found.append(f"Found Xen hypervisor {xen},  kernel: /boot/vmlinuz-{release}")
            xen_kernel = f"/boot/xen-{xen}.gz {opts.get('xenhopt', '')}".strip()
            modules = [("module", f"/boot/vmlinuz-{release} {kopt} "
                                  f"{opts.get('xenkopt', '')}".strip())]
            modules += [("module", p) for _, p in initrd(release)]
            stanzas.append(_stanza(f"Xen {xen} / {distrib}, kernel {release}", groot,
                                   [("kernel", xen_kernel), *modules], quiet=True))
            if alternative:
                alt_modules = [("module", f"/boot/vmlinuz-{release} {kopt} {alt_args}".strip())]
                alt_modules += [("module", p) for _, p in initrd(release)]
                stanzas.append(_stanza(f"Xen {xen} / {distrib}, kernel {release} ({alt_title})",
                                       groot, [("kernel", f"/boot/xen-{xen}.gz"), *alt_modules],
                                       quiet=False))
    for release in kernels:
        found.append(f"Found kernel: /boot/vmlinuz-{release}")
        line = f"/boot/vmlinuz-{release} {kopt} {opts.get('defoptions', '')}".strip()
        stanzas.append(_stanza(f"{distrib}, kernel {release}", groot,
                               [("kernel", line), *initrd(release)], quiet=True))
        if alternative:
            stanzas.append(_stanza(f"{distrib}, kernel {release} ({alt_title})", groot,
                                   [("kernel", f"/boot/vmlinuz-{release} {kopt} {alt_args}"
                                     .strip()), *initrd(release)], quiet=False))
    if opts.get("memtest86", "true") == "true" and os.path.exists(
            os.path.join(boot, "memtest86+.bin")):
        found.append("Found kernel: /boot/memtest86+.bin")
        stanzas.append(_stanza(f"{distrib}, memtest86+", groot,
                               [("kernel", "/boot/memtest86+.bin")], quiet=True))
    return "\n".join(stanzas), found


def render(text: str, boot: str, distrib: str = DISTRIB) -> tuple[str, list[str]]:
    """menu.lst ``text`` with its automagic section regenerated from the kernels in ``boot``."""
    opts = default_options(text)
    kernels, xens = find_kernels(boot)
    stanzas, found = automagic(opts, kernels, xens, boot, distrib)
    lines = text.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    end = next((i for i, line in enumerate(lines) if line.startswith(END)), None)
    if begin is None or end is None or end < begin:
        head, tail, opts_block = text, "", DEFAULT_OPTIONS
        if head and not head.endswith("\n"):
            head += "\n"
    else:
        head = "".join(lines[:begin])
        tail = "".join(lines[end + 1:])
        section = "".join(lines[begin + 1:end])
        stop = section.find(END_OPTS)
        opts_block = section[:stop + len(END_OPTS)] + "\n" if stop >= 0 else DEFAULT_OPTIONS
    body = f"{BEGIN}\n{opts_block}\n{stanzas}\n{END}\n"
    return head + body + tail, found


def fresh_menu(boot: str, distrib: str = DISTRIB) -> str:
    """menu.lst of a freshly installed node (what the installer's update-grub wrote)."""
    text, _ = render(HEAD + f"{BEGIN}\n{DEFAULT_OPTIONS}\n{END}\n", boot, distrib)
    return text


def main(argv: list[str] | None = None, root: str = "/") -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout
    boot = os.path.join(root, "boot")
    grub = os.path.join(boot, "grub")
    out.write("Searching for GRUB installation directory ... ")
    if not os.path.isdir(grub):
        out.write("\n")
        sys.stderr.write("Could not find /boot/grub, please run grub-install first.\n")
        return 1
    out.write("found: /boot/grub\n")
    out.write("Searching for default file ... found: /boot/grub/default\n")
    menu = os.path.join(grub, "menu.lst")
    out.write("Testing for an existing GRUB menu.lst file ... ")
    if os.path.exists(menu):
        out.write("found: /boot/grub/menu.lst\n")
        with open(menu, encoding="utf-8") as fh:
            text = fh.read()
    else:
        out.write("\n\nCould not find /boot/grub/menu.lst file. Generating /boot/grub/menu.lst\n")
        text = HEAD + f"{BEGIN}\n{DEFAULT_OPTIONS}\n{END}\n"
    out.write("Searching for splash image ... none found, skipping ...\n")
    distrib = DISTRIB
    try:
        with open(os.path.join(root, "etc/lsb-release"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("DISTRIB_DESCRIPTION="):
                    distrib = line.split("=", 1)[1].strip().strip('"') or distrib
    except OSError:
        pass
    new, found = render(text, boot, distrib)
    for line in found:
        out.write(line + "\n")
    out.write("Updating /boot/grub/menu.lst ... ")
    tmp = menu + ".new"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(new)
    os.replace(tmp, menu)
    out.write("done\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
