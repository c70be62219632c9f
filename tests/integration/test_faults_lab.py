"""The run keeps its word under faults, on a lab of its own over real SSH.

Each case is reproduced as an operator meets it: a key_file that does not exist, a wrong
host key in known_hosts, Ctrl-C (SIGINT) during 02-xen's reboot wait, two runs started
together. The proof is read from structured results (exit status, the run record, JUnit,
the lock directory on the nodes), not from terminal prose, except where the message is
the point. The tests run in file order on one lab: the first two change nothing, the
third leaves both nodes on the Xen kernel with 01-base applied, the fourth re-runs 01.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook import nodelock
from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbft"
PORT_BASE = 2481
RUNBOOK = str(Path(sys.executable).parent / "runbook")
ENV = {**os.environ, "COLUMNS": "200"}


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUNBOOK, *args], capture_output=True, text=True, timeout=300,
                          check=False, env=ENV)


def start(args: list[str], logs: Path, **env: str) -> subprocess.Popen[str]:
    """``runbook ARGS`` in the background, its output in files (not a terminal)."""
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([RUNBOOK, *args], stdout=(logs / "out").open("w"),
                            stderr=(logs / "err").open("w"), text=True, env={**ENV, **env})


def inventory_copy(lab: manager.LabInfo, folder: Path, **ssh_files: Path) -> Path:
    """The lab's inventory in ``folder``, with ``key_file``/``known_hosts`` replaced."""
    shutil.copytree(lab.inventory_dir, folder)
    defaults = folder / "defaults.yaml"
    text = defaults.read_text()
    for key, path in ssh_files.items():
        text, count = re.subn(rf"{key}: \S+", f"{key}: {path}", text)
        assert count == 1, (key, text)
    defaults.write_text(text)
    return folder


def records(folder: Path) -> list[dict[str, Any]]:
    """The run records in ``folder`` (``<stem>.json``; sidecars are ``<stem>.<what>.json``)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))
            if p.suffixes == [".json"]]


def locked(lab: manager.LabInfo, node: str) -> bool:
    return ssh(lab, node, f"test -d {nodelock.LOCK_DIR}", check=False).returncode == 0


def fingerprint(public_key_line: str, tmp: Path) -> str:
    """``SHA256:...`` as OpenSSH's own ssh-keygen prints it."""
    path = tmp / "key.pub"
    path.write_text(public_key_line + "\n")
    out = subprocess.run(["ssh-keygen", "-lf", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def test_a_missing_key_file_is_named_before_connecting(
    lab: manager.LabInfo, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-key"
    inventory = inventory_copy(lab, tmp_path / "inventory", key_file=missing)
    reports = tmp_path / "reports"
    done = runbook("run", "01", "-i", str(inventory), "--report-dir", str(reports))
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(missing) in done.stdout and "data.ssh.key_file" in done.stdout
    assert re.search(r"\bha1\b", done.stdout) and re.search(r"\bha2\b", done.stdout)
    assert not reports.exists()  # stopped before anything: no report, no connection
    assert "Traceback" not in done.stderr


def test_a_wrong_host_key_names_the_mismatch_and_both_fingerprints(
    lab: manager.LabInfo, tmp_path: Path
) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "impostor")], check=True)
    impostor = (tmp_path / "impostor.pub").read_text().split()[:2]
    real = (lab.state_dir / "known_hosts").read_text().splitlines()
    address = f"[127.0.0.1]:{lab.nodes['ha1']}"
    (ha1_line,) = [line for line in real if line.startswith(address + " ")]
    wrong = [f"{address} {' '.join(impostor)}" if line == ha1_line else line for line in real]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(wrong) + "\n")
    inventory = inventory_copy(lab, tmp_path / "inventory", known_hosts=known_hosts)
    reports = tmp_path / "reports"
    done = runbook("verify", "01", "-i", str(inventory), "--report-dir", str(reports))
    assert done.returncode == 1, done.stdout + done.stderr
    (record,) = records(reports)
    reason = record["unreachable"]["ha1"]
    expected = fingerprint(" ".join(impostor), tmp_path)
    offered = fingerprint(" ".join(ha1_line.split()[1:3]), tmp_path)
    assert "does not match known_hosts" in reason
    assert f"expected ssh-ed25519 {expected}" in reason
    assert f"offered ssh-ed25519 {offered}" in reason
    assert "ha2" not in record["unreachable"]  # its key is right: checked as usual
    # The terminal says it in the same words (wrapped at the console's width).
    assert "".join(reason.split()) in "".join(done.stdout.split())
    assert "Traceback" not in done.stderr


def boot_id(lab: manager.LabInfo, node: str) -> str | None:
    """The node's boot id, or None while its SSH does not answer (it is rebooting)."""
    done = ssh(lab, node, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=10)
    return done.stdout.strip() if done.returncode == 0 else None


PROGRESS = re.compile(r"^  (ha[12])  02-xen · reboot  waiting for SSH \((\d+) s\)$", re.M)


