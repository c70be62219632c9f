"""Live migration: xend-config.sxp, drbd.conf's net options, listening sockets, ping probes.

Pure functions, unit-tested on captured text. The xend rules they mirror are Xen 3.2's
(tools/python/xen/xend/server/relocate.py, xen/web/connection.py hostAllowed): hosts-allow is
split on single spaces and each regex is applied with ``re.match`` to ``getfqdn(peer)`` and to
the peer's IP; an empty setting allows every host.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_SETTING = re.compile(r"^\(\s*(?P<key>[A-Za-z0-9_-]+)\s+(?P<value>.*?)\s*\)\s*(?:#.*)?$")
RELOCATION_KEYS = ("xend-relocation-server", "xend-relocation-port", "xend-relocation-address",
                   "xend-relocation-hosts-allow")


def sxp_unquote(value: str) -> str:
    """An SXP atom or quoted string as xend reads it (``'^a\\\\.b$'`` is ``^a\\.b$``)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), value[1:-1])
    return value


def sxp_quote(value: str) -> str:
    """A single-quoted SXP string: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_xend_config(text: str) -> dict[str, str]:
    """The active top-level ``(key value)`` settings of xend-config.sxp; comments skipped.

    A key set twice keeps its last value (xend reads the file into one list and takes the
    last). Multi-line settings (network-script with arguments) are not relocation settings
    and are skipped.
    """
    found: dict[str, str] = {}
    for raw in text.splitlines():
        match = _SETTING.match(raw.strip())
        if match:
            found[match["key"]] = sxp_unquote(match["value"])
    return found


def set_xend_settings(text: str, wanted: dict[str, str]) -> str:
    """``text`` with each key of ``wanted`` set: its active lines replaced by one line (the
    first keeps its place), else the line goes after the commented example of the key
    (``#(key ...)``), else at the end. ``wanted`` values are written as given (quote them)."""
    lines = text.splitlines()
    for key, value in wanted.items():
        line = f"({key} {value})"
        active = [i for i, raw in enumerate(lines) if _key_of(raw.strip()) == key]
        if active:
            lines[active[0]] = line
            for index in reversed(active[1:]):
                del lines[index]
            continue
        examples = [i for i, raw in enumerate(lines)
                    if raw.lstrip().startswith("#") and _key_of(raw.lstrip()[1:].strip()) == key]
        if examples:
            lines.insert(examples[-1] + 1, line)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def comment_out(text: str, key: str) -> str:
    """``text`` with every active line of ``key`` commented out, as the guide wants
    ``#(xend-relocation-hosts-allow ...)``: xend then uses its built-in '' (every host)."""
    lines = [f"#{raw}" if _key_of(raw.strip()) == key else raw for raw in text.splitlines()]
    return "\n".join(lines) + "\n"


def _key_of(line: str) -> str | None:
    match = _SETTING.match(line)
    return match["key"] if match else None


def hosts_allow_regexes(setting: str) -> list[str] | None:
    """relocate.py's list: None when empty (every host may connect), else split on " "."""
    return None if setting == "" else setting.split(" ")


def host_allowed(setting: str, fqdn: str, ip: str) -> bool:
    """Whether xend 3.2 accepts a relocation from ``ip`` whose getfqdn is ``fqdn``.

    Two spaces in the setting make an empty regex, which matches everything; an invalid
    regex stops xend from starting, so it allows nobody here.
    """
    regexes = hosts_allow_regexes(setting)
    if regexes is None:
        return True
    try:
        compiled = [re.compile(r) for r in regexes]
    except re.error:
        return False
    return any(r.match(fqdn) or r.match(ip) for r in compiled)


def exact_host_regex(name: str) -> str:
    """A regex that lets exactly ``name`` (a host name or an IP) through re.match."""
    return f"^{re.escape(name)}$"


# ----------------------------------------------------------------------------- drbd.conf


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _tokens(text: str) -> list[str]:
    return re.findall(r"[{};]|\"[^\"]*\"|[^\s{};]+", _strip_comments(text))


@dataclass(frozen=True)
class ConfSection:
    """One ``name args { ... }`` block of drbd.conf: its statements and sub-blocks."""

    name: str
    args: tuple[str, ...]
    statements: tuple[tuple[str, ...], ...]
    sections: tuple[ConfSection, ...]

    def section(self, name: str) -> ConfSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def has(self, option: str) -> bool:
        return any(s and s[0] == option for s in self.statements)


def parse_drbd_conf(text: str) -> ConfSection:
    """drbd.conf's structure (``global``, ``common``, ``resource NAME``, ``net``...).

    ValueError on unbalanced braces or a statement left open.
    """
    tokens = _tokens(text)
    root, end = _block("", (), tokens, 0, top=True)
    if end != len(tokens):
        raise ValueError("unbalanced '}' in drbd.conf")
    return root


def _block(name: str, args: tuple[str, ...], tokens: list[str], i: int,
           top: bool = False) -> tuple[ConfSection, int]:
    statements: list[tuple[str, ...]] = []
    sections: list[ConfSection] = []
    words: list[str] = []
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == ";":
            if words:
                statements.append(tuple(words))
            words = []
        elif token == "{":
            if not words:
                raise ValueError("a '{' without a section name in drbd.conf")
            inner, i = _block(words[0], tuple(words[1:]), tokens, i)
            sections.append(inner)
            words = []
        elif token == "}":
            if top:
                return ConfSection(name, args, tuple(statements), tuple(sections)), i - 1
            if words:
                raise ValueError(f"statement without ';' before '}}': {' '.join(words)}")
            return ConfSection(name, args, tuple(statements), tuple(sections)), i
        else:
            words.append(token)
    if not top or words:
        raise ValueError("drbd.conf ends inside a section or statement")
    return ConfSection(name, args, tuple(statements), tuple(sections)), i


def allows_two_primaries(conf: ConfSection, resource: str) -> bool | None:
    """Whether ``resource``'s net section (or common's, which it inherits) says
    allow-two-primaries; None when drbd.conf has no such resource."""
    res = next((s for s in conf.sections if s.name == "resource" and s.args[:1] == (resource,)),
               None)
    if res is None:
        return None
    common = conf.section("common")
    for section in (res, common):
        net = section.section("net") if section is not None else None
        if net is not None and net.has("allow-two-primaries"):
            return True
    return False


# ----------------------------------------------------------------------------- sockets


def parse_listening_tcp(text: str) -> list[tuple[str, int]]:
    """``netstat -ltn``: (local address, port) of each listening TCP socket (IPv4 and 6)."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 6 and words[0] in ("tcp", "tcp6") and words[-1] == "LISTEN":
            address, _, port = words[3].rpartition(":")
            if port.isdigit():
                found.append((address, int(port)))
    return found


# ----------------------------------------------------------------------------- probes

_REPLY = re.compile(r"^\[(?P<t>\d+\.\d+)\] \d+ bytes from [^:]+: icmp_[rs]eq=(?P<seq>\d+)")
_START = re.compile(r"^# probe started (?P<t>\d+\.\d+)")
_STOP = re.compile(r"^# probe stopped (?P<t>\d+\.\d+)")
_STATS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


@dataclass(frozen=True)
class Probe:
    """What a prober saw while a DomU moved: sent, answered, lost, and the longest silence."""

    interval_s: float
    transmitted: int
    received: int
    lost: int  # pings that got no answer, the one in flight at the stop not counted
    longest_gap_s: float  # the longest time without an answer, from start to stop
    started: float
    stopped: float

    def within(self, max_gap_s: float, max_lost: int) -> bool:
        return self.received > 0 and self.longest_gap_s <= max_gap_s and self.lost <= max_lost

    def summary(self) -> str:
        return (f"longest gap {self.longest_gap_s:.2f} s, {self.lost} of {self.transmitted} "
                f"pings lost (every {self.interval_s:g} s)")


def parse_probe(text: str, interval_s: float) -> Probe:
    """The log of a prober: ``# probe started T``, iputils ``ping -D -n -i I`` lines
    (``[EPOCH] 64 bytes from IP: icmp_seq=N ...``), its statistics, ``# probe stopped T``.

    The gap is measured between answers, and from the start to the first answer and from the
    last answer to the stop, so a DomU that never answered again shows the whole silence.
    ValueError when the start or stop mark or ping's statistics are missing.
    """
    started = stopped = None
    answers: dict[int, float] = {}
    stats = None
    for line in text.splitlines():
        if (m := _START.match(line)) is not None:
            started = float(m["t"])
        elif (m := _STOP.match(line)) is not None:
            stopped = float(m["t"])
        elif (m := _REPLY.match(line)) is not None:
            answers.setdefault(int(m["seq"]), float(m["t"]))
        elif (m := _STATS.search(line)) is not None:
            stats = (int(m[1]), int(m[2]))
    if started is None or stopped is None:
        raise ValueError("no '# probe started/stopped' marks: not a prober log")
    if stats is None:
        raise ValueError("no ping statistics (was ping stopped with SIGINT?)")
    transmitted = stats[0]
    times = sorted(answers.values())
    edges = [started, *times, stopped]
    gap = max(b - a for a, b in itertools.pairwise(edges))
    # the last ping may have been sent just before the stop: its answer was never awaited
    lost = sum(1 for seq in range(1, transmitted) if seq not in answers)
    return Probe(interval_s, transmitted, len(answers), lost, round(gap, 3), started, stopped)
