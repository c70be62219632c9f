"""Simulated ``xend`` of Xen 3.2 on a lab node (/usr/sbin/xend, run by /etc/init.d/xend).

``xend start`` daemonizes (pid in /var/run/xend.pid, log /var/log/xen/xend.log); ``xend stop``
ends it. The daemon reads /etc/xen/xend-config.sxp at start (a reload does nothing; restart to
apply changes, as the guide says) and, when ``(xend-relocation-server yes)``, listens on the
relocation port (8002 unless ``xend-relocation-port`` says otherwise) of this node's own
network: a real TCP socket, so a cut crossover cable or a wrong /etc/hosts breaks a migration as
it would on real nodes. A connection from a host matching none of
``xend-relocation-hosts-allow`` is dropped (the source sees "Connection reset by peer").

Relocation protocol of the lab (one JSON line each way): the source's ``xm migrate`` sends
``{"domain": {...}, "source": NODE}``; the target checks its memory and that every phy: disk
exists in ITS /dev, then asks the lab hypervisor to move the domain.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import time

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


def host_allowed(patterns: str, addr: str) -> bool:
    """xend's check: any regex of the list matches the peer's IP or its name(s)."""
    if not patterns.strip():
        return True
    names = [addr]
    with contextlib.suppress(OSError):
        name, aliases, _ = socket.gethostbyaddr(addr)
        names += [name, *aliases]
    for pattern in patterns.split():
        try:
            regex = re.compile(pattern)
        except re.error:
            continue
        if any(regex.search(n) for n in names):
            return True
    return False


def receive(conn: socket.socket, addr: str) -> None:
    data = b""
    conn.settimeout(30)
    with contextlib.suppress(OSError):
        while not data.endswith(b"\n") and len(data) < 1 << 20:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    try:
        req = json.loads(data.decode())
        dom = req["domain"]
        source = str(req["source"])
    except (ValueError, KeyError, TypeError):
        return
    try:
        spec = {"name": dom["name"],  # block-drbd holds the device for this domain
                "disks": [{**d, "kind": d.get("uname", "").partition(":")[0]}
                          for d in dom.get("disks", [])]}
        running = xm.request("list")["domains"]
        xm.check_disks(spec, [d for d in running if d["name"] != "Domain-0"],
                       xm.node_boot().get("node"))
        reply = xm.request("migrate", name=dom["name"], target=xm.node_boot().get("node"),
                           node=source)
        log(f"Domain {dom['name']} received from {addr}, now domid "
            f"{reply['domain']['id']}")
        answer = {"ok": True}
    except xm.XmError as exc:
        log(f"Receiving domain {dom.get('name')} from {addr} failed: {exc}", "ERROR")
        answer = {"ok": False, "error": str(exc)}
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(answer).encode() + b"\n")


def serve() -> None:
    config = read_config()
    listener = None
    if config.get("xend-relocation-server", "no") == "yes":
        port = int(config.get("xend-relocation-port", xm.RELOCATION_PORT) or 8002)
        address = config.get("xend-relocation-address", "") or "0.0.0.0"
        try:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(8)
            log(f"relocation server listening on {address}:{port}")
        except OSError as exc:
            log(f"relocation server: {exc}", "ERROR")
            listener = None
    allow = config.get("xend-relocation-hosts-allow", "")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reload has no effect on xend
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        if listener is None:
            time.sleep(3600)
            continue
        conn, (addr, _) = listener.accept()
        with conn:
            if not host_allowed(allow, addr):
                log(f"Rejected connection from {addr}", "WARNING")
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                continue
            receive(conn, addr)


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


def migrate_to(dom: dict, host: str, port: int, node: str | None) -> None:
    """Client side of ``xm migrate``: send the domain to HOST's relocation server."""
    # Xen 3.2 XendDomain.domain_migrate: raise XendError("can't connect: %s" % err[1]), i.e.
    # the socket error's text; xm prints it and then the subcommand's help (main.py cmdHelp)
    try:
        addr = socket.gethostbyname(host)
    except OSError:
        raise xm.XmError("can't connect: Name or service not known",
                         stdout_help=xm.MIGRATE_HELP) from None
    try:
        sock = socket.create_connection((addr, port), timeout=20)
    except TimeoutError:
        raise xm.XmError("can't connect: Connection timed out",
                         stdout_help=xm.MIGRATE_HELP) from None
    except OSError as exc:
        raise xm.XmError(f"can't connect: {exc.strerror}", stdout_help=xm.MIGRATE_HELP) from None
    with sock:
        sock.settimeout(60)
        try:
            sock.sendall(json.dumps({"domain": dom, "source": node}).encode() + b"\n")
            data = xm.read_line(sock)
        except ConnectionResetError:
            data = b""
        except TimeoutError:
            raise xm.XmError("(110, 'Connection timed out')") from None
    if not data:
        raise xm.XmError("(104, 'Connection reset by peer')")
    reply = json.loads(data.decode())
    if not reply.get("ok"):
        raise xm.XmError(str(reply.get("error")))


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
