"""Why an SSH connection failed, in one line an operator can act on.

netmiko wraps paramiko's and the socket's errors in its own exceptions whose text is a
multi-line help page ("A paramiko SSHException occurred during connection creation:" and
the real reason lines below, cut off by anyone who keeps the first line). The real cause
is still there, as the wrapped exception's ``__context__``/``__cause__``: walk the chain
and name it.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from typing import Any

import paramiko


def fingerprint(key: Any) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a paramiko key (as ``ssh-keygen -lf`` shows)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _reason_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _one(error: BaseException, address: str) -> str | None:
    """The sentence for one exception of the chain, or None when it says nothing specific."""
    if isinstance(error, paramiko.BadHostKeyException):
        return (f"SSH host key of {address} does not match known_hosts (possible "
                f"man-in-the-middle, or the node was reinstalled): expected "
                f"{error.expected_key.get_name()} {fingerprint(error.expected_key)}, offered "
                f"{error.key.get_name()} {fingerprint(error.key)}")
    if isinstance(error, paramiko.AuthenticationException):
        detail = _reason_lines(str(error))
        return (f"SSH authentication to {address} refused"
                + (f": {detail[-1]}" if detail else "")
                + " (check the user and key_file in the inventory)")
    if isinstance(error, socket.gaierror):
        return f"DNS: the name in {address} does not resolve ({error.strerror or error})"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return f"connection to {address} refused (no SSH server listening)"
    if isinstance(error, ConnectionRefusedError):
        return f"connection to {address} refused (no SSH server listening)"
    if isinstance(error, TimeoutError):
        return f"no answer from {address} (connect timed out)"
    if isinstance(error, paramiko.SSHException):
        text = " ".join(_reason_lines(str(error)))
        if "not found in known_hosts" in text:
            return (f"SSH host key of {address} is not in the known_hosts file the inventory "
                    f"names ({text}); add it with ssh-keyscan and compare the fingerprint "
                    "out of band")
        if "Error reading SSH protocol banner" in text:
            return f"{address} accepted the connection but spoke no SSH ({text})"
        return f"SSH error with {address}: {text}" if text else None
    if isinstance(error, ConnectionResetError):
        return f"{address} reset the connection"
    return None


def _netmiko_text(error: BaseException, address: str) -> str | None:
    lines = _reason_lines(str(error))
    text = " ".join(lines)
    if text.startswith("DNS failure"):
        return f"DNS: the name in {address} does not resolve"
    if text.startswith("TCP connection to device failed"):
        return f"cannot open a TCP connection to {address}"
    return None


def describe_connect_error(exc: BaseException, address: str) -> str:
    """One line naming the real cause of a failed connection to ``address`` (host:port)."""
    chain = _chain(exc)
    for error in reversed(chain):  # the innermost error is the real cause
        sentence = _one(error, address)
        if sentence is not None:
            return sentence
    for error in chain:
        sentence = _netmiko_text(error, address)
        if sentence is not None:
            return sentence
    lines = _reason_lines(str(exc))
    return f"{type(exc).__name__} while connecting to {address}: {' '.join(lines[:3]) or '-'}"
