"""Simulated ntpd: daemonizes, writes its pid file, reads ntp.conf, sends no traffic at all."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

import ntpconf


def set_comm(name):
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: pgrep/ps -C see "ntpd"
    except OSError:
        pass


def write_pid(pidfile, pid):
    with open(pidfile + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(f"{pid}\n")
    os.replace(pidfile + ".tmp", pidfile)


def main(argv):
    pidfile = "/var/run/ntpd.pid"
    conf = "/etc/ntp.conf"
    foreground = False
    args = iter(argv)
    for arg in args:
        if arg == "-p":
            pidfile = next(args, pidfile)
        elif arg == "-c":
            conf = next(args, conf)
        elif arg in ("-n", "-d"):
            foreground = True
        elif arg in ("-u", "-k", "-f", "-s", "-l", "-i"):
            next(args, None)
    try:
        with open(conf, encoding="utf-8") as fh:
            servers = ntpconf.peers(fh.read())
    except OSError as exc:
        sys.stderr.write(f"ntpd: cannot open {conf}: {exc.strerror}\n")
        return 1
    if not foreground:
        # The pid file exists when the command returns (as start-stop-daemon leaves it), so an
        # init script's status right after start never sees a half-started daemon.
        first = os.fork()
        if first:
            os.waitpid(first, 0)
            return 0
        os.setsid()
        daemon = os.fork()
        if daemon:
            write_pid(pidfile, daemon)
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    else:
        write_pid(pidfile, os.getpid())
    set_comm("ntpd")
    try:
        os.makedirs("/var/log", exist_ok=True)
        with open("/var/log/ntpd.log", "a", encoding="utf-8") as log:
            log.write(f"ntpd 4.2.4p4@1.1520-o started, {len(servers)} servers: "
                      f"{' '.join(servers)} (simulated, no network traffic)\n")
    except OSError:
        pass

    def stop(_signum, _frame):
        # a restarted ntpd may own the pid file already: remove it only while it is ours
        with contextlib.suppress(OSError, ValueError), open(pidfile, encoding="utf-8") as fh:
            if int(fh.read().split()[0]) == os.getpid():
                os.unlink(pidfile)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
