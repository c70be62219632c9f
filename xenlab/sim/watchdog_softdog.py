"""/dev/watchdog of a lab node: Linux 2.6.24's softdog driver (nowayout=0), run by the node's
init from boot until the node goes down (the kernel of a lab node has it built in).

What softdog does (drivers/char/watchdog/softdog.c, 2.6.24) and this process does too:

- open arms the timer (soft_margin, 60 s unless the opener sets another with
  WDIOC_SETTIMEOUT); every write() of at least one byte is a keepalive ping; a write holding a
  'V' (the magic close character) lets the next close disarm it, any other write cancels that.
- close after 'V': the timer stops. Any other close (the process died, kill -9, or simply forgot
  the 'V') prints ``SOFTDOG: Unexpected close, not stopping watchdog!`` and pings once more:
  the node resets one margin later unless someone opens and writes again.
- the timer fires: ``SOFTDOG: Initiating system reboot.`` and an emergency restart: no
  shutdown scripts, the node's processes die at once, so do its DomUs.

What differs, because a lab node cannot have a character device of its own: /dev/watchdog is a
FIFO (mode 600) this process reads. A FIFO takes open, write and close exactly as the real
heartbeat does them (open O_WRONLY, write "" one byte per tick, write "V" then close on a clean
stop), but not ioctl, so heartbeat's WDIOC_SETTIMEOUT fails (it logs
``WDIOC_SETTIMEOUT: Failed to set watchdog timer to N seconds.``) and ``test -c`` is false.
The timeout that ioctl would have set is applied instead: when the writer is the heartbeat
daemon, the margin is heartbeat's (deadtime from /etc/ha.d/ha.cf + 10 ms, rounded up to whole
seconds, heartbeat.c hb_init_watchdog_interval); any other writer gets soft_margin (60 s),
scaled by the lab's time scale (XENLAB_TIME_SCALE, default 0.05: 3 s). The reset is the node's
reboot (its init's SIGUSR1, as ``xenlab.manager.reboot`` does: DomUs die with dom0).

Kernel messages go to /var/log/kern.log and /var/log/syslog in sysklogd's format, and every event
to the node's state folder (watchdog.log), which the host reads.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import select
import signal
import socket
import stat
import sys
import time
from dataclasses import dataclass

import labtime  # the sim folder: this script's own

DEVICE = "/dev/watchdog"
HA_CF = "/etc/ha.d/ha.cf"
STATE_LOG = "/usr/lib/runbook-lab/node/watchdog.log"
KERNEL_LOGS = ("/var/log/kern.log", "/var/log/syslog")
SOFT_MARGIN = 60  # softdog.c TIMER_MARGIN
HEARTBEAT_DEADTIME_MS = 30000  # heartbeat's default deadtime (heartbeat -D)
PFX = "SOFTDOG: "
MAGIC = 42  # softdog.c: expect_close = 42 after a 'V'


# ----------------------------------------------------------------------------- pure parts


def parse_msec(text: str) -> int | None:
    """A heartbeat time value in ms (cl_get_msec: a number, optionally ms/us/s; seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(ms|msec|us|usec|s|sec)?\s*", text)
    if not match:
        return None
    value = float(match.group(1))
    unit = (match.group(2) or "s")[:2]
    factor = {"ms": 1.0, "us": 0.001, "s": 1000.0, "se": 1000.0}[unit]
    return int(value * factor)


def heartbeat_deadtime_ms(ha_cf: str) -> int:
    """The deadtime heartbeat reads from ha.cf (the last ``deadtime`` line wins)."""
    deadtime = HEARTBEAT_DEADTIME_MS
    for line in ha_cf.splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if len(words) == 2 and words[0].lower() == "deadtime":
            value = parse_msec(words[1])
            if value is not None:
                deadtime = value
    return deadtime


def heartbeat_timeout(ha_cf: str) -> int:
    """What heartbeat sets with WDIOC_SETTIMEOUT: (deadtime_ms + 10 + 999) // 1000 seconds."""
    return (heartbeat_deadtime_ms(ha_cf) + 10 + 999) // 1000


@dataclass
class Softdog:
    """softdog.c's state: armed timer, its deadline, the magic-close flag."""

    margin: float = SOFT_MARGIN
    armed: bool = False
    is_open: bool = False
    expect_close: int = 0
    deadline: float = math.inf

    def keepalive(self, now: float) -> None:
        self.armed = True
        self.deadline = now + self.margin

    def open(self, now: float, margin: float | None = None) -> None:
        if margin is not None:
            self.margin = margin
        self.is_open = True
        self.keepalive(now)

    def write(self, data: bytes, now: float) -> None:
        if not data:
            return
        self.expect_close = MAGIC if b"V" in data else 0
        self.keepalive(now)

    def close(self, now: float) -> str | None:
        """Release; returns the kernel message it prints, if any."""
        message = None
        if self.expect_close == MAGIC:
            self.armed = False
            self.deadline = math.inf
        else:
            message = "Unexpected close, not stopping watchdog!"
            self.keepalive(now)
        self.is_open = False
        self.expect_close = 0
        return message

    def expired(self, now: float) -> bool:
        return self.armed and now >= self.deadline


def kernel_line(host: str, uptime: float, message: str, when: float | None = None) -> str:
    """A printk as sysklogd writes it: ``Nov 26 12:00:00 ha1 kernel: [  123.456789] msg``."""
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(when))
    return f"{stamp} {host} kernel: [{uptime:12.6f}] {message}\n"


