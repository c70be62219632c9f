"""Heartbeat's parsers on captured output: cl_status, ha.cf, haresources, authkeys' hash and
mode, the xendomains status heartbeat reads, and the takeover lines of its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.parsers.heartbeat import (
    AuthkeysState,
    LogEvent,
    XendomainsStatus,
    heartbeat_owns,
    parse_ha_cf,
    parse_haresources,
    parse_hash_and_mode,
    parse_hbstatus,
    parse_mode_and_content,
    parse_nodestatus,
    parse_rscstatus,
    parse_takeover_log,
    parse_xendomains_status,
)

LOGS = Path(__file__).resolve().parents[1] / "data" / "heartbeat"

# The guide's ha.cf, with its stripped addresses filled in, and a comment.
GUIDE_HA_CF = """logfacility local0
udpport 694
keepalive 1
deadtime 10
warntime 3
initdead 20
ucast eth0 192.168.1.11   # ha1
ucast eth0 192.168.1.12
auto_failback on
watchdog /dev/watchdog
debugfile /var/log/ha-debug
node ha1.domain.local
node HA2.domain.local
"""


@pytest.mark.parametrize(("text", "running"), [
    ("Heartbeat is running on this machine.\n", True),
    ("Heartbeat is stopped on this machine.\n", False),
])
def test_hbstatus(text: str, running: bool) -> None:
    assert parse_hbstatus(text) is running


@pytest.mark.parametrize("text", ["", "heartbeat OK [pid 3600 et al] is running on ha1\n"])
def test_hbstatus_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="not cl_status hbstatus output"):
        parse_hbstatus(text)


def test_nodestatus_and_rscstatus() -> None:
    assert parse_nodestatus("active\n") == "active"
    assert parse_nodestatus("dead\n") == "dead"
    assert [parse_rscstatus(f"{w}\n") for w in ("local", "all", "foreign", "none",
                                                 "transition")] == [
        "local", "all", "foreign", "none", "transition"]
    with pytest.raises(ValueError, match="expected a node status"):
        parse_nodestatus("")  # what cl_status prints (on stderr: signon errors) when stopped
    with pytest.raises(ValueError, match="expected a resource status"):
        parse_rscstatus("This node is holding all resources.\n")


def test_ha_cf_of_the_guide() -> None:
    ha_cf = parse_ha_cf(GUIDE_HA_CF)
    assert ha_cf.nodes == ("ha1.domain.local", "ha2.domain.local")  # lower-cased, as heartbeat
    assert ha_cf.ucast == (("eth0", "192.168.1.11"), ("eth0", "192.168.1.12"))
    assert ha_cf.value("deadtime") == "10" and ha_cf.value("stonith") is None
    assert ha_cf.directives[0] == ("logfacility", "local0")


def test_ha_cf_node_line_with_two_names_and_bad_ucast() -> None:
    assert parse_ha_cf("node ha1 ha2\n").nodes == ("ha1", "ha2")
    with pytest.raises(ValueError, match="ucast needs a device and an address"):
        parse_ha_cf("ucast eth0\n")


def test_haresources() -> None:
    text = ("# the guide's\nha1.domain.local xendomainsHA1\n"
            "HA2.domain.local xendomainsHA2 \\\n   IPaddr::192.168.1.99\n\n")
    assert [(r.node, r.resources) for r in parse_haresources(text)] == [
        ("ha1.domain.local", ("xendomainsHA1",)),
        ("ha2.domain.local", ("xendomainsHA2", "IPaddr::192.168.1.99"))]
    with pytest.raises(ValueError, match="needs a node and a resource"):
        parse_haresources("ha1.domain.local\n")


def test_hash_and_mode() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    state = parse_hash_and_mode(f"{digest}  -\n600\n")
    assert state == AuthkeysState(digest, 0o600) and not state.others_can_read
    assert parse_hash_and_mode(f"{digest}  -\n640\n").others_can_read
    assert parse_hash_and_mode(f"{digest}  -\n604\n").others_can_read
    with pytest.raises(ValueError):
        parse_hash_and_mode("auth 1\n1 sha1 key\n")  # never the file itself


def test_mode_and_content() -> None:
    assert parse_mode_and_content("755\n#!/bin/bash\nLOCKFILE=x\n") == (
        0o755, "#!/bin/bash\nLOCKFILE=x\n")
    with pytest.raises(ValueError, match="octal mode"):
        parse_mode_and_content("#!/bin/bash\n")


# `xendomains status` as the lab's nodes print it (Ubuntu's LSB decoration), captured on rbha
@pytest.mark.parametrize(("text", "status", "owned"), [
    ("Checking for xendomains: test *   [running] \n", XendomainsStatus("running"), True),
    ("Checking for xendomains: *   [unused] \n", XendomainsStatus("unused"), False),
    ("Checking for xendomains: MISS AUTO:test *   [dead] \n",
     XendomainsStatus("dead", ("test",)), False),
], ids=["running", "unused", "dead"])
def test_xendomains_status_and_heartbeats_ownership(text: str, status: XendomainsStatus,
                                                    owned: bool) -> None:
    assert parse_xendomains_status(text) == status
    assert heartbeat_owns(text) is owned


def test_ownership_is_read_from_the_text_as_resource_manager_does() -> None:
    assert heartbeat_owns("OK\n")
    assert not heartbeat_owns("xendomains is not running\n")
    assert not heartbeat_owns("stopped\n")
    with pytest.raises(ValueError, match="not xendomains status output"):
        parse_xendomains_status("Starting auto Xen domains: test *   [done]\n")


def kinds(events: list[LogEvent]) -> list[tuple[str, str, str, str]]:
    return [(e.kind, e.node, e.group, e.op) for e in events]


def test_takeover_after_a_planned_stop() -> None:
    events = parse_takeover_log((LOGS / "ha2-takeover.log").read_text())
    assert kinds(events) == [
        ("shutdown-notice", "ha1.domain.local", "", ""),
        ("acquiring", "ha2.domain.local", "xendomainsHA2", ""),
        ("running", "", "xendomainsHA2", "start"),
        ("local-acquired", "", "", ""),
        ("standby-done", "", "", ""),
        ("taking-over", "", "xendomainsHA1", ""),
        ("acquiring", "ha1.domain.local", "xendomainsHA1", ""),
        ("running", "", "xendomainsHA1", "start"),
        ("takeover-complete", "ha1.domain.local", "", ""),
        ("acquiring", "ha2.domain.local", "xendomainsHA2", ""),
        ("running", "", "xendomainsHA2", "start"),
        ("dead", "ha1.domain.local", "", "")]
    assert events[0].time == "Nov 26 12:49:19"  # the syslog stamp of heartbeat's own lines
    assert events[5].time == "2026/11/26_12:49:19"  # the resource scripts' stamp


def test_the_stopping_node_gives_up_and_the_migration_fails() -> None:
    events = parse_takeover_log((LOGS / "ha1-stop.log").read_text())
    assert [e.kind for e in events] == ["giving-up", "releasing", "running", "migrate-failed",
                                        "releasing", "running", "relinquished"]
    failed = events[3]
    assert (failed.domu, failed.detail) == ("test", "(104, 'Connection reset by peer')")


def test_failback_with_auto_failback_on() -> None:
    events = parse_takeover_log((LOGS / "ha2-failback.log").read_text())
    assert kinds(events) == [
        ("releasing", "ha1.domain.local", "xendomainsHA1", ""),
        ("running", "", "xendomainsHA1", "stop"),
        ("migrate-failed", "", "", ""),
        ("foreign-released", "", "", "")]


def test_the_guides_real_log_lines() -> None:
    """The lines of the forum thread's Ubuntu 8.04 log (heartbeat 2.1.3, shared/guide)."""
    log = ("heartbeat[4567]: 2009/03/01_10:00:01 info: Received shutdown notice from 'ha1'.\n"
           "mach_down[4570]: 2009/03/01_10:00:01 info: Taking over resource group "
           "xendomainsHA1\n"
           "ResourceManager[4600]:\t2009/03/01_10:00:01 info: Acquiring resource group: ha1 "
           "xendomainsHA1\n"
           "ResourceManager[4600]:\t2009/03/01_10:00:01 info: Running "
           "/etc/ha.d/resource.d/xendomainsHA1  start\n"
           "Starting auto Xen domains: hejsan(skip) *   [done]\n"
           "mach_down[4570]: 2009/03/01_10:00:02 info: mach_down takeover complete for node ha1.\n"
           "heartbeat[4567]: 2009/03/01_10:00:12 WARN: node ha1: is dead\n")
    assert kinds(parse_takeover_log(log)) == [
        ("shutdown-notice", "ha1", "", ""), ("taking-over", "", "xendomainsHA1", ""),
        ("acquiring", "ha1", "xendomainsHA1", ""), ("running", "", "xendomainsHA1", "start"),
        ("already-running", "", "", ""), ("takeover-complete", "ha1", "", ""),
        ("dead", "ha1", "", "")]


def test_a_planned_stop_with_live_migration() -> None:
    """With 07-migration's relocation: the stop migrates, the peer's start finds it (skip)."""
    stop = parse_takeover_log((LOGS / "ha1-stop-live.log").read_text())
    assert [(e.kind, e.domu) for e in stop] == [
        ("giving-up", ""), ("releasing", ""), ("running", ""), ("migrated", "test"),
        ("releasing", ""), ("running", ""), ("relinquished", "")]
    takeover = parse_takeover_log((LOGS / "ha2-takeover-live.log").read_text())
    assert [(e.kind, e.group, e.domu) for e in takeover if e.kind in (
        "taking-over", "running", "already-running", "takeover-complete")] == [
        ("running", "xendomainsHA2", ""), ("taking-over", "xendomainsHA1", ""),
        ("running", "xendomainsHA1", ""), ("already-running", "", "test"),
        ("takeover-complete", "", "")]
    failback = parse_takeover_log((LOGS / "ha2-failback-live.log").read_text())
    assert [(e.kind, e.domu) for e in failback] == [
        ("releasing", ""), ("running", ""), ("migrated", "test"), ("foreign-released", "")]
