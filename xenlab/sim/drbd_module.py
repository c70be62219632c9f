"""The lab's DRBD 8.3 "kernel module": one process per node (stdlib only).

``modprobe drbd`` (or ``/etc/init.d/drbd start``) starts it; ``rmmod drbd`` stops it. It owns
every configured minor: connection state, roles, disk states, generation identifiers, bitmap,
and it replicates over REAL TCP inside the lab's namespaces to the peer's ``address`` from
drbd.conf (normally the crossover link eth1). Control requests come from drbdsetup/drbdadm
over the unix socket ``drbd/ctl.sock`` in the node state folder, one JSON line each way.

Data: the device is backed by the node's LV file (storage_state); writes of a Primary go to
the LV and, while connected, to the peer (protocol C waits for its ack); while disconnected the
4 KiB blocks written are marked in the bitmap on the meta LV. A resync copies the marked (or,
for a full sync, all) blocks from the SyncSource to the SyncTarget at the syncer rate.

/proc/drbd: the module renders it into ``drbd/proc`` of the node state every half second and
on every change; the node shows that file as /proc/drbd (see drbd_procfs.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import drbd_md
import drbd_proc
import drbd_uuid
import storage_state as ss

NODE = "/usr/lib/runbook-lab/node"
CLUSTER = "/usr/lib/runbook-lab/cluster"
BLOCK = 4096
RUN_BITS = 64  # one resync request: 256 KiB
SYNC_MARK_STEP = 3.0  # seconds between the resync's speed marks (DRBD_SYNC_MARK_STEP)
DOMAIN_GRACE = 15.0  # seconds xm create / a migration may take to show the domain
ROLE_UNKNOWN = "Unknown"
LOG_FILES = ("/var/log/kern.log", "/var/log/syslog")


def drbd_dir(root: str = NODE) -> str:
    return os.path.join(root, "drbd")


def sock_path(root: str = NODE) -> str:
    return os.path.join(drbd_dir(root), "ctl.sock")


class Failure(Exception):
    """A refused request: ``code`` is the kernel's return code (negative: state change)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


# ----------------------------------------------------------------------------- wire format


