"""``ip address`` of a lab node as Ubuntu 8.04 shows it: the control machine's iproute2 without
the IPv4 address lifetimes.

Linux 2.6.24 reports no lifetime for an IPv4 address (IFA_CACHEINFO for IPv4 arrived with
address lifetimes in 3.9), so iproute 20071016 printed ``valid_lft``/``preferred_lft`` only under
IPv6 addresses. The node's ``ip`` wrapper sends every ``ip address ...`` here; the real program
runs with the same arguments and the same exit status, and only the lifetime text of ``inet``
entries is dropped (``\\       valid_lft forever preferred_lft forever`` at the end of a ``-o``
line, or the indented line under an ``inet`` line). Every other ``ip`` command is the real one.
"""

from __future__ import annotations

import re
import subprocess
import sys

REAL = "/usr/lib/runbook-lab/host-usr/bin/ip"
ONELINE_LIFETIME = re.compile(r"\\\s+valid_lft \S+ preferred_lft \S+\s*$")
LIFETIME_LINE = re.compile(r"^\s+valid_lft \S+ preferred_lft \S+\s*$")


def era_output(text):
    """Drop the lifetimes of IPv4 entries; IPv6 entries keep theirs."""
    out = []
    under_inet = False  # the previous entry line was an IPv4 address
    for line in text.splitlines(keepends=True):
        if LIFETIME_LINE.match(line):
            if not under_inet:
                out.append(line)
            continue
        under_inet = " inet " in f" {line}"
        if under_inet and ONELINE_LIFETIME.search(line):
            line = ONELINE_LIFETIME.sub("", line.rstrip("\n")) + "\n"
        out.append(line)
    return "".join(out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    result = subprocess.run([REAL, *argv], capture_output=True, text=True, check=False)
    sys.stdout.write(era_output(result.stdout))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
