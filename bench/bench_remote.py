"""Benchmark: `runbook verify 01-base` wall time, and per-command cost vs OpenSSH.

Prints figures; asserts nothing. Needs the lab (brought up here if it is not)
and runs on the default lab inventory unless -i names another one.

    .venv/bin/python bench/bench_remote.py [-i inventory/lab] [-n 200] [--verify-runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nornir.core.task import Result, Task

from runbook import remote
from runbook.cli import DEFAULT_INVENTORY
from runbook.engine import PROJECT_ROOT
from runbook.inventory import SshSettings, load_inventory, open_nornir

RUNBOOK = str(Path(sys.executable).parent / "runbook")
COMMAND = "cat /etc/hostname"  # a real binary on the lab nodes (uname is simulated there)


def wall_time_of_verify(inventory: Path, runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as reports:
        for _ in range(runs):
            began = time.monotonic()
            subprocess.run(
                [RUNBOOK, "verify", "01-base", "-i", str(inventory), "--report-dir", reports],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )
            times.append(time.monotonic() - began)
    return times


def tool_per_command(inventory: Path, count: int) -> tuple[float, float, float]:
    """(connect seconds, mean per sequential command, mean per command in one batch)."""
    cluster = load_inventory(inventory)
    nr = open_nornir(cluster).filter(name=next(iter(cluster.nodes)))

    def measure(task: Task) -> Result:
        began = time.monotonic()
        remote.run(task, "true")
        connected = time.monotonic() - began
        began = time.monotonic()
        for _ in range(count):
            remote.run(task, COMMAND)
        sequential = (time.monotonic() - began) / count
        began = time.monotonic()
        remote.run_many(task, {str(i): COMMAND for i in range(count)})
        batched = (time.monotonic() - began) / count
        return Result(host=task.host, result=(connected, sequential, batched))

    try:
        result = next(iter(nr.run(task=measure).values()))[0]
        if result.failed:
            raise SystemExit(f"benchmark failed: {result.exception or result.result}")
        value: tuple[float, float, float] = result.result
        return value
    finally:
        nr.close_connections()


def openssh_per_command(ssh: SshSettings, count: int) -> tuple[float, float]:
    """(first command incl. connect, mean per command) over a ControlMaster connection."""
    with tempfile.TemporaryDirectory() as tmp:
        base = [
            "ssh", "-p", str(ssh.port), "-o", "BatchMode=yes",
            "-o", f"ControlPath={tmp}/cm", "-o", "ControlMaster=auto", "-o", "ControlPersist=60",
        ]
        if ssh.key_file:
            base += ["-i", str(ssh.key_file)]
        if ssh.known_hosts:
            base += ["-o", f"UserKnownHostsFile={ssh.known_hosts}"]
        target = [*base, f"{ssh.username}@{ssh.hostname}"]
        began = time.monotonic()
        subprocess.run([*target, "true"], check=True)
        first = time.monotonic() - began
        began = time.monotonic()
        for _ in range(count):
            subprocess.run([*target, COMMAND], check=True, stdout=subprocess.DEVNULL)
        mean = (time.monotonic() - began) / count
        subprocess.run([*base, "-O", "exit", f"{ssh.username}@{ssh.hostname}"],
                       check=False, stderr=subprocess.DEVNULL)
        return first, mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", type=Path, default=DEFAULT_INVENTORY)
    parser.add_argument("-n", "--count", type=int, default=200)
    parser.add_argument("--verify-runs", type=int, default=3)
    args = parser.parse_args()
    if args.inventory.resolve() == DEFAULT_INVENTORY.resolve():
        subprocess.run([RUNBOOK, "lab", "up"], check=True, cwd=PROJECT_ROOT,
                       stdout=subprocess.DEVNULL)
    cluster = load_inventory(args.inventory)
    ssh = next(iter(cluster.ssh.values()))

    verify = wall_time_of_verify(args.inventory, args.verify_runs)
    connect, sequential, batched = tool_per_command(args.inventory, args.count)
    first, openssh = openssh_per_command(ssh, args.count)

    print(f"inventory: {args.inventory}  (node {ssh.hostname}:{ssh.port}, command `{COMMAND}`)")
    print(f"runbook verify 01-base, wall time over {len(verify)} runs: "
          f"median {statistics.median(verify):.2f}s (min {min(verify):.2f}s, "
          f"max {max(verify):.2f}s)")
    print(f"tool: connect + shell setup             {connect * 1000:8.1f} ms")
    print(f"tool: mean per command, sequential      {sequential * 1000:8.2f} ms  (n={args.count})")
    print(f"tool: mean per command, one round trip  {batched * 1000:8.2f} ms  (n={args.count})")
    print(f"openssh ControlMaster: first command    {first * 1000:8.1f} ms")
    print(f"openssh ControlMaster: mean per command {openssh * 1000:8.2f} ms  (n={args.count})")


if __name__ == "__main__":
    main()
