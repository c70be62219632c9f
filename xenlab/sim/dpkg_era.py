"""``dpkg`` and ``dpkg-query`` of a lab node: the control machine's real dpkg on the node's own
/var/lib/dpkg, speaking dpkg 1.14.16.6 (Ubuntu 8.04) where the two versions differ in what a
runbook reads.

- ``--version`` prints 1.14's text (src/main.c, src/query.c printversion; the Ubuntu build
  reports "1.14.16.6ubuntu1").
- dpkg-query's "no packages found" message is 1.14's ``No packages found matching NAME.``
  (src/query.c), exit status 1 as in both versions; the "is not installed" messages of ``-L``
  and ``-s`` are 1.14's (the hint lines 1.21 adds after them still pass through).
Everything else is the real program's output, passed through unchanged.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

HOST_BIN = "/usr/lib/runbook-lab/host-usr/bin"
VERSION = "1.14.16.6ubuntu1 (amd64)"
LICENSE = ("This is free software; see the GNU General Public License version 2 or\n"
           "later for copying conditions. There is NO warranty.\n"
           "See {prog} --license for copyright and license details.\n")
VERSION_TEXT = {
    "dpkg": f"Debian `dpkg' package management program version {VERSION}.\n"
            + LICENSE.format(prog="dpkg"),
    "dpkg-query": "Debian `dpkg-query' package management program query tool\n"
                  + LICENSE.format(prog="dpkg-query"),
}
# modern message -> 1.14 message (stderr of dpkg-query)
MESSAGES = (
    (re.compile(r"^dpkg-query: no packages found matching (.*)$", re.M),
     r"No packages found matching \1."),
    (re.compile(r"^dpkg-query: package '(.*)' is not installed and no information is "
                r"available$", re.M), r"Package `\1' is not installed and no info is available."),
    (re.compile(r"^dpkg-query: package '(.*)' is not installed$", re.M),
     r"Package `\1' is not installed."),
)


def era_stderr(text):
    for pattern, replacement in MESSAGES:
        text = pattern.sub(replacement, text)
    return text


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog, args = argv[0], argv[1:]
    if "--version" in args:
        sys.stdout.write(VERSION_TEXT[prog])
        return 0
    real = f"{HOST_BIN}/{prog}"
    if prog == "dpkg":
        os.execv(real, [prog, *args])
    result = subprocess.run([real, *args], capture_output=True, check=False)
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(era_stderr(result.stderr.decode("utf-8", "replace")))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
