"""Live progress notes from inside long steps (a reboot, an image build) to the terminal."""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, str], None]

_listener: Listener | None = None
_lock = threading.Lock()


def listen(listener: Listener | None) -> None:
    """Route notes to ``listener(host, text)`` (the CLI's spinner); None stops it."""
    global _listener
    with _lock:
        _listener = listener


def note(host: str, text: str) -> None:
    """Tell the operator what ``host`` is waiting for; silent when nobody listens."""
    with _lock:
        listener = _listener
    if listener is not None:
        listener(host, text)
