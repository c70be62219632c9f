"""Ctrl-C and SIGTERM: stop at the next safe point, never halfway through a command.

The first SIGINT or SIGTERM only sets a process-wide request. The run then starts no new
step and no new check; a running step stops where it waits (the reboot wait polls
:func:`pause`; any wait loop of a task should), a command already sent to a node runs to
its end. The CLI then writes the report and the run record (the interrupted step marked
so), releases the node lock and exits 130. A second signal quits at once: a report not
yet written is not written, and the node lock stays until ``runbook unlock`` clears it.
"""

from __future__ import annotations

import contextlib
import os
import signal
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
    # The terminal output is already flushed line by line (rich); nothing else is waited for.
    write(f"\n{name} again: quitting at once; a report not written yet is not written, and a "
          f"node lock still held stays (`runbook unlock` clears it)\n")
    os._exit(EXIT_STATUS)


def _on_signal(signum: int, write: Write) -> None:
    name = signal.Signals(signum).name
    if _event.is_set():
        _quit_now(name, write)
    request(name)
    write(f"\n{name}: stopping at the next safe point (commands already sent finish "
          f"first); press Ctrl-C again to quit at once\n")


def _watch(read_fd: int, write: Write) -> None:
    """Act on each signal number the C-level handler writes to the wakeup pipe."""
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:  # the write end closed: the invocation is over
            return
        for signum in data:
            if signum in SIGNALS:
                _on_signal(signum, write)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: the watcher thread has acted already."""


@contextlib.contextmanager
def handling(write: Write = _stderr) -> Iterator[None]:
    """Within: SIGINT and SIGTERM request a stop instead of raising KeyboardInterrupt.

    Python runs a signal handler in the main thread only, and only once that thread runs
    Python code again; while it waits for the step's worker threads (a signal delivered to
    one of them does not wake it) that may be minutes. So the handler does nothing itself:
    the signal's number comes through a wakeup pipe to a watcher thread, which requests the
    stop at once (and quits on a second signal). A request belongs to this one invocation:
    it is forgotten on the way out.
    """
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread's handlers only: nothing to install here
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    watcher = threading.Thread(target=_watch, args=(read_fd, write), name="interrupt-watcher",
                               daemon=True)
    watcher.start()
    previous = {s: signal.signal(s, _ignore) for s in SIGNALS}
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(old_fd)
        for sig, old in previous.items():
            signal.signal(sig, old)
        os.close(write_fd)
        watcher.join(timeout=5)
        os.close(read_fd)
        reset()
