"""08-heartbeat's plans as tables: facts in, actions (or a refusal) out, no node at all; and the
dry run of every runbook on fake nodes, which never shows the Heartbeat key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from nornir.core import Nornir

from runbook import engine
from runbook.engine import Refused, RunbookRun, StepFailed
from runbook.facts.heartbeat import AUTHKEYS_PATH, HeartbeatView
from runbook.inventory import ClusterInventory, HeartbeatSettings, load_inventory
from runbook.parsers.drbd import parse_proc_drbd
from runbook.parsers.heartbeat import AuthkeysState, parse_ha_cf, parse_haresources
from runbook.plan import InstallPackages, RunCommand, WriteFile
from runbook.tasks import heartbeat as hb_task
from runbook.tasks.heartbeat import (
    StartHeartbeat,
    WriteAuthkeys,
    authkeys_text,
    check_auto_only,
    drbd_problems,
    plan_authkeys,
    plan_auto_folders,
    plan_install,
    plan_rc_links,
    plan_resource_script,
    plan_start,
    resource_script,
    sha256,
    start_refusals,
)
from tests.unit.fakenode import FakeNode
from tests.unit.fakenode_heartbeat import XENDOMAINS_INIT

LAB = Path(__file__).resolve().parents[2] / "inventory" / "lab"
KEY = "Sup3r-HA-key"
AUTHKEYS = authkeys_text(KEY)
PROC_SYNCED = """version: 8.3.7 (api:88/proto:86-91)
GIT-hash: ea9e28dbff98e331a62bcbcc63a6135808fe2917 build by root@ha1, 2026-11-26 12:00:00
 1: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r----
    ns:0 nr:5242880 dw:5242880 dr:0 al:0 bm:320 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0
 2: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r----
    ns:0 nr:393216 dw:393216 dr:0 al:0 bm:24 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0
"""
PROC_SYNCING = PROC_SYNCED.replace(
    " 1: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate",
    " 1: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate")
PROC_ONE_DOWN = PROC_SYNCED.replace(" 2: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate"
                                    " C r----", " 2: cs:Unconfigured")


@pytest.fixture(scope="module")
def cluster() -> ClusterInventory:
    return load_inventory(LAB, require=("base", "domu", "drbd", "migration", "heartbeat"))


@pytest.fixture(scope="module")
def hb(cluster: ClusterInventory) -> HeartbeatSettings:
    settings = cluster.nodes["ha1"].heartbeat
    assert settings is not None
    return settings


def view(cluster: ClusterInventory, hb: HeartbeatSettings, name: str, **changes: object
         ) -> HeartbeatView:
    """A node as 08's inspect step sees it on a healthy cluster, with ``changes``."""
    good = HeartbeatView(
        node=name, uname_n=cluster.nodes[name].fqdn, installed=True, running=False,
        ha_cf=hb_task.ha_cf_text(hb, list(cluster.nodes.values())),
        haresources=hb_task.haresources_text(hb, cluster.nodes),
        authkeys=AuthkeysState(sha256(AUTHKEYS), 0o600), drbd_problems=(),
        domus_running=frozenset())
    return replace(good, **changes)  # type: ignore[arg-type]


def views(cluster: ClusterInventory, hb: HeartbeatSettings,
          ha1: dict[str, object] | None = None, ha2: dict[str, object] | None = None
          ) -> list[HeartbeatView]:
    return [view(cluster, hb, "ha1", **(ha1 or {})), view(cluster, hb, "ha2", **(ha2 or {}))]


# -- install, authkeys -------------------------------------------------------------------------
@pytest.mark.parametrize(("installed", "actions"), [(False, [InstallPackages(("heartbeat",))]),
                                                    (True, [])])
def test_install(installed: bool, actions: list[object]) -> None:
    assert list(plan_install(installed).actions) == actions


@pytest.mark.parametrize(("current", "writes"), [
    (None, True),
    (AuthkeysState(sha256(AUTHKEYS), 0o600), False),
    (AuthkeysState(sha256(AUTHKEYS), 0o644), True),  # right key, readable by others
    (AuthkeysState(sha256("auth 1\n1 sha1 old\n"), 0o600), True),
], ids=["missing", "right", "mode-644", "other-key"])
def test_authkeys_by_hash_and_mode(current: AuthkeysState | None, writes: bool) -> None:
    plan = plan_authkeys(current, AUTHKEYS)
    assert bool(plan) == writes
    if writes:
        (action,) = plan.actions
        assert isinstance(action, WriteAuthkeys)
        assert KEY not in action.describe() and KEY not in repr(action) and plan.diff == ""
        assert f"sha256 {sha256(AUTHKEYS)[:12]}" in action.describe()


