"""Heartbeat 2.x with v1 files: cl_status answers, ha.cf, haresources, the xendomains status
text as Heartbeat reads it, and the takeover lines of heartbeat's log.

Shapes: shared/guide/drbd-heartbeat-xen.md sections 4 and 5 (heartbeat's config.c,
hb_resource.c, ResourceManager and tools/cl_status.c of the 2.1.3 era; Xen 3.2.0's xendomains).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HB_RUNNING = "Heartbeat is running on this machine."
HB_STOPPED = "Heartbeat is stopped on this machine."
NODE_STATES = ("active", "dead", "up", "init")
RSC_STATES = ("local", "foreign", "all", "none", "transition")


def _word(text: str, allowed: tuple[str, ...], what: str) -> str:
    words = text.split()
    if len(words) != 1 or words[0] not in allowed:
        raise ValueError(f"expected {what} ({', '.join(allowed)}), got {text.strip()!r}")
    return words[0]


def parse_hbstatus(text: str) -> bool:
    """`cl_status hbstatus`: True when heartbeat runs on this machine."""
    line = text.strip()
    if line == HB_RUNNING:
        return True
    if line == HB_STOPPED:
        return False
    raise ValueError(f"not cl_status hbstatus output: {line!r}")


def parse_nodestatus(text: str) -> str:
    """`cl_status nodestatus NODE`: active, dead, up or init."""
    return _word(text, NODE_STATES, "a node status")


def parse_rscstatus(text: str) -> str:
    """`cl_status rscstatus`: which resources this node holds (local, foreign, all, none)."""
    return _word(text, RSC_STATES, "a resource status")


@dataclass(frozen=True)
class HaCf:
    """The directives of ha.cf that the runbook and heartbeat's start-up checks care about."""

    directives: tuple[tuple[str, str], ...]  # (directive, value) in file order
    nodes: tuple[str, ...]  # every name of every `node` line, lower-cased as heartbeat does
    ucast: tuple[tuple[str, str], ...]  # (device, address) of each `ucast` line

    def value(self, directive: str) -> str | None:
        """The last value of ``directive`` (None when absent)."""
        found = [v for d, v in self.directives if d == directive]
        return found[-1] if found else None


def parse_ha_cf(text: str) -> HaCf:
    """ha.cf: one directive per line, `#` comments, a directive's value the rest of the line."""
    directives: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition(" ") if " " in line else line.partition("\t")
        directives.append((name.lower(), " ".join(value.split())))
    nodes = tuple(n.lower() for d, v in directives if d == "node" for n in v.split())
    ucast = []
    for directive, value in directives:
        if directive == "ucast":
            words = value.split()
            if len(words) != 2:
                raise ValueError(f"ucast needs a device and an address, got {value!r}")
            ucast.append((words[0], words[1]))
    return HaCf(tuple(directives), nodes, tuple(ucast))


@dataclass(frozen=True)
class HaResource:
    """A haresources line: the node that prefers the group, and the group's resources."""

    node: str
    resources: tuple[str, ...]


def parse_haresources(text: str) -> list[HaResource]:
    """haresources: `node resource...` per line, `#` comments, `\\` continues a line."""
    joined = re.sub(r"\\\n", " ", text)
    lines = []
    for raw in joined.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2:
            raise ValueError(f"a haresources line needs a node and a resource: {raw.strip()!r}")
        lines.append(HaResource(words[0].lower(), tuple(words[1:])))
    return lines


@dataclass(frozen=True)
class AuthkeysState:
    """What the runbook may know of /etc/ha.d/authkeys: its hash and mode, never its text."""

    sha256: str
    mode: int  # permission bits, e.g. 0o600

    @property
    def others_can_read(self) -> bool:
        """Group or others have any access: heartbeat refuses to start ("Bad permissions")."""
        return bool(self.mode & 0o077)


_SHA256 = re.compile(r"[0-9a-f]{64}")


def parse_hash_and_mode(text: str) -> AuthkeysState:
    """`sha256sum < F; stat -c %a F`: ``HASH  -`` then the octal mode."""
    lines = text.split("\n")
    words = lines[0].split() if lines else []
    mode = lines[1].strip() if len(lines) > 1 else ""
    if not words or not _SHA256.fullmatch(words[0]) or not re.fullmatch(r"[0-7]{3,4}", mode):
        raise ValueError("expected a sha256 line and an octal mode")
    return AuthkeysState(words[0], int(mode, 8))


def parse_mode_and_content(text: str) -> tuple[int, str]:
    """`stat -c %a F; cat F`: the octal mode on the first line, then the file."""
    mode, newline, content = text.partition("\n")
    if not newline or not re.fullmatch(r"[0-7]{3,4}", mode.strip()):
        raise ValueError(f"expected an octal mode line, got {mode!r}")
    return int(mode.strip(), 8), content


