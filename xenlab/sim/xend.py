"""Simulated ``xend`` of Xen 3.2 on a lab node (/usr/sbin/xend, run by /etc/init.d/xend).

``xend start`` daemonizes (pid in /var/run/xend.pid, log /var/log/xen/xend.log); ``xend stop``
ends it. The daemon reads /etc/xen/xend-config.sxp at start (a reload does nothing; restart to
apply changes, as the guide says) and, when ``(xend-relocation-server yes)``, listens on the
relocation port (8002 unless ``xend-relocation-port`` says otherwise) of this node's own
network, at ``xend-relocation-address``: a real TCP socket, so a cut crossover cable or a wrong
/etc/hosts breaks a migration as it would on real nodes. ``xend-relocation-hosts-allow`` is
applied as Xen 3.2 applies it. Both ends of a relocation are in sim/relocation.py. Running
DomUs live in the lab's hypervisor, so a restart of xend leaves them running, as on Xen.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import relocation
import xm

PIDFILE = "/var/run/xend.pid"
LOG = "/var/log/xen/xend.log"
CONFIG = "/etc/xen/xend-config.sxp"


def log(message: str, level: str = "INFO") -> None:
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}] {level} "
                     f"(XendRelocate) {message}\n")


def read_config() -> dict:
    try:
        with open(CONFIG, encoding="utf-8") as fh:
            return xm.parse_sxp_config(fh.read())
    except OSError:
        return {}


def serve() -> None:
    """Read xend-config.sxp once (a reload does nothing; restart applies changes) and serve
    the relocation port when the config says so (sim/relocation.py)."""
    config = read_config()
    listener = relocation.listen(config)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reload has no effect on xend
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if listener is None:
        while True:
            time.sleep(3600)
    relocation.serve(listener, config)


def running_pid() -> int | None:
    try:
        with open(PIDFILE, encoding="utf-8") as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start() -> int:
    if running_pid():
        return 0
    if not xm.node_boot().get("hypervisor"):
        sys.stderr.write("xend: Xen hypervisor is not running\n")
        return 1
    if os.fork():
        for _ in range(50):
            if running_pid():
                return 0
            time.sleep(0.05)
        return 1
    os.setsid()
    if os.fork():
        os._exit(0)
    os.makedirs(os.path.dirname(PIDFILE), exist_ok=True)
    with open(PIDFILE, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    log("Xend started")
    try:
        serve()
    finally:
        os._exit(0)


def stop() -> int:
    pid = running_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if running_pid() is None:
                break
            time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(PIDFILE)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    action = argv[0] if argv else "start"
    if action == "start":
        return start()
    if action == "stop":
        return stop()
    if action == "restart":
        stop()
        return start()
    if action == "status":
        return 0 if running_pid() else 3
    sys.stderr.write("Usage: xend {start|stop|restart|status}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
