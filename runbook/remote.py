"""Remote commands over one persistent netmiko session per node.

Reading and changing are two different calls: :func:`run` and :func:`run_many`
(a batch in one round trip) read a node, :func:`change` and :func:`reboot_and_wait`
change it. Only the apply phase of a plan calls the changing ones (through
``runbook.plan.NodeChanger``, which a dry run never builds), and they refuse to
run in a dry run as a last guard. The helper

* wraps the command in a tiny shell protocol so stdout, stderr and the exit
  status come back separately and exactly (base64 framed, so terminal line
  discipline cannot mangle them), without netmiko's timing reads or prompt
  searches: we read the paramiko channel until our own end marker;
* journals each command per host, which is the evidence the HTML report shows;
* in a dry run, journals what a plan would change as predicted entries
  (:func:`record_prediction`), without running anything;
* remembers a node that could not be reached, so later calls fail at once with
  the same reason instead of waiting for another connect timeout.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nornir.core.task import Task

from runbook import connect_errors, interrupt

DEFAULT_TIMEOUT = 120.0
REDACTED = "********"

# Defined once per session: run "$2" in a subshell with stdin from /dev/null (or from
# the base64 text "$3", kept in a private file, never on a command line), then print
# framed base64 of stdout and stderr and the exit status.
_SHELL_SETUP = (
    "stty -echo 2>/dev/null; export LC_ALL=C LANG=C TERM=dumb; PS1=''; PS2=''; "
    "unset PROMPT_COMMAND HISTFILE; "
    "__rbd=$(mktemp -d /tmp/.runbook.XXXXXX); "
    "__rb() { __i=/dev/null; if [ -n \"$3\" ]; then __i=\"$__rbd/i\"; "
    "(umask 077; printf %s \"$3\" | base64 -d >\"$__i\"); fi; "
    "( eval \"$2\" ) <\"$__i\" >\"$__rbd/o\" 2>\"$__rbd/e\"; __s=$?; rm -f \"$__rbd/i\"; "
    "printf '\\n%s-B\\n' \"$1\"; base64 -w0 <\"$__rbd/o\"; "
    "printf '\\n%s-E\\n' \"$1\"; base64 -w0 <\"$__rbd/e\"; "
    "printf '\\n%s-R %d\\n' \"$1\" \"$__s\"; }; "
    "printf '%s-READY\\n' {token}\n"
)


class RemoteError(Exception):
    """A command could not be run or returned a non-zero status."""


class NodeUnreachable(RemoteError):
    """The node could not be reached over SSH (or the session dropped)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} unreachable: {reason}")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class CommandResult:
    """One command as run on one node: what was run and everything it printed."""

    host: str
    command: str
    stdout: str
    stderr: str
    exit_status: int
    duration: float
    predicted: bool = False  # dry run: recorded, not executed

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class CommandFailed(RemoteError):
    """A command exited with a status its caller did not accept."""

    def __init__(self, result: CommandResult) -> None:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        tail = detail[-1] if detail else "no output"
        super().__init__(f"`{result.command}` exited {result.exit_status}: {tail}")
        self.result = result


@dataclass
class _HostJournal:
    commands: list[CommandResult] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)


_journal: dict[str, _HostJournal] = {}
_unreachable: dict[str, str] = {}
_sessions: dict[int, str] = {}  # id(netmiko connection) -> shell ready marker
_lock = threading.Lock()


def journal(host: str) -> list[CommandResult]:
    """Every command run (or predicted) on ``host`` in this process, in order."""
    with _lock:
        return list(_journal.setdefault(host, _HostJournal()).commands)


def unreachable_hosts() -> dict[str, str]:
    with _lock:
        return dict(_unreachable)


def register_secret(host: str, value: str) -> None:
    """Never let ``value`` appear in this host's journal (and so in any report)."""
    if value:
        with _lock:
            _journal.setdefault(host, _HostJournal()).secrets.add(value)


def retry_connection(host: str) -> None:
    """Let the next call try to reach ``host`` again (a node back from a reboot)."""
    with _lock:
        _unreachable.pop(host, None)


def reset() -> None:
    """Forget journals and connection state (tests and a new invocation)."""
    with _lock:
        _journal.clear()
        _unreachable.clear()
        _sessions.clear()


def quote(*argv: str) -> str:
    """Build a shell command line from arguments, each one shell-quoted."""
    return " ".join(shlex.quote(a) for a in argv)


def _redact(host: str, text: str) -> str:
    secrets = _journal.get(host, _HostJournal()).secrets
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _record(result: CommandResult) -> CommandResult:
    with _lock:
        entry = _journal.setdefault(result.host, _HostJournal())
        clean = CommandResult(
            host=result.host,
            command=_redact(result.host, result.command),
            stdout=_redact(result.host, result.stdout),
            stderr=_redact(result.host, result.stderr),
            exit_status=result.exit_status,
            duration=result.duration,
            predicted=result.predicted,
        )
        entry.commands.append(clean)
    return result


