"""drbd.conf of a lab node, read the way DRBD 8.3's drbdadm reads it (stdlib only).

The syntax check is the REAL one: Debian's drbd-utils ``drbdadm-84 -d -c FILE dump all`` (the
host's binary, seen read-only inside the node under /usr/lib/runbook-lab/host-usr) parses the
guide's 8.3 syntax exactly as a real node would and prints the real message on an error
(``/etc/drbd.conf:9: Parse error: ';' expected, ...``). Its normalized dump (8.4 layout: the
protocol under ``net``, ``rate`` as ``resync-rate`` under ``disk``) is what :func:`parse_dump`
reads into :class:`Resource` objects; ``common`` sections are merged into every resource.

:func:`render_dump_83` prints a resource back in the 8.3 layout for ``drbdadm dump``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

HOST_USR = "/usr/lib/runbook-lab/host-usr"
DRBDADM_84 = ("/usr/lib/runbook-lab/host-usr/lib/drbd/drbdadm-84", "/usr/lib/drbd/drbdadm-84",
              "/lib/drbd/drbdadm-84")
META_INDEX_BYTES = 128 * 1024 * 1024  # DRBD 8.3 indexed external meta-data: 128 MiB per index
UNITS = {"": 1024, "K": 1024, "k": 1024, "M": 1024 ** 2, "m": 1024 ** 2, "G": 1024 ** 3,
         "g": 1024 ** 3}
# DRBD 8.3 defaults (drbd_limits.h): rate 250 KiB/s, times in seconds or tenths of seconds
DEFAULTS = {"resync-rate": "250K", "ping-int": "10", "ping-timeout": "5", "timeout": "60",
            "connect-int": "10", "on-io-error": "pass_on", "after-sb-0pri": "disconnect",
            "after-sb-1pri": "disconnect", "after-sb-2pri": "disconnect", "protocol": "C",
            "wfc-timeout": "0", "degr-wfc-timeout": "60"}


class ConfError(Exception):
    """drbdadm refused the configuration; the text is what it printed; ``code`` its exit."""

    def __init__(self, message: str, code: int = 10) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Host:
    name: str
    device: str
    minor: int
    disk: str
    meta_disk: str
    meta_index: int | None  # None: internal meta-data (not used by the guide)
    address: str
    port: int


@dataclass
class Resource:
    name: str
    hosts: dict[str, Host]
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # section -> key -> value
    own: dict[str, dict[str, str]] = field(default_factory=dict)  # without ``common``
    common: dict[str, dict[str, str]] = field(default_factory=dict)

    def opt(self, key: str) -> str:
        for section in ("net", "disk", "startup", "handlers", "options"):
            if key in self.options.get(section, {}):
                return self.options[section][key]
        # The 8.3 layout keeps the rate (and friends) under `syncer` as `rate`, `after`, ...
        alias = MOVED_TO_SYNCER.get(key)
        if alias is not None and alias in self.options.get("syncer", {}):
            return self.options["syncer"][alias]
        return DEFAULTS.get(key, "")

    @property
    def protocol(self) -> str:
        return self.opt("protocol") or "C"

    @property
    def rate(self) -> int:
        """Resync rate in bytes per second (``rate 90M`` is 90 MiB/s, a bare number KiB/s)."""
        return parse_size(self.opt("resync-rate"))

    @property
    def ping_int(self) -> float:
        return float(self.opt("ping-int"))

    @property
    def ping_timeout(self) -> float:
        return float(self.opt("ping-timeout")) / 10

    @property
    def timeout(self) -> float:
        return float(self.opt("timeout")) / 10

    @property
    def connect_int(self) -> float:
        return float(self.opt("connect-int"))

    @property
    def two_primaries(self) -> bool:
        net = self.options.get("net", {})
        return "allow-two-primaries" in net and net["allow-two-primaries"] in ("", "yes")

    def me(self, hostname: str) -> Host | None:
        return self.hosts.get(hostname)

    def peer(self, hostname: str) -> Host | None:
        others = [h for n, h in self.hosts.items() if n != hostname]
        return others[0] if len(others) == 1 else None


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KkMmGg]?)", text.strip())
    if not match:
        raise ConfError(f"invalid size {text!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


# ----------------------------------------------------------------------------- the dump


Node = tuple[list[str], list["Node"] | None]


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        tokens += re.findall(r'"[^"]*"|[{};]|[^\s{};]+', line)
    return tokens


def parse_tree(text: str) -> list[Node]:
    tokens = tokenize(text)
    pos = 0

    def block() -> list[Node]:
        nonlocal pos
        items: list[Node] = []
        words: list[str] = []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok == "{":
                items.append((words, block()))
                words = []
            elif tok == "}":
                return items
            elif tok == ";":
                items.append((words, None))
                words = []
            else:
                words.append(tok.strip('"'))
        return items

    return block()


def _options(children: list[Node]) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    for words, sub in children:
        if sub is not None and words and words[0] != "on":
            sections.setdefault(words[0], {}).update(
                {w[0]: " ".join(w[1:]) for w, s in sub if w and s is None})
    return sections


def _host(name: str, children: list[Node]) -> Host:
    values = {w[0]: w[1:] for w, s in children if w and s is None}
    device = values.get("device", ["/dev/drbd0"])
    minor = int(device[2]) if len(device) > 2 and device[1] == "minor" else \
        int(re.sub(r"\D", "", device[0]) or 0)
    meta = values.get("meta-disk", ["internal"])
    index = int(meta[1].strip("[]")) if len(meta) > 1 else None
    address = values.get("address", ["ipv4", "0.0.0.0:7788"])
    ip, _, port = address[-1].rpartition(":")
    return Host(name=name, device=device[0], minor=minor, disk=values.get("disk", [""])[0],
                meta_disk=meta[0], meta_index=index, address=ip, port=int(port))


def parse_dump(text: str) -> dict[str, Resource]:
    """Resources of a ``drbdadm-84 dump all`` text, ``common`` merged in (resource wins)."""
    tree = parse_tree(text)
    common: dict[str, dict[str, str]] = {}
    for words, sub in tree:
        if words == ["common"] and sub is not None:
            common = _options(sub)
    resources: dict[str, Resource] = {}
    for words, sub in tree:
        if len(words) == 2 and words[0] == "resource" and sub is not None:
            hosts = {w[1]: _host(w[1], s) for w, s in sub
                     if len(w) == 2 and w[0] == "on" and s is not None}
            options = {k: dict(v) for k, v in common.items()}
            own = _options(sub)
            for section, values in own.items():
                options.setdefault(section, {}).update(values)
            resources[words[1]] = Resource(name=words[1], hosts=hosts, options=options,
                                           own=own, common=common)
    return resources


def drbdadm_84() -> str:
    for path in DRBDADM_84:
        if os.access(path, os.X_OK):
            return path
    raise ConfError("drbdadm-84 (Debian's drbd-utils) is missing on the lab host", 20)


def load(path: str = "/etc/drbd.conf") -> dict[str, Resource]:
    """Check ``path`` with the real parser and read it; ConfError carries its message."""
    if not os.path.exists(path):
        raise ConfError(f"Can not open '{path}'.\n: No such file or directory", 20)
    # -d: a dry run skips verify_ips, which is not the parser's business (drbd_cli does it
    # for the commands that verify addresses)
    result = subprocess.run([drbdadm_84(), "-d", "-c", path, "dump", "all"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfError(result.stderr.rstrip("\n") or result.stdout.rstrip("\n"),
                        result.returncode)
    return parse_dump(result.stdout)


# ----------------------------------------------------------------------------- 8.3 dump

SECTION_ORDER = ("net", "disk", "syncer", "startup", "proxy", "handlers")
FLAGS_83 = {"allow-two-primaries", "always-asbp", "no-tcp-cork", "discard-my-data",
            "use-bmbv", "no-disk-barrier", "no-disk-flushes", "no-disk-drain", "no-md-flushes",
            "use-rle"}
MOVED_TO_SYNCER = {"resync-rate": "rate", "al-extents": "al-extents", "resync-after": "after",
                   "verify-alg": "verify-alg", "csums-alg": "csums-alg",
                   "c-plan-ahead": "c-plan-ahead"}


def sections_83(sections: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The 8.4 dump's sections moved back to where 8.3 keeps them (rate under syncer, the
    protocol out of net), in drbdadm 8.3's section order."""
    moved = {k: dict(v) for k, v in sections.items()}
    disk = moved.get("disk", {})
    syncer = moved.setdefault("syncer", {})
    for key, key83 in MOVED_TO_SYNCER.items():
        if key in disk:
            syncer[key83] = disk.pop(key)
    moved.get("net", {}).pop("protocol", None)
    for values in moved.values():  # 8.4 prints flags as "yes"; 8.3 has bare flags
        for key in FLAGS_83 & set(values):
            if values[key] == "yes":
                values[key] = ""
    return {k: moved[k] for k in sorted(moved, key=lambda s: (*SECTION_ORDER, s).index(s))
            if moved[k]}


