"""Facts of the base system: names, files, addresses, services, the boot."""

from __future__ import annotations

from ipaddress import IPv4Interface

from runbook.facts import Fact, stdout_fact
from runbook.parsers import PingSummary, parse_getent_hosts, parse_ip_addr, parse_ping
from runbook.remote import CommandResult, quote

MISSING = 3  # the exit status of file_content's command for a file that does not exist


def _line(text: str) -> str:
    lines = text.strip().splitlines()
    if len(lines) != 1 or not lines[0].strip():
        raise ValueError(f"expected one line, got {text!r}")
    return lines[0].strip()


HOSTNAME = stdout_fact("hostname", "hostname", _line)
HOSTNAME_F = stdout_fact("hostname -f", "hostname -f", _line)
UNAME_R = stdout_fact("uname -r", "uname -r", _line)
BOOT_ID = stdout_fact("boot id", "cat /proc/sys/kernel/random/boot_id", _line)
IP_ADDR = stdout_fact("ip addr", "ip -o -4 addr show", parse_ip_addr)


def _content(result: CommandResult) -> str | None:
    return None if result.exit_status == MISSING else result.stdout


def file_content(path: str) -> Fact[str | None]:
    """The content of ``path``, or None when it does not exist."""
    quoted = quote(path)
    return Fact(f"file {path}", f"if [ -e {quoted} ]; then cat -- {quoted}; else exit 3; fi",
                _content, frozenset({0, MISSING}))


def exists(path: str) -> Fact[bool]:
    """Whether ``path`` exists (``test -e``: 0 yes, 1 no; anything else is an error)."""
    return Fact(f"exists {path}", quote("test", "-e", path), lambda r: r.exit_status == 0,
                frozenset({0, 1}))


def getent_hosts(names: list[str]) -> Fact[dict[str, str]]:
    """Every name that resolves, to its address (getent exits 2 when one does not)."""
    return stdout_fact("getent hosts", f"getent hosts {quote(*names)}", parse_getent_hosts,
                       (0, 2))


def ping(target: str) -> Fact[PingSummary]:
    """Two pings (exit 1: no reply, which the summary tells; 2: an error)."""
    return stdout_fact(f"ping {target}", f"ping -c 2 -i 0.2 -W 2 {quote(target)}", parse_ping,
                       (0, 1))


# LSB status codes of an init script: 0 running, 1-3 not running (4: unknown is an error).
_LSB_NOT_RUNNING = frozenset({1, 2, 3})


def service_running(name: str) -> Fact[bool]:
    """``/etc/init.d/NAME status``: True when it runs."""
    return Fact(f"service {name}", f"/etc/init.d/{quote(name)} status",
                lambda r: r.exit_status == 0, frozenset({0}) | _LSB_NOT_RUNNING)


def addresses(result: dict[str, list[IPv4Interface]], name: str) -> list[str]:
    return [str(a) for a in result.get(name, [])]