def _describe_connect_error(exc: BaseException, address: str) -> str:
    """One line that says why a node could not be reached, from netmiko's wrapped errors."""
    return connect_errors.describe_connect_error(exc, address)


def _connection(task: Task) -> Any:
    host = task.host
    with _lock:
        reason = _unreachable.get(host.name)
    if reason is not None:
        raise NodeUnreachable(host.name, reason)
    try:
        conn = host.get_connection("netmiko", task.nornir.config)
    except Exception as exc:  # netmiko/paramiko/socket raise many types; all mean unreachable
        reason = _describe_connect_error(exc, f"{host.hostname}:{host.port or 22}")
        with _lock:
            _unreachable[host.name] = reason
        raise NodeUnreachable(host.name, reason) from None
    if id(conn) not in _sessions:
        _prepare_shell(host.name, conn)
    return conn


def _read_until(host: str, conn: Any, pattern: re.Pattern[str], timeout: float) -> str:
    """Read the channel until ``pattern`` matches, blocking in recv (no polling sleeps)."""
    channel = conn.remote_conn
    deadline = time.monotonic() + timeout
    buffer = ""
    while True:
        match = pattern.search(buffer)
        if match:
            return buffer[: match.end()]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteError(f"{host}: no answer within {timeout:.0f}s")
        channel.settimeout(remaining)
        try:
            chunk = channel.recv(1 << 16)
        except TimeoutError:
            continue
        except (OSError, EOFError) as exc:
            _mark_dropped(host, conn, f"session dropped: {exc}")
            raise NodeUnreachable(host, f"session dropped: {exc}") from None
        if not chunk:
            _mark_dropped(host, conn, "session closed by the node")
            raise NodeUnreachable(host, "session closed by the node")
        buffer += chunk.decode("utf-8", errors="replace")


def _mark_dropped(host: str, conn: Any, reason: str) -> None:
    with _lock:
        _sessions.pop(id(conn), None)


def _prepare_shell(host: str, conn: Any) -> None:
    token = "RB" + uuid.uuid4().hex[:12]
    conn.write_channel(_SHELL_SETUP.replace("{token}", token))
    _read_until(host, conn, re.compile(re.escape(token) + r"-READY\r?\n"), 30.0)
    with _lock:
        _sessions[id(conn)] = token


MAX_LINE = 1000  # a terminal in canonical mode cuts longer lines at 4095 bytes
CHUNK = 900


def _shipped(path: str, data: str) -> str:
    """Lines that write ``data`` (base64 text) to ``path`` on the node, each line short."""
    lines = [f': >"{path}"\n']
    lines += [f'printf %s {data[i : i + CHUNK]} >>"{path}"\n' for i in range(0, len(data), CHUNK)]
    return "".join(lines)


def _invocation(token: str, command: str, stdin: str | None = None) -> str:
    """The line(s) that run ``command`` through the session's ``__rb`` function.

    While the shell is busy, the terminal is in canonical mode and truncates input
    lines at 4095 bytes (a long file upload would hang the session), so a long
    command and its stdin are shipped first as short base64 lines.
    """
    feed = base64.b64encode(stdin.encode()).decode() if stdin else ""
    line = f"__rb {token} {shlex.quote(command)}{' ' + feed if feed else ''}\n"
    if len(line) <= MAX_LINE:
        return line
    encoded = base64.b64encode(command.encode()).decode()
    return (
        _shipped("$__rbd/c", encoded)
        + _shipped("$__rbd/f", feed)
        + f'__rb {token} "$(base64 -d <"$__rbd/c")" "$(cat "$__rbd/f")"\n'
    )


def _decode(text: str) -> str:
    cleaned = re.sub(r"\s+", "", text)
    return base64.b64decode(cleaned).decode("utf-8", errors="replace") if cleaned else ""


def _parse_framed(host: str, token: str, raw: str, command: str, duration: float) -> CommandResult:
    pattern = re.compile(
        re.escape(token) + r"-B\r?\n(?P<out>.*?)\r?\n"
        + re.escape(token) + r"-E\r?\n(?P<err>.*?)\r?\n"
        + re.escape(token) + r"-R (?P<rc>\d+)",
        re.S,
    )
    match = pattern.search(raw)
    if match is None:
        raise RemoteError(f"{host}: could not parse the answer to `{command}`")
    return CommandResult(
        host=host,
        command=command,
        stdout=_decode(match["out"]),
        stderr=_decode(match["err"]),
        exit_status=int(match["rc"]),
        duration=duration,
    )


def _execute(
    task: Task, commands: Sequence[str], timeout: float, stdin: str | None = None
) -> list[CommandResult]:
    conn = _connection(task)
    host = task.host.name
    tokens = ["RB" + uuid.uuid4().hex[:12] for _ in commands]
    started = time.monotonic()
    try:
        batch = "".join(_invocation(t, c, stdin) for t, c in zip(tokens, commands, strict=True))
        conn.write_channel(batch)
    except (OSError, EOFError) as exc:
        _mark_dropped(host, conn, str(exc))
        raise NodeUnreachable(host, f"session dropped: {exc}") from None
    try:
        raw = _read_until(host, conn, re.compile(re.escape(tokens[-1]) + r"-R \d+\r?\n"), timeout)
    except NodeUnreachable:
        raise
    except RemoteError as exc:
        # The command may still run and would answer in place of the next one: drop the
        # session, so the next command gets a fresh one.
        _forget_connection(task)
        raise RemoteError(f"{exc} (session closed)") from None
    duration = (time.monotonic() - started) / max(len(commands), 1)
    return [_parse_framed(host, t, raw, c, duration) for t, c in zip(tokens, commands, strict=True)]


