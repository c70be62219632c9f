"""A stand-in for a node's interactive shell that speaks the remote helper's framing.

It answers the setup line and every ``__rb TOKEN 'command'`` line the helper
writes, exactly as the shell function on a node would, from a scripted
responder. The remote helper's real framing and parsing code is exercised.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Callable
from types import SimpleNamespace

Responder = Callable[[str], tuple[str, str, int]]


class FakeChannel:
    def __init__(self) -> None:
        self.pending = b""
        self.closed = False

    def settimeout(self, timeout: float) -> None:
        pass

    def recv(self, size: int) -> bytes:
        if not self.pending:
            if self.closed:
                return b""
            raise TimeoutError
        chunk, self.pending = self.pending[:size], self.pending[size:]
        return chunk


class FakeShell:
    """``write_channel`` + ``remote_conn``: the two netmiko members the helper uses."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.remote_conn = FakeChannel()
        self.commands: list[str] = []
        self.stdins: list[str | None] = []
        self.scratch: dict[str, str] = {}  # the session's "$__rbd/X" files
        self.longest_line = 0

    def write_channel(self, data: str) -> None:
        ready = re.search(r"printf '%s-READY\\n' (\S+)", data)
        if ready:
            self.remote_conn.pending += f"{ready[1]}-READY\r\n".encode()
            return
        for line in data.splitlines():
            self.longest_line = max(self.longest_line, len(line) + 1)
            if m := re.fullmatch(r': >"\$__rbd/(\w)"', line):
                self.scratch[m[1]] = ""
                continue
            if m := re.fullmatch(r'printf %s (\S+) >>"\$__rbd/(\w)"', line):
                self.scratch[m[2]] += m[1]
                continue
            if not line.startswith("__rb "):
                continue
            if line.endswith(' "$(base64 -d <"$__rbd/c")" "$(cat "$__rbd/f")"'):
                token = line.split()[1]
                command = base64.b64decode(self.scratch["c"]).decode()
                feed = [self.scratch["f"]] if self.scratch["f"] else []
            else:
                _, token, command, *feed = shlex.split(line)
            self.commands.append(command)
            self.stdins.append(base64.b64decode(feed[0]).decode() if feed else None)
            out, err, rc = self.responder(command)
            frame = (
                f"\r\n{token}-B\r\n{base64.b64encode(out.encode()).decode()}\r\n"
                f"{token}-E\r\n{base64.b64encode(err.encode()).decode()}\r\n{token}-R {rc}\r\n"
            )
            self.remote_conn.pending += frame.encode()


def attach(host: object, shell: FakeShell) -> None:
    """Make ``host.get_connection('netmiko', ...)`` return ``shell`` without any SSH."""
    host.connections["netmiko"] = SimpleNamespace(connection=shell)  # type: ignore[attr-defined]
