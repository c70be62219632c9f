"""Ctrl-C and SIGTERM: stop at the next safe point, never halfway through a command.

The first SIGINT or SIGTERM only sets a process-wide request. The run then starts no new
step and no new check; a running step stops where it waits (the reboot wait polls
:func:`pause`), a command already sent to a node runs to its end. The CLI then writes the
report and the run record (the interrupted step marked so), releases the node lock and
exits 130. A second signal quits at once: no report, and the node lock stays until
``runbook unlock`` clears it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from runbook import progress
from runbook.record import InterruptRecord

EXIT_STATUS = 130  # 128 + SIGINT, what a shell reports for a job stopped by Ctrl-C
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """Raised at a safe point once an interrupt was requested."""


@dataclass(frozen=True)
class Request:
    signal: str  # "SIGINT", "SIGTERM"
    at: float  # time.time()
    activity: progress.Activity  # what was running when it came

    def record(self) -> InterruptRecord:
        """The run record's account: the signal, when, and what was running then."""
        a = self.activity
        return InterruptRecord(
            signal=self.signal, at=datetime.fromtimestamp(self.at, UTC), during=a.stage,
            after="" if a.stage else a.previous,
            notes={h: a.notes[h].text for h in a.hosts if h in a.notes},
        )

    def line(self) -> str:
        """``interrupted during 02-xen · reboot (ha1: waiting for SSH, ha2: waiting for SSH)``."""
        return self.record().line()


_event = threading.Event()
_request: Request | None = None


def request(signal_name: str) -> Request:
    """Ask the run to stop (the signal handler's first call; tests call it directly)."""
    global _request
    if _request is None:
        _request = Request(signal_name, time.time(), progress.current())
    _event.set()
    return _request


def requested() -> Request | None:
    return _request if _event.is_set() else None


def reset() -> None:
    global _request
    _request = None
    _event.clear()


def check() -> None:
    """A safe point: raise :class:`Interrupted` when a stop was requested."""
    if _event.is_set():
        raise Interrupted(_request.signal if _request else "interrupted")


def pause(seconds: float) -> None:
    """Sleep ``seconds`` at a safe point; raise :class:`Interrupted` as soon as one comes."""
    if _event.wait(seconds):
        check()


Write = Callable[[str], None]


def _stderr(text: str) -> None:
    with contextlib.suppress(OSError):  # a closed stderr must not stop the stop
        os.write(2, text.encode())


def _quit_now(name: str, write: Write) -> None:
    write(f"\n{name} again: quitting at once; a report not written yet is not written, and a "
          f"node lock still held stays (`runbook unlock` clears it)\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a stream busy in the interrupted frame
            stream.flush()
    os._exit(EXIT_STATUS)


def _handler(write: Write) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if _event.is_set():
            _quit_now(name, write)
        request(name)
        write(f"\n{name}: stopping at the next safe point (commands already sent finish "
              f"first); press Ctrl-C again to quit at once\n")
    return handle


@contextlib.contextmanager
def handling(write: Write = _stderr) -> Iterator[None]:
    """Within: SIGINT and SIGTERM request a stop instead of raising KeyboardInterrupt.

    A request belongs to this one invocation: it is forgotten on the way out.
    """
    reset()
    handler = _handler(write)
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        reset()
