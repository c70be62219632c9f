"""Runbook 06-drbd end to end on a lab of its own (rbdb), refusals and verify failures included.

One scenario in file order on one lab: a dry run of 01 to 06 on fresh nodes, the whole run,
a second run with no change, then the refusals (starting the DomU while it runs on the other
node, create-md over meta data this tool did not write, a second initial sync, going on with
one node) and `runbook verify` failing with evidence after the crossover link is cut and after
a resource is disconnected behind the tool's back. The lab's DomU disks are made small (64 and
32 MiB) and the syncer rate 20M, so the initial sync takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbdb"
PORT_BASE = 2501
PASSWORD = "Lab-DomU-pw-0606"
RUNBOOK = str(Path(sys.executable).parent / "runbook")
STEP = re.compile(r"^\s+(ha[12])\s+(\d\d-[a-z0-9-]+) · (\S+)\s+"
                  r"(ok|changed|failed|skipped|waited|would change)\s+([\d.]+)s\s*(.*)$")
MARKERS = "/var/lib/runbook"
UP_TO_06 = ("01", "02", "03", "04", "05", "06")


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


@pytest.fixture(scope="module")
def inventory(lab: manager.LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab's inventory with small DomU disks and a fast syncer rate."""
    folder = tmp_path_factory.mktemp("inv") / "rbdb"
    shutil.copytree(lab.inventory_dir, folder)
    groups = folder / "groups.yaml"
    doc = yaml.safe_load(groups.read_text())
    data = doc["xen_cluster"]["data"]
    data["xen_tools"].update(size="64Mb", swap="32Mb")
    data["drbd"]["syncer_rate"] = "20M"
    groups.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def runbook(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI on the test's inventory; reports go to the inventory's sibling folder."""
    env = {**os.environ, "RUNBOOK_DOMU_PASSWORD": PASSWORD}
    extra = ["-i", str(inventory), "--report-dir", str(inventory.parent / "reports")]
    return subprocess.run([RUNBOOK, *args, *extra], capture_output=True, text=True,
                          timeout=1200, check=False, env=env)


def dry_steps(output: str) -> dict[tuple[str, str], str]:
    """(host, step) -> status of the 06-drbd step lines a dry run prints (it writes no record)."""
    return {(m[1], m[3]): m[4] for m in map(STEP.match, output.splitlines())
            if m and m[2] == "06-drbd"}


def record(output: str) -> dict[str, Any]:
    """The run record (JSON) the invocation names: steps and checks with their evidence."""
    found = re.search(r"^record:\s+(\S+)$", output, re.M)
    assert found, output
    loaded: dict[str, Any] = json.loads(Path(found[1]).read_text())
    return loaded


def steps(output: str) -> dict[tuple[str, str], tuple[str, float, str]]:
    """(host, step) -> (status, seconds, message) of every 06-drbd step of a run."""
    return {(row["host"], row["step"]): (row["status"], row["duration"], row["message"])
            for row in record(output)["steps"] if row["runbook"] == "06-drbd"}


def checks(output: str) -> dict[str, tuple[str, str, str]]:
    """check name -> (outcome, finding, the raw output of its evidence)."""
    return {row["name"]: (row["outcome"], row["finding"] or "",
                          "".join(e["stdout"] + e["stderr"] for e in row["evidence"]))
            for row in record(output)["checks"]}


def plan_of(output: str, host: str, step: str) -> list[str]:
    """The plan lines a dry run prints under one step line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if (m := STEP.match(line)) and
                 (m[1], m[2], m[3]) == (host, "06-drbd", step))
    block = []
    for line in lines[start + 1:]:
        if STEP.match(line) or not line.startswith("      "):
            break
        block.append(line.strip())
    return block


def wait_for(lab: manager.LabInfo, node: str, ready: Callable[[str], bool],
             timeout: float = 60.0) -> str:
    """/proc/drbd of ``node`` once ``ready`` says so (the lab's DRBD moves on its own)."""
    began = time.monotonic()
    while True:
        text = ssh(lab, node, "cat /proc/drbd", check=False).stdout
        if ready(text):
            return text
        if time.monotonic() - began > timeout:
            pytest.fail(f"{node}: /proc/drbd not as expected after {timeout:.0f}s:\n{text}")
        time.sleep(0.5)


def connected(text: str) -> bool:
    states = re.findall(r"cs:(\S+) ro:\S+ ds:(\S+)", text)
    return len(states) == 2 and all(s == ("Connected", "UpToDate/UpToDate") for s in states)


def meta_bytes(lab: manager.LabInfo, node: str, index: int) -> str:
    skip = index * 32768
    return ssh(lab, node, f"dd if=/dev/vg/meta bs=4096 skip={skip} count=1 2>/dev/null "
                          "| md5sum").stdout


