"""Xen 3.2 relocation on a lab node: xend's relocation server and ``xm migrate``'s sender.

Stdlib only (the node's python3). Both ends talk real TCP inside the lab's namespaces, so a
wrong address, a cut crossover link or a closed port fails as it would between real dom0s.

What Xen 3.2 does, and the lab with it:

- The server (xen/xend/server/relocate.py, xen/web/tcp.py, connection.hostAllowed) listens on
  ``xend-relocation-address``:``xend-relocation-port``. ``xend-relocation-hosts-allow`` is split
  on single spaces (``split(" ")``: two spaces make an empty regex, which matches every host)
  and each regex is applied with ``re.match`` (anchored at the start only) to
  ``socket.getfqdn(peer IP)`` and to the IP. A peer matching none is logged as
  ``Rejected connection from IP (FQDN).`` and its socket is closed.
- The sender (XendDomain.domain_migrate, XendCheckpoint.save) connects (``can't connect:
  <strerror>``), sends ``receive``, renames the domain ``migrating-NAME`` and streams it.
  When the stream fails the source logs ``Save failed on domain NAME (ID).``, resumes the domain
  under its own name, and xm prints the failed xc_save command (exit 1).
- The receiver creates the domain's devices before any memory arrives (block-drbd promotes a
  ``drbd:`` disk while the source still runs as Primary: that is why DRBD needs
  allow-two-primaries), then takes the memory; the guest stops on the source for the last
  round and runs on at the target.

The lab's stream is one JSON line per message. Timings: the pre-copy runs at ``COPY_MB_S``
(gigabit ethernet) while the guest keeps running; a live migration's stop-and-copy pause is
``LIVE_PAUSE_S``; a non-live one is suspended for the whole copy. Neither is scaled by labtime:
the pause is the gap a prober measures.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time

import xm

LOG = "/var/log/xen/xend.log"
XC_SAVE = "/usr/lib/xen/bin/xc_save"
COPY_MB_S = 110.0  # what a gigabit crossover link moves per second
MAX_COPY_S = 8.0  # the lab's bound on a pre-copy (a real one is bounded by its rounds)
LIVE_PAUSE_S = 0.3  # stop-and-copy of the last dirty pages, guest answers nowhere
STREAM_TIMEOUT_S = 60.0


def log(module: str, message: str, level: str = "INFO") -> None:
    """One xend.log line in XendLogging's shape: ``[date pid] LEVEL (module) message``."""
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')} {os.getpid()}] {level} "
                     f"({module}) {message}\n")


# ----------------------------------------------------------------------------- server side


