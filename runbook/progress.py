"""What the run is doing right now: the running step, and each node's last progress note.

The engine says when a step begins and ends; a long step notes what a node is waiting for
(``waiting for SSH``). Three readers use it: the terminal's spinner, the steady progress
lines of non-interactive output (CI, a log file), and the interrupt handler, which says
what the run was doing when Ctrl-C came. The state is an immutable snapshot replaced
whole under a lock, so a reader (even a signal handler) takes no lock at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

Listener = Callable[[str, str], None]


@dataclass(frozen=True)
class Note:
    text: str  # "waiting for SSH"
    since: float  # time.monotonic() when this text first came (repeats keep it)


@dataclass(frozen=True)
class Activity:
    """The stage running now (``02-xen · reboot``, ``the checks of 01-base``) or none."""

    stage: str = ""
    hosts: tuple[str, ...] = ()
    began: float = 0.0  # time.monotonic()
    notes: Mapping[str, Note] = field(default_factory=lambda: MappingProxyType({}))
    previous: str = ""  # the stage that ended last, for "interrupted after ..."
    done: frozenset[str] = frozenset()  # hosts that finished the stage (the others still work)

    def note_of(self, host: str) -> str:
        note = self.notes.get(host)
        return note.text if note is not None else ""

    @property
    def working(self) -> tuple[str, ...]:
        """The hosts of the stage that have not finished it yet, in stage order."""
        return tuple(h for h in self.hosts if h not in self.done)


_state = Activity()
_listener: Listener | None = None
_lock = threading.Lock()


def current() -> Activity:
    """The activity now: lock-free (one reference read), safe in a signal handler."""
    return _state


def begin(stage: str, hosts: list[str] | tuple[str, ...]) -> None:
    """A stage starts on ``hosts``; the notes of the stage before are forgotten."""
    global _state
    with _lock:
        previous = _state.stage or _state.previous
        _state = Activity(stage, tuple(hosts), time.monotonic(), previous=previous)


def end() -> None:
    global _state
    with _lock:
        if _state.stage:
            _state = Activity(previous=_state.stage)


def finished(host: str) -> None:
    """``host`` is through the running stage; the listener hears of it (its text is "")."""
    global _state
    with _lock:
        if not _state.stage or host in _state.done:
            return
        _state = replace(_state, done=_state.done | {host})
        listener = _listener
    if listener is not None:
        listener(host, "")


def reset() -> None:
    """Forget everything (a new invocation, tests)."""
    global _state
    with _lock:
        _state = Activity()


def listen(listener: Listener | None) -> None:
    """Route notes to ``listener(host, text)`` (the CLI's spinner); None stops it.

    A host that finished the stage is told with an empty text.
    """
    global _listener
    with _lock:
        _listener = listener


def note(host: str, text: str) -> None:
    """Tell the operator what ``host`` is waiting for; the same text again keeps its start."""
    global _state
    with _lock:
        old = _state.notes.get(host)
        if old is None or old.text != text:
            notes = {**_state.notes, host: Note(text, time.monotonic())}
            _state = replace(_state, notes=MappingProxyType(notes))
        listener = _listener
    if listener is not None:
        listener(host, text)


def elapsed(activity: Activity, host: str, now: float) -> float:
    """Seconds ``host`` has been in its current note, or in the stage when it has none."""
    note_ = activity.notes.get(host)
    return now - (note_.since if note_ is not None else activity.began)


def lines(activity: Activity, now: float) -> list[str]:
    """One line per host still in the stage: ``  ha1  02-xen · reboot  waiting for SSH (40 s)``.

    What non-interactive output prints at a steady interval instead of a spinner; a host
    that is through the stage (waiting for the other) has no line.
    """
    if not activity.stage:
        return []
    width = max(len(h) for h in activity.hosts) if activity.hosts else 0
    return [
        f"  {h:<{width}}  {activity.stage}  {activity.note_of(h) or 'running'} "
        f"({elapsed(activity, h, now):.0f} s)"
        for h in activity.working
    ]


def spinner_text(activity: Activity, now: float) -> str:
    """What the spinner says: the stage and only the hosts still in it, with their notes.

    ``02-xen · reboot · ha2: waiting for SSH (40 s)``; a host with no note is named alone.
    """
    if not activity.stage:
        return ""
    parts = []
    for host in activity.working:
        text = activity.note_of(host)
        parts.append(f"{host}: {text} ({elapsed(activity, host, now):.0f} s)" if text else host)
    return f"{activity.stage} · {', '.join(parts)}" if parts else activity.stage
