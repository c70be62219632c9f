"""Connection failures name their real cause, however netmiko wrapped it."""

from __future__ import annotations

import socket

import paramiko
import pytest
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

from runbook.connect_errors import describe_connect_error, fingerprint

ADDRESS = "127.0.0.1:2201"


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    """``outer`` raised while handling ``inner``, as netmiko's connect does."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit chain is what netmiko produces
    except BaseException as exc:
        return exc


def netmiko_ssh_exception(inner: BaseException) -> BaseException:
    text = f"\nA paramiko SSHException occurred during connection creation:\n\n{inner}\n\n"
    return wrapped(inner, NetmikoTimeoutException(text))


def test_host_key_mismatch_names_both_fingerprints() -> None:
    expected = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") \
        else paramiko.RSAKey.generate(1024)
    offered = paramiko.RSAKey.generate(1024)
    exc = netmiko_ssh_exception(paramiko.BadHostKeyException("[127.0.0.1]:2201", offered,
                                                             expected))
    line = describe_connect_error(exc, ADDRESS)
    assert "does not match known_hosts" in line
    assert f"expected {expected.get_name()} {fingerprint(expected)}" in line
    assert f"offered ssh-rsa {fingerprint(offered)}" in line
    assert "\n" not in line


def test_unknown_host_key_says_what_to_do() -> None:
    inner = paramiko.SSHException("Server '[127.0.0.1]:2201' not found in known_hosts")
    line = describe_connect_error(netmiko_ssh_exception(inner), ADDRESS)
    assert "not in the known_hosts file" in line and "[127.0.0.1]:2201" in line


def test_authentication_refused() -> None:
    inner = paramiko.AuthenticationException("Authentication failed.")
    outer = NetmikoAuthenticationException("Authentication to device failed.\n\nCommon causes...")
    line = describe_connect_error(wrapped(inner, outer), ADDRESS)
    assert line.startswith(f"SSH authentication to {ADDRESS} refused: Authentication failed.")


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "refused (no SSH server listening)"),
        (TimeoutError("timed out"), "connect timed out"),
        (socket.gaierror(-2, "Name or service not known"), "DNS: the name in"),
        (paramiko.ssh_exception.NoValidConnectionsError({("127.0.0.1", 2201): OSError()}),
         "refused (no SSH server listening)"),
    ],
)
def test_socket_level_causes(inner: BaseException, expected: str) -> None:
    outer = NetmikoTimeoutException("TCP connection to device failed.\n\nCommon causes ...")
    assert expected in describe_connect_error(wrapped(inner, outer), ADDRESS)


def test_banner_error_is_not_cut_off() -> None:
    inner = paramiko.SSHException("Error reading SSH protocol banner[Errno 104] Connection reset")
    line = describe_connect_error(netmiko_ssh_exception(inner), ADDRESS)
    assert "spoke no SSH" in line and "Connection reset" in line


def test_unknown_error_keeps_its_text() -> None:
    line = describe_connect_error(RuntimeError("something odd\nsecond line"), ADDRESS)
    assert line == f"RuntimeError while connecting to {ADDRESS}: something odd second line"


def test_fingerprint_matches_openssh_format() -> None:
    key = paramiko.RSAKey.generate(1024)
    value = fingerprint(key)
    assert value.startswith("SHA256:") and len(value) == len("SHA256:") + 43