def options_83(resource: Resource, section: str) -> list[str]:
    """``--name=value`` options of a section as drbdadm 8.3 hands them to drbdsetup."""
    values = sections_83(resource.options).get(section, {})
    return [f"--{k}={v}" if v else f"--{k}" for k, v in values.items()]


def _print_a(indent: int, name: str, value: str) -> str:
    """drbdadm_main.c printA: name left-aligned to 24 - 4 x indent, the value as %3s."""
    return f"{'':{4 * indent}}{name:<{24 - 4 * indent}} {value:>3};"


def _print_sections(sections: dict[str, dict[str, str]], indent: int) -> list[str]:
    lines = []
    for name, values in sections_83(sections).items():
        lines.append(f"{'':{4 * indent}}{name} {{")
        for key, value in values.items():
            lines.append(_print_a(indent + 1, key, value) if value
                         else f"{'':{4 * (indent + 1)}}{key};")
        lines.append(f"{'':{4 * indent}}}}")
    return lines


def render_resource_83(res: Resource, hostname: str) -> str:
    """adm_dump of drbdadm 8.3.7 for one resource."""
    state = "not ignored" if hostname in res.hosts else "ignored"
    lines = [f"# resource {res.name} on {hostname}: {state}, not stacked",
             f"resource {res.name} {{", _print_a(1, "protocol", res.protocol)]
    for host in res.hosts.values():
        meta = (f"{host.meta_disk} [{host.meta_index}]" if host.meta_index is not None
                else host.meta_disk)
        lines += [f"    on {host.name} {{",
                  f"        {'device':<16} {host.device} minor {host.minor};",
                  _print_a(2, "disk", host.disk),
                  f"        {'address':<16} ipv4 {host.address}:{host.port};",
                  f"        {'meta-disk':<16} {meta};" if host.meta_index is not None
                  else _print_a(2, "meta-disk", meta),
                  "    }"]
    lines += _print_sections(res.own, 1)
    return "\n".join(lines) + "\n}\n\n"


def render_dump_83(resources: dict[str, Resource], path: str, hostname: str) -> str:
    """``drbdadm dump all``: the file name, ``common`` as written, every resource."""
    out = f"# {path}\n"
    common = next(iter(resources.values())).common if resources else {}
    if common:
        out += "common {\n" + "\n".join(_print_sections(common, 1)) + "\n}\n\n"
    return out + "".join(render_resource_83(r, hostname) for r in resources.values())
