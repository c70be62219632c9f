"""What every lab integration test needs: a lab of its own, and a shell on its nodes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from xenlab import manager
from xenlab.manager import PROJECT_ROOT

LABS_DIR = PROJECT_ROOT / ".lab"
# Every lab test module: `pytestmark = LAB_TESTS`.
LAB_TESTS = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]


@contextmanager
def own_lab(name: str, port_base: int) -> Iterator[manager.LabInfo]:
    """Bring up lab ``name`` (never the default one); bring it down even when a test fails."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces)")
    try:
        yield manager.up(name, port_base=port_base)
    finally:
        manager.down(name)
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                    check=False).stdout
        assert f"{name}-" not in namespaces, f"lab {name} left namespaces: {namespaces}"
        left = [p.name for p in LABS_DIR.glob(f"{name}*")] if LABS_DIR.exists() else []
        assert not left, f"lab {name} left files in {LABS_DIR}: {left}"


def ssh(lab: manager.LabInfo, node: str, command: str, check: bool = True, *,
        stdin: str | None = None, tty: bool = False,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on ``node`` with the real OpenSSH client and the lab's own host keys."""
    __tracebackhide__ = True
    argv = ["ssh", "-i", str(lab.state_dir / "id_ed25519"),
            "-o", f"UserKnownHostsFile={lab.state_dir / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5", "-p", str(lab.nodes[node]),
            *(["-tt"] if tty else []), "root@127.0.0.1", command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                            input=stdin if stdin is not None else "")
    if check and result.returncode != 0:
        pytest.fail(f"{node}: {command!r} exited {result.returncode}:\n{result.stdout}"
                    f"{result.stderr}")
    return result
