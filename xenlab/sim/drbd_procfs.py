"""/proc/drbd on a lab node: a tiny FUSE filesystem over the node's /proc (stdlib only).

procfs has no way to add an entry, and it refuses to be a lower layer of overlayfs (procfs sets
its stacking depth to the maximum: "overlayfs: maximum fs stacking depth exceeded"). So while the
node's DRBD module is loaded, this process (started by ``modprobe drbd``, i.e. drbd_cli's
load_module) mounts a FUSE filesystem on /proc whose ROOT is served here and nothing else:

- every name of the real procfs (``1234``, ``self``, ``meminfo``, ``sys``, ...) is a symlink
  into the real procfs, recursively bound (with the lab's binds over /proc/version etc.) at
  :data:`REALPROC`. Path walks continue in the real procfs, so /proc/self/fd/0, /proc/PID/...,
  writes to /proc/sys and procfs's magic links behave exactly as before;
- ``drbd`` is a read-only file whose content is the module's /proc/drbd text (drbd/proc in the
  node state), snapshotted at open like seq_file does.

The module's unload (``rmmod``, ``/etc/init.d/drbd stop``) and SIGTERM unmount both; the node's
init detaches a dead one at reboot (node_init.reset_node). Differences that remain: ``ls -l
/proc`` shows symlinks, statfs(/proc) says fuse, /proc/mounts lists the two extra mounts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import stat
import struct
import sys
import threading
import time

NODE = "/usr/lib/runbook-lab/node"
REALPROC = "/usr/lib/runbook-lab/proc"
PROC_TEXT = f"{NODE}/drbd/proc"
MODULE_PID = f"{NODE}/drbd/module.pid"
PID_FILE = f"{NODE}/drbd/procfs.pid"
FUSE_MAJOR, FUSE_MINOR = 10, 229
MS_BIND, MS_REC, MS_NOSUID, MS_NODEV = 4096, 16384, 2, 4
MNT_DETACH = 2
ROOT_ID = 1
DRBD_ID = 2
ENTRY_TTL = 1  # seconds a name's symlink may be cached (a dead pid's link dangles: ENOENT)

# opcodes (linux/fuse.h)
LOOKUP, FORGET, GETATTR, READLINK, OPEN, READ, STATFS, RELEASE = 1, 2, 3, 5, 14, 15, 17, 18
GETXATTR, LISTXATTR, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR = 22, 23, 25, 26, 27, 28, 29
ACCESS, INTERRUPT, DESTROY, BATCH_FORGET, READDIRPLUS = 34, 36, 38, 42, 44
NO_REPLY = (FORGET, BATCH_FORGET, INTERRUPT)
IN_HEADER = struct.Struct("<IIQQIIII")
OUT_HEADER = struct.Struct("<IiQ")
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
FOPEN_DIRECT_IO = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                     flags, data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _umount(target: str) -> None:
    _libc.umount2(target.encode(), MNT_DETACH)


def module_loaded() -> bool:
    try:
        with open(MODULE_PID, encoding="utf-8") as fh:
            os.kill(int(fh.read().strip()), 0)
    except (OSError, ValueError):
        return False
    return os.path.exists(PROC_TEXT)


def attr(ino: int, mode: int, size: int = 0) -> bytes:
    now = int(time.time())
    return ATTR.pack(ino, size, (size + 511) // 512, now, now, now, 0, 0, 0, mode, 1, 0, 0, 0,
                     4096, 0)


def entry(nodeid: int, mode: int, size: int, ttl: int) -> bytes:
    return struct.pack("<QQQQII", nodeid, 0, ttl, ttl, 0, 0) + attr(nodeid, mode, size)


def dirent(ino: int, offset: int, name: bytes, dtype: int) -> bytes:
    record = struct.pack("<QQII", ino, offset, len(name), dtype) + name
    return record + b"\0" * (-len(record) % 8)


class ProcFs:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.names: dict[str, int] = {}
        self.ids: dict[int, str] = {}
        self.open_texts: dict[int, bytes] = {}
        self.next_fh = 1

    def node_for(self, name: str) -> int:
        if name not in self.names:
            nodeid = len(self.names) + 3
            self.names[name] = nodeid
            self.ids[nodeid] = name
        return self.names[name]

    def drbd_text(self) -> bytes:
        with open(PROC_TEXT, "rb") as fh:
            return fh.read()

    # ------------------------------------------------------------------ requests
    def handle(self, opcode: int, nodeid: int, body: bytes) -> bytes | int:
        """The reply body, or a negative errno."""
        if opcode == INIT:
            _major, minor, readahead, _flags = struct.unpack_from("<IIII", body)
            return struct.pack("<IIIIHHIIHHII", 7, min(minor, 31), readahead, 0, 16, 12,
                               131072, 1, 32, 0, 0, 0) + b"\0" * 24
        if opcode == LOOKUP:
            name = body.rstrip(b"\0").decode(errors="surrogateescape")
            if name == "drbd":
                if not module_loaded():
                    return -errno.ENOENT
                return entry(DRBD_ID, stat.S_IFREG | 0o444, len(self.drbd_text()), 0)
            if "/" in name or not os.path.lexists(os.path.join(REALPROC, name)):
                return -errno.ENOENT
            return entry(self.node_for(name), stat.S_IFLNK | 0o777,
                         len(REALPROC) + 1 + len(name), ENTRY_TTL)
        if opcode == GETATTR:
            if nodeid == ROOT_ID:
                mode, size = stat.S_IFDIR | 0o555, 0
            elif nodeid == DRBD_ID:
                if not module_loaded():
                    return -errno.ENOENT
                mode, size = stat.S_IFREG | 0o444, len(self.drbd_text())
            elif nodeid in self.ids:
                mode, size = stat.S_IFLNK | 0o777, len(REALPROC) + 1 + len(self.ids[nodeid])
            else:
                return -errno.ENOENT
            return struct.pack("<QII", 0 if nodeid == DRBD_ID else ENTRY_TTL, 0, 0) + \
                attr(nodeid, mode, size)
        if opcode == READLINK:
            name = self.ids.get(nodeid)
            return f"{REALPROC}/{name}".encode() if name else -errno.EINVAL
        if opcode == OPEN:
            if nodeid != DRBD_ID:
                return -errno.EACCES
            flags = struct.unpack_from("<I", body)[0]
            if flags & 3:
                return -errno.EACCES  # /proc/drbd is read-only
            fh = self.next_fh
            self.next_fh += 1
            try:
                self.open_texts[fh] = self.drbd_text()
            except OSError:
                return -errno.ENOENT
            return struct.pack("<QII", fh, FOPEN_DIRECT_IO, 0)
        if opcode == READ:
            fh, offset, size = struct.unpack_from("<QQI", body)
            text = self.open_texts.get(fh, b"")
            return text[offset:offset + size]
        if opcode == RELEASE:
            fh = struct.unpack_from("<Q", body)[0]
            self.open_texts.pop(fh, None)
            return b""
        if opcode == OPENDIR:
            return struct.pack("<QII", 0, 0, 0) if nodeid == ROOT_ID else -errno.ENOTDIR
        if opcode == READDIR:
            _fh, offset, size = struct.unpack_from("<QQI", body)
            names = [(".", ROOT_ID, 4), ("..", ROOT_ID, 4)]
            names += [(n, self.node_for(n), 10) for n in sorted(os.listdir(REALPROC))]
            if module_loaded():
                names.append(("drbd", DRBD_ID, 8))
            out = b""
            for index in range(offset, len(names)):
                name, ino, dtype = names[index]
                record = dirent(ino, index + 1, name.encode(), dtype)
                if len(out) + len(record) > size:
                    break
                out += record
            return out
        if opcode in (RELEASEDIR, FLUSH):
            return b""
        if opcode == STATFS:
            return struct.pack("<QQQQQIIII", 0, 0, 0, 0, 0, 4096, 255, 4096, 0) + b"\0" * 24
        if opcode == DESTROY:
            return b""
        return -errno.ENOSYS  # xattrs, access (default_permissions), readdirplus, writes...

    def serve(self) -> None:
        while True:
            try:
                request = os.read(self.fd, 1 << 20 | 4096)
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENODEV:  # unmounted
                    return
                if exc.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                    continue
                raise
            _len, opcode, unique, nodeid, _uid, _gid, _pid, _pad = IN_HEADER.unpack_from(
                request)
            if opcode in NO_REPLY:
                continue
            try:
                result = self.handle(opcode, nodeid, request[IN_HEADER.size:])
            except OSError as exc:
                result = -(exc.errno or errno.EIO)
            if isinstance(result, int):
                reply = OUT_HEADER.pack(OUT_HEADER.size, result, unique)
            else:
                reply = OUT_HEADER.pack(OUT_HEADER.size + len(result), 0, unique) + result
            with contextlib.suppress(OSError):  # the caller may have been interrupted
                os.write(self.fd, reply)
            if opcode == DESTROY:
                return


def is_mounted() -> bool:
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        return any(line.split()[4] == REALPROC for line in fh)


def unmount() -> None:
    _umount("/proc")
    _umount(REALPROC)


def main() -> int:
    os.makedirs(REALPROC, exist_ok=True)
    if is_mounted():
        return 0
    device = "/run/drbd-fuse"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(device)
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(FUSE_MAJOR, FUSE_MINOR))
    fd = os.open(device, os.O_RDWR)
    os.unlink(device)
    _mount("/proc", REALPROC, None, MS_BIND | MS_REC, None)
    try:
        _mount("drbd", "/proc", "fuse", MS_NOSUID | MS_NODEV,
               f"fd={fd},rootmode=40555,user_id=0,group_id=0,allow_other")
    except OSError:
        _umount(REALPROC)
        raise
    with open(PID_FILE, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")

    def stop(*_: object) -> None:
        unmount()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    server = threading.Thread(target=ProcFs(fd).serve, daemon=True)
    server.start()
    while server.is_alive():
        server.join(1.0)
    unmount()
    return 0


if __name__ == "__main__":
    sys.exit(main())