def test_authkeys_text_is_the_guides() -> None:
    assert authkeys_text("SecretKey123!!!") == "auth 1\n1 sha1 SecretKey123!!!\n"


# -- resource scripts --------------------------------------------------------------------------
def test_resource_script_changes_exactly_two_lines(hb: HeartbeatSettings) -> None:
    group = hb.group_of("ha2")
    copy = resource_script(XENDOMAINS_INIT, group)
    changed = [(a, b) for a, b in zip(XENDOMAINS_INIT.splitlines(), copy.splitlines(),
                                      strict=True) if a != b]
    assert changed == [
        ("LOCKFILE=/var/lock/subsys/xendomains", "LOCKFILE=/var/lock/subsys/xendomainsHA2"),
        ("XENDOM_CONFIG=/etc/default/xendomains",
         "XENDOM_CONFIG=/etc/default/xendomainsHA2")]


@pytest.mark.parametrize("init", [
    XENDOMAINS_INIT.replace("LOCKFILE=", "#LOCKFILE="),
    XENDOMAINS_INIT + "XENDOM_CONFIG=/etc/sysconfig/xendomains\n",
], ids=["no-lockfile-line", "two-config-lines"])
def test_resource_script_refuses_an_unknown_script(hb: HeartbeatSettings, init: str) -> None:
    with pytest.raises(Refused, match=r"Xen 3\.2's has one"):
        resource_script(init, hb.group_of("ha1"))


def test_resource_script_plans(hb: HeartbeatSettings) -> None:
    group = hb.group_of("ha1")
    wanted = resource_script(XENDOMAINS_INIT, group)
    new = plan_resource_script(XENDOMAINS_INIT, group, None)
    (write,) = new.actions
    assert isinstance(write, WriteFile) and write.mode == "0755" and write.content == wanted
    assert write.diff.startswith(f"--- a/etc/init.d/xendomains\n+++ b{group.script}\n")
    assert [line for line in write.diff.splitlines() if line[:1] in "+-"][2:] == [
        "-LOCKFILE=/var/lock/subsys/xendomains", "-XENDOM_CONFIG=/etc/default/xendomains",
        "+LOCKFILE=/var/lock/subsys/xendomainsHA1", "+XENDOM_CONFIG=/etc/default/xendomainsHA1"]
    assert not plan_resource_script(XENDOMAINS_INIT, group, (0o755, wanted))
    assert plan_resource_script(XENDOMAINS_INIT, group, (0o644, wanted)).actions == (
        RunCommand(f"chmod 755 {group.script}", done=f"made {group.script} executable"),)
    edited = plan_resource_script(XENDOMAINS_INIT, group, (0o755, wanted + "# edited\n"))
    assert "-# edited" in edited.diff


BUGGY = XENDOMAINS_INIT + 'case $name in ($NAMES) ;; esac\n'


@pytest.mark.parametrize(("init", "auto_only", "two_domus", "refused"), [
    (BUGGY, True, True, True),
    (BUGGY, True, False, False),
    (BUGGY, False, True, False),
    (XENDOMAINS_INIT, True, True, False),  # a fixed xendomains
])
def test_xen_320_auto_only_bug(cluster: ClusterInventory, hb: HeartbeatSettings, init: str,
                               auto_only: bool, two_domus: bool, refused: bool) -> None:
    settings = replace(hb, xendomains=replace(hb.xendomains, auto_only=auto_only))
    domus = list(cluster.domus)
    if two_domus:
        domus.append(replace(domus[0], name="web", ip=domus[0].ip + 1))
    if refused:
        with pytest.raises(Refused, match=r"test, web: .* never matches two or more"):
            check_auto_only(init, settings, domus)
    else:
        check_auto_only(init, settings, domus)


# -- /etc/default/xendomainsHA1/HA2 ------------------------------------------------------------
@pytest.mark.parametrize(("here", "target"), [("ha1", "ha2X"), ("ha2", "ha1X")])
@pytest.mark.parametrize("group", ["ha1", "ha2"])
def test_migrate_names_the_other_node(cluster: ClusterInventory, hb: HeartbeatSettings,
                                      here: str, target: str, group: str) -> None:
    """Both groups' settings on a node migrate to the other node, never to itself."""
    text = hb_task.xendomains_default(hb, hb.group_of(group), cluster.nodes[here],
                                      cluster.nodes[cluster.nodes[here].peer])
    settings = dict(line.split("=", 1) for line in text.splitlines()
                    if line.startswith("XENDOMAINS_"))
    assert settings["XENDOMAINS_MIGRATE"] == f'"{target} --live"'
    assert settings["XENDOMAINS_AUTO"] == f"/etc/xen/auto/{hb.group_of(group).suffix}"
    assert (settings["XENDOMAINS_SAVE"], settings["XENDOMAINS_SHUTDOWN_ALL"],
            settings["XENDOMAINS_RESTORE"], settings["XENDOMAINS_AUTO_ONLY"]) == (
        '""', '""', "false", "true")


