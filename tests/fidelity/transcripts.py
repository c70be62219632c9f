"""Transcripts of the real tools, as the fidelity suite reads them (format: README.md beside this
file): one YAML list per tool family in ``transcripts/``.

Loading is strict: an unknown key, a missing or ill-typed required key, a duplicate id (across
all files) or an unknown lab state is an error that names the file and the transcript id, so a
typo never turns into a transcript that silently checks less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parent / "transcripts"
ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NODES = ("ha1", "ha2")
MATCHES = ("exact", "regex")
REQUIRED = ("id", "source", "node", "command", "stdout", "stderr", "exit")
OPTIONAL = ("needs", "setup", "stdin", "match", "cleanup", "known_difference")


class TranscriptError(Exception):
    """A transcript file that does not follow the format; the message names file and id."""


@dataclass(frozen=True)
class Transcript:
    id: str
    source: str
    node: str
    command: str
    stdout: str
    stderr: str
    exit: int
    file: str
    needs: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    stdin: str | None = None
    match: str = "exact"
    cleanup: tuple[str, ...] = ()
    # Why the lab differs from the real tool here on purpose (documented in docs/lab.md): the
    # transcript still records the real output, and counts as not matching in the score.
    known_difference: str | None = None

    def matches(self, stream: str, actual: str) -> bool:
        """Exact equality, or a full regex match (re.S) when ``match: regex``."""
        expected: str = getattr(self, stream)
        if self.match == "regex":
            return re.fullmatch(expected, actual, re.S) is not None
        return expected == actual


def _where(path: Path, entry: object, index: int) -> str:
    ident = entry.get("id") if isinstance(entry, dict) else None
    return f"{path.name}: transcript {ident!r}" if ident else f"{path.name}: entry {index + 1}"


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TranscriptError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def parse_entry(path: Path, entry: object, index: int,
                states: tuple[str, ...] | None = None) -> Transcript:
    """One transcript from one YAML list entry (``states``: the lab states the runner knows)."""
    where = _where(path, entry, index)
    if not isinstance(entry, dict):
        raise TranscriptError(f"{where}: a transcript is a mapping, not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise TranscriptError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise TranscriptError(f"{where}: missing {', '.join(missing)}")
    text: dict[str, str] = {}
    for key in ("id", "source", "node", "command", "stdout", "stderr"):
        value = entry[key]
        if not isinstance(value, str):
            raise TranscriptError(f"{where}: {key} must be a string")
        text[key] = value
    if not ID_RE.match(text["id"]):
        raise TranscriptError(f"{where}: id must be kebab-case (a-z, 0-9, -)")
    if not text["source"].strip():
        raise TranscriptError(f"{where}: source is empty (name the tool's file and version)")
    if text["node"] not in NODES:
        raise TranscriptError(f"{where}: node must be one of {', '.join(NODES)}")
    code = entry["exit"]
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
        raise TranscriptError(f"{where}: exit must be an integer 0..255")
    match = entry.get("match") or "exact"
    if match not in MATCHES:
        raise TranscriptError(f"{where}: match must be exact or regex")
    stdin = entry.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise TranscriptError(f"{where}: stdin must be a string or null")
    needs = _strings(entry.get("needs"), where, "needs")
    if states is not None:
        for need in needs:
            if need not in states:
                raise TranscriptError(f"{where}: unknown lab state {need!r} (the runner knows "
                                      f"{', '.join(states)})")
    if match == "regex":
        for stream in ("stdout", "stderr"):
            try:
                re.compile(text[stream], re.S)
            except re.error as exc:
                raise TranscriptError(f"{where}: {stream} is not a valid regex: {exc}") from None
    return Transcript(id=text["id"], source=text["source"], node=text["node"],
                      command=text["command"], stdout=text["stdout"], stderr=text["stderr"],
                      exit=code, file=path.name, needs=needs,
                      setup=_strings(entry.get("setup"), where, "setup"), stdin=stdin,
                      match=match, cleanup=_strings(entry.get("cleanup"), where, "cleanup"),
                      known_difference=_known_difference(entry, where))


def _known_difference(entry: dict[str, Any], where: str) -> str | None:
    value = entry.get("known_difference")
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TranscriptError(f"{where}: known_difference must say why, in words")
    return value


def load_file(path: Path, states: tuple[str, ...] | None = None) -> list[Transcript]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TranscriptError(f"{path.name}: not valid YAML: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise TranscriptError(f"{path.name}: the file must be a YAML list of transcripts")
    return [parse_entry(path, entry, i, states) for i, entry in enumerate(data)]


def load_all(folder: Path = FOLDER, states: tuple[str, ...] | None = None) -> list[Transcript]:
    """Every transcript of every ``*.yaml`` file in ``folder`` (sorted by file name)."""
    seen: dict[str, str] = {}
    found: list[Transcript] = []
    for path in sorted(folder.glob("*.yaml")):
        for transcript in load_file(path, states):
            if transcript.id in seen:
                raise TranscriptError(f"{path.name}: transcript {transcript.id!r}: duplicate id "
                                      f"(also in {seen[transcript.id]})")
            seen[transcript.id] = path.name
            found.append(transcript)
    return found
