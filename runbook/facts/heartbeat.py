"""Facts of Heartbeat on one node: cl_status, its v1 files, the xendomains resource groups.

/etc/ha.d/authkeys is only ever read as a hash and a mode (:data:`AUTHKEYS`): its text never
leaves the node, so it cannot reach a journal, a report or a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.facts import Fact, stdout_fact
from runbook.facts.system import MISSING, file_content
from runbook.parsers.heartbeat import (
    AuthkeysState,
    XendomainsStatus,
    parse_hash_and_mode,
    parse_hbstatus,
    parse_mode_and_content,
    parse_nodestatus,
    parse_rscstatus,
    parse_xendomains_status,
)
from runbook.remote import CommandResult, quote

HA_DIR = "/etc/ha.d"
HA_CF = f"{HA_DIR}/ha.cf"
AUTHKEYS_PATH = f"{HA_DIR}/authkeys"
HARESOURCES = f"{HA_DIR}/haresources"
XENDOMAINS_INIT = "/etc/init.d/xendomains"
HEARTBEAT_INIT = "/etc/init.d/heartbeat"
AUTO_ROOT = "/etc/xen/auto"


def _line(text: str) -> str:
    lines = text.strip().splitlines()
    if len(lines) != 1 or not lines[0].strip():
        raise ValueError(f"expected one line, got {text!r}")
    return lines[0].strip()


#: `uname -n`: the name heartbeat looks for in ha.cf's node lines (lower-cased).
UNAME_N = stdout_fact("uname -n", "uname -n", _line)
#: Whether heartbeat runs: `cl_status hbstatus` (0 running, 1 stopped; the text decides).
HB_STATUS = stdout_fact("cl_status hbstatus", "cl_status hbstatus", parse_hbstatus, (0, 1))
#: Which resource groups this node holds (heartbeat must run).
RSC_STATUS = stdout_fact("cl_status rscstatus", "cl_status rscstatus", parse_rscstatus)


def nodestatus(node: str) -> Fact[str]:
    """`cl_status nodestatus NODE`: active, dead, up or init (heartbeat must run)."""
    return stdout_fact(f"cl_status nodestatus {node}", quote("cl_status", "nodestatus", node),
                       parse_nodestatus, (0, 1, 2))


def _authkeys(result: CommandResult) -> AuthkeysState | None:
    return None if result.exit_status == MISSING else parse_hash_and_mode(result.stdout)


_Q = quote(AUTHKEYS_PATH)
#: authkeys as its sha256 and mode, or None when there is none. Never its content.
AUTHKEYS: Fact[AuthkeysState | None] = Fact(
    "authkeys hash and mode",
    f"if [ -e {_Q} ]; then sha256sum < {_Q} && stat -c %a {_Q}; else exit {MISSING}; fi",
    _authkeys, frozenset({0, MISSING}))


def file_with_mode(path: str) -> Fact[tuple[int, str] | None]:
    """(mode, content) of ``path``, or None when it does not exist."""
    q = quote(path)

    def parse(result: CommandResult) -> tuple[int, str] | None:
        return None if result.exit_status == MISSING else parse_mode_and_content(result.stdout)

    return Fact(f"file+mode {path}",
                f"if [ -e {q} ]; then stat -c %a {q} && cat -- {q}; else exit {MISSING}; fi",
                parse, frozenset({0, MISSING}))


def _auto_entries(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        path, tab, rest = line.partition("\t")
        if not tab:
            raise ValueError(f"not a find -printf line: {line!r}")
        kind, _, target = rest.partition("\t")
        entries[path] = f"-> {target}" if kind == "l" else kind
    return entries


#: Everything under /etc/xen/auto: path -> "d" (folder), "f" (file) or "-> TARGET" (link).
AUTO_ENTRIES = stdout_fact(
    "xen auto folders",
    f"if [ -d {AUTO_ROOT} ]; then find {AUTO_ROOT} -mindepth 1 -maxdepth 2 "
    r"-printf '%p\t%y\t%l\n'; fi",
    _auto_entries)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


#: The rc links that start or stop /etc/init.d/xendomains at boot (the guide removes them).
XENDOMAINS_RC_LINKS = stdout_fact(
    "xendomains rc links",
    "for f in /etc/rc[0-6S].d/[SK][0-9][0-9]xendomains; do [ -e \"$f\" ] && echo \"$f\"; "
    "done; true",
    _lines)


def resource_status(script: str) -> Fact[XendomainsStatus]:
    """``/etc/ha.d/resource.d/xendomainsHA1 status``: 0 running, 1 dead, 3 unused."""
    return stdout_fact(f"status {script}", quote(script, "status"), parse_xendomains_status,
                       (0, 1, 3))


#: Heartbeat's generation, one more at each start (also the restart-exec a reload may make).
HB_GENERATION = file_content("/var/lib/heartbeat/hb_generation")
XENDOMAINS_INIT_TEXT = file_content(XENDOMAINS_INIT)
HA_CF_TEXT = file_content(HA_CF)
HARESOURCES_TEXT = file_content(HARESOURCES)


@dataclass(frozen=True)
class HeartbeatView:
    """What 08-heartbeat's start step must compare across the nodes, read on one node.

    In a dry run the files the earlier steps would write are taken as written (their planned
    text and hash), so the comparison predicts what the real run will find.
    """

    node: str  # the inventory host
    uname_n: str
    installed: bool
    running: bool
    ha_cf: str | None
    haresources: str | None
    authkeys: AuthkeysState | None
    drbd_problems: tuple[str, ...]  # why DRBD is not Connected UpToDate/UpToDate here
    domus_running: frozenset[str]
    predictions: tuple[str, ...] = ()