def test_dry_run_of_01_to_06_on_fresh_nodes(lab: manager.LabInfo, inventory: Path) -> None:
    done = runbook(inventory, "run", *UP_TO_06, "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert plan_of(done.stdout, "ha1", "initial-sync")[:2] == [
        "run: drbdsetup /dev/drbd1 primary -o", "run: drbdsetup /dev/drbd2 primary -o"]
    assert dry_steps(done.stdout)[("ha2", "initial-sync")] == "waited"
    conf = plan_of(done.stdout, "ha2", "drbd-conf")
    assert "+++ b/etc/drbd.conf" in conf and "+    address 10.0.0.2:7789;" in conf
    assert "run: drbdadm create-md test-swap" in plan_of(done.stdout, "ha2", "create-md")
    assert "run: /etc/init.d/drbd start" in plan_of(done.stdout, "ha1", "start")
    assert "drbd8-utils" not in ssh(lab, "ha1", "dpkg -l | awk '{print $2}'").stdout


def test_01_to_06_from_fresh_nodes(lab: manager.LabInfo, inventory: Path) -> None:
    done = runbook(inventory, "run", *UP_TO_06)
    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(done.stdout)
    status, seconds, message = result[("ha1", "sync")]
    print(f"initial sync of 64 + 32 MiB at 20M: {message} (step {seconds:.1f} s)")
    assert status == "changed" and message.startswith("UpToDate/UpToDate after")
    assert result[("ha1", "initial-sync")][0] == "changed"
    assert result[("ha2", "boot-peer")][2].startswith("test: started on DRBD")
    found = checks(done.stdout)
    assert {outcome for outcome, _, _ in found.values()} == {"passed"}
    for check in ("test_up_to_date[ha2-test-disk]", "test_drbd_conf_identical_on_both_nodes",
                  "test_meta_data_on_the_meta_lv[ha1-test-swap]",
                  "test_domu_cfg_uses_drbd[ha2-test]"):
        assert check in found
    assert "ds:UpToDate/UpToDate" in found["test_up_to_date[ha2-test-disk]"][2]  # /proc/drbd
    text = Path(re.findall(r"^report:\s+(\S+)$", done.stdout, re.M)[0]).read_text()
    sums = {n: ssh(lab, n, "md5sum < /dev/vg/test-disk").stdout for n in ("ha1", "ha2")}
    assert sums["ha1"] == sums["ha2"], sums
    assert "'drbd:test-disk,sda2,w'" in ssh(lab, "ha2", "cat /etc/xen/test.cfg").stdout
    for leaked in (done.stdout, done.stderr, text):
        assert PASSWORD not in leaked


def test_second_run_changes_nothing(inventory: Path) -> None:
    began = time.monotonic()
    done = runbook(inventory, "run", "06")
    print(f"second run of 06 with its checks: {time.monotonic() - began:.1f} s")
    assert done.returncode == 0, done.stdout
    assert {s for s, _, _ in steps(done.stdout).values()} == {"ok", "waited"}


def test_never_starts_the_domu_while_it_runs_on_the_other_node(lab: manager.LabInfo,
                                                               inventory: Path) -> None:
    ssh(lab, "ha1", "xm create /etc/xen/test.cfg")
    ssh(lab, "ha2", f"rm {MARKERS}/drbd-boot-test")
    done = runbook(inventory, "run", "06")
    assert done.returncode == 1
    status, _, message = steps(done.stdout)[("ha2", "boot-peer")]
    assert status == "failed"
    assert "refused: test is running on ha1: starting it here too" in message
    assert "test" not in ssh(lab, "ha2", "xm list").stdout
    assert checks(done.stdout)["test_roles_follow_the_domu[ha1-test-disk]"][0] == "passed"
    ssh(lab, "ha1", "xm shutdown -w test")
    wait_for(lab, "ha1", lambda t: t.count("ro:Secondary/Secondary") == 2)
    again = runbook(inventory, "run", "06")
    assert again.returncode == 0, again.stdout
    assert steps(again.stdout)[("ha2", "boot-peer")][0] == "changed"


def test_create_md_refuses_meta_data_it_did_not_write_unless_forced(
        lab: manager.LabInfo, inventory: Path) -> None:
    ssh(lab, "ha2", f"drbdadm down test-swap && rm {MARKERS}/drbd-create-md-test-swap")
    before = meta_bytes(lab, "ha2", 1)
    done = runbook(inventory, "run", "06")
    assert done.returncode == 1
    result = steps(done.stdout)
    status, _, message = result[("ha2", "create-md")]
    assert status == "failed" and "refused: /dev/vg/meta[1] already holds DRBD 8 meta data" in \
        message and "--force HOST" in message
    assert result[("ha1", "start")][0] == "failed"  # a cluster step: not with one node
    assert "ha2 failed at 06-drbd · create-md" in result[("ha1", "start")][2]
    assert meta_bytes(lab, "ha2", 1) == before
    forced = runbook(inventory, "run", "06", "--force", "ha2")
    assert forced.returncode == 0, forced.stdout
    assert steps(forced.stdout)[("ha2", "create-md")][2].startswith(
        "FORCED: overwrote the meta data there; test-swap")