# ----------------------------------------------------------------------------- the device


def uptime() -> float:
    try:
        with open("/proc/uptime", encoding="ascii") as fh:
            return float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def record(event: str) -> None:
    with contextlib.suppress(OSError), open(STATE_LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{time.time():.3f} {event}\n")


def printk(message: str) -> None:
    line = kernel_line(socket.gethostname(), uptime(), PFX + message)
    for path in KERNEL_LOGS:
        with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
    record(f"printk {PFX}{message}")


def writers_are_heartbeat(device: str = DEVICE) -> bool:
    """Is a process named heartbeat holding ``device`` open for writing?"""
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != device:
                    continue
                exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            except OSError:
                continue
            if exe == "heartbeat":
                return True
    return False


def margin_for_opener() -> float:
    if writers_are_heartbeat():
        try:
            with open(HA_CF, encoding="utf-8", errors="replace") as fh:
                return float(heartbeat_timeout(fh.read()))
        except OSError:
            return float((HEARTBEAT_DEADTIME_MS + 10 + 999) // 1000)
    return SOFT_MARGIN * labtime.time_scale()


def make_device() -> None:
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISFIFO(os.lstat(DEVICE).st_mode):
            os.unlink(DEVICE)
    if not os.path.exists(DEVICE):
        os.mkfifo(DEVICE, 0o600)
        os.chmod(DEVICE, 0o600)


def reset_node() -> None:
    """The emergency restart: the node's init reboots it at once (SIGUSR1)."""
    printk("Initiating system reboot.")
    record("reset")
    os.kill(1, signal.SIGUSR1)


def serve() -> None:
    dog = Softdog()
    make_device()
    while True:
        # O_NONBLOCK: waiting for a writer never blocks this reader; a writer's blocking open
        # returns as soon as this end is open.
        fd = os.open(DEVICE, os.O_RDONLY | os.O_NONBLOCK)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while True:
            now = time.monotonic()
            if dog.expired(now):
                reset_node()
                return
            wait = -1 if not dog.armed else max(0, int((dog.deadline - now) * 1000) + 1)
            if not poller.poll(wait):
                continue
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue
            now = time.monotonic()
            if data:
                if not dog.is_open:
                    dog.open(now, margin_for_opener())
                    record(f"open margin {dog.margin:g}s")
                dog.write(data, now)
                continue
            if dog.is_open:  # every writer closed: the release
                message = dog.close(now)
                record("close" + (" (magic)" if message is None else " (unexpected)"))
                if message:
                    printk(message)
            os.close(fd)
            break


def main() -> int:
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):  # a driver is not a process
        signal.signal(sig, signal.SIG_IGN)
    serve()
    while True:  # the node is resetting: wait to die with it (the init would start a new dog)
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