def sxp_string(value: str) -> str:
    """An SXP string's escapes undone (xen/xend/sxp.py): ``'^a\\\\.b$'`` is ``^a\\.b$``."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), value)


def allow_patterns(setting: str) -> list[re.Pattern[str]] | None:
    """relocate.py: '' allows all (None); else ``map(re.compile, value.split(" "))``."""
    if setting == "":
        return None
    patterns = []
    for word in setting.split(" "):
        try:
            patterns.append(re.compile(word))
        except re.error:
            continue  # real xend dies at start on a bad regex; the lab skips it
    return patterns


def host_allowed(patterns: list[re.Pattern[str]] | None, addr: str) -> tuple[bool, str]:
    """connection.hostAllowed: (allowed, the FQDN the rules were matched against)."""
    fqdn = socket.getfqdn(addr)
    if patterns is None:
        return True, fqdn
    return any(p.match(fqdn) or p.match(addr) for p in patterns), fqdn


def _read_json(conn: socket.socket) -> dict | None:
    data = xm.read_line(conn)
    if not data:
        return None
    try:
        value = json.loads(data.decode())
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _send(conn: socket.socket, value: dict) -> None:
    conn.sendall(json.dumps(value).encode() + b"\n")


def receive(conn: socket.socket, addr: str) -> None:
    """One incoming domain: devices first (promotes drbd: disks), then the memory."""
    conn.settimeout(STREAM_TIMEOUT_S)
    if xm.read_line(conn).strip() != b"receive":
        return
    _send(conn, {"receive": True})
    req = _read_json(conn)
    if req is None or not isinstance(req.get("domain"), dict):
        log("XendCheckpoint", f"Restore from {addr} failed: no domain in the stream", "ERROR")
        return
    dom, source = req["domain"], str(req.get("source"))
    here = xm.node_boot().get("node")
    try:
        spec = {"name": dom["name"],
                "disks": [{**d, "kind": str(d.get("uname", "")).partition(":")[0]}
                          for d in dom.get("disks", [])]}
        running = [d for d in xm.request("list")["domains"] if d["name"] != "Domain-0"]
        xm.check_disks(spec, running, here)
    except xm.XmError as exc:
        log("XendCheckpoint", f"Restore of {dom.get('name')} from {addr} failed: {exc}", "ERROR")
        with contextlib.suppress(OSError):
            _send(conn, {"ok": False, "error": str(exc)})
        return
    _send(conn, {"ok": True, "devices": "connected"})
    last = _read_json(conn)  # the source sends the last round once its pre-copy is done
    if last is None or last.get("last_round") is not True:
        log("XendCheckpoint", f"Restore of {dom['name']} from {addr} failed: stream closed",
            "ERROR")
        return
    try:
        reply = xm.request("migrate", name=dom["name"], target=here, node=source,
                           pause_s=float(last.get("pause_s", LIVE_PAUSE_S)))
    except xm.XmError as exc:
        log("XendCheckpoint", f"Restore of {dom['name']} from {addr} failed: {exc}", "ERROR")
        with contextlib.suppress(OSError):
            _send(conn, {"ok": False, "error": str(exc)})
        return
    log("XendDomainInfo", f"Domain {dom['name']} received from {addr}, now domid "
        f"{reply['domain']['id']}")
    with contextlib.suppress(OSError):
        _send(conn, {"ok": True})


def accept(conn: socket.socket, addr: str, patterns: list[re.Pattern[str]] | None) -> None:
    with conn:
        allowed, fqdn = host_allowed(patterns, addr)
        if not allowed:
            log("connection", f"Rejected connection from {addr} ({fqdn}).", "WARNING")
            return  # closing the socket is all xend does
        receive(conn, addr)


def listen(config: dict) -> socket.socket | None:
    """The relocation listener xend opens at start, or None (server off, or bind failed)."""
    if config.get("xend-relocation-server", "no") != "yes":
        return None
    port = int(config.get("xend-relocation-port") or xm.RELOCATION_PORT)
    address = sxp_string(config.get("xend-relocation-address", ""))
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(8)
    except OSError as exc:
        log("relocate", f"Unable to open relocation port {address or '*'}:{port}: {exc}",
            "ERROR")
        return None
    log("relocate", f"relocation server listening on {address or '*'}:{port}")
    return listener


def serve(listener: socket.socket, config: dict) -> None:
    patterns = allow_patterns(sxp_string(config.get("xend-relocation-hosts-allow", "")))
    while True:
        conn, (addr, _) = listener.accept()
        threading.Thread(target=accept, args=(conn, addr, patterns), daemon=True).start()


# ----------------------------------------------------------------------------- sender side


def copy_seconds(memory_mb: int) -> float:
    return min(MAX_COPY_S, memory_mb / COPY_MB_S)


def migrate_to(dom: dict, host: str, port: int, node: str | None, live: bool) -> None:
    """``xm migrate DOM HOST [--live] [-p PORT]`` on the source node."""
    # XendDomain.domain_migrate: raise XendError("can't connect: %s" % err[1]); xm prints it
    # and the subcommand's help (main.py cmdHelp)
    try:
        addr = socket.gethostbyname(host)
        sock = socket.create_connection((addr, port), timeout=20)
    except socket.gaierror:
        raise xm.XmError("can't connect: Name or service not known",
                         stdout_help=xm.MIGRATE_HELP) from None
    except TimeoutError:
        raise xm.XmError("can't connect: Connection timed out",
                         stdout_help=xm.MIGRATE_HELP) from None
    except OSError as exc:
        raise xm.XmError(f"can't connect: {exc.strerror}", stdout_help=xm.MIGRATE_HELP) from None
    name, domid = dom["name"], dom["id"]
    with sock:
        sock.settimeout(STREAM_TIMEOUT_S)
        with contextlib.suppress(OSError):
            sock.sendall(b"receive\n")
            xm.read_line(sock)  # domain_migrate's sock.recv(80): its answer is not checked
        xm.request("migrating", name=name, action="begin")
        try:
            stream(sock, dom, node, live)
        except (OSError, ValueError, StreamFailed) as exc:
            log("XendCheckpoint", f"Save failed on domain {name} ({domid}).", "ERROR")
            if isinstance(exc, StreamFailed) and exc.remote:
                log("XendCheckpoint", f"the receiving host said: {exc}", "ERROR")
            with contextlib.suppress(xm.XmError):
                xm.request("migrating", name=name, action="abort")
            if isinstance(exc, StreamFailed) and exc.remote:
                raise xm.XmError(str(exc)) from None
            raise xm.XmError(f"{XC_SAVE} {sock.fileno()} {domid} 0 0 {int(live)} failed") \
                from None


class StreamFailed(Exception):
    """The stream broke; ``remote`` when the receiving xend said why."""

    def __init__(self, message: str, remote: bool = False) -> None:
        super().__init__(message)
        self.remote = remote


def _answer(sock: socket.socket) -> dict:
    data = xm.read_line(sock)
    if not data:
        raise StreamFailed("the receiving xend closed the stream")
    reply = json.loads(data.decode())
    if not isinstance(reply, dict):
        raise StreamFailed("unreadable answer")
    if not reply.get("ok"):
        raise StreamFailed(str(reply.get("error", "restore failed")), remote=True)
    return reply


def stream(sock: socket.socket, dom: dict, node: str | None, live: bool) -> None:
    """The domain's config, its memory (pre-copy while it runs, if live), the last round."""
    sock.sendall(json.dumps({"domain": dom, "source": node}).encode() + b"\n")
    _answer(sock)  # the target created the devices
    copy = copy_seconds(int(dom.get("memory", 128)))
    if live:
        time.sleep(copy)  # rounds of dirty pages while the guest runs on
        pause = LIVE_PAUSE_S
    else:
        xm.request("migrating", name=dom["name"], action="suspend")
        time.sleep(copy)  # the whole memory while the guest is stopped
        pause = 0.05
    sock.sendall(json.dumps({"last_round": True, "pause_s": pause}).encode() + b"\n")
    _answer(sock)
