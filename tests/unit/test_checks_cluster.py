"""The cluster-wide checks and the findings of the converted checks, on captured output: each
fails with a finding naming node, expected and found, and reads its evidence on both nodes."""

from __future__ import annotations

from typing import Any

import pytest

from runbook import checking
from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.domu import cfg
from runbook.facts.lvm import LVS
from runbook.facts.xen import MAX_LOOP, MODULES_FILE, XM_INFO, XM_LIST
from runbook.findings import Finding, FindingFailed
from runbook.inventory import ClusterInventory
from runbook.parsers.lvm import SEPARATOR
from tests.unit.test_facts import XM_OK, check_module, result

BASE = check_module("test_01_base")
XEN = check_module("test_02_xen")
DOMU = check_module("test_05_domu")


def facts_of(per_host: dict[str, dict[Fact[Any], str]]) -> Gathered:
    """Each host's answers (stdout, exit 0) to the given facts."""
    return Gathered(facts={
        host: HostFacts(host, {f.name: result(f.command, out, host=host)
                               for f, out in answers.items()})
        for host, answers in per_host.items()})


def failed_with(check: Any, *args: Any) -> list[Finding]:
    checking.begin_evidence()
    with pytest.raises(FindingFailed) as failed:
        check(*args)
    return list(failed.value.findings)


def dpkg(name: str, version: str) -> str:
    return f"{name}\tinstall ok installed\t{version}\n"


def test_ntp_versions_differ(cluster: ClusterInventory) -> None:
    ntp = BASE.NTP
    gathered = facts_of({"ha1": {ntp: dpkg("ntp", "1:4.2.4p4+dfsg-3ubuntu2")},
                         "ha2": {ntp: dpkg("ntp", "1:4.2.4p4+dfsg-3ubuntu1")}})
    assert failed_with(BASE.test_ntp_version_alike, cluster, gathered) == [Finding(
        "package", "1:4.2.4p4+dfsg-3ubuntu2 (as on ha1)", "1:4.2.4p4+dfsg-3ubuntu1", "ha2",
        "ntp")]
    assert {r.host for r in checking.collected_evidence()} == {"ha1", "ha2"}
    same = facts_of({h: {ntp: dpkg("ntp", "1:4.2.4p4+dfsg-3ubuntu2")} for h in ("ha1", "ha2")})
    BASE.test_ntp_version_alike(cluster, same)


def test_a_clock_off_by_two_seconds(cluster: ClusterInventory) -> None:
    start, end = BASE.CLOCK_START, BASE.CLOCK_END

    def read(host: str, at: float) -> tuple[float, float, HostFacts]:
        answers = {f.name: result(f.command, f"{at:.6f}\n", host=host) for f in (start, end)}
        return (1000.0, 1000.05, HostFacts(host, answers))

    clocks = {"ha1": read("ha1", 1000.02), "ha2": read("ha2", 1002.02)}
    (found,) = failed_with(BASE.test_clocks_agree, cluster, clocks)
    assert (found.subject, found.node, found.expected) == ("clock", "ha2", "within 1 s of ha1")
    assert found.found.startswith("+2.000 s ± ")
    BASE.test_clocks_agree(cluster, {"ha1": read("ha1", 1000.02), "ha2": read("ha2", 1000.03)})


def test_loop_line_missing_states_what_runs(cluster: ClusterInventory) -> None:
    node = cluster.nodes["ha2"]
    gathered = facts_of({"ha2": {MODULES_FILE: "lp\n", MAX_LOOP: "8\n"}})
    assert failed_with(XEN.test_loop_devices_extended, node, gathered) == [
        Finding("/etc/modules", '"loop max_loop=64"', "no loop line", "ha2",
                note="running max_loop is 8"),
        Finding("/sys/module/loop/parameters/max_loop", "64", "8", "ha2",
                note="/etc/modules applies at the next boot")]


def lvs(*names: str) -> str:
    return "".join(f"  {n}{SEPARATOR}vg{SEPARATOR}384.00\n" for n in names)


def test_an_lv_nothing_uses(cluster: ClusterInventory) -> None:
    (domu,) = cluster.domus
    cfg_text = ("name = 'test'\n"
                "disk = ['phy:/dev/vg/test-disk,sda2,w', 'phy:/dev/vg/test-swap,sda1,w']\n")
    answers = {"ha1": {LVS: lvs("test-disk", "test-swap"), cfg(domu): cfg_text,
                       DOMU.DRBD_CONF: ""},
               "ha2": {LVS: lvs("test-disk", "test-swap", "old-backup"), cfg(domu): "",
                       DOMU.DRBD_CONF: ""}}
    gathered = facts_of(answers)
    assert failed_with(DOMU.test_no_unused_lvs, cluster, gathered) == [Finding(
        "LV vg/old-backup", "used by a DomU or a DRBD resource", "used by none", "ha2")]


def xm_info(free: int) -> str:
    return (f"release : 2.6.24-19-xen\nxen_major : 3\nxen_minor : 2\ntotal_memory : 2048\n"
            f"free_memory : {free}\n")


def test_n_plus_one_memory(cluster: ClusterInventory) -> None:
    # test (384 MiB) runs on ha1: ha2 must hold it should ha1 fail
    gathered = facts_of({"ha1": {XM_INFO: xm_info(1000), XM_LIST: XM_OK},
                         "ha2": {XM_INFO: xm_info(200), XM_LIST: XM_OK.splitlines(True)[0]
                                 + XM_OK.splitlines(True)[1]}})
    assert failed_with(DOMU.test_either_node_can_run_every_domu, cluster, gathered) == [Finding(
        "memory for failover", "384 MiB free should ha1 fail (test)", "200 MiB free", "ha2")]
    assert {r.host for r in checking.collected_evidence()} == {"ha1", "ha2"}
