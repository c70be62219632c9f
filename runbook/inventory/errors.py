"""Inventory problems: one exception for all of them, each naming its file, line, host and key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: Where a value sits inside a YAML file or a host's settings: ("data", "ntp_servers", 0).
KeyPath = tuple[str | int, ...]


class InventoryError(Exception):
    """One or more inventory problems; ``str()`` gives one line per problem.

    The attributes describe the first problem; ``problems`` holds all of them, each an
    ``InventoryError`` of its own. ``line`` and ``column`` are 1-based, None when unknown.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Path | None = None,
        host: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.file = file
        self.host = host
        self.key = key
        self.line = line
        self.column = column
        self.problems: tuple[InventoryError, ...] = (self,)

    @classmethod
    def collect(cls, problems: Sequence[InventoryError]) -> InventoryError:
        """One error standing for ``problems`` (not empty)."""
        first = problems[0]
        error = cls(
            first.problem,
            file=first.file,
            host=first.host,
            key=first.key,
            line=first.line,
            column=first.column,
        )
        error.problems = tuple(problems)
        return error

    def describe(self) -> str:
        """This problem alone, on one line: ``file, line N: host 'x': key 'k': problem``."""
        parts = []
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f", line {self.line}"
                if self.column is not None:
                    where += f", column {self.column}"
            parts.append(where)
        if self.host is not None:
            parts.append(f"host {self.host!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        parts.append(self.problem)
        return ": ".join(parts)

    def __str__(self) -> str:
        return "\n".join(p.describe() for p in self.problems)


class Problems:
    """Problems found so far, located with the line numbers of the files read."""

    def __init__(self) -> None:
        self.items: list[InventoryError] = []
        self.lines: dict[Path, dict[KeyPath, int]] = {}

    def add(
        self,
        problem: str,
        *,
        file: Path | None = None,
        host: str | None = None,
        key: KeyPath | None = None,
        at: KeyPath = (),
    ) -> None:
        """Record a problem; ``at`` is the value's path inside ``file`` (for its line)."""
        line = None
        lines = self.lines.get(file) if file is not None else None
        if lines:
            for end in range(len(at), 0, -1):  # the value, else its closest written parent
                if at[:end] in lines:
                    line = lines[at[:end]]
                    break
        self.items.append(
            InventoryError(
                problem, file=file, host=host, key=key_name(key) if key else None, line=line
            )
        )


def key_name(path: KeyPath) -> str:
    """("data", "ntp_servers", 0) -> "data.ntp_servers[0]"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