def test_migrate_uses_07s_relocation_port(cluster: ClusterInventory,
                                         hb: HeartbeatSettings) -> None:
    here, peer = cluster.nodes["ha1"], cluster.nodes["ha2"]
    assert peer.migration is not None and peer.migration.relocation_port == 8002
    moved = replace(peer, migration=replace(peer.migration, relocation_port=8003))
    text = hb_task.xendomains_default(hb, hb.group_of("ha1"), here, moved)
    assert 'XENDOMAINS_MIGRATE="ha2X --live --port=8003"' in text.splitlines()


def test_ha_cf_and_haresources_are_the_guides(cluster: ClusterInventory,
                                              hb: HeartbeatSettings) -> None:
    ha_cf = parse_ha_cf(hb_task.ha_cf_text(hb, list(cluster.nodes.values())))
    assert ha_cf.nodes == ("ha1.domain.local", "ha2.domain.local")
    assert ha_cf.ucast == (("eth0", "192.168.1.11"), ("eth0", "192.168.1.12"))
    assert [d for d, _ in ha_cf.directives].index("udpport") < [
        d for d, _ in ha_cf.directives].index("ucast")  # udpport before the media lines
    assert (ha_cf.value("auto_failback"), ha_cf.value("watchdog"), ha_cf.value("deadtime")) == (
        "on", "/dev/watchdog", "6")
    assert parse_haresources(hb_task.haresources_text(hb, cluster.nodes)) == [
        parse_haresources("ha1.domain.local xendomainsHA1\n")[0],
        parse_haresources("ha2.domain.local xendomainsHA2\n")[0]]


# -- auto folders and rc links -----------------------------------------------------------------
CFG = frozenset({"test"})
LINK = "/etc/xen/auto/HA1/test"


@pytest.mark.parametrize(("entries", "actions"), [
    ({}, ["mkdir -p /etc/xen/auto/HA1", "mkdir -p /etc/xen/auto/HA2",
          f"ln -sfn /etc/xen/test.cfg {LINK}"]),
    ({"/etc/xen/auto/HA1": "d", "/etc/xen/auto/HA2": "d", LINK: "-> /etc/xen/test.cfg"}, []),
    ({"/etc/xen/auto/HA1": "d", "/etc/xen/auto/HA2": "d", LINK: "-> /etc/xen/old.cfg"},
     [f"ln -sfn /etc/xen/test.cfg {LINK}"]),
    ({"/etc/xen/auto/HA1": "d", "/etc/xen/auto/HA2": "d", LINK: "-> /etc/xen/test.cfg",
      "/etc/xen/auto/HA2/test": "-> /etc/xen/test.cfg"}, ["rm -f /etc/xen/auto/HA2/test"]),
], ids=["fresh", "done", "wrong-target", "linked-in-both"])
def test_auto_folders(cluster: ClusterInventory, hb: HeartbeatSettings,
                      entries: dict[str, str], actions: list[str]) -> None:
    plan = plan_auto_folders(hb, cluster.domus, entries, CFG, dry_run=False)
    assert [a.command for a in plan.actions if isinstance(a, RunCommand)] == actions


@pytest.mark.parametrize(("entries", "message"), [
    ({"/etc/xen/auto/HA1": "f"}, "/etc/xen/auto/HA1 exists but is not a folder"),
    ({LINK: "f"}, f"{LINK} is not a link to /etc/xen/test.cfg"),
    ({"/etc/xen/auto/HA2/test": "f"}, "/etc/xen/auto/HA2/test is a file"),
])
def test_auto_folders_refuse_files_not_made_here(cluster: ClusterInventory,
                                                 hb: HeartbeatSettings,
                                                 entries: dict[str, str], message: str) -> None:
    with pytest.raises(Refused, match=re.escape(message)):
        plan_auto_folders(hb, cluster.domus, entries, CFG, dry_run=False)


def test_auto_folders_need_the_cfg_on_this_node(cluster: ClusterInventory,
                                                hb: HeartbeatSettings) -> None:
    with pytest.raises(StepFailed, match=r"/etc/xen/test\.cfg does not exist on this node"):
        plan_auto_folders(hb, cluster.domus, {}, frozenset(), dry_run=False)
    dry = plan_auto_folders(hb, cluster.domus, {}, frozenset(), dry_run=True)
    assert dry.predictions[0].startswith("predicted (/etc/xen/test.cfg does not exist")


