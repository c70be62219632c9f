"""Ctrl-C and SIGTERM plumbing: the request, safe points, the handler, the second signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from runbook import interrupt, progress


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    interrupt.reset()
    progress.reset()
    yield
    interrupt.reset()
    progress.reset()


def test_a_pause_returns_when_nobody_asks_to_stop() -> None:
    interrupt.pause(0.01)
    interrupt.check()
    assert interrupt.requested() is None


def test_a_pause_ends_as_soon_as_a_stop_is_requested_from_another_thread() -> None:
    threading.Timer(0.1, interrupt.request, ["SIGTERM"]).start()
    began = time.monotonic()
    with pytest.raises(interrupt.Interrupted, match="SIGTERM"):
        interrupt.pause(30)
    assert time.monotonic() - began < 2


def test_the_request_keeps_what_was_running_when_it_came() -> None:
    progress.begin("02-xen · reboot", ["ha1", "ha2"])
    progress.note("ha1", "waiting for SSH")
    progress.note("ha2", "waiting for SSH")
    stop = interrupt.request("SIGINT")
    progress.note("ha1", "back")  # later notes do not rewrite what the operator saw
    assert interrupt.request("SIGTERM") is stop  # the first signal is the one recorded
    assert stop.line() == (
        "interrupted during 02-xen · reboot (ha1: waiting for SSH, ha2: waiting for SSH)")
    assert stop.record().signal == "SIGINT" and stop.record().at.tzinfo is not None


def test_between_two_steps_the_line_names_the_last_one() -> None:
    progress.begin("02-xen · loop", ["ha1"])
    progress.end()
    assert interrupt.request("SIGINT").line() == "interrupted after 02-xen · loop"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_only_requests_a_stop(sig: signal.Signals) -> None:
    said: list[str] = []
    before = signal.getsignal(sig)
    with interrupt.handling(said.append):
        os.kill(os.getpid(), sig)
        stop = requested_within(2.0)
        assert stop is not None and stop.signal == sig.name
        with pytest.raises(interrupt.Interrupted):
            interrupt.check()
    assert signal.getsignal(sig) is before
    assert interrupt.requested() is None  # forgotten with the invocation
    assert len(said) == 1 and "stopping at the next safe point" in said[0]


def requested_within(seconds: float) -> interrupt.Request | None:
    deadline = time.monotonic() + seconds
    while interrupt.requested() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return interrupt.requested()


def test_a_signal_to_a_busy_process_stops_a_wait_in_a_worker_thread_at_once() -> None:
    """The main thread blocked (joining a worker, as Nornir's runner does) must not delay
    the stop: the worker's safe point ends its wait as soon as the signal comes."""
    stopped: list[float] = []

    def worker() -> None:
        began = time.monotonic()
        with pytest.raises(interrupt.Interrupted):
            interrupt.pause(30)
        stopped.append(time.monotonic() - began)

    with interrupt.handling(lambda text: None):
        thread = threading.Thread(target=worker)
        thread.start()
        threading.Timer(0.2, os.kill, [os.getpid(), signal.SIGINT]).start()
        thread.join()  # blocked here, in C, when the signal comes
    assert stopped and stopped[0] < 3


SECOND_SIGNAL = """
import os, signal, time
from runbook import interrupt
with interrupt.handling():
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    print("still running")
"""


def test_a_second_signal_quits_at_once_with_130_and_no_traceback() -> None:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SECOND_SIGNAL], capture_output=True, text=True,
                          timeout=30, check=False)
    assert time.monotonic() - began < 4
    assert done.returncode == interrupt.EXIT_STATUS == 130
    assert "still running" not in done.stdout
    assert "SIGINT again: quitting at once" in done.stderr
    assert "Traceback" not in done.stderr


def test_outside_the_main_thread_nothing_is_installed() -> None:
    seen: list[object] = []

    def embedded() -> None:
        with interrupt.handling(lambda text: None):
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=embedded)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
