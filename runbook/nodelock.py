"""A lock held on the nodes themselves for the duration of a changing run.

Two operators (or two control machines) must not change the same cluster at once. The
lock is a directory on each node, created with ``mkdir`` (atomic on every filesystem), with
an ``owner`` file naming who holds it. It lives under /var/lib, not /var/lock: Ubuntu 8.04
mounts /var/lock as tmpfs, and 02-xen reboots the nodes mid-run.

Everything here is pure (shell text in, typed values out) except :func:`pid_alive`; the
CLI runs the commands over the run's own SSH session, one round trip per node.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from datetime import UTC, datetime

LOCK_DIR = "/var/lib/runbook/lock"
OWNER_FILE = f"{LOCK_DIR}/owner"
HELD_STATUS = 75  # EX_TEMPFAIL: someone else holds the lock
STALE_AFTER_S = 12 * 3600  # no run of ours lasts half a day: an older lock is abandoned


@dataclass(frozen=True)
class LockOwner:
    operator: str  # user@control-host
    control_host: str
    pid: int
    since: int  # epoch seconds, UTC
    command: str
    token: str  # unique per invocation: only its own holder releases a lock

    def render(self) -> str:
        fields = {
            "operator": self.operator,
            "control_host": self.control_host,
            "pid": str(self.pid),
            "since": str(self.since),
            "command": self.command,
            "token": self.token,
        }
        return "".join(f"{key}={value.replace(chr(10), ' ')}\n" for key, value in fields.items())


def parse_owner(text: str) -> LockOwner | None:
    """The owner file's content; None when it is missing or unreadable (a half-made lock)."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return LockOwner(
            operator=fields["operator"],
            control_host=fields["control_host"],
            pid=int(fields["pid"]),
            since=int(fields["since"]),
            command=fields["command"],
            token=fields["token"],
        )
    except (KeyError, ValueError):
        return None


def acquire_command(owner: LockOwner) -> str:
    """Take the lock, or print the current owner and exit HELD_STATUS, in one command.

    One line (each owner line a quoted printf argument): the session's shell reads it as
    one command, with no continuation lines.
    """
    content = " ".join(shlex.quote(line) for line in owner.render().splitlines())
    return (
        f"mkdir -p {shlex.quote(os.path.dirname(LOCK_DIR))} && "
        f"if mkdir {LOCK_DIR} 2>/dev/null; then printf '%s\\n' {content} > {OWNER_FILE}; "
        f"else cat {OWNER_FILE} 2>/dev/null; exit {HELD_STATUS}; fi"
    )


def release_command(token: str) -> str:
    """Release the lock only when this invocation holds it (never someone else's)."""
    return (f"if grep -qx {shlex.quote('token=' + token)} {OWNER_FILE} 2>/dev/null; "
            f"then rm -rf {LOCK_DIR}; fi")


def clear_command() -> str:
    """Remove a lock whatever holds it: the operator's explicit `runbook unlock`."""
    return f"rm -rf {LOCK_DIR}"


NOT_LOCKED_STATUS = 3  # `runbook unlock` found no lock on the node


def unlock_command() -> str:
    """Print the owner of the lock, then remove it; exit NOT_LOCKED_STATUS when there is none."""
    return (f"if [ -d {LOCK_DIR} ]; then cat {OWNER_FILE} 2>/dev/null; {clear_command()}; "
            f"else exit {NOT_LOCKED_STATUS}; fi")


def utc_clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def describe_holder(host: str, owner: LockOwner | None) -> str:
    """``ha1 is locked by root@ops2 since 12:04:31 UTC (runbook run 06-drbd, pid 4242)``."""
    if owner is None:
        return f"{host} is locked ({LOCK_DIR} exists, but its owner file is missing or unreadable)"
    return (f"{host} is locked by {owner.operator} since {utc_clock(owner.since)} "
            f"({owner.command}, pid {owner.pid})")


def stale_reason(owner: LockOwner | None, now: int, this_host: str,
                 alive: bool | None) -> str | None:
    """Why the lock is abandoned, or None while its holder may still be working.

    ``alive`` says whether the holder's pid still runs; it is only known (not None) when the
    holder is this very control machine.
    """
    if owner is None:
        return "its owner file is missing or unreadable"
    if owner.control_host == this_host and alive is False:
        return f"pid {owner.pid} no longer runs on {this_host}"
    age = now - owner.since
    if age > STALE_AFTER_S:
        bound = STALE_AFTER_S // 3600
        return f"it is {age // 3600} hours old (a run never takes more than {bound})"
    return None


def refusal(host: str, owner: LockOwner | None, now: int, this_host: str,
            alive: bool | None) -> str:
    """The message when ``host`` is locked: who holds it, and how to clear a stale lock."""
    held = describe_holder(host, owner)
    stale = stale_reason(owner, now, this_host, alive)
    if stale is None:
        return f"{held}; wait for that run to end"
    return (f"{held}; the lock looks stale ({stale}). If no run is in progress on this cluster, "
            f"clear it with `runbook unlock --limit {host}` and run again")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def now() -> int:
    return int(time.time())