def test_rc_links() -> None:
    assert plan_rc_links(["/etc/rc2.d/S21xendomains"]).actions == (
        RunCommand("update-rc.d -f xendomains remove", done="removed 1 rc links of xendomains"),)
    assert not plan_rc_links([])


# -- DRBD health -------------------------------------------------------------------------------
@pytest.mark.parametrize(("proc", "state", "setup"), [
    (PROC_SYNCED, [], []),
    (PROC_SYNCING, ["test-disk is SyncTarget Inconsistent/UpToDate, not Connected "
                    "UpToDate/UpToDate"], []),
    (PROC_ONE_DOWN, [], ["test-swap (/dev/drbd2) is not configured"]),
    (None, [], ["DRBD is not loaded (no /proc/drbd)"]),
], ids=["synced", "syncing", "one-unconfigured", "not-loaded"])
def test_drbd_problems(cluster: ClusterInventory, proc: str | None, state: list[str],
                       setup: list[str]) -> None:
    parsed = parse_proc_drbd(proc) if proc is not None else None
    assert drbd_problems(parsed, cluster.nodes["ha1"].drbd) == (state, setup)


# -- the start's refusals ----------------------------------------------------------------------
OTHER_KEYS = AuthkeysState(sha256("auth 1\n1 sha1 other\n"), 0o600)
REFUSALS: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
    "not installed": ({}, {"installed": False}, "heartbeat is not installed on ha2"),
    "ha.cf differs": ({}, {"ha_cf": "node ha1.domain.local\nnode ha2.domain.local\n"},
                      "/etc/ha.d/ha.cf differs between ha1 and ha2:\n--- ha1:ha.cf\n+++ ha2:ha.cf"),
    "ha.cf missing": ({"ha_cf": None}, {}, "/etc/ha.d/ha.cf is missing on ha1"),
    "haresources differ": ({}, {"haresources": "ha2.domain.local xendomainsHA2\n"},
                           "/etc/ha.d/haresources differs between ha1 and ha2"),
    "authkeys differ": ({}, {"authkeys": OTHER_KEYS},
                        f"{AUTHKEYS_PATH} differs between the nodes (ha1 sha256 "
                        f"{sha256(AUTHKEYS)[:12]}, ha2 sha256 {OTHER_KEYS.sha256[:12]})"),
    "authkeys readable": ({"authkeys": AuthkeysState(sha256(AUTHKEYS), 0o644)}, {},
                          f"{AUTHKEYS_PATH} on ha1 has mode 644: heartbeat refuses"),
    "authkeys missing": ({}, {"authkeys": None}, f"{AUTHKEYS_PATH} is missing on ha2"),
    "uname -n short": ({"uname_n": "ha1"}, {}, "ha1's uname -n is ha1, which no `node` line"),
    "drbd syncing": ({}, {"drbd_problems": ("test-disk is SyncTarget",)},
                     "DRBD on ha2: test-disk is SyncTarget"),
    "domu away from home": ({}, {"domus_running": frozenset({"test"})},
                            "test runs on ha2 but its home is ha1: heartbeat on ha1 would start "
                            "a second copy"),
    "domu on both": ({"domus_running": frozenset({"test"})},
                     {"domus_running": frozenset({"test"})}, "test runs on ha1 and ha2"),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_start_refusals(cluster: ClusterInventory, hb: HeartbeatSettings,
                        case: tuple[dict[str, object], dict[str, object], str]) -> None:
    ha1, ha2, message = case
    problems = start_refusals(views(cluster, hb, ha1, ha2), cluster.domus, {"ha1", "ha2"})
    assert any(p.startswith(message) for p in problems), problems
    assert all(KEY not in p for p in problems)
    with pytest.raises(Refused, match="not starting heartbeat"):
        plan_start("ha1", {v.node: v for v in views(cluster, hb, ha1, ha2)}, set(), hb,
                   cluster.nodes, cluster.domus)


def test_a_node_line_naming_no_node_is_refused(cluster: ClusterInventory,
                                               hb: HeartbeatSettings) -> None:
    text = hb_task.ha_cf_text(hb, list(cluster.nodes.values())) + "node ha3.domain.local\n"
    problems = start_refusals(views(cluster, hb, {"ha_cf": text}, {"ha_cf": text}),
                              cluster.domus, {"ha1", "ha2"})
    assert "the `node` lines of ha1's ha.cf name ha3.domain.local, which is no node's " \
           "uname -n (ha1.domain.local, ha2.domain.local)" in problems