def send_msg(sock: socket.socket, lock: threading.Lock, header: dict,
             payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    with lock:
        sock.sendall(struct.pack(">II", len(data), len(payload)) + data + payload)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_msg(sock: socket.socket) -> tuple[dict, bytes]:
    hlen, plen = struct.unpack(">II", recv_exact(sock, 8))
    header = json.loads(recv_exact(sock, hlen).decode())
    return header, recv_exact(sock, plen) if plen else b""


# ----------------------------------------------------------------------------- kernel log


def uptime() -> float:
    try:
        with open(os.path.join(NODE, "boot.json"), encoding="utf-8") as fh:
            return max(0.0, time.time() - float(json.load(fh)["booted_at"]))
    except (OSError, ValueError, KeyError):
        return time.monotonic()


def klog(message: str) -> None:
    """A kernel message as syslog writes it to kern.log and syslog."""
    host = socket.gethostname().split(".")[0]
    line = (f"{time.strftime('%b %e %H:%M:%S')} {host} kernel: [{uptime():12.6f}] "
            f"{message}\n")
    for path in LOG_FILES:
        with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
            fh.write(line)


# ----------------------------------------------------------------------------- one minor


class Minor:
    def __init__(self, module: Module, minor: int, name: str) -> None:
        self.module = module
        self.lock = module.lock
        self.minor = minor
        self.name = name
        self.role = "Secondary"
        self.peer_role = ROLE_UNKNOWN
        self.disk = "Diskless"
        self.peer_disk = "DUnknown"
        self.cstate = "StandAlone"
        self.protocol = "C"
        self.rate = 250 * 1024
        self.on_io_error = "pass_on"
        # backing device
        self.lv: tuple[str, str] | None = None
        self.meta_lv: tuple[str, str] | None = None
        self.data_file = ""
        self.meta_file = ""
        self.meta_index = 0
        self.size = 0
        self.uuids = [0, 0, 0, 0]
        self.bitmap = bytearray()
        self.nbits = 0
        # network
        self.net: dict | None = None
        self.sock: socket.socket | None = None
        self.send_lock = threading.Lock()
        self.net_thread: threading.Thread | None = None
        self.generation = 0  # bumps on every new connection: stale threads stop
        self.peer_uuids = [0, 0, 0, 0]
        self.acks: dict[int, threading.Event] = {}
        self.next_id = 1
        self.pending_pri: threading.Event | None = None
        self.pri_answer = ""
        self.last_recv = 0.0
        # resync
        self.rs_total = 0
        self.rs_left = 0
        self.rs_start = 0.0
        self.rs_mark: tuple[float, int] | None = None  # the sync mark: (time, bits left)
        self.counters = {"ns": 0, "nr": 0, "dw": 0, "dr": 0}
        self.open_by: dict[str, float] = {}  # holder -> since (blkback of a domain)
        self.seen: set[str] = set()  # holders whose domain was seen running here

    # ------------------------------------------------------------------ state + log
    def dev(self) -> str:
        """The kernel's name in its messages (dev_printk of the block device)."""
        return f"block drbd{self.minor}"

    def set(self, **changes: str) -> None:
        """Change state fields, logging like the kernel: ``drbd1: conn( A -> B ) pdsk( ... )``."""
        names = {"role": "role", "peer_role": "peer", "cstate": "conn", "disk": "disk",
                 "peer_disk": "pdsk"}
        parts = []
        for key, value in changes.items():
            old = getattr(self, key)
            if old != value:
                setattr(self, key, value)
                parts.append(f"{names[key]}( {old} -> {value} )")
        if parts:
            klog(f"{self.dev()}: {' '.join(parts)} ")
            self.module.changed()

    def snapshot(self) -> dict:
        connected = self.cstate not in ("StandAlone", "Unconnected", "WFConnection",
                                        "NetworkFailure", "BrokenPipe", "Timeout",
                                        "Disconnecting", "WFReportParams")
        return {"minor": self.minor, "name": self.name, "cstate": self.cstate,
                "role": self.role, "peer_role": self.peer_role if connected else ROLE_UNKNOWN,
                "disk": self.disk, "peer_disk": self.peer_disk if connected else "DUnknown",
                "protocol": self.protocol, "counters": dict(self.counters),
                "oos": drbd_uuid.count(self.bitmap) if self.bitmap else 0,
                "rs_total": self.rs_total, "rs_left": self.rs_left, "rs_start": self.rs_start,
                "rs_mark": self.rs_mark, "uuids": self.uuids, "net": self.net is not None,
                "net_conf": {k: v for k, v in (self.net or {}).items()
                             if k != "discard_my_data"},
                "rate": self.rate, "on_io_error": self.on_io_error,
                "open": sorted(self.open_by)}

    def connected(self) -> bool:
        return self.cstate in ("Connected", "SyncSource", "SyncTarget")

    # ------------------------------------------------------------------ meta data
    def save_md(self, bitmap: bool = True) -> None:
        if not self.meta_file or self.disk == "Diskless":
            return
        # a failed disk missed writes: it comes back Outdated, never UpToDate
        header = {"uuids": self.uuids, "disk": self.disk if self.disk != "Failed" else
                  "Outdated", "size": self.size, "primary": self.role == "Primary"}
        drbd_md.write(self.meta_file, self.meta_index, header)
        if bitmap:
            drbd_md.write_bitmap(self.meta_file, self.meta_index, self.bitmap)

    def attach(self, disk: str, meta: str, index: int, on_io_error: str) -> None:
        if self.disk != "Diskless":
            raise Failure(124, "Device is attached to a disk (use detach first)")
        state = ss.load(NODE) or {}
        found = ss.lv_of_device(state, disk, NODE) if state else None
        meta_found = ss.resolve_device(state, meta, NODE) if state else None
        if found is None:
            raise Failure(104, "Can not open backing device.")
        if meta_found is None:
            raise Failure(105, "Can not open meta device.")
        data_file = ss.lv_file(NODE, found[0], found[1])
        if f"{found[0]}/{found[1]}" in self.module.failed_disks():
            raise Failure(118, "IO error(s) occurred during initial access to meta-data.\n")
        try:
            drbd_md.check_room(meta_found[1], index, os.path.getsize(data_file))
        except drbd_md.MetaError:
            raise Failure(112, "Meta device too small.") from None
        header = drbd_md.read(meta_found[1], index)
        if header is None:
            raise Failure(119, "No valid meta-data signature found.\n\n\t==> Use 'drbdadm "
                          "create-md res' to initialize meta-data area. <==\n")
        self.lv = found
        self.meta_lv = ss.lv_of_device(state, meta, NODE)
        self.data_file = data_file
        self.meta_file = meta_found[1]
        self.meta_index = index
        self.size = os.path.getsize(data_file)
        self.nbits = drbd_uuid.bits_for(self.size)
        self.uuids = [int(u) for u in header["uuids"]]
        self.bitmap = drbd_md.read_bitmap(self.meta_file, index, self.size)
        self.on_io_error = on_io_error
        ss.add_holder(NODE, found[0], found[1], f"drbd:{self.minor}")
        meta_lv = ss.lv_of_device(state, meta, NODE)
        if meta_lv is not None:  # the kernel keeps the meta device open too
            ss.add_holder(NODE, meta_lv[0], meta_lv[1], f"drbd:{self.minor}")
        disk = str(header.get("disk", "Inconsistent"))
        self.set(disk="Attaching")
        self.set(disk=disk)
        self.module.dev_link(self)
        if self.sock is not None:  # attach while connected: both sides renegotiate
            self.send_hello(again=True)

    def detach(self, failed: bool = False) -> None:
        if self.disk == "Diskless":
            return
        if self.role == "Primary" and not failed and self.peer_disk != "UpToDate":
            raise Failure(-2, "Refusing to be Primary without at least one UpToDate disk")
        if failed:
            self.set(disk="Failed")
        self.save_md()
        self.set(disk="Diskless")
        if self.lv:
            ss.remove_holder(NODE, self.lv[0], self.lv[1], f"drbd:{self.minor}")
        if self.meta_lv:
            ss.remove_holder(NODE, self.meta_lv[0], self.meta_lv[1], f"drbd:{self.minor}")
        self.lv = None
        self.data_file = ""
        self.module.dev_link(self)
        if self.sock is not None:
            self.send({"t": "state", "disk": self.disk, "role": self.role})

    # ------------------------------------------------------------------ roles
    def primary(self, force: bool) -> None:
        if self.role == "Primary":
            return
        if force and self.disk in ("Inconsistent", "Outdated", "Consistent"):
            klog(f"{self.dev()}: Forced to consider local data as UpToDate!")
            self.set(disk="UpToDate")
        if self.disk != "UpToDate" and not (self.connected() and self.peer_disk == "UpToDate"):
            raise Failure(-2, "Refusing to be Primary without at least one UpToDate disk")
        if self.connected():
            for attempt in range(2):  # the kernel retries once after ping-timeout
                answer = self.ask_peer_primary()
                if answer == "ok":
                    break
                if attempt == 0:
                    self.lock.release()
                    try:
                        time.sleep(self.net["ping_timeout"] if self.net else 0.5)
                    finally:
                        self.lock.acquire()
            else:
                raise Failure(-1, "Multiple primaries not allowed by config")
        if (not self.connected() or force) and self.disk == "UpToDate":
            self.uuids = drbd_uuid.new_current(self.uuids, random.getrandbits(64) & ~1)
        self.set(role="Primary")
        self.save_md(bitmap=False)
        if self.sock is not None:
            self.send({"t": "state", "role": "Primary", "disk": self.disk})
        if force and self.connected() and self.peer_disk in ("Inconsistent", "Outdated"):
            self.start_full_sync()

    def ask_peer_primary(self) -> str:
        event = threading.Event()
        self.pending_pri = event
        self.send({"t": "pri_req"})
        self.lock.release()
        try:
            ok = event.wait(max(self.net["timeout"] if self.net else 6.0, 1.0))
        finally:
            self.lock.acquire()
        self.pending_pri = None
        return self.pri_answer if ok else "ok"

    def secondary(self) -> None:
        if self.role == "Secondary":
            return
        if self.open_by:
            raise Failure(-12, "Device is held open by someone")
        self.set(role="Secondary")
        self.save_md(bitmap=False)
        if self.sock is not None:
            self.send({"t": "state", "role": "Secondary", "disk": self.disk})

    # ------------------------------------------------------------------ network
    def send(self, header: dict, payload: bytes = b"") -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            send_msg(sock, self.send_lock, header, payload)
        except OSError:
            self.drop_socket()

    def drop_socket(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for event in self.acks.values():
            event.set()

    def net_up(self, conf: dict) -> None:
        if self.net is not None:
            raise Failure(125, "Device has a net-config (use disconnect first)")
        if conf.get("discard_my_data") and self.role == "Primary":
            raise Failure(123, "--discard-my-data not allowed when primary.")
        self.net = conf
        self.protocol = conf.get("protocol", "C")
        self.generation += 1
        self.set(cstate="Unconnected")
        thread = threading.Thread(target=self.net_loop, args=(self.generation,), daemon=True)
        self.net_thread = thread
        thread.start()

    def disconnect(self) -> None:
        if self.net is None and self.cstate == "StandAlone":
            return
        self.net = None
        self.generation += 1
        if self.cstate not in ("StandAlone",):
            self.set(cstate="Disconnecting")
        self.lost_peer()
        self.set(cstate="StandAlone")

    def lost_peer(self) -> None:
        """The connection is gone: a Primary starts a new data generation, bits get marked."""
        self.drop_socket()
        self.rs_total = self.rs_left = 0
        if self.role == "Primary" and self.disk == "UpToDate" and self.uuids[1] == 0:
            self.uuids = drbd_uuid.new_current(self.uuids, random.getrandbits(64) & ~1)
            self.save_md(bitmap=False)
        self.set(peer_role=ROLE_UNKNOWN, peer_disk="DUnknown")

    def net_loop(self, gen: int) -> None:
        while True:
            with self.lock:
                if self.generation != gen or self.net is None:
                    return
                conf = dict(self.net)
                self.set(cstate="WFConnection")
            sock = self.establish(conf, gen)
            if sock is None:
                continue
            with self.lock:
                if self.generation != gen or self.net is None:
                    sock.close()
                    return
                self.sock = sock
                self.last_recv = time.monotonic()
                self.set(cstate="WFReportParams")
                self.send_hello()
            self.session(sock, gen, conf)
            with self.lock:
                if self.generation != gen:
                    return
                if self.cstate == "StandAlone":
                    self.net = None
                    return
                if self.cstate not in ("NetworkFailure", "BrokenPipe", "Timeout"):
                    self.set(cstate="NetworkFailure")
                self.lost_peer()
                self.set(cstate="Unconnected")

    def establish(self, conf: dict, gen: int) -> socket.socket | None:
        """Connect (the side with the lower address) or accept, retrying every connect-int."""
        me, peer = (conf["local"], conf["local_port"]), (conf["peer"], conf["peer_port"])
        deadline = time.monotonic() + conf["connect_int"]
        if me < peer:
            try:
                sock = socket.create_connection(peer, timeout=conf["connect_int"],
                                                source_address=(me[0], 0))
                sock.settimeout(None)
                return self.tune(sock)
            except OSError:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return None
        listener = self.module.listener(me)
        if listener is None:
            time.sleep(conf["connect_int"])
            return None
        while time.monotonic() < deadline:
            with self.lock:
                if self.generation != gen or self.net is None:
                    return None
            try:
                sock, addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                time.sleep(0.2)
                continue
            if addr[0] != peer[0]:  # DRBD drops connections from anyone but the peer
                sock.close()
                continue
            sock.settimeout(None)
            return self.tune(sock)
        return None

    @staticmethod
    def tune(sock: socket.socket) -> socket.socket:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send_hello(self, again: bool = False) -> None:
        self.send({"t": "hello", "again": again, "resource": self.name, "uuids": self.uuids,
                   "disk": self.disk, "role": self.role, "size": self.size,
                   "changes": drbd_uuid.count(self.bitmap) if self.bitmap else 0,
                   "discard": bool(self.net and self.net.get("discard_my_data"))},
                  bytes(self.bitmap))

    def session(self, sock: socket.socket, gen: int, conf: dict) -> None:
        pinger = threading.Thread(target=self.ping_loop, args=(sock, gen, conf), daemon=True)
        pinger.start()
        try:
            while True:
                header, payload = recv_msg(sock)
                with self.lock:
                    if self.generation != gen or self.sock is not sock:
                        return
                    self.last_recv = time.monotonic()
                    self.dispatch(header, payload, conf)
                    if self.cstate == "StandAlone":
                        return
        except (OSError, ValueError, ConnectionError, struct.error):
            with self.lock:
                if self.generation == gen and self.sock is sock and self.cstate != "StandAlone":
                    self.set(cstate="BrokenPipe" if self.cstate != "NetworkFailure"
                             else "NetworkFailure")
            return

    def ping_loop(self, sock: socket.socket, gen: int, conf: dict) -> None:
        sent_at = 0.0
        while True:
            time.sleep(0.1)
            with self.lock:
                if self.generation != gen or self.sock is not sock:
                    return
                idle = time.monotonic() - self.last_recv
                if sent_at and time.monotonic() - sent_at > conf["ping_timeout"] and \
                        self.last_recv < sent_at:
                    klog(f"{self.dev()}: PingAck did not arrive in time.")
                    self.set(cstate="NetworkFailure")
                    self.drop_socket()
                    return
                if self.last_recv >= sent_at:
                    sent_at = 0.0
                if not sent_at and idle >= conf["ping_int"]:
                    sent_at = time.monotonic()
                    self.send({"t": "ping"})

    # ------------------------------------------------------------------ messages
    def dispatch(self, h: dict, payload: bytes, conf: dict) -> None:
        kind = h.get("t")
        if kind == "ping":
            self.send({"t": "ping_ack"})
        elif kind == "hello":
            if h.get("again"):  # the peer attached a disk: answer, then both decide
                self.send_hello()
            self.handshake(h, payload, conf)
        elif kind == "state":
            self.set(peer_role=h.get("role", self.peer_role),
                     peer_disk=h.get("disk", self.peer_disk))
            if self.peer_disk in ("Diskless", "Failed") and "Primary" in (
                    self.role, self.peer_role) and self.disk == "UpToDate" and \
                    self.uuids[1] == 0:
                # lost contact to the peer's copy of the data (after_state_ch): a new data
                # generation; what is written from now on is marked for the peer
                self.uuids = drbd_uuid.new_current(self.uuids, random.getrandbits(64) & ~1)
                self.save_md(bitmap=False)
        elif kind == "pri_req":
            refuse = self.role == "Primary" and not conf.get("two_primaries")
            self.send({"t": "pri_rep", "answer": "refused" if refuse else "ok"})
        elif kind == "pri_rep":
            self.pri_answer = h.get("answer", "ok")
            if self.pending_pri is not None:
                self.pending_pri.set()
        elif kind == "data":
            self.on_data(h, payload)
        elif kind == "ack":
            event = self.acks.get(int(h["id"]))
            if event is not None:
                event.set()
        elif kind == "sync_full":
            self.peer_uuids = [int(u) for u in h["uuids"]]
            self.become_target(full=True, peer_bitmap=b"")
        elif kind == "rs_data":
            self.on_rs_data(h, payload)
        elif kind == "rs_ack":
            self.on_rs_ack(int(h["bit"]), int(h["n"]))
        elif kind == "rs_done":
            self.peer_uuids = [int(u) for u in h["uuids"]]
            self.finish_target()

    def handshake(self, h: dict, payload: bytes, conf: dict) -> None:
        self.peer_uuids = [int(u) for u in h["uuids"]]
        peer_disk, peer_role = str(h["disk"]), str(h["role"])
        self.set(peer_role=peer_role, peer_disk=peer_disk)
        if self.disk == "Diskless" or peer_disk == "Diskless":
            self.set(cstate="Connected")
            return
        me_first = (conf["local"], conf["local_port"]) < (conf["peer"], conf["peer_port"])
        hg, message = drbd_uuid.handshake(
            self.uuids, self.peer_uuids,
            policies=(conf["after_sb_0pri"], conf["after_sb_1pri"], conf["after_sb_2pri"]),
            self_primary=self.role == "Primary", peer_primary=peer_role == "Primary",
            self_changes=drbd_uuid.count(self.bitmap), peer_changes=int(h.get("changes", 0)),
            self_discard=bool(conf.get("discard_my_data")), peer_discard=bool(h["discard"]),
            discard_concurrent=me_first)
        if message:
            klog(f"{self.dev()}: {message}")
        if hg == drbd_uuid.UNRELATED or hg == -drbd_uuid.SPLIT_BRAIN:
            if hg == -drbd_uuid.SPLIT_BRAIN:
                klog(f"{self.dev()}: helper command: /sbin/drbdadm split-brain "
                     f"minor-{self.minor}")
            self.set(cstate="Disconnecting")
            self.drop_socket()
            self.set(peer_role=ROLE_UNKNOWN, peer_disk="DUnknown", cstate="StandAlone")
            self.net = None
            return
        if (hg > 0 and self.disk in ("Inconsistent", "Diskless")) or (
                hg < 0 and self.role == "Primary" and self.disk == "UpToDate"):
            # rr-conflict disconnect: a Primary never becomes SyncTarget on its own
            klog(f"{self.dev()}: " + ("I shall become SyncSource, but I am inconsistent!"
                                      if hg > 0 else
                                      "I shall become SyncTarget, but I am primary!"))
            self.set(cstate="Disconnecting")
            self.drop_socket()
            self.set(peer_role=ROLE_UNKNOWN, peer_disk="DUnknown", cstate="StandAlone")
            self.net = None
            return
        if self.net is not None:
            self.net["discard_my_data"] = False
        if hg > 0:
            drbd_uuid.merge(self.bitmap, payload)
            if abs(hg) >= 2:
                drbd_uuid.set_all(self.bitmap, self.nbits)
            self.start_source()
        elif hg < 0:
            self.become_target(full=abs(hg) >= 2, peer_bitmap=payload)
        else:
            self.set(cstate="Connected")

    # ------------------------------------------------------------------ resync
    def start_full_sync(self) -> None:
        drbd_uuid.set_all(self.bitmap, self.nbits)
        self.send({"t": "sync_full", "uuids": self.uuids})
        self.start_source()

    def start_source(self) -> None:
        self.save_md()
        self.rs_total = self.rs_left = drbd_uuid.count(self.bitmap)
        if self.rs_total == 0:
            self.set(cstate="Connected")
            self.finish_source()
            return
        self.rs_start = time.time()
        self.rs_mark = (self.rs_start, self.rs_total)
        klog(f"{self.dev()}: Began resync as SyncSource (will sync {self.rs_total * 4} KB "
             f"[{self.rs_total} bits set]).")
        self.set(cstate="SyncSource", peer_disk="Inconsistent")
        gen = self.generation
        threading.Thread(target=self.resync_loop, args=(gen,), daemon=True).start()

    def become_target(self, full: bool, peer_bitmap: bytes) -> None:
        drbd_uuid.merge(self.bitmap, peer_bitmap)
        if full:
            drbd_uuid.set_all(self.bitmap, self.nbits)
        self.rs_total = self.rs_left = drbd_uuid.count(self.bitmap)
        self.rs_start = time.time()
        self.rs_mark = (self.rs_start, self.rs_total)
        self.set(disk="Inconsistent")
        self.save_md()
        if self.rs_total == 0:  # nothing differs: the source ends the sync at once
            return
        klog(f"{self.dev()}: Began resync as SyncTarget (will sync {self.rs_total * 4} KB "
             f"[{self.rs_total} bits set]).")
        self.set(cstate="SyncTarget", peer_disk="UpToDate")

    def resync_loop(self, gen: int) -> None:
        with self.lock:
            plan = drbd_uuid.runs(self.bitmap, self.nbits, RUN_BITS)
            rate = max(self.rate, 4096)
        started = time.monotonic()
        sent = 0
        for bit, n in plan:
            with self.lock:
                if self.generation != gen or self.cstate != "SyncSource" or not self.data_file:
                    return
                if max(self.rate, 4096) != rate:  # `drbdadm syncer`/adjust applies at once
                    rate, started, sent = max(self.rate, 4096), time.monotonic(), 0
                offset = bit * BLOCK
                length = min(n * BLOCK, self.size - offset)
                data = ss.read_at(self.data_file, offset, length)
                self.counters["ns"] += length // 1024
                self.counters["dr"] += length // 1024
                self.send({"t": "rs_data", "bit": bit, "n": n, "off": offset}, data)
            sent += length
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    def on_rs_data(self, h: dict, payload: bytes) -> None:
        if self.data_file:
            ss.write_at(self.data_file, int(h["off"]), payload)
            self.counters["nr"] += len(payload) // 1024
            self.counters["dw"] += len(payload) // 1024
        bit, n = int(h["bit"]), int(h["n"])
        self.clear_bits(bit, n)
        self.send({"t": "rs_ack", "bit": bit, "n": n})

    def clear_bits(self, bit: int, n: int) -> None:
        for b in range(bit, bit + n):
            if self.bitmap[b >> 3] & (1 << (b & 7)):
                drbd_uuid.clear_bit(self.bitmap, b)
                self.rs_left = max(self.rs_left - 1, 0)
        now = time.time()
        if self.rs_mark is None or now - self.rs_mark[0] >= SYNC_MARK_STEP:
            self.rs_mark = (now, self.rs_left)
        self.module.changed()

    def on_rs_ack(self, bit: int, n: int) -> None:
        self.clear_bits(bit, n)
        if self.rs_left == 0 and self.cstate == "SyncSource":
            elapsed = max(int(time.time() - self.rs_start), 1)
            klog(f"{self.dev()}: Resync done (total {elapsed} sec; paused 0 sec; "
                 f"{self.rs_total * 4 // elapsed} K/sec)")
            self.finish_source()

    def finish_source(self) -> None:
        self.uuids = drbd_uuid.bitmap_done(self.uuids)
        self.bitmap = bytearray(len(self.bitmap))
        self.save_md()
        self.send({"t": "rs_done", "uuids": self.uuids})
        self.rs_total = self.rs_left = 0
        self.set(cstate="Connected", peer_disk="UpToDate")

    def finish_target(self) -> None:
        self.uuids = drbd_uuid.adopt(self.peer_uuids)
        self.bitmap = bytearray(len(self.bitmap))
        if self.disk != "Diskless":
            self.set(disk="UpToDate")
        self.save_md()
        self.rs_total = self.rs_left = 0
        self.set(cstate="Connected")

    # ------------------------------------------------------------------ data path
    def on_data(self, h: dict, payload: bytes) -> None:
        offset = int(h["off"])
        # "in case we have the only disk of the cluster": the peer needs these blocks later
        if self.data_file and self.peer_disk == "Diskless" and \
                drbd_uuid.set_range(self.bitmap, offset, len(payload)):
            self.save_md()
        if self.data_file:
            ss.write_at(self.data_file, offset, payload)
            self.counters["nr"] += len(payload) // 1024
            self.counters["dw"] += len(payload) // 1024
            if self.cstate == "SyncTarget" and offset % BLOCK == 0 and len(payload) % BLOCK == 0:
                self.clear_bits(offset // BLOCK, len(payload) // BLOCK)
        else:
            drbd_uuid.set_range(self.bitmap, offset, len(payload)) if self.bitmap else None
        self.send({"t": "ack", "id": h["id"]})

    def write(self, offset: int, data: bytes) -> bool:
        """A write of the device's user (a DomU): True once it is acknowledged (protocol C:
        on both disks while connected). Called with the lock held."""
        if self.role != "Primary":
            raise Failure(-30, "Read-only file system")
        if offset + len(data) > self.size:
            raise Failure(-28, "No space left on device")
        local = bool(self.data_file) and self.disk in ("UpToDate", "Inconsistent")
        if local:
            if self.disk_failed():
                return self.write(offset, data)
            ss.write_at(self.data_file, offset, data)
            self.counters["dw"] += len(data) // 1024
        peer_ok = self.connected() and self.peer_disk in ("UpToDate", "Inconsistent")
        if not peer_ok:
            if not local:
                raise Failure(-5, "Input/output error")
            if drbd_uuid.set_range(self.bitmap, offset, len(data)):
                self.save_md()
            return True
        ident = self.next_id
        self.next_id += 1
        event = threading.Event()
        self.acks[ident] = event
        self.send({"t": "data", "id": ident, "off": offset}, data)
        self.counters["ns"] += len(data) // 1024
        if self.protocol == "A":
            self.acks.pop(ident, None)
            return True
        timeout = self.net["timeout"] if self.net else 6.0
        self.lock.release()
        try:
            acked = event.wait(timeout)
        finally:
            self.lock.acquire()
        self.acks.pop(ident, None)
        if acked and self.sock is not None:
            return True
        if not acked and self.sock is not None and self.connected():
            # net { timeout }: a peer that does not answer in time is considered dead; the
            # connection is dropped and the write completes on the local disk only
            self.set(cstate="Timeout")
            self.drop_socket()
        drbd_uuid.set_range(self.bitmap, offset, len(data))
        self.save_md()
        if not local:
            raise Failure(-5, "Input/output error")
        return True

    def disk_failed(self) -> bool:
        """Injected disk failure (host side: drbd/failed-disks lists vg/lv): on-io-error."""
        if not self.lv or f"{self.lv[0]}/{self.lv[1]}" not in self.module.failed_disks():
            return False
        if self.on_io_error != "detach":  # pass_on: the error goes up to the device's user
            raise Failure(-5, "Input/output error")
        klog(f"{self.dev()}: Local IO failed in drbd_endio_pri. Detaching...")
        self.detach(failed=True)
        return True


# ----------------------------------------------------------------------------- the module


class Module:
    def __init__(self, root: str = NODE) -> None:
        self.root = root
        self.lock = threading.RLock()
        self.minors: dict[int, Minor] = {}
        self.listeners: dict[tuple[str, int], socket.socket] = {}
        self.dirty = threading.Event()
        self.writers: dict[str, threading.Thread] = {}

    def changed(self) -> None:
        self.dirty.set()

    def failed_disks(self) -> set[str]:
        try:
            with open(os.path.join(drbd_dir(self.root), "failed-disks"), encoding="utf-8") as fh:
                return {line.strip() for line in fh if line.strip()}
        except OSError:
            return set()

    def listener(self, addr: tuple[str, int]) -> socket.socket | None:
        sock = self.listeners.get(addr)
        if sock is not None:
            return sock
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError:
            sock.close()
            return None  # the address is not on this node (yet): WFConnection
        sock.listen(4)
        sock.settimeout(0.5)
        self.listeners[addr] = sock
        return sock

    def prune_listeners(self) -> None:
        """Close the ports no configured connection uses any more: after disconnect or down
        a peer's connect is refused again, as with the real module."""
        with self.lock:
            used = {(m.net["local"], m.net["local_port"]) for m in self.minors.values()
                    if m.net is not None}
            for addr in [a for a in self.listeners if a not in used]:
                with contextlib.suppress(OSError):
                    self.listeners.pop(addr).close()

    def minor(self, number: int, name: str = "") -> Minor:
        if number not in self.minors:
            self.minors[number] = Minor(self, number, name)
        elif name:
            self.minors[number].name = name
        return self.minors[number]

    def dev_link(self, m: Minor) -> None:
        """/dev/drbdN: a symlink to the backing LV's file while attached (the lab has no
        block devices; reading it reads the replicated data)."""
        if not ss.own_dev():
            return
        path = f"/dev/drbd{m.minor}"
        with contextlib.suppress(OSError):
            os.unlink(path)
        target = m.data_file or os.path.join(drbd_dir(self.root), "diskless")
        if not m.data_file and not os.path.exists(target):
            open(target, "wb").close()
        with contextlib.suppress(OSError):
            os.symlink(target, path)

    # ------------------------------------------------------------------ control requests
    def handle(self, req: dict) -> dict:
        op = req.get("op")
        with self.lock:
            if op == "status":
                return {"devices": [m.snapshot() for m in self.minors.values()]}
            number = int(req.get("minor", -1))
            if op == "down":
                m = self.minors.get(number)
                if m is None:
                    return {}
                m.secondary()
                m.disconnect()
                m.detach()
                del self.minors[number]
                self.changed()
                return {}
            if number not in self.minors and op not in ("attach", "syncer", "net"):
                if op in ("disconnect", "detach", "secondary"):
                    return {}  # nothing to undo on a device that is not there
                raise Failure(127, "Device minor not allocated")
            m = self.minor(number, str(req.get("name", "")))  # --create-device
            if op == "attach":
                m.attach(req["disk"], req["meta"], int(req["index"]), req["on_io_error"])
            elif op == "syncer":
                m.rate = int(req["rate"])
            elif op == "net":
                m.net_up(req["conf"])
            elif op == "disconnect":
                m.disconnect()
            elif op == "detach":
                m.detach()
            elif op == "primary":
                m.primary(bool(req.get("force")))
            elif op == "secondary":
                m.secondary()
            elif op == "open":
                m.open_by[str(req["holder"])] = time.monotonic()
            elif op == "close":
                m.open_by.pop(str(req["holder"]), None)
            elif op == "abort_hold":
                self.abort_hold(str(req["holder"]))
            elif op == "write":
                return {"acked": m.write(int(req["offset"]), bytes.fromhex(req["data"]))}
            elif op == "state":
                pass
            else:
                raise Failure(20, f"unknown request {op!r}")
            if m.cstate == "StandAlone" and m.disk == "Diskless" and m.net is None and \
                    m.role == "Secondary" and op in ("detach", "disconnect"):
                del self.minors[number]
            self.changed()
            return {"device": m.snapshot()}

    def client(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                data += chunk
            try:
                reply = {"ok": True, **self.handle(json.loads(data.decode()))}
            except Failure as exc:
                reply = {"ok": False, "code": exc.code, "text": str(exc)}
            except (ss.StorageError, drbd_md.MetaError, OSError, KeyError, ValueError) as exc:
                reply = {"ok": False, "code": 20, "text": str(exc)}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")

    # ------------------------------------------------------------------ background
    def render_loop(self) -> None:
        path = os.path.join(drbd_dir(self.root), "proc")
        last = ""
        while True:
            self.dirty.wait(0.25)
            self.dirty.clear()
            with self.lock:
                devices = [m.snapshot() for m in self.minors.values()]
            text = drbd_proc.render(devices, time.time())
            if text != last:
                with open(path + ".tmp", "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(path + ".tmp", path)
                with open(path + ".json.tmp", "w", encoding="utf-8") as fh:
                    json.dump(devices, fh)
                os.replace(path + ".json.tmp", path + ".json")
                last = text
            self.check_disks()
            self.domain_watch()
            self.prune_listeners()

    def check_disks(self) -> None:
        """A failed disk is noticed at the next I/O; with on-io-error detach at once."""
        failed = self.failed_disks()
        if not failed:
            return
        with self.lock:
            for m in list(self.minors.values()):
                if m.lv and f"{m.lv[0]}/{m.lv[1]}" in failed and m.on_io_error == "detach":
                    m.disk_failed()

    def abort_hold(self, holder: str) -> None:
        """A domain start failed half-way (one drbd: disk could not be promoted): the disks
        already promoted for it are released and demoted again, as block-drbd remove does
        when xend tears the half-made devices down. Holders of a domain seen running here
        are left alone."""
        for m in self.minors.values():
            if holder in m.open_by and holder not in m.seen:
                del m.open_by[holder]
                if not any(h.startswith("domain:") for h in m.open_by):
                    with contextlib.suppress(Failure):
                        m.secondary()

    def domain_watch(self) -> None:
        """block-drbd's other half: a domain that left this node releases its device (the
        module demotes it, as block-drbd remove runs drbdadm secondary), and a running
        domain's guest keeps writing its sequence numbers (domu_writer)."""
        running = running_domains(self.node_name())
        with self.lock:
            for m in self.minors.values():
                for holder, since in list(m.open_by.items()):
                    if not holder.startswith("domain:"):
                        continue
                    if holder[7:] in running:
                        m.seen.add(holder)
                        continue
                    # a young holder's domain may still be on its way into the hypervisor
                    if holder in m.seen or time.monotonic() - since > DOMAIN_GRACE:
                        del m.open_by[holder]
                        m.seen.discard(holder)
                        if not any(h.startswith("domain:") for h in m.open_by):
                            with contextlib.suppress(Failure):
                                m.secondary()
            for name in running:
                held = [m for m in self.minors.values() if f"domain:{name}" in m.open_by]
                thread = self.writers.get(name)
                if held and (thread is None or not thread.is_alive()):
                    thread = threading.Thread(target=self.domu_writer, args=(name,), daemon=True)
                    self.writers[name] = thread
                    thread.start()

    def node_name(self) -> str:
        try:
            with open(os.path.join(self.root, "boot.json"), encoding="utf-8") as fh:
                return str(json.load(fh).get("node", ""))
        except (OSError, ValueError):
            return ""

    def domu_writer(self, domain: str) -> None:
        """The guest's steady writes: sequence number N into the last 4 KiB block of its first
        DRBD disk, ten a second; the last acknowledged N is recorded for the lab to check."""
        record = os.path.join(drbd_dir(self.root), f"domu-{domain}.json")
        holder = f"domain:{domain}"
        with self.lock:
            held = sorted((m for m in self.minors.values() if holder in m.open_by),
                          key=lambda m: m.minor)
            seq = last_seq(held[0].data_file, held[0].size) if held and held[0].data_file else 0
        while True:
            time.sleep(0.1)
            with self.lock:
                held = sorted((m for m in self.minors.values() if holder in m.open_by),
                              key=lambda m: m.minor)
                if not held:
                    return
                m = held[0]
                seq += 1
                block = seq_record(domain, seq)
                try:
                    acked = m.write((m.size // BLOCK - 1) * BLOCK, block)
                except Failure:
                    acked = False
            if acked:
                tmp = record + ".tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump({"domain": domain, "acked": seq, "minor": m.minor,
                               "resource": m.name, "time": time.time()}, fh)
                os.replace(tmp, record)
            else:
                seq -= 1

    def serve(self) -> int:
        os.makedirs(drbd_dir(self.root), exist_ok=True)
        path = sock_path(self.root)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        ss.release_kind(self.root, "drbd")  # a new module holds nothing yet
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(16)
        with open(os.path.join(drbd_dir(self.root), "module.pid"), "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        klog("drbd: initialized. Version: 8.3.7 (api:88/proto:86-91)")
        klog(f"drbd: GIT-hash: {drbd_proc.GIT_HASH} {drbd_proc.BUILD}")
        klog("drbd: registered as block device major 147")
        threading.Thread(target=self.render_loop, daemon=True).start()
        self.changed()
        while True:
            conn, _ = server.accept()
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()


SEQ_MAGIC = b"LABSEQ "


def seq_record(domain: str, seq: int) -> bytes:
    """The block a lab DomU writes: its name and sequence number (the last 4 KiB block)."""
    return f"LABSEQ {domain} {seq:020d}\n".encode().ljust(BLOCK, b"\0")


def parse_seq(block: bytes) -> tuple[str, int] | None:
    if not block.startswith(SEQ_MAGIC):
        return None
    words = block.split(b"\n", 1)[0].split()
    if len(words) != 3 or not words[2].isdigit():
        return None
    return words[1].decode(), int(words[2])


def last_seq(data_file: str, size: int) -> int:
    """The sequence number on the disk (a restarted or migrated guest continues from it)."""
    found = parse_seq(ss.read_at(data_file, (size // BLOCK - 1) * BLOCK, BLOCK))
    return found[1] if found else 0


def running_domains(node: str) -> set[str]:
    """Names of the domains the lab's hypervisor runs on ``node`` (its state file)."""
    try:
        with open(os.path.join(CLUSTER, "xen.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return set()
    entry = data.get("nodes", {}).get(node, {})
    return {str(n) for n in (entry.get("domains") or {})}


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(OSError):
        import ctypes

        ctypes.CDLL(None).prctl(15, b"drbd", 0, 0, 0)
    return Module().serve()


if __name__ == "__main__":
    sys.exit(main())
