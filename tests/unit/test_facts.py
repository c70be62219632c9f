"""The facts layer: a failed or unparsable fact raises with its command result, and in a
check it fails the check with that output as evidence (never a pass)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from runbook import checking, paths
from runbook.checking import Gathered, HostFacts
from runbook.facts import FactFailed, Facts, FactUnparsable, commands
from runbook.facts.lvm import signature
from runbook.facts.system import HOSTNAME, file_content
from runbook.facts.xen import XM_LIST
from runbook.findings import FindingFailed
from runbook.inventory import ClusterInventory
from runbook.remote import CommandResult

XM_OK = ("Name                                        ID   Mem VCPUs      State   Time(s)\n"
         "Domain-0                                     0   512     2     r-----     10.0\n"
         "test                                         3   384     1     -b----      1.0\n")


def result(command: str, stdout: str = "", rc: int = 0, stderr: str = "",
           host: str = "ha1") -> CommandResult:
    return CommandResult(host, command, stdout, stderr, rc, 0.01)


def test_failed_fact_carries_its_command_result() -> None:
    failed = result("xm list", rc=1, stderr="Error: Unable to connect to xend\n")
    with pytest.raises(FactFailed) as caught:
        XM_LIST.value(failed)
    assert caught.value.result is failed
    assert "`xm list` exited 1: Error: Unable to connect to xend" in str(caught.value)


def test_unparsable_fact_carries_its_command_result() -> None:
    garbled = result("hostname", "two\nlines\n")
    with pytest.raises(FactUnparsable) as caught:
        HOSTNAME.value(garbled)
    assert caught.value.result is garbled


@pytest.mark.parametrize(("rc", "value"), [(0, "x\n"), (3, None)])
def test_a_missing_file_is_a_value_not_an_error(rc: int, value: str | None) -> None:
    fact = file_content("/etc/hosts")
    assert fact.value(result(fact.command, "x\n" if rc == 0 else "", rc)) == value
    with pytest.raises(FactFailed):
        fact.value(result(fact.command, rc=1))


def test_blkid_nothing_found_is_empty_and_usage_error_is_failed() -> None:
    fact = signature("/dev/sda3")
    assert fact.command == "blkid -c /dev/null /dev/sda3"
    assert fact.value(result(fact.command, rc=2)) == {}
    with pytest.raises(FactFailed):
        fact.value(result(fact.command, stderr="blkid: invalid option -- 'p'\n", rc=4))


def test_a_fact_set_names_each_command_once() -> None:
    assert commands([HOSTNAME, XM_LIST, HOSTNAME]) == {"hostname": "hostname",
                                                       "xm list": "xm list"}
    other = type(HOSTNAME)("hostname", "hostname -s", HOSTNAME.parse)
    with pytest.raises(ValueError, match="two facts named 'hostname'"):
        commands([HOSTNAME, other])


def test_reading_records_the_raw_result() -> None:
    seen: list[CommandResult] = []
    answer = result("hostname", "ha1.domain.local\n")
    facts = Facts("ha1", {"hostname": answer}, on_read=seen.append)
    assert facts.get(HOSTNAME) == "ha1.domain.local" and seen == [answer]
    with pytest.raises(KeyError, match="was not read"):
        facts.get(XM_LIST)


def check_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, paths.CHECKS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gathered(xm: dict[str, CommandResult]) -> Gathered:
    return Gathered(facts={h: HostFacts(h, {"xm list": r}) for h, r in xm.items()})


def test_not_running_on_both_nodes_fails_when_xm_list_fails(cluster: ClusterInventory) -> None:
    """The check once passed here: a node that cannot list its domains is not a node
    where the DomU does not run."""
    check = check_module("test_05_domu").test_not_running_on_both_nodes
    (domu,) = cluster.domus
    broken = result("xm list", rc=1, stderr="Error: Unable to connect to xend\n", host="ha2")
    facts = gathered({"ha1": result("xm list", XM_OK), "ha2": broken})
    checking.begin_evidence()
    with pytest.raises(pytest.fail.Exception, match="`xm list` exited 1: Error: Unable"):
        check(domu, cluster, facts)
    assert broken in checking.collected_evidence()


def test_not_running_on_both_nodes_catches_a_domu_on_both(cluster: ClusterInventory) -> None:
    check = check_module("test_05_domu").test_not_running_on_both_nodes
    (domu,) = cluster.domus
    facts = gathered({"ha1": result("xm list", XM_OK),
                      "ha2": result("xm list", XM_OK, host="ha2")})
    with pytest.raises(FindingFailed) as failed:
        check(domu, cluster, facts)
    assert [(f.subject, f.node, f.found) for f in failed.value.findings] == [
        ("DomU test", None, "running on ha1 and ha2")]
    check(domu, cluster, gathered({"ha1": result("xm list", XM_OK),
                                   "ha2": result("xm list", XM_OK.splitlines(True)[0]
                                                 + XM_OK.splitlines(True)[1], host="ha2")}))


def test_per_distribution_mirrors_is_a_real_check(cluster: ClusterInventory) -> None:
    """With no per-distribution mirror in the inventory, a stray one in the file fails."""
    check = check_module("test_04_xen_tools").test_per_distribution_mirrors
    node = cluster.nodes["ha1"]
    assert node.xen_tools is not None and not node.xen_tools.mirrors
    conf = check_module("test_04_xen_tools").CONF
    def facts(text: str) -> Gathered:
        return Gathered(facts={"ha1": HostFacts("ha1", {conf.name: result(conf.command, text)})})
    check(node, facts("mirror = http://a/\n"))
    with pytest.raises(FindingFailed) as failed:
        check(node, facts("mirror = http://a/\nmirror_etch = http://b/\n"))
    assert [(f.key, f.expected, f.found) for f in failed.value.findings] == [
        ("mirror_etch", "nothing", '"http://b/"')]