# -- xendomains status, as heartbeat's ResourceManager reads it --------------------------------
_NOT_RUNNING = re.compile(r"[Nn][Oo][Tt] +[Rr]unning")
_RUNNING = re.compile(r"[Rr]unning|OK")


def heartbeat_owns(status_text: str) -> bool:
    """ResourceManager's rule: the status *text* (never its exit code) says the group is held
    when it matches ``*running*`` or ``*OK*`` and not ``*not running*``."""
    return not _NOT_RUNNING.search(status_text) and bool(_RUNNING.search(status_text))


@dataclass(frozen=True)
class XendomainsStatus:
    """`xendomains status`: [running] with the running names, [unused] or [dead] with MISS AUTO."""

    state: str  # running, unused, dead
    missing: tuple[str, ...] = ()  # auto DomUs that are not running (MISS AUTO: name)


def parse_xendomains_status(text: str) -> XendomainsStatus:
    """Xen 3.2.0's status: ``Checking for xendomains:`` then ``[running]`` (rc 0),
    ``MISS AUTO: x`` ... ``[dead]`` (rc 1), or ``[unused]`` (rc 3), with LSB decoration."""
    if "Checking for xendomains" not in text:
        raise ValueError(f"not xendomains status output: {text.strip()[:80]!r}")
    states = re.findall(r"\[(running|unused|dead|failed|done)\]", text)
    if not states:
        raise ValueError(f"no [running], [unused] or [dead] in {text.strip()[:80]!r}")
    missing = tuple(re.findall(r"MISS AUTO:\s*(\S+)", text))
    return XendomainsStatus(states[-1], missing)


# -- the heartbeat log -------------------------------------------------------------------------
_LOG_TIME = r"(?P<time>\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d|\w{3} [ \d]\d \d\d:\d\d:\d\d)"
_EVENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("shutdown-notice", r"Received shutdown notice from '(?P<node>[^']+)'"),
        ("dead", r"WARN: node (?P<node>\S+): is dead"),
        ("taking-over", r"Taking over resource group (?P<group>\S+)"),
        ("acquiring", r"Acquiring resource group: (?P<node>\S+) (?P<group>\S+)"),
        ("releasing", r"Releasing resource group: (?P<node>\S+) (?P<group>\S+)"),
        # xendomains stop: the migration failed, so the DomU was shut down instead (downtime)
        ("migrate-failed", r"(?P<domu>[\w.-]+)\(migr\)Error: (?P<detail>.*)"),
        # xendomains stop: the DomU live-migrated to XENDOMAINS_MIGRATE's node
        ("migrated", r"(?P<domu>[\w.-]+)\(migr\)(?!Error)"),
        # xendomains start: the DomU already runs here (it arrived by migration): not started
        ("already-running", r"(?P<domu>[\w.-]+)\(skip\)"),
        ("running",
         r"Running (?P<script>/\S*/resource\.d/(?P<group>[^/\s]+))\s+(?P<op>start|stop|status)"),
        ("takeover-complete", r"mach_down takeover complete for node (?P<node>\S+)"),
        ("giving-up", r"Giving up all HA resources"),
        ("relinquished", r"All HA resources relinquished"),
        ("foreign-released", r"foreign HA resource release completed"),
        ("local-acquired", r"local HA resource acquisition completed"),
        ("standby-done", r"Standby resource acquisition done \[(?P<which>\w+)\]"),
        ("shutdown-complete", r"(?P<node>\S+) Heartbeat shutdown complete"),
    ))


@dataclass(frozen=True)
class LogEvent:
    """One takeover-related line of heartbeat's log (debugfile or logfile)."""

    kind: str  # shutdown-notice, dead, taking-over, acquiring, releasing, running, ...
    time: str  # as logged: 2026/11/26_12:40:01 (debugfile) or "Nov 26 12:40:01" (syslog)
    node: str = ""
    group: str = ""
    op: str = ""  # start, stop or status (kind "running")
    domu: str = ""  # kinds "migrated", "migrate-failed", "already-running"
    detail: str = ""  # kind "migrate-failed": xm's error
    line: str = ""


def parse_takeover_log(text: str) -> list[LogEvent]:
    """The takeover lines of a heartbeat log, in order; every other line is left out."""
    events = []
    for line in text.splitlines():
        stamp = re.search(_LOG_TIME, line)
        for kind, pattern in _EVENTS:
            match = pattern.search(line)
            if match is None:
                continue
            found = match.groupdict()
            events.append(LogEvent(kind, stamp["time"] if stamp else "",
                                   (found.get("node") or "").rstrip("."),
                                   found.get("group") or "", found.get("op") or "",
                                   found.get("domu") or "", found.get("detail") or "",
                                   line.strip()))
            break
    return events
