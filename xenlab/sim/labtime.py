"""The lab's one time scale: how much faster than a real node the lab waits (stdlib only).

Some real waits are long and carry no information beyond their shape: Xen 3.2's xend waits
DEVICE_CREATE_TIMEOUT = 100 s for a hotplug script that never answers before xm create fails.
The lab keeps every such wait and its outcome but multiplies its length by ``TIME_SCALE``
(0.05 by default, so 100 s becomes 5 s). Set XENLAB_TIME_SCALE in a command's environment on
the node to change it (1 plays the real durations). Nothing else in the lab is scaled.
"""

from __future__ import annotations

import os
import time

DEFAULT_TIME_SCALE = 0.05


def time_scale() -> float:
    try:
        value = float(os.environ.get("XENLAB_TIME_SCALE") or DEFAULT_TIME_SCALE)
    except ValueError:
        return DEFAULT_TIME_SCALE
    return value if value >= 0 else DEFAULT_TIME_SCALE


def wait(seconds: float) -> None:
    """Sleep for a real node's ``seconds``, scaled."""
    time.sleep(seconds * time_scale())
