"""07-migration's parsers and plans as tables: xend-config.sxp read and edited, hosts-allow as
xend 3.2 applies it, drbd.conf's allow-two-primaries, netstat, the prober's gap and losses, and
each step's plan from node state (actions, notes or a refusal)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook.engine import Refused, StepFailed
from runbook.facts.domu import Placement
from runbook.facts.migration import LegResult, XendAge, parse_leg
from runbook.inventory import ClusterInventory, DomU, MigrationSettings, NodeSettings
from runbook.parsers.drbd import DrbdDevice, ProcDrbd
from runbook.parsers.migration import (
    allows_two_primaries,
    comment_out,
    host_allowed,
    parse_drbd_conf,
    parse_listening_tcp,
    parse_probe,
    parse_xend_config,
    set_xend_settings,
    sxp_quote,
)
from runbook.plan import WriteFile
from runbook.remote import CommandFailed, CommandResult
from runbook.tasks.drbd import conf_text
from runbook.tasks.migration import (
    CommandProber,
    LiveMigrate,
    RestartXend,
    StartDomU,
    hosts_allow,
    plan_leg,
    plan_restart,
    plan_start,
    plan_xend_config,
    probe_script,
    prober_argv,
    relocation_address,
    xend_config_text,
)

OUTPUTS = Path(__file__).resolve().parents[1] / "data" / "outputs"
# The relocation part of Xen 3.2's tools/examples/xend-config.sxp, as Ubuntu 8.04 ships it.
XEND_EXAMPLE = """\
#(xend-relocation-server no)
(xend-relocation-server yes)

# Port xend should use for the relocation interface, if xend-relocation-server
# is set.
#(xend-relocation-port 8002)

# Address xend should listen on for relocation-socket connections, if
# xend-relocation-server is set.
# Meaning and default as for xend-address above.
#(xend-relocation-address '')

#  (xend-relocation-hosts-allow '^localhost$ ^.*\\\\.example\\\\.org$')
#
#(xend-relocation-hosts-allow '')
(xend-relocation-hosts-allow '^localhost$ ^localhost\\\\.localdomain$')