def test_ctrl_c_during_the_reboot_wait_stops_records_and_unlocks(
    lab: manager.LabInfo, tmp_path: Path
) -> None:
    before = boot_id(lab, "ha1")
    reports = tmp_path / "reports"
    run = start(["run", "01", "02", "-i", str(lab.inventory_dir), "--report-dir",
                 str(reports)], tmp_path, RUNBOOK_PROGRESS_INTERVAL="0.5")
    deadline = time.monotonic() + 120
    while boot_id(lab, "ha1") == before:  # the node itself says when its reboot began
        assert run.poll() is None, "the run ended before 02-xen rebooted ha1"
        assert time.monotonic() < deadline, "ha1 never rebooted"
        time.sleep(0.1)
    # Output to a file, not a terminal: the wait is told in progress lines as it goes.
    while not PROGRESS.search((tmp_path / "out").read_text()):
        assert run.poll() is None and time.monotonic() < deadline, "no progress line"
        time.sleep(0.05)
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    code = run.wait(timeout=90)
    took = time.monotonic() - sent
    err = (tmp_path / "err").read_text()
    out = (tmp_path / "out").read_text()
    print(f"\nSIGINT to exit: {took:.2f} s (includes waiting for the nodes to unlock them)")
    assert code == 130, out + err
    assert took < 45
    assert "Traceback" not in err and "Traceback" not in out
    (record,) = records(reports)
    reboot = {s["host"]: s for s in record["steps"] if s["step"] == "reboot"}
    assert {h: s["status"] for h, s in reboot.items()} == {"ha1": "interrupted",
                                                           "ha2": "interrupted"}
    stop = record["interrupted"]
    assert (stop["signal"], stop["during"]) == ("SIGINT", "02-xen · reboot")
    assert stop["notes"] == {"ha1": "waiting for SSH", "ha2": "waiting for SSH"}
    assert stop["line"] in out
    assert {m[0] for m in PROGRESS.findall(out)} == {"ha1", "ha2"}
    assert {c["runbook"] for c in record["checks"]} == {"01-base"}  # none of 02 started
    assert record["invocation"]["ended"] is not None
    junit = ET.parse(next(reports.glob("*.xml"))).getroot()
    errors = {c.get("name"): c.find("error") for c in
              junit.findall("testsuite[@name='runbook-steps']/testcase")}
    assert {n: e.get("type") for n, e in errors.items() if e is not None} == {
        "reboot[ha1]": "interrupted", "reboot[ha2]": "interrupted"}
    assert not locked(lab, "ha1") and not locked(lab, "ha2")


def test_two_runs_at_once_one_runs_the_other_is_refused_by_the_lock(
    lab: manager.LabInfo, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    args = ["run", "01", "-i", str(lab.inventory_dir), "--report-dir", str(reports)]
    runs = [start(args, tmp_path / name) for name in ("a", "b")]
    codes = [r.wait(timeout=120) for r in runs]
    assert sorted(codes) == [0, 3], codes
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    refused = (tmp_path / "ab"[loser] / "out").read_text()
    held = re.findall(r"^refused: (ha[12]) is locked by (\S+) since \d\d:\d\d:\d\d UTC "
                      r"\(runbook run 01-base, pid (\d+)\); wait for that run to end$",
                      refused, re.M)
    assert held and {int(pid) for _, _, pid in held} == {runs[winner].pid}, refused
    (record,) = records(reports)  # the refused run wrote no report
    assert record["invocation"]["command_line"][:3] == ["runbook", "run", "01"]
    assert not locked(lab, "ha1") and not locked(lab, "ha2")
    # Reports started in the same second never share a name (verify takes no lock).
    verifies = [start(["verify", "01", "-i", str(lab.inventory_dir), "--report-dir",
                       str(tmp_path / "v")], tmp_path / name) for name in ("c", "d")]
    assert [v.wait(timeout=120) for v in verifies] == [0, 0]
    names = sorted(p.stem for p in (tmp_path / "v").glob("*.json") if p.suffixes == [".json"])
    assert len(names) == 2 and len(set(names)) == 2
    assert all(r["invocation"]["mode"] == "verify" for r in records(tmp_path / "v"))


def test_a_stale_lock_is_named_and_unlock_clears_it(
    lab: manager.LabInfo, tmp_path: Path
) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()  # a run of this machine that died without releasing its lock
    here = socket.gethostname()
    stale = nodelock.LockOwner(f"root@{here}", here, ended.pid, nodelock.now(),
                               "runbook run 06-drbd", "tok-stale")
    ssh(lab, "ha2", nodelock.acquire_command(stale))
    done = runbook("run", "01", "-i", str(lab.inventory_dir), "--report-dir",
                   str(tmp_path / "reports"))
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"refused: ha2 is locked by root@{here} since " in done.stdout
    assert f"the lock looks stale (pid {ended.pid} no longer runs on {here})" in done.stdout
    assert "`runbook unlock --limit ha2`" in done.stdout
    assert not locked(lab, "ha1")  # the lock it took on ha1 was given back
    cleared = runbook("unlock", "--limit", "ha2", "-i", str(lab.inventory_dir))
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert cleared.stdout.startswith(f"ha2: cleared the lock (locked by root@{here} since ")
    assert not locked(lab, "ha2")