def test_initial_sync_is_never_forced_twice(lab: manager.LabInfo, inventory: Path) -> None:
    """Both sides of test-swap made blank again (create-md on both): the runbook does not
    force a second initial sync; the operator does, by hand, once they know why."""
    for node in ("ha1", "ha2"):
        ssh(lab, node, "drbdadm down test-swap && drbdadm -- --force create-md test-swap "
                       ">/dev/null 2>&1 && drbdadm up test-swap")
    wait_for(lab, "ha1", lambda t: "2: cs:Connected ro:Secondary/Secondary "
                                   "ds:Inconsistent/Inconsistent" in t)
    done = runbook(inventory, "run", "06")
    assert done.returncode == 1
    status, _, message = steps(done.stdout)[("ha1", "initial-sync")]
    assert status == "failed"
    assert message.startswith("refused: test-swap: the initial sync was already forced here")
    assert ssh(lab, "ha1", "drbdadm dstate test-swap").stdout.strip() == "Inconsistent/Inconsistent"
    # By hand, as the guide: the lab resyncs at 250 KiB/s after `drbdadm up` (see the report)
    ssh(lab, "ha1", "drbdsetup /dev/drbd2 primary -o")
    wait_for(lab, "ha1", connected, timeout=300)
    ssh(lab, "ha1", "drbdadm secondary test-swap")
    again = runbook(inventory, "run", "06")
    assert again.returncode == 0, again.stdout
    assert steps(again.stdout)[("ha1", "initial-sync")][0] == "ok"  # never forced again


def test_refuses_to_go_on_with_one_node(lab: manager.LabInfo, inventory: Path) -> None:
    done = runbook(inventory, "run", "06", "--limit", "ha1")
    assert done.returncode == 1
    status, _, message = steps(done.stdout)[("ha1", "drbd-conf")]
    assert status == "failed"
    assert message.startswith("ha2 is left out by")  # the line goes on below, wrapped
    assert "ha2 is left out by --limit; drbd.conf must be the same on both nodes" in " ".join(
        done.stdout.split())
    assert steps(done.stdout)[("ha1", "initial-sync")][0] in ("failed", "skipped")


def test_verify_fails_on_both_nodes_while_the_crossover_link_is_cut(
        lab: manager.LabInfo, inventory: Path) -> None:
    manager.cut_link(LAB)
    try:
        wait_for(lab, "ha1", lambda t: t.count("cs:WFConnection") == 2, timeout=60)
        done = runbook(inventory, "verify", "06")
    finally:
        manager.restore_link(LAB)
    assert done.returncode == 1
    found = checks(done.stdout)
    for node in ("ha1", "ha2"):
        outcome, finding, evidence = found[f"test_connected[{node}-test-disk]"]
        assert outcome == "failed"
        assert f"test-disk on {node}: expected cs Connected, found WFConnection" in finding
        assert "cs:WFConnection" in evidence  # the raw /proc/drbd and drbdadm output
    assert found["test_meta_data_on_the_meta_lv[ha1-test-disk]"][0] == "passed"
    wait_for(lab, "ha1", connected, timeout=60)
    assert runbook(inventory, "verify", "06").returncode == 0


def test_verify_names_the_node_that_disconnected_behind_the_tools_back(
        lab: manager.LabInfo, inventory: Path) -> None:
    ssh(lab, "ha2", "drbdadm disconnect test-swap")
    wait_for(lab, "ha1", lambda t: "cs:WFConnection" in t)
    done = runbook(inventory, "verify", "06")
    assert done.returncode == 1
    found = checks(done.stdout)
    outcome, finding, evidence = found["test_connected[ha2-test-swap]"]
    assert outcome == "failed"
    assert "test-swap on ha2: expected cs Connected, found StandAlone" in finding
    assert "cs:StandAlone" in evidence  # /proc/drbd, next to drbdadm's answer
    assert found["test_connected[ha1-test-swap]"][0] == "failed"  # it waits for ha2
    assert found["test_connected[ha2-test-disk]"][0] == "passed"
    ssh(lab, "ha2", "drbdadm connect test-swap")
    wait_for(lab, "ha2", connected)
    assert runbook(inventory, "verify", "06").returncode == 0
