"""TCP forwarder from a 127.0.0.1 port of the control machine into a lab node's namespace.

``forwarder.py --listen 127.0.0.1:2201 --netns rblab-ha1 --target 127.0.0.1:22``: binds the
listening socket in the root network namespace first, then enters the node's namespace
(setns(2)) so that every connection it opens stays inside the lab. Stdlib only, run as a script.
When nothing listens on the target, the client's connection is reset at once (no hang).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import socket
import struct
import sys
import threading

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def enter_netns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def handle(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        return
    upstream.settimeout(None)
    # Interactive SSH sends small segments; with Nagle on both legs of the relay, each one
    # waits for the peer's delayed ACK (~40 ms). Forward every byte at once instead.
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, type=address)
    parser.add_argument("--netns", required=True)
    parser.add_argument("--target", default="127.0.0.1:22", type=address)
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    if args.title:
        ctypes.CDLL(None).prctl(PR_SET_NAME, args.title.encode()[:15], 0, 0, 0)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(args.listen)
    server.listen(64)
    enter_netns(args.netns)
    print(f"forwarding {args.listen[0]}:{args.listen[1]} -> {args.netns} "
          f"{args.target[0]}:{args.target[1]}", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, args.target), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