class ChangeInDryRun(RemoteError):
    """A changing call was reached in a dry run: a bug, never a change."""


def run(
    task: Task,
    command: str,
    *,
    ok_codes: Iterable[int] = (0,),
    timeout: float = DEFAULT_TIMEOUT,
) -> CommandResult:
    """Run one read-only command on the task's host (a fact, a wait, a test).

    A status outside ``ok_codes`` raises :class:`CommandFailed` carrying stdout,
    stderr and the status.
    """
    (result,) = _execute(task, [command], timeout)
    _record(result)
    if result.exit_status not in set(ok_codes):
        raise CommandFailed(result)
    return result


def change(
    task: Task,
    command: str,
    *,
    ok_codes: Iterable[int] = (0,),
    timeout: float = DEFAULT_TIMEOUT,
    display: str | None = None,
    stdin: str | None = None,
) -> CommandResult:
    """Run one command that changes the node. Never in a dry run (ChangeInDryRun).

    ``display`` replaces the command text in the journal (e.g. for a file upload
    whose command line would be a base64 blob). ``stdin`` is fed to the command
    (a password prompt, say); it is never journalled or shown.
    """
    if task.is_dry_run():
        raise ChangeInDryRun(f"{task.host.name}: `{display or command}` reached in a dry run")
    (result,) = _execute(task, [command], timeout, stdin)
    if display is not None:
        result = CommandResult(
            result.host, display, result.stdout, result.stderr, result.exit_status,
            result.duration,
        )
    _record(result)
    if result.exit_status not in set(ok_codes):
        raise CommandFailed(result)
    return result


def record_prediction(host: str, text: str) -> None:
    """Journal a change a dry run would make (nothing is run)."""
    _record(CommandResult(host, text, "", "", 0, 0.0, predicted=True))


def run_many(
    task: Task, commands: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, CommandResult]:
    """Run read-only commands in one round trip; every exit status is returned, none raises."""
    if not commands:
        return {}
    names = list(commands)
    results = _execute(task, [commands[n] for n in names], timeout)
    for result in results:
        _record(result)
    return dict(zip(names, results, strict=True))


BOOT_ID = "cat /proc/sys/kernel/random/boot_id"


def _forget_connection(task: Task) -> None:
    """Drop the host's (dead or dying) session without waiting on it."""
    host = task.host
    conn = host.connections.get("netmiko")
    if conn is None:
        return
    with _lock:
        _sessions.pop(id(conn.connection), None)
    with contextlib.suppress(Exception):  # the node is going away; closing may fail
        host.close_connection("netmiko")
    host.connections.pop("netmiko", None)


def _boot_id_after_reconnect(task: Task) -> str | None:
    """The boot id over a brand-new session, or None while the node does not answer."""
    try:
        conn = task.host.get_connection("netmiko", task.nornir.config)
        _prepare_shell(task.host.name, conn)
    except Exception:  # refused, reset, timed out: still booting
        _forget_connection(task)
        return None
    try:
        (result,) = _execute(task, [BOOT_ID], 15.0)
    except RemoteError:
        _forget_connection(task)
        return None
    _record(result)
    return result.stdout.strip() or None


def reboot_and_wait(
    task: Task,
    *,
    timeout: float,
    poll: float = 1.0,
    waiting: Callable[[float], None] | None = None,
) -> str:
    """Reboot the node; return its new boot id once it answers SSH again.

    The reboot is started in the background a second after the command returns,
    so the command's own status comes back before the session drops. The node
    counts as back only with a boot id different from the one before, so a node
    still on its way down is not mistaken for one that has come back.
    """
    before = run(task, BOOT_ID).stdout.strip()
    change(task, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &", display="reboot")
    _forget_connection(task)
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        interrupt.pause(poll)  # a safe point: Ctrl-C stops the wait here (Interrupted)
        if waiting is not None:
            waiting(time.monotonic() - began)
        current = _boot_id_after_reconnect(task)
        if current is not None and current != before:
            return current
        if current is not None:  # still the old boot: it has not gone down yet
            _forget_connection(task)
    raise NodeUnreachable(
        task.host.name, f"did not come back within {timeout:.0f}s after the reboot"
    )


def close_session(conn: Any) -> None:
    """Remove the session's scratch folder before the connection is closed."""
    with _lock:
        token = _sessions.pop(id(conn), None)
    if token is None:
        return
    with contextlib.suppress(Exception):  # closing anyway; the folder is in /tmp
        conn.write_channel('rm -rf "$__rbd"\n')