(dom0-min-mem 196)
"""
NETSTAT = """\
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 10.0.0.1:8002           0.0.0.0:*               LISTEN
tcp        0      0 10.0.0.1:7788           0.0.0.0:*               LISTEN
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN
tcp6       0      0 :::22                   :::*                    LISTEN
"""


# -- xend-config.sxp --------------------------------------------------------------------------
def test_parse_xend_config_reads_active_lines_only() -> None:
    found = parse_xend_config(XEND_EXAMPLE)
    assert found["xend-relocation-server"] == "yes"
    assert found["xend-relocation-hosts-allow"] == r"^localhost$ ^localhost\.localdomain$"
    assert "xend-relocation-port" not in found  # commented: xend's default 8002 applies
    assert found["dom0-min-mem"] == "196"


def test_set_replaces_active_lines_and_inserts_after_the_commented_example() -> None:
    text = set_xend_settings(XEND_EXAMPLE, {
        "xend-relocation-port": "8002", "xend-relocation-address": sxp_quote("10.0.0.1"),
        "xend-relocation-hosts-allow": sxp_quote(r"^ha2X$ ^10\.0\.0\.2$")})
    lines = text.splitlines()
    assert lines[lines.index("#(xend-relocation-port 8002)") + 1] == "(xend-relocation-port 8002)"
    assert lines[lines.index("#(xend-relocation-address '')") + 1] == \
        "(xend-relocation-address '10.0.0.1')"
    assert "(xend-relocation-hosts-allow '^ha2X$ ^10\\\\.0\\\\.0\\\\.2$')" in lines
    assert parse_xend_config(text)["xend-relocation-hosts-allow"] == r"^ha2X$ ^10\.0\.0\.2$"
    assert text.count("(dom0-min-mem 196)") == 1  # the rest is left alone
    assert set_xend_settings(text, {"xend-relocation-port": "8002"}) == text  # idempotent


def test_set_keeps_one_line_of_a_key_set_twice() -> None:
    text = set_xend_settings("(xend-relocation-port 1)\n(xend-relocation-port 2)\n",
                             {"xend-relocation-port": "8002"})
    assert text == "(xend-relocation-port 8002)\n"


def test_comment_out_leaves_the_guide_line() -> None:
    text = comment_out(XEND_EXAMPLE, "xend-relocation-hosts-allow")
    assert "xend-relocation-hosts-allow" not in parse_xend_config(text)
    assert "#(xend-relocation-hosts-allow '^localhost$ ^localhost\\\\.localdomain$')" in text


# -- hosts-allow as xend 3.2 applies it -----------------------------------------------------------
@pytest.mark.parametrize(("setting", "fqdn", "ip", "allowed"), [
    ("", "anyone", "192.0.2.1", True),  # empty: every host
    (r"^ha1X$ ^10\.0\.0\.1$", "ha1X", "10.0.0.1", True),
    (r"^ha1X$ ^10\.0\.0\.1$", "ha1x", "10.0.0.9", False),  # re.match is case-sensitive
    (r"^ha1X$ ^10\.0\.0\.1$", "other", "10.0.0.1", True),  # the IP alone
    (r"^ha1X", "ha1Xevil.example.org", "192.0.2.1", True),  # anchored at the start only
    (r"^ha1X$  ^10\.0\.0\.1$", "anyone", "192.0.2.1", True),  # two spaces: an empty regex
    (r"^ha1X$ ([", "ha1X", "10.0.0.1", False),  # a bad regex: xend does not even start
])
def test_host_allowed(setting: str, fqdn: str, ip: str, allowed: bool) -> None:
    assert host_allowed(setting, fqdn, ip) is allowed


def test_parse_listening_tcp() -> None:
    assert parse_listening_tcp(NETSTAT) == [("10.0.0.1", 8002), ("10.0.0.1", 7788),
                                            ("0.0.0.0", 22), ("::", 22)]


# -- drbd.conf ------------------------------------------------------------------------------
def test_allow_two_primaries_per_resource_and_from_common(cluster: ClusterInventory) -> None:
    drbd = cluster.nodes["ha1"].drbd
    assert drbd is not None
    conf = parse_drbd_conf(conf_text(cluster, drbd))
    assert allows_two_primaries(conf, "test-disk") is True
    assert allows_two_primaries(conf, "nope") is None
    without = parse_drbd_conf(conf_text(cluster, drbd).replace("allow-two-primaries;", ""))
    assert allows_two_primaries(without, "test-disk") is False
    common = parse_drbd_conf("common { net { allow-two-primaries; } }\n"
                             "resource r0 { net { timeout 60; } }\n")
    assert allows_two_primaries(common, "r0") is True


@pytest.mark.parametrize("text", ["resource r0 { net { timeout 60 } }",
                                  "resource r0 { net { timeout 60; }", "}"])
def test_unbalanced_drbd_conf_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_drbd_conf(text)


# -- the prober -----------------------------------------------------------------------------
def test_probe_without_loss() -> None:
    probe = parse_probe((OUTPUTS / "probe-no-loss.txt").read_text(), 0.2)
    assert (probe.transmitted, probe.received, probe.lost) == (6, 6, 0)
    assert probe.longest_gap_s == pytest.approx(0.236, abs=0.001)  # 5 -> 6
    assert probe.within(2.0, 9)


def probe_log(answered: list[tuple[int, float]], sent: int, start: float = 100.0,
              stop: float | None = None) -> str:
    lines = [f"# probe started {start:.6f}", "PING 192.168.1.50 (192.168.1.50) 56(84) bytes."]
    lines += [f"[{t:.6f}] 64 bytes from 192.168.1.50: icmp_seq={seq} ttl=64 time=0.1 ms"
              for seq, t in answered]
    lines += ["", "--- 192.168.1.50 ping statistics ---",
              f"{sent} packets transmitted, {len(answered)} received, 10% packet loss"]
    end = stop if stop is not None else start + sent * 0.2
    return "\n".join([*lines, f"# probe stopped {end:.6f}"]) + "\n"


def test_probe_gap_and_losses_of_a_migration() -> None:
    answered = [(s, 100.0 + s * 0.2) for s in range(1, 11) if s not in (5, 6, 7)]
    probe = parse_probe(probe_log(answered, 11, stop=102.3), 0.2)
    assert probe.lost == 3  # 5, 6, 7; 11 was in flight at the stop
    assert probe.longest_gap_s == pytest.approx(0.8)  # from seq 4 (100.8) to seq 8 (101.6)
    assert not probe.within(0.5, 9) and probe.within(2.0, 9) and not probe.within(2.0, 2)


def test_probe_of_a_domu_that_never_came_back_shows_the_whole_silence() -> None:
    probe = parse_probe(probe_log([(1, 100.2), (2, 100.4)], 20, stop=104.0), 0.2)
    assert probe.longest_gap_s == pytest.approx(3.6) and probe.lost == 17
    assert not probe.within(2.0, 9)


def test_probe_that_never_answered_is_not_within_any_limit() -> None:
    probe = parse_probe(probe_log([], 3, stop=100.5), 0.2)
    assert probe.received == 0 and not probe.within(600.0, 100)


@pytest.mark.parametrize("text", ["64 bytes from x: icmp_seq=1\n",
                                  "# probe started 1.0\n# probe stopped 2.0\n"])
def test_probe_log_without_marks_or_statistics_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_probe(text, 0.2)


def test_leg_marker_round_trip() -> None:
    leg = LegResult("test", "ha1", "ha2", "2026-11-26 13:00:00 UTC", 0.62, 2, 38, 0.2, 2.0, 9)
    assert parse_leg(leg.to_json()) == leg and leg.within
    assert not LegResult("t", "a", "b", "", 2.5, 0, 10, 0.2, 2.0, 9).within


# -- plans ----------------------------------------------------------------------------------
def nodes(cluster: ClusterInventory) -> tuple[NodeSettings, NodeSettings, MigrationSettings]:
    here, peer = cluster.nodes["ha1"], cluster.nodes["ha2"]
    assert here.migration is not None
    return here, peer, here.migration


def test_default_relocation_is_the_crossover_and_the_peer(cluster: ClusterInventory) -> None:
    here, peer, settings = nodes(cluster)
    assert relocation_address(settings, here) == "10.0.0.1"
    assert hosts_allow(settings, peer) == r"^ha2X$ ^10\.0\.0\.2$"
    text = xend_config_text(XEND_EXAMPLE, settings, here, peer)
    assert {k: v for k, v in parse_xend_config(text).items() if "relocation" in k} == {
        "xend-relocation-server": "yes", "xend-relocation-port": "8002",
        "xend-relocation-address": "10.0.0.1",
        "xend-relocation-hosts-allow": r"^ha2X$ ^10\.0\.0\.2$"}


@pytest.mark.parametrize(("change", "address", "allow"), [
    ({"hosts_allow": "any", "relocation_address": "any"}, "", None),
    ({"hosts_allow": ("^ha2X$", "^ha2X\\.lan$")}, "10.0.0.1", "^ha2X$ ^ha2X\\.lan$"),
    ({"relocation_address": "10.0.0.7"}, "10.0.0.7", r"^ha2X$ ^10\.0\.0\.2$"),
])
def test_relocation_choices(cluster: ClusterInventory, change: dict[str, object],
                            address: str, allow: str | None) -> None:
    from dataclasses import replace

    here, peer, settings = nodes(cluster)
    chosen = replace(settings, **change)  # type: ignore[arg-type]
    assert relocation_address(chosen, here) == address
    assert hosts_allow(chosen, peer) == allow
    text = xend_config_text(XEND_EXAMPLE, chosen, here, peer)
    assert parse_xend_config(text).get("xend-relocation-hosts-allow") == allow


@pytest.mark.parametrize(("current", "dry_run", "writes", "fails"), [
    (XEND_EXAMPLE, False, True, False),
    (None, True, False, False),  # a dry run before Xen is installed predicts
    (None, False, False, True),  # a real run without the file fails
])
def test_plan_xend_config(cluster: ClusterInventory, current: str | None, dry_run: bool,
                          writes: bool, fails: bool) -> None:
    here, peer, settings = nodes(cluster)
    if fails:
        with pytest.raises(StepFailed, match="does not exist"):
            plan_xend_config(current, settings, here, peer, dry_run)
        return
    plan = plan_xend_config(current, settings, here, peer, dry_run)
    assert [type(a) for a in plan.actions] == ([WriteFile] if writes else [])
    if writes:
        done = xend_config_text(XEND_EXAMPLE, settings, here, peer)
        assert not plan_xend_config(done, settings, here, peer, False)


LISTENING = [("10.0.0.1", 8002)]


@pytest.mark.parametrize(("age", "listening", "config_changed", "restarts"), [
    (XendAge(True, 100, 150), LISTENING, False, False),  # read the current config
    (XendAge(True, 200, 150), LISTENING, False, True),  # config newer than xend
    (XendAge(True, 100, 150), [("0.0.0.0", 8002)], False, True),  # listens elsewhere
    (XendAge(True, 100, 150), LISTENING, True, True),  # a dry run: the config step changes it
    (XendAge(False, 100, None), [], False, True),  # not running
])
def test_plan_restart(age: XendAge, listening: list[tuple[str, int]], config_changed: bool,
                      restarts: bool) -> None:
    plan = plan_restart(age, frozenset({"test"}), listening, "10.0.0.1", 8002, config_changed)
    assert [type(a) for a in plan.actions] == ([RestartXend] if restarts else [])
    if restarts:
        assert plan.describe() == ["run: /etc/init.d/xend restart (test must stay running)"]


def placement(*running: str) -> Placement:
    return Placement(frozenset(running), {}, frozenset())


@pytest.mark.parametrize(("here", "peer", "starts", "note"), [
    (placement(), placement(), True, ""),
    (placement("test"), placement(), False, "runs here"),
    (placement(), placement("test"), False, "runs on ha2"),
])
def test_plan_start(domu: DomU, here: Placement, peer: Placement, starts: bool,
                    note: str) -> None:
    plan = plan_start(domu, here, peer, "ha2")
    assert [type(a) for a in plan.actions] == ([StartDomU] if starts else [])
    assert note in " ".join(plan.notes)


def test_plan_start_refuses_without_both_placements(domu: DomU) -> None:
    with pytest.raises(Refused, match="cannot tell where test runs"):
        plan_start(domu, placement(), None, "ha2")


@pytest.fixture
def domu(cluster: ClusterInventory) -> DomU:
    return cluster.domus[0]


SYNCED = ProcDrbd("8.3.7", "88", "86-91", {
    1: DrbdDevice(1, "Connected", "Primary", "Secondary", "UpToDate", "UpToDate"),
    2: DrbdDevice(2, "Connected", "Primary", "Secondary", "UpToDate", "UpToDate")})
DISCONNECTED = ProcDrbd("8.3.7", "88", "86-91", {
    1: DrbdDevice(1, "WFConnection", "Primary", "Unknown", "UpToDate", "DUnknown"),
    2: SYNCED.devices[2]})
PASSED = LegResult("test", "ha1", "ha2", "2026-11-26 13:00:00 UTC", 0.6, 2, 38, 0.2, 2.0, 9)
TOO_LONG = LegResult("test", "ha1", "ha2", "2026-11-26 13:00:00 UTC", 4.0, 2, 38, 0.2, 2.0, 9)


@pytest.mark.parametrize(("leg", "here", "marker", "proc", "two", "outcome"), [
    ("away", {"test"}, None, SYNCED, True, "migrate"),
    ("away", {"test"}, PASSED, SYNCED, True, "already passed"),
    ("away", {"test"}, TOO_LONG, SYNCED, True, "migrate"),  # a failed test runs again
    ("away", set(), None, SYNCED, True, "does not run here"),
    ("back", {"test"}, PASSED, SYNCED, True, "migrate"),  # away from home: always back
    ("back", set(), PASSED, SYNCED, True, "does not run here; last back test"),
    ("away", {"test"}, None, DISCONNECTED, True,
     "refused: its DRBD resources must be Connected and UpToDate/UpToDate on both sides: "
     "test-disk WFConnection Primary/Unknown UpToDate/DUnknown"),
    ("away", {"test"}, None, None, True, "refused: its DRBD resources"),
    ("away", {"test"}, None, SYNCED, False,
     "refused: 'allow-two-primaries;' is missing from the net section of resource test-disk, "
     "test-swap (or common) in /etc/drbd.conf"),
])
def test_plan_leg(cluster: ClusterInventory, domu: DomU, leg: str, here: set[str],
                  marker: LegResult | None, proc: ProcDrbd | None, two: bool,
                  outcome: str) -> None:
    _, peer, settings = nodes(cluster)
    drbd = cluster.nodes["ha1"].drbd
    assert drbd is not None
    text = conf_text(cluster, drbd)
    conf = parse_drbd_conf(text if two else text.replace("allow-two-primaries;", ""))
    args = (domu, leg, frozenset(here), marker, peer, drbd.of_domu(domu.name), proc, conf,
            settings)
    if outcome.startswith("refused: "):
        with pytest.raises(Refused) as refused:
            plan_leg(*args)
        assert outcome.removeprefix("refused: ") in str(refused.value)
        return
    plan = plan_leg(*args)
    if outcome == "migrate":
        (action,) = plan.actions
        assert isinstance(action, LiveMigrate)
        assert action.command == "xm migrate test ha2X --live"
    else:
        assert not plan.actions and outcome in " ".join(plan.notes)


def test_another_port_is_given_to_xm_migrate(cluster: ClusterInventory, domu: DomU) -> None:
    from dataclasses import replace

    _, _, settings = nodes(cluster)
    action = LiveMigrate(domu, "away", "ha2", "ha2X", replace(settings, relocation_port=8003))
    assert action.command == "xm migrate test ha2X --live -p 8003"


# -- the live migration action on a stub node ---------------------------------------------------
class StubNode:
    """What LiveMigrate uses of a NodeChanger: change, fact, note, name."""

    def __init__(self, log: str, fails: bool = False, still_listed: bool = False) -> None:
        self.name = "ha1"
        self.log, self.fails, self.still_listed = log, fails, still_listed
        self.commands: list[str] = []

    def change(self, command: str, **kwargs: object) -> CommandResult:
        shown = str(kwargs.get("display") or command)
        self.commands.append(shown)
        if shown.startswith("start prober"):
            return CommandResult("ha1", shown, "4242\n", "", 0, 0.0)
        if shown.startswith("stop prober"):
            return CommandResult("ha1", shown, self.log, "", 0, 0.0)
        if command.startswith("xm migrate") and self.fails:
            raise CommandFailed(CommandResult("ha1", command, "", "Error: /usr/lib/xen/bin/"
                                              "xc_save 3 4 0 0 1 failed\n", 1, 0.0))
        return CommandResult("ha1", shown, "", "", 0, 0.0)

    def fact(self, wanted: object) -> bool:
        return self.still_listed

    def note(self, text: str) -> None:
        return None


def migrate_with(cluster: ClusterInventory, domu: DomU, node: StubNode,
                 max_gap_s: float = 1.0) -> str:
    from dataclasses import replace

    _, _, settings = nodes(cluster)
    action = LiveMigrate(domu, "away", "ha2", "ha2X", replace(settings, max_gap_s=max_gap_s))
    return action.apply(node)  # type: ignore[arg-type]


GAP_LOG = probe_log([(s, 100.0 + s * 0.2) for s in range(1, 11) if s != 5], 11, stop=102.3)


def test_live_migration_is_measured_and_kept(cluster: ClusterInventory, domu: DomU) -> None:
    node = StubNode(GAP_LOG)
    said = migrate_with(cluster, domu, node)
    assert said == "migrated live: test ha1 -> ha2: longest gap 0.40 s, 1 of 11 pings lost " \
                   "(every 0.2 s)"
    assert node.commands[0].startswith("start prober: ping -D -n -i 0.2 192.168.1.50")
    assert node.commands[1] == "xm migrate test ha2X --live"
    assert node.commands[2].startswith("stop prober 4242")
    assert node.commands[3] == "write /var/lib/runbook/migration-test-away.json"
    from runbook.tasks import migration

    assert migration.MEASURED.pop("ha1") == [
        "measured: test ha1 -> ha2 longest_gap_s=0.400 lost=1 transmitted=11 interval_s=0.2"]


def test_a_gap_over_the_limit_fails_the_step_after_recording_it(
        cluster: ClusterInventory, domu: DomU) -> None:
    node = StubNode(GAP_LOG)
    with pytest.raises(StepFailed, match=r"longest gap 0\.40 s.*over the inventory's limit"):
        migrate_with(cluster, domu, node, max_gap_s=0.3)
    assert "write /var/lib/runbook/migration-test-away.json" in node.commands
    from runbook.tasks import migration

    migration.MEASURED.pop("ha1", None)


@pytest.mark.parametrize(("listed", "where"), [(True, "still runs here"),
                                                (False, "no longer runs here")])
def test_a_failed_xm_migrate_says_where_the_domu_is_and_stops_the_prober(
        cluster: ClusterInventory, domu: DomU, listed: bool, where: str) -> None:
    node = StubNode(probe_log([(s, 100.0 + s * 0.2) for s in range(1, 4)], 4),
                    fails=True, still_listed=listed)
    with pytest.raises(StepFailed, match=f"xc_save 3 4 0 0 1 failed; test {where}"):
        migrate_with(cluster, domu, node)
    assert [c for c in node.commands if c.startswith("stop prober")] == [
        "stop prober 4242, read /var/lib/runbook/probe-test.log"]
    assert not any(c.startswith("write ") for c in node.commands)  # nothing was measured


def test_xm_migrate_that_left_the_domu_listed_is_a_failure(cluster: ClusterInventory,
                                                           domu: DomU) -> None:
    node = StubNode(GAP_LOG, still_listed=True)
    with pytest.raises(StepFailed, match="exited 0 but test is still listed here"):
        migrate_with(cluster, domu, node)
    assert node.commands[-1].startswith("stop prober")


def test_control_prober_pings_from_this_machine(cluster: ClusterInventory) -> None:
    from dataclasses import replace

    _, _, settings = nodes(cluster)
    prober = CommandProber(prober_argv(replace(settings, prober_from="control"), "127.0.0.1"))
    prober.start()
    time.sleep(0.7)
    log = prober.stop()
    probe = parse_probe(log, 0.2)
    assert probe.received >= 3 and probe.lost == 0 and probe.longest_gap_s < 0.5
    assert prober.stop() == log  # stopping again reads the same log


def test_a_named_host_probes_through_ssh(cluster: ClusterInventory) -> None:
    from dataclasses import replace

    _, _, settings = nodes(cluster)
    chosen = replace(settings, prober_from="host", prober_host="ops@mon1.domain.local",
                     prober_port=2222)
    argv = prober_argv(chosen, "192.168.1.50")
    assert argv[:7] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", "2222"]
    assert argv[7] == "ops@mon1.domain.local"
    assert argv[8] == probe_script("192.168.1.50", 0.2)
    assert "ping -D -n -i 0.2 192.168.1.50 & p=$!; read x;" in argv[8]


def test_a_dry_run_predicts_a_leg_an_earlier_step_makes_possible(
        cluster: ClusterInventory, domu: DomU) -> None:
    _, peer, settings = nodes(cluster)
    drbd = cluster.nodes["ha1"].drbd
    assert drbd is not None
    conf = parse_drbd_conf(conf_text(cluster, drbd))
    plan = plan_leg(domu, "away", frozenset(), None, peer, drbd.of_domu("test"), SYNCED, conf,
                    settings, "start-domus starts test here first")
    assert plan.describe() == [
        "run: xm migrate test ha2X --live (prober: ping 192.168.1.50 every 0.2 s from source)",
        "predicted (start-domus starts test here first): xm migrate test ha2X --live"]
    with pytest.raises(Refused):  # what is known is still judged: DRBD must be ready
        plan_leg(domu, "away", frozenset(), None, peer, drbd.of_domu("test"), DISCONNECTED,
                 conf, settings, "start-domus starts test here first")
