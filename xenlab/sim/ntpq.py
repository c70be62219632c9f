"""Simulated ntpq: ``-p`` prints the peer table of /etc/ntp.conf (no peer ever reached).

ntp 4.2.4's ntpq reports errors on stderr and still exits 0 (ntpq/ntpq.c: ntpqmain returns 0
whatever the commands did): ``ntpq: read: Connection refused`` with ntpd down is exit 0.
"""

from __future__ import annotations

import os
import sys

import ntpconf

PIDFILE = "/var/run/ntpd.pid"


def ntpd_running(pidfile=PIDFILE):
    try:
        with open(pidfile, encoding="utf-8") as fh:
            os.kill(int(fh.read().split()[0]), 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def main(argv):
    commands = []
    args = iter(argv)
    for arg in args:
        if arg == "-p":
            commands.append("peers")
        elif arg == "-c":
            commands.append(next(args, ""))
        elif arg in ("-n", "-i", "-d"):
            continue
    if not commands:
        commands = ["peers"]
    if not ntpd_running():
        sys.stderr.write("ntpq: read: Connection refused\n")
        return 0
    with open("/etc/ntp.conf", encoding="utf-8") as fh:
        conf = fh.read()
    for command in commands:
        if command in ("peers", "pe"):
            sys.stdout.write(ntpconf.render_peers(conf))
        elif command in ("rv", "readvar"):
            sys.stdout.write('assID=0 status=c011 sync_alarm, sync_unspec, 1 event, '
                             'event_restart,\nversion="ntpd 4.2.4p4@1.1520-o", '
                             'processor="x86_64", system="Linux", leap=11, stratum=16,\n'
                             'precision=-20, rootdelay=0.000, rootdispersion=0.000, '
                             'peer=0, refid=INIT\n')
        else:
            sys.stderr.write(f'***Command `{command}\' unknown\n')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
