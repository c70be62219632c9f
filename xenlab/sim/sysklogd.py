"""syslogd of a lab node: sysklogd 1.5 as Ubuntu 8.04 configures it, started by the node's init.

It listens on /dev/log (the datagram socket syslog(3) writes to) and files each message as
hardy's default /etc/syslog.conf does:

    auth,authpriv.*                 /var/log/auth.log
    *.*;auth,authpriv.none          -/var/log/syslog
    daemon.*                        -/var/log/daemon.log
    kern.*                          -/var/log/kern.log
    mail.*                          -/var/log/mail.log
    user.*                          -/var/log/user.log
    *.=debug;auth,authpriv.none;news.none;mail.none        -/var/log/debug
    *.=info;*.=notice;*.=warn;auth,authpriv.none;cron,daemon.none;mail,news.none
                                    -/var/log/messages

in sysklogd's line format: the message's own timestamp, the host name, then the tag and text
(``Nov 26 12:00:00 ha1 heartbeat: [1234]: info: ...``). So a daemon's ``logfacility local0``
(Heartbeat's ha.cf) lands in /var/log/syslog and /var/log/messages as on a real node. The
node's /etc/syslog.conf itself is not read: the default rules above are built in.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import time

SOCKET = "/dev/log"
LOG_DIR = "/var/log"
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "", "", "", "", *(f"local{i}" for i in range(8)))
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
STAMP = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")


def parse(datagram: str) -> tuple[str, str, str]:
    """``<PRI>TIMESTAMP TAG: text`` -> (facility, severity, "TIMESTAMP TAG: text")."""
    pri = 13  # user.notice, syslogd's default for a message without <PRI>
    match = re.match(r"<(\d{1,3})>", datagram)
    if match:
        pri = int(match.group(1))
        datagram = datagram[match.end():]
    facility = FACILITIES[pri >> 3] if (pri >> 3) < len(FACILITIES) else "user"
    severity = SEVERITIES[pri & 7]
    text = printable(datagram)
    if not STAMP.match(text):
        text = time.strftime("%b %e %H:%M:%S ") + text
    return facility or "user", severity, text


def printable(text: str) -> str:
    """sysklogd's printline: the message ends at a NUL, a newline becomes a space, any other
    control character ^X (a tab is ^I)."""
    out = []
    for char in text.split("\0", 1)[0]:
        if char == "\n":
            out.append(" ")
        elif ord(char) < 0x20:
            out.append("^" + chr(ord(char) ^ 0x40))
        else:
            out.append(char)
    return "".join(out)


def files_for(facility: str, severity: str) -> list[str]:
    """The log files hardy's default syslog.conf sends (facility, severity) to."""
    if facility in ("auth", "authpriv"):
        return ["auth.log"]
    files = ["syslog"]
    files += [f"{facility}.log"] if facility in ("daemon", "kern", "mail", "user") else []
    if severity == "debug" and facility not in ("news", "mail"):
        files.append("debug")
    if (severity in ("info", "notice", "warning")
            and facility not in ("cron", "daemon", "mail", "news")):
        files.append("messages")
    return files


def line(host: str, text: str) -> str:
    """sysklogd's record: the first 16 characters (the timestamp), the host, the rest."""
    return f"{text[:15]} {host} {text[16:]}\n"


def serve() -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(SOCKET)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(SOCKET)
    os.chmod(SOCKET, 0o666)
    while True:
        data = sock.recv(8192)
        facility, severity, text = parse(data.decode("utf-8", "replace"))
        record = line(socket.gethostname().split(".")[0], text)
        for name in files_for(facility, severity):
            path = os.path.join(LOG_DIR, name)
            fresh = not os.path.exists(path)
            with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
                fh.write(record)
                if fresh:
                    os.chmod(path, 0o640)


def main() -> int:
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