def test_haresources_naming_an_unknown_node_is_refused(cluster: ClusterInventory,
                                                       hb: HeartbeatSettings) -> None:
    bad = "ha1 xendomainsHA1\nha2.domain.local xendomainsHA2\n"
    problems = start_refusals(views(cluster, hb, {"haresources": bad}, {"haresources": bad}),
                              cluster.domus, {"ha1", "ha2"})
    assert any("haresources names ha1, not a `node` of ha.cf" in p for p in problems)


def test_healthy_cluster_starts_on_every_stopped_node(cluster: ClusterInventory,
                                                      hb: HeartbeatSettings) -> None:
    state = {v.node: v for v in views(cluster, hb)}
    assert start_refusals(list(state.values()), cluster.domus, {"ha1", "ha2"}) == []
    (start,) = plan_start("ha1", state, set(), hb, cluster.nodes, cluster.domus).actions
    assert start == StartHeartbeat("ha2.domain.local", ("test",), 90)
    (start,) = plan_start("ha2", state, set(), hb, cluster.nodes, cluster.domus).actions
    assert start == StartHeartbeat("ha1.domain.local", (), 90)


def test_running_cluster_plans_nothing_or_a_reload(cluster: ClusterInventory,
                                                   hb: HeartbeatSettings) -> None:
    on_home = {"running": True, "domus_running": frozenset({"test"})}
    state = {v.node: v for v in views(cluster, hb, on_home, {"running": True})}
    assert not plan_start("ha1", state, set(), hb, cluster.nodes, cluster.domus)
    reload = plan_start("ha2", state, {"ha2"}, hb, cluster.nodes, cluster.domus)
    assert reload.actions == (StartHeartbeat("ha1.domain.local", (), 90, "reload"),)
    assert reload.describe() == ["run: /etc/init.d/heartbeat reload (then wait for "
                                 "ha1.domain.local active, at most 90s)"]
    # only ha2 stopped: ha2 starts, ha1 (running, unchanged) has nothing to do
    state = {v.node: v for v in views(cluster, hb, on_home, {})}
    assert not plan_start("ha1", state, set(), hb, cluster.nodes, cluster.domus)
    assert plan_start("ha2", state, set(), hb, cluster.nodes, cluster.domus)


def test_a_domu_away_from_a_running_home_is_not_a_start_refusal(
        cluster: ClusterInventory, hb: HeartbeatSettings) -> None:
    """test on ha2 while ha1 runs heartbeat (a failover): starting ha2 does not start test."""
    state = views(cluster, hb, {"running": True}, {"domus_running": frozenset({"test"})})
    assert start_refusals(state, cluster.domus, {"ha2"}) == []


# -- the dry run of every runbook --------------------------------------------------------------
def test_dry_run_never_shows_the_key(nr: Nornir, fake_nodes: dict[str, FakeNode],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "domu-pw-1")
    monkeypatch.setenv("RUNBOOK_HA_AUTHKEY", KEY)
    runner = RunbookRun(nr, dry_run=True)
    for runbook in engine.discover():
        if runbook.id == "08-heartbeat":
            runner.run(runbook)
    rows = runner.outcomes
    assert {r.step: r.status for r in rows if r.host == "ha1"} == {
        "install": "changed", "authkeys": "changed", "ha-cf": "changed",
        "haresources": "changed", "resource-scripts": "ok", "xendomains-config": "changed",
        "auto-folders": "changed", "xendomains-rc": "ok", "inspect": "ok", "start": "changed"}
    texts = [r.message + r.diff + "".join(r.plan) + "".join(c.command + c.stdout for c in
                                                              r.commands) for r in rows]
    assert all(KEY not in text for text in texts)
    digest = hashlib.sha256(AUTHKEYS.encode()).hexdigest()[:12]
    authkeys = next(r for r in rows if (r.host, r.step) == ("ha1", "authkeys"))
    assert authkeys.plan == [f"write {AUTHKEYS_PATH} (mode 600, sha256 {digest}, was no file; "
                             "the key on stdin)"]


def test_dry_run_without_the_key_fails_the_authkeys_step(
        nr: Nornir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_HA_AUTHKEY", raising=False)
    runner = RunbookRun(nr, dry_run=True)
    (runbook,) = [rb for rb in engine.discover() if rb.id == "08-heartbeat"]
    rows = runner.run(runbook)
    authkeys = next(r for r in rows if (r.host, r.step) == ("ha1", "authkeys"))
    assert authkeys.status == "failed"
    assert "environment variable RUNBOOK_HA_AUTHKEY is unset or empty" in authkeys.message

