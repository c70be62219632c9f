"""Xen: `xm list`, `xm info`, domain cfg files, GRUB's menu.lst, key = value configs."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Domain:
    name: str
    id: int | None
    memory_mb: int
    vcpus: int
    state: str
    cpu_time: float


def parse_xm_list(text: str) -> list[Domain]:
    """`xm list` / `xl list`: one Domain per row, parsed by fields (column widths vary).

    Anything but the heading and domain rows is not `xm list` output: ValueError.
    """
    domains = []
    heading = False
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "Name" and "ID" in words:
            heading = True
            continue
        name, middle, cpu = words[0], words[1:-1], words[-1]
        # A managed domain that is not running has no ID and a blank state.
        state = middle.pop() if middle and not middle[-1].isdigit() else ""
        numbers = [int(w) for w in middle if w.isdigit()]
        if (not heading or len(numbers) != len(middle) or len(numbers) not in (2, 3)
                or not re.fullmatch(r"[\d.]+", cpu)):
            raise ValueError(f"not an `xm list` row: {line!r}")
        ident = numbers[0] if len(numbers) == 3 else None
        mem, vcpus = numbers[-2:]
        domains.append(Domain(name, ident, mem, vcpus, state, float(cpu)))
    if not heading:
        raise ValueError("no `xm list` heading (Name ID Mem VCPUs State Time(s))")
    return domains


def running(domains: list[Domain]) -> dict[str, Domain]:
    """The guest domains (not Domain-0) that exist, by name."""
    return {d.name: d for d in domains if d.name != "Domain-0"}


def parse_colon_table(text: str) -> dict[str, str]:
    """`xm info`-style ``key : value`` lines."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            values[key.strip()] = value.strip()
    return values


def parse_domain_cfg(text: str) -> dict[str, object]:
    """A Xen domain cfg (Python syntax): the literal value of every top-level assignment."""
    values: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return values


def cfg_vif_ips(cfg: dict[str, object]) -> list[str]:
    """The ``ip=`` of each vif entry of a parsed cfg."""
    vifs = cfg.get("vif", [])
    found = []
    for vif in vifs if isinstance(vifs, list) else []:
        match = re.search(r"(?:^|,)\s*ip=([\d.]+)", str(vif))
        if match:
            found.append(match[1])
    return found


def cfg_disks(cfg: dict[str, object]) -> list[str]:
    """The backing devices of a parsed cfg's disks: ``phy:/dev/vg/x`` or ``drbd:res``."""
    disks = cfg.get("disk", [])
    return [str(d).split(",")[0] for d in disks] if isinstance(disks, list) else []


def parse_key_values(text: str) -> dict[str, str]:
    """``key = value`` files (xen-tools.conf): comments dropped, the last assignment wins."""
    values = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value.strip()
    return values


@dataclass
class GrubEntry:
    title: str
    kernel: str = ""
    modules: list[str] = field(default_factory=list)

    @property
    def xen(self) -> bool:
        return "/xen" in self.kernel.split(" ")[0]

    @property
    def linux(self) -> str:
        """The Linux image line: the first module under Xen, the kernel otherwise."""
        return self.modules[0] if self.xen and self.modules else self.kernel


@dataclass
class MenuLst:
    default: int
    entries: list[GrubEntry]
    magic: dict[str, str]  # the "# key=value" settings update-grub reads (xenhopt, kopt...)

    @property
    def default_entry(self) -> GrubEntry | None:
        return self.entries[self.default] if 0 <= self.default < len(self.entries) else None


def parse_menu_lst(text: str) -> MenuLst:
    """GRUB legacy /boot/grub/menu.lst: default entry, entries and update-grub's settings."""
    default = 0
    entries: list[GrubEntry] = []
    magic: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if match := re.match(r"^#\s*(\w+)=(.*)$", line):
            magic.setdefault(match[1], match[2].strip())
            continue
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.replace("\t", " ").partition(" ")
        rest = rest.strip()
        if keyword == "default" and rest.isdigit():
            default = int(rest)
        elif keyword == "title":
            entries.append(GrubEntry(rest))
        elif entries and keyword == "kernel":
            entries[-1].kernel = rest
        elif entries and keyword == "module":
            entries[-1].modules.append(rest)
    return MenuLst(default, entries, magic)


def set_magic_option(text: str, key: str, option: str, value: str) -> str:
    """Set ``option=value`` inside menu.lst's ``# key=...`` line, keeping its other options."""
    pattern = re.compile(rf"^(#\s*{re.escape(key)}=)(.*)$", re.M)
    match = pattern.search(text)
    if match is None:
        return text.rstrip("\n") + f"\n# {key}={option}={value}\n"
    words = [w for w in match[2].split() if not w.startswith(f"{option}=")]
    words.append(f"{option}={value}")
    return text[: match.start(2)] + " ".join(words) + text[match.end(2) :]
