"""A run record and an overview to render the handover report from, without a lab.

The overview (test_handover_overview.json) is the one the tool read from the lab `rbho` after
`runbook run all`: every command and its output as the nodes printed them. The record is made
here: two runbooks, steps, passed and failed checks (a structured finding, a plain assert and
a parametrized check), each with its evidence. The tests below keep the sample honest.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

from runbook.record import (
    CheckRecord,
    CommandRecord,
    Finding,
    InvocationRecord,
    RunRecord,
    StepRecord,
)
from runbook.report_overview import Overview, node_state

OVERVIEW_FILE = Path(__file__).with_name("test_handover_overview.json")
STARTED = datetime(2026, 11, 26, 12, 37, 13, tzinfo=UTC)

MODULES_HA2 = "# /etc/modules: kernel modules to load at boot time.\nlp\nrtc\n"
XEN_TOOLS_CONF = "lvm = vg\nsize = 5Gb\nmemory = 384Mb\nswap = 384Mb\nfs = ext3\n"
FAILED_SENTENCE = ('/etc/modules on ha2: expected "loop max_loop=64", found no loop line; '
                   "running max_loop is 8")


def cmd(host: str, command: str, stdout: str, exit_status: int = 0) -> CommandRecord:
    return CommandRecord(host, command, stdout, "", exit_status, 0.012)


def check(runbook: str, name: str, host: str | None, description: str, outcome: str = "passed",
          finding: str = "", evidence: list[CommandRecord] | None = None,
          findings: list[Finding] | None = None) -> CheckRecord:
    module = f"test_{runbook.replace('-', '_')}.py"
    return CheckRecord(runbook, f"{module}::{name}", name, host, description,
                       outcome, finding, 0.01, evidence or [], findings or [])  # type: ignore[arg-type]


def sample_record(*, left_out: bool = False) -> RunRecord:
    """02-xen and 04-xen-tools on ha1 and ha2; ha2 fails two checks."""
    hosts = ["ha1"] if left_out else ["ha1", "ha2"]
    info = InvocationRecord(
        command_line=["runbook", "run", "02-xen", "04-xen-tools", "-i", ".lab/rbho/inventory"],
        mode="run", operator="root@vm", started=STARTED,
        ended=STARTED.replace(second=35), tool_version="0.1.0", git_commit="2a0f188149f7",
        inventory_folder="/work/main/.lab/rbho/inventory", inventory_sha256="9" * 64,
        runbooks=["02-xen", "04-xen-tools"], hosts=hosts,
        limit=["ha1"] if left_out else [], left_out=["ha2"] if left_out else [])
    steps = [StepRecord("02-xen", "packages", h, "ok", 0.3, "ubuntu-xen-server already installed")
             for h in hosts]
    steps += [StepRecord("02-xen", "modules", h, "changed", 0.2, "wrote /etc/modules",
                         diff="--- a/etc/modules\n+++ b/etc/modules\n@@ -1 +1,2 @@\n lp\n"
                              "+loop max_loop=64\n",
                         plan=["write /etc/modules (21 bytes, mode 0644)"]) for h in hosts]
    checks = []
    for h in hosts:
        modules = MODULES_HA2 if h == "ha2" else MODULES_HA2 + "loop max_loop=64\n"
        evidence = [cmd(h, "if [ -e /etc/modules ]; then cat -- /etc/modules; else exit 3; fi",
                        modules),
                    cmd(h, "cat /sys/module/loop/parameters/max_loop", "8\n" if h == "ha2"
                        else "64\n")]
        if h == "ha2":
            checks.append(check(
                "02-xen", "test_loop_devices_extended[ha2]", h,
                "/etc/modules loads loop with max_loop=64, and the running loop module has it.",
                "failed", FAILED_SENTENCE, evidence,
                [Finding("/etc/modules", '"loop max_loop=64"', "no loop line", "ha2",
                         note="running max_loop is 8")]))
            checks.append(check(
                "02-xen", "test_domain0_memory_as_configured[ha2]", h,
                "Domain-0 runs with the inventory's dom0 memory.", "failed",
                "assert 1519 == 512", [cmd(h, "xm list", "Name ID Mem VCPUs State Time(s)\n")]))
        else:
            checks.append(check("02-xen", "test_loop_devices_extended[ha1]", h,
                                "/etc/modules loads loop with max_loop=64, and the running "
                                "loop module has it.", evidence=evidence))
        conf = cmd(h, "if [ -e /etc/xen-tools/xen-tools.conf ]; then cat -- "
                      "/etc/xen-tools/xen-tools.conf; else exit 3; fi", XEN_TOOLS_CONF)
        for key in ("lvm", "size", "memory"):
            bad = h == "ha2" and key == "size"
            checks.append(check(
                "04-xen-tools", f"test_effective_setting[{h}-{key}]", h,
                "The effective value in xen-tools.conf is the inventory's.",
                "failed" if bad else "passed", "AssertionError: size" if bad else "", [conf],
                [Finding("xen-tools.conf", '"5Gb"', '"4Gb"', h, key="size")] if bad else []))
    checks.append(check("04-xen-tools", "test_not_running_on_both_nodes[test]", None,
                        "The DomU does not run on both nodes.",
                        evidence=[cmd("ha1", "xm list", "Name ID\n")]))
    return RunRecord(invocation=info, steps=steps, checks=checks)


def sample_overview() -> Overview:
    return Overview.from_json(OVERVIEW_FILE.read_text(encoding="utf-8"))


def with_output(overview: Overview, host: str, fact: str, stdout: str,
                exit_status: int = 0) -> Overview:
    """A copy of ``overview`` in which ``host`` answered ``fact`` with this output."""
    changed = copy.deepcopy(overview)
    old = changed.reads[host].results[fact]
    changed.reads[host].results[fact] = CommandRecord(old.host, old.command, stdout, "",
                                                      exit_status, old.duration)
    return changed


# -- the sample itself -----------------------------------------------------------------------


def test_the_captured_overview_parses_on_both_nodes_without_a_problem() -> None:
    overview = sample_overview()
    for host in ("ha1", "ha2"):
        state = node_state(overview.reads[host], overview.cluster)
        assert state.problems == {}
        assert state.release == "Ubuntu 8.04.4 LTS" and state.kernel == "2.6.24-19-xen"


def test_the_sample_record_survives_its_json() -> None:
    record = sample_record()
    again = RunRecord.from_json(record.to_json())
    assert [c.findings for c in again.checks] == [c.findings for c in record.checks]
    loop = next(c for c in json.loads(record.to_json())["checks"]
                if c["name"] == "test_loop_devices_extended[ha2]")
    assert loop["findings"] == [{"subject": "/etc/modules", "key": "", "node": "ha2",
                                 "expected": '"loop max_loop=64"', "found": "no loop line",
                                 "note": "running max_loop is 8"}]
