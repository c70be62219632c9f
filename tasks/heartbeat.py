"""The guide's "Install and Configure Heartbeat": v1 files, the xendomains resource groups, start.

Every file is made from the inventory (data.heartbeat) and is the same on both nodes except
/etc/default/xendomainsHA1/HA2, whose XENDOMAINS_MIGRATE names the OTHER node on each node
(shared/guide/drbd-heartbeat-xen.md 5, "Pitfall"). The resource scripts are the node's own
/etc/init.d/xendomains with exactly the config-file and lock-file lines changed. The shared key
of /etc/ha.d/authkeys is read from its secret only by the authkeys step, fed to the node on
stdin and compared by hash: it never appears in a command line, a diff, a journal or a report.

Heartbeat itself compares nothing across the nodes (different authkeys only make each node
see the other as dead, and both take over everything), so the start step does: it refuses
while the nodes' ha.cf, authkeys or haresources differ, while authkeys is readable by others,
while a `node` line does not match a node's `uname -n`, while DRBD is not Connected and
UpToDate on both, or while a DomU runs away from its home node (heartbeat would start a
second copy there).
"""

from __future__ import annotations

import difflib
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runbook import remote
from runbook.engine import Refused, StepFailed
from runbook.facts import FactError, FactFailed, Facts
from runbook.facts.domu import cfg_exists, cfg_path
from runbook.facts.drbd import PROC_DRBD
from runbook.facts.heartbeat import (
    AUTHKEYS,
    AUTHKEYS_PATH,
    AUTO_ENTRIES,
    HA_CF,
    HA_CF_TEXT,
    HARESOURCES,
    HARESOURCES_TEXT,
    HB_GENERATION,
    HB_STATUS,
    HEARTBEAT_INIT,
    RSC_STATUS,
    UNAME_N,
    XENDOMAINS_INIT,
    XENDOMAINS_INIT_TEXT,
    XENDOMAINS_RC_LINKS,
    HeartbeatView,
    file_with_mode,
    nodestatus,
)
from runbook.facts.packages import missing, packages
from runbook.facts.system import UNAME_R, file_content
from runbook.facts.xen import XM_LIST
from runbook.inventory import (
    DomU,
    DrbdSettings,
    HeartbeatSettings,
    InventoryError,
    NodeSettings,
    ResourceGroup,
)
from runbook.parsers.drbd import ProcDrbd
from runbook.parsers.heartbeat import AuthkeysState, parse_ha_cf, parse_haresources
from runbook.parsers.xen import running
from runbook.plan import (
    Action,
    InstallPackages,
    NodeChanger,
    NodeReader,
    Plan,
    RunCommand,
    WriteFile,
    plan_of,
    planned,
    required,
    unmet,
    write_file,
)
from runbook.tasks.files import render

PACKAGE = "heartbeat"
SCRIPT_MODE = 0o755
AUTHKEYS_MODE = 0o600
POLL_S = 1.0
DEFAULT_XEND_PORT = 8002  # xm migrate's relocation port when none is given
RESTART_WAIT_S = 10.0  # a reload's restart-exec follows its signal within a second or two


def settings_of(node: NodeReader) -> HeartbeatSettings:
    return required(node.settings.heartbeat, "heartbeat")


# -- install -----------------------------------------------------------------------------------
def plan_install(installed: bool) -> Plan:
    return plan_of([] if installed else [InstallPackages((PACKAGE,))],
                   notes=["heartbeat already installed"])


def install(node: NodeReader) -> Plan:
    states = node.fact(packages([PACKAGE]))
    return plan_install(not missing(states, [PACKAGE]))


# -- authkeys ----------------------------------------------------------------------------------
def authkeys_text(key: str) -> str:
    """The guide's authkeys: method 1 is sha1 with the shared key."""
    return f"auth 1\n1 sha1 {key}\n"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class WriteAuthkeys:
    """authkeys, mode 600 from the start (umask 077), its text on stdin: never on a command
    line, in a diff or in the journal (which shows only hashes)."""

    content: str = field(repr=False)
    before: AuthkeysState | None

    def describe(self) -> str:
        was = ("no file" if self.before is None
               else f"sha256 {self.before.sha256[:12]}, mode {self.before.mode:o}")
        return (f"write {AUTHKEYS_PATH} (mode 600, sha256 {sha256(self.content)[:12]}, "
                f"was {was}; the key on stdin)")

    def apply(self, node: NodeChanger) -> str:
        tmp = remote.quote(f"{AUTHKEYS_PATH}.runbook-tmp")
        node.change(f"umask 077 && cat > {tmp} && chmod 600 {tmp} && "
                    f"mv -f {tmp} {remote.quote(AUTHKEYS_PATH)}",
                    stdin=self.content, display=self.describe())
        return f"wrote {AUTHKEYS_PATH} (sha256 {sha256(self.content)[:12]}, mode 600)"


def plan_authkeys(current: AuthkeysState | None, wanted: str) -> Plan:
    """Rewrite authkeys when its hash or mode is not the wanted one."""
    if current is not None and current.sha256 == sha256(wanted) and (
            current.mode == AUTHKEYS_MODE):
        return plan_of(notes=[f"{AUTHKEYS_PATH} already holds the key, mode 600"])
    return plan_of([WriteAuthkeys(wanted, current)])


def authkey_of(node: NodeReader, hb: HeartbeatSettings) -> str:
    """The shared key from its secret, registered so that no journal of this node shows it."""
    try:
        key = hb.authkey(node.context.cluster.folder)
    except InventoryError as exc:
        raise StepFailed(str(exc)) from None
    node.secret(key)
    return key


def authkeys(node: NodeReader) -> Plan:
    wanted = authkeys_text(authkey_of(node, settings_of(node)))
    plan = plan_authkeys(node.fact(AUTHKEYS), wanted)
    if plan:
        node.context.heartbeat_rewritten.add(node.name)
    return plan


# -- ha.cf and haresources ---------------------------------------------------------------------
def ha_cf_text(hb: HeartbeatSettings, nodes: Sequence[NodeSettings]) -> str:
    return render("ha.cf.j2", hb=hb, nodes=nodes)


def haresources_text(hb: HeartbeatSettings, nodes: Mapping[str, NodeSettings]) -> str:
    return render("haresources.j2", hb=hb, nodes=nodes)


def ha_cf(node: NodeReader) -> Plan:
    wanted = ha_cf_text(settings_of(node), node.context.nodes)
    plan = plan_of(write_file(HA_CF, node.fact(HA_CF_TEXT), wanted),
                   notes=[f"{HA_CF} already matches the inventory"])
    if plan:
        node.context.heartbeat_rewritten.add(node.name)
    return plan


def haresources(node: NodeReader) -> Plan:
    wanted = haresources_text(settings_of(node), node.context.cluster.nodes)
    plan = plan_of(write_file(HARESOURCES, node.fact(HARESOURCES_TEXT), wanted),
                   notes=[f"{HARESOURCES} already names each node's group"])
    if plan:
        node.context.heartbeat_rewritten.add(node.name)
    return plan


# -- resource scripts --------------------------------------------------------------------------
def resource_script(init: str, group: ResourceGroup) -> str:
    """The node's xendomains with the guide's two lines changed: its own settings and lock.

    Refused when the script does not have exactly one of each line (not Xen's xendomains?).
    """
    lines = init.splitlines(keepends=True)
    for prefix, value in (("LOCKFILE=", group.lockfile), ("XENDOM_CONFIG=", group.config)):
        found = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        if len(found) != 1:
            raise Refused(f"{XENDOMAINS_INIT} has {len(found)} lines starting with {prefix} "
                          "(Xen 3.2's has one): not copying a script this runbook cannot read")
        lines[found[0]] = f"{prefix}{value}\n"
    return "".join(lines)


# Xen 3.2.0's xendomains joins the auto DomUs' names as "a|b" and matches them with
# `case $name in ($NAMES)`, which never matches two or more: none is migrated on stop.
AUTO_ONLY_BUG = "($NAMES)"


def plan_resource_script(init: str, group: ResourceGroup,
                         current: tuple[int, str] | None) -> Plan:
    wanted = resource_script(init, group)
    if current is None:  # a new copy: its diff is against the script it copies (two lines)
        diff = "".join(difflib.unified_diff(
            init.splitlines(keepends=True), wanted.splitlines(keepends=True),
            fromfile=f"a{XENDOMAINS_INIT}", tofile=f"b{group.script}"))
        return plan_of([WriteFile(group.script, wanted, diff, "0755")])
    write = write_file(group.script, current[1], wanted, "0755")
    if write:
        return plan_of(write)
    if current[0] != SCRIPT_MODE:
        return plan_of([RunCommand(remote.quote("chmod", "755", group.script),
                                   done=f"made {group.script} executable")])
    return plan_of(notes=[f"{group.script} is {XENDOMAINS_INIT} with its own config and lock"])


def check_auto_only(init: str, hb: HeartbeatSettings, domus: Sequence[DomU]) -> None:
    """Refuse what Xen 3.2.0's AUTO_ONLY bug would do: leave 2+ DomUs running on stop."""
    if not hb.xendomains.auto_only or AUTO_ONLY_BUG not in init:
        return
    for group in hb.groups:
        names = [d.name for d in domus if d.home == group.node]
        if len(names) > 1:
            raise Refused(f"{group.resource} would run {', '.join(names)}: this node's "
                          f"xendomains (Xen 3.2.0) never matches two or more auto DomUs with "
                          "XENDOMAINS_AUTO_ONLY=true, so a heartbeat stop would migrate none of "
                          "them and the peer would start second copies (fixed in Xen 3.4). "
                          "Give each node one DomU, or a fixed xendomains")


def resource_scripts(node: NodeReader) -> Plan:
    hb = settings_of(node)
    facts = node.facts(XENDOMAINS_INIT_TEXT, *(file_with_mode(g.script) for g in hb.groups))
    init = facts.get(XENDOMAINS_INIT_TEXT)
    if init is None:
        prediction = unmet(node.dry_run, f"{XENDOMAINS_INIT} does not exist (Xen's "
                           "xendomains, from 02-xen's packages)", "the resource scripts are "
                           "copies of it with their config and lock lines changed")
        return plan_of(predictions=[prediction])
    check_auto_only(init, hb, node.context.cluster.domus)
    plan = plan_of()
    for group in hb.groups:
        plan += plan_resource_script(init, group, facts.get(file_with_mode(group.script)))
    return plan


# -- /etc/default/xendomainsHA1 and HA2 --------------------------------------------------------
def xendomains_default(hb: HeartbeatSettings, group: ResourceGroup, here: NodeSettings,
                       peer: NodeSettings) -> str:
    """The group's settings on ``here``: XENDOMAINS_MIGRATE names ``peer``, never ``here``, on
    07-migration's relocation port (xm migrate's default is 8002)."""
    port = peer.migration.relocation_port if peer.migration is not None else DEFAULT_XEND_PORT
    return render("xendomains-default.j2", group=group, node=here, peer=peer,
                  xd=hb.xendomains, nodes={here.name: here, peer.name: peer},
                  port_option="" if port == DEFAULT_XEND_PORT else f" --port={port}")


def xendomains_config(node: NodeReader) -> Plan:
    hb = settings_of(node)
    peer = node.context.node(node.peer)
    facts = node.facts(*(file_content(g.config) for g in hb.groups))
    plan = plan_of()
    for group in hb.groups:
        wanted = xendomains_default(hb, group, node.settings, peer)
        plan += plan_of(write_file(group.config, facts.get(file_content(group.config)), wanted),
                        notes=[f"{group.config} migrates to {peer.crossover_name}"])
    return plan


# -- /etc/xen/auto/HA1 and HA2 -----------------------------------------------------------------
def plan_auto_folders(hb: HeartbeatSettings, domus: Sequence[DomU], entries: Mapping[str, str],
                      cfgs: frozenset[str], dry_run: bool) -> Plan:
    """Each group's auto folder; each DomU's cfg linked in its home group's folder only (a
    DomU linked in both would be started by both nodes)."""
    actions: list[Action] = []
    notes: list[str] = []
    predictions: list[str] = []
    for group in hb.groups:
        have = entries.get(group.auto_folder)
        if have is None:
            actions.append(RunCommand(remote.quote("mkdir", "-p", group.auto_folder),
                                      done=f"created {group.auto_folder}"))
        elif have != "d":
            raise Refused(f"{group.auto_folder} exists but is not a folder")
    for domu in domus:
        home = hb.group_of(domu.home)
        target = cfg_path(domu)
        if domu.name not in cfgs:
            predictions.append(unmet(dry_run, f"{target} does not exist on this node, so a "
                                     f"takeover could not start {domu.name} here (06-drbd "
                                     "copies it to both nodes)", f"{target} exists"))
        link = f"{home.auto_folder}/{domu.name}"
        have = entries.get(link)
        if have == f"-> {target}":
            notes.append(f"{link} -> {target}")
        elif have is None or have.startswith("-> "):
            actions.append(RunCommand(remote.quote("ln", "-sfn", target, link),
                                      done=f"linked {link} -> {target}"))
        else:
            raise Refused(f"{link} is not a link to {target}: not replacing a file this "
                          "runbook did not make")
        for other in hb.groups:
            stray = f"{other.auto_folder}/{domu.name}"
            if other == home or stray not in entries:
                continue
            if not entries[stray].startswith("-> "):
                raise Refused(f"{stray} is a file, but {domu.name} belongs to "
                              f"{home.resource}: remove it by hand")
            actions.append(RunCommand(remote.quote("rm", "-f", stray),
                                      done=f"removed {stray} ({domu.name} is {domu.home}'s)"))
    return plan_of(actions, notes=notes or ["auto folders ready"], predictions=predictions)


def auto_folders(node: NodeReader) -> Plan:
    domus = node.context.cluster.domus
    facts = node.facts(AUTO_ENTRIES, *(cfg_exists(d) for d in domus))
    cfgs = frozenset(d.name for d in domus if facts.get(cfg_exists(d)))
    entries: dict[str, str] = facts.get(AUTO_ENTRIES)
    return plan_auto_folders(settings_of(node), domus, entries, cfgs, node.dry_run)


# -- xendomains at boot ------------------------------------------------------------------------
def plan_rc_links(links: Sequence[str]) -> Plan:
    """Heartbeat, not the boot, starts the DomUs: the guide removes xendomains' rc links."""
    if not links:
        return plan_of(notes=["xendomains is not started at boot"])
    return plan_of([RunCommand("update-rc.d -f xendomains remove",
                               done=f"removed {len(links)} rc links of xendomains")])


def xendomains_rc(node: NodeReader) -> Plan:
    links: tuple[str, ...] = node.fact(XENDOMAINS_RC_LINKS)
    return plan_rc_links(links)


# -- what the start step compares ---------------------------------------------------------------
def drbd_problems(proc: ProcDrbd | None, drbd: DrbdSettings | None) -> tuple[list[str], list[str]]:
    """(state problems, set-up problems): a resource not Connected UpToDate/UpToDate is a state
    problem; DRBD not loaded or a resource not configured is one 06-drbd's run would solve."""
    if drbd is None:
        return [], []
    if proc is None:
        return [], ["DRBD is not loaded (no /proc/drbd)"]
    state, setup = [], []
    for res in drbd.resources:
        dev = proc.devices.get(res.minor)
        if dev is None or not dev.configured:
            setup.append(f"{res.name} ({res.device}) is not configured")
        elif (dev.cstate, dev.disk, dev.peer_disk) != ("Connected", "UpToDate", "UpToDate"):
            state.append(f"{res.name} is {dev.cstate} {dev.disk}/{dev.peer_disk}, not Connected "
                         "UpToDate/UpToDate")
    return state, setup


def _domus_running(facts: Facts, dry_run: bool, predictions: list[str]) -> frozenset[str]:
    try:
        return frozenset(running(facts.get(XM_LIST)))
    except FactFailed:
        predictions.append(unmet(dry_run, f"`xm list` fails (kernel {facts.get(UNAME_R)})",
                                 "no DomU runs here"))
        return frozenset()


def read_view(node: NodeReader) -> HeartbeatView:
    """This node's side of the start step's comparison (in a dry run: as the run would leave it)."""
    hb = settings_of(node)
    facts = node.facts(packages([PACKAGE]), UNAME_N, UNAME_R, HA_CF_TEXT, HARESOURCES_TEXT,
                       AUTHKEYS, PROC_DRBD, XM_LIST)
    installed = not missing(facts.get(packages([PACKAGE])), [PACKAGE])
    hb_running = installed and node.fact(HB_STATUS)
    predictions: list[str] = []
    if not installed:  # a dry run: the install step would install it, and not start it
        predictions.append(unmet(node.dry_run, "heartbeat is not installed",
                                 "the install step installs it"))
        installed = True
    ha_cf_now, haresources_now = facts.get(HA_CF_TEXT), facts.get(HARESOURCES_TEXT)
    keys_now = facts.get(AUTHKEYS)
    uname_n = facts.get(UNAME_N)
    if node.dry_run:  # the earlier steps of this runbook would have written these
        ha_cf_now = ha_cf_text(hb, node.context.nodes)
        haresources_now = haresources_text(hb, node.context.cluster.nodes)
        keys_now = AuthkeysState(sha256(authkeys_text(authkey_of(node, hb))), AUTHKEYS_MODE)
        if uname_n.lower() != node.settings.fqdn.lower():
            predictions.append(f"predicted (uname -n is {uname_n}): 01-base makes it "
                               f"{node.settings.fqdn}")
            uname_n = node.settings.fqdn
    state, setup = drbd_problems(facts.get(PROC_DRBD), node.settings.drbd)
    for problem in setup:
        predictions.append(unmet(node.dry_run, f"DRBD: {problem}", "06-drbd brings it up"))
    return HeartbeatView(
        node=node.name, uname_n=uname_n, installed=installed,
        running=hb_running, ha_cf=ha_cf_now,
        haresources=haresources_now, authkeys=keys_now, drbd_problems=tuple(state),
        domus_running=_domus_running(facts, node.dry_run, predictions),
        predictions=tuple(predictions))


def inspect(node: NodeReader) -> Plan:
    """Read what the start step compares across the nodes; change nothing."""
    view = read_view(node)
    node.context.heartbeat[node.name] = view
    state = "running" if view.running else "stopped" if view.installed else "not installed"
    return plan_of(notes=[f"heartbeat {state}; uname -n {view.uname_n}; DomUs running: "
                          f"{', '.join(sorted(view.domus_running)) or 'none'}"],
                   predictions=view.predictions)


# -- start -------------------------------------------------------------------------------------
def _text_diff(name: str, a: HeartbeatView, a_text: str, b: HeartbeatView, b_text: str) -> str:
    lines = difflib.unified_diff(a_text.splitlines(keepends=True),
                                 b_text.splitlines(keepends=True),
                                 fromfile=f"{a.node}:{name}", tofile=f"{b.node}:{name}")
    return "".join(lines).rstrip("\n")


def _same_files(views: Sequence[HeartbeatView]) -> list[str]:
    """ha.cf and haresources identical (diff when not), authkeys by hash and mode only."""
    problems = []
    first = views[0]
    for name, path in (("ha.cf", HA_CF), ("haresources", HARESOURCES)):
        texts = [(v, v.ha_cf if name == "ha.cf" else v.haresources) for v in views]
        absent = [v.node for v, text in texts if text is None]
        if absent:
            problems.append(f"{path} is missing on {', '.join(absent)}")
            continue
        for view, text in texts[1:]:
            base = texts[0][1]
            if text != base:
                assert text is not None and base is not None
                problems.append(f"{path} differs between {first.node} and {view.node}:\n"
                                + _text_diff(name, first, base, view, text))
    keys = {v.node: v.authkeys for v in views}
    absent = [node for node, state in keys.items() if state is None]
    if absent:
        problems.append(f"{AUTHKEYS_PATH} is missing on {', '.join(absent)}")
        return problems
    hashes = {node: state.sha256 for node, state in keys.items() if state is not None}
    if len(set(hashes.values())) > 1:
        listed = ", ".join(f"{node} sha256 {digest[:12]}" for node, digest in hashes.items())
        problems.append(f"{AUTHKEYS_PATH} differs between the nodes ({listed}): each would "
                        "drop the other's packets, declare it dead and take over everything")
    for node, state in keys.items():
        if state is not None and state.others_can_read:
            problems.append(f"{AUTHKEYS_PATH} on {node} has mode {state.mode:o}: heartbeat "
                            "refuses a key that group or others can read (600)")
    return problems


def _node_names(views: Sequence[HeartbeatView]) -> list[str]:
    """Every node's `uname -n` in ha.cf's node lines, and no node line naming no node."""
    problems: list[str] = []
    unames = {v.uname_n.lower(): v.node for v in views}
    for view in views:
        if view.ha_cf is None:
            continue
        declared = parse_ha_cf(view.ha_cf).nodes
        if view.uname_n.lower() not in declared:
            problems.append(f"{view.node}'s uname -n is {view.uname_n}, which no `node` line of "
                            f"its ha.cf names ({', '.join(declared) or 'none'}): heartbeat "
                            "would refuse (\"Current node not in configuration\")")
        elif stray := [name for name in declared if name not in unames]:
            # a node line for no node: the peer would drop its packets as from a bad node
            problems.append(f"the `node` lines of {view.node}'s ha.cf name {', '.join(stray)}, "
                            f"which is no node's uname -n ({', '.join(unames)})")
        if view.haresources is not None:
            bad = [r.node for r in parse_haresources(view.haresources) if r.node not in declared]
            if bad:
                problems.append(f"{view.node}'s haresources names {', '.join(bad)}, not a "
                                "`node` of ha.cf (\"Bad nodename in haresources\")")
    return problems


def _placement(views: Sequence[HeartbeatView], domus: Sequence[DomU],
               starting: set[str]) -> list[str]:
    """A DomU must not run away from its home node when heartbeat starts there."""
    problems = []
    for domu in domus:
        where = [v.node for v in views if domu.name in v.domus_running]
        if len(where) > 1:
            problems.append(f"{domu.name} runs on {' and '.join(where)}: on the same disks")
        elif where and where[0] != domu.home and domu.home in starting:
            problems.append(f"{domu.name} runs on {where[0]} but its home is {domu.home}: "
                            f"heartbeat on {domu.home} would start a second copy there; "
                            f"migrate it home first (xm migrate {domu.name} ... --live) or "
                            "shut it down")
    return problems


def start_refusals(views: Sequence[HeartbeatView], domus: Sequence[DomU],
                   starting: set[str]) -> list[str]:
    """Why heartbeat must not be started (or reloaded) on the cluster now; empty when it may."""
    problems = [f"heartbeat is not installed on {v.node}" for v in views if not v.installed]
    problems += _same_files(views)
    problems += _node_names(views)
    problems += [f"DRBD on {v.node}: {p}" for v in views for p in v.drbd_problems]
    problems += _placement(views, domus, starting)
    return problems


@dataclass(frozen=True)
class StartHeartbeat:
    """/etc/init.d/heartbeat start (or reload: ``heartbeat -r`` keeps the resources), then wait
    for the peer active and this node's group held (its home DomUs running): both nodes act in
    the same step, each waits for the other."""

    peer_fqdn: str
    home_domus: tuple[str, ...]
    timeout_s: int
    verb: str = "start"

    def describe(self) -> str:
        return f"run: {HEARTBEAT_INIT} {self.verb} (then wait for {self.peer_fqdn} active, " \
               f"at most {self.timeout_s}s)"

    def apply(self, node: NodeChanger) -> str:
        generation = node.fact(HB_GENERATION)
        began = time.monotonic()
        node.note(f"heartbeat {self.verb}")
        node.change(f"{HEARTBEAT_INIT} {self.verb}", timeout=120)
        if self.verb == "reload":
            wait_for_restart(node, generation)
        active_after: float | None = None
        seen = "no answer yet"
        while (waited := time.monotonic() - began) < self.timeout_s:
            try:
                facts = node.facts(HB_STATUS, nodestatus(self.peer_fqdn), RSC_STATUS, XM_LIST)
                peer, held = facts.get(nodestatus(self.peer_fqdn)), facts.get(RSC_STATUS)
                guests = running(facts.get(XM_LIST))
            except FactError as exc:  # cl_status answers only once heartbeat has signed on
                seen = exc.reason
            else:
                seen = f"{self.peer_fqdn} {peer}, resources {held}"
                if peer == "active" and active_after is None:
                    active_after = waited
                if active_after is not None and held in ("local", "all") and all(
                        d in guests for d in self.home_domus):
                    done = "started" if self.verb == "start" else "reloaded (its files changed)"
                    return (f"{done} heartbeat: {self.peer_fqdn} active after "
                            f"{active_after:.1f}s, own group held ({held}) after {waited:.1f}s")
            node.note(f"waiting for heartbeat ({seen})")
            time.sleep(POLL_S)
        raise StepFailed(f"heartbeat {self.verb} ran but after {self.timeout_s}s: {seen} (want "
                         f"{self.peer_fqdn} active and this node's group held; see "
                         "/var/log/ha-debug)")


def wait_for_restart(node: NodeChanger, generation: str | None) -> None:
    """A reload signals heartbeat, which restarts itself in place (a new generation) when its
    ha.cf changed: until then cl_status still answers from the old one, so wait for it."""
    began = time.monotonic()
    while time.monotonic() - began < RESTART_WAIT_S:
        if node.fact(HB_GENERATION) != generation:
            return
        node.note("waiting for heartbeat to restart with its new files")
        time.sleep(POLL_S / 2)
    # no restart: heartbeat re-read the files in place (authkeys alone needs none)


def plan_start(here: str, views: Mapping[str, HeartbeatView], rewritten: set[str],
               hb: HeartbeatSettings, nodes: Mapping[str, NodeSettings],
               domus: Sequence[DomU]) -> Plan:
    """Start heartbeat where it is stopped (reload it where this run rewrote its files), or
    refuse with every reason; nothing when it runs on every node with its files unchanged."""
    missing_views = [n for n in nodes if n not in views]
    if missing_views:
        raise StepFailed(f"no state read from {', '.join(missing_views)} (the inspect step)")
    ordered = [views[n] for n in nodes]
    starting = {v.node for v in ordered if not v.running}
    reloading = {n for n in rewritten if views[n].running}
    predictions = [p for v in ordered for p in v.predictions if v.node == here]
    if not starting and not reloading:
        return plan_of(notes=["heartbeat already running on every node"],
                       predictions=predictions)
    refusals = start_refusals(ordered, domus, starting)
    if refusals:
        raise Refused("not starting heartbeat: " + "; ".join(refusals))
    if here in starting or here in reloading:
        peer = next(n for n in nodes if n != here)
        own = tuple(d.name for d in domus if d.home == here)
        verb = "start" if here in starting else "reload"
        return plan_of([StartHeartbeat(nodes[peer].fqdn, own, hb.start_timeout_s, verb)],
                       predictions=predictions)
    return plan_of(notes=[f"heartbeat already running here; starting on "
                          f"{', '.join(sorted(starting)) or 'no node'}"],
                   predictions=predictions)


def start(node: NodeReader) -> Plan:
    context = node.context
    return plan_start(node.name, context.heartbeat, context.heartbeat_rewritten,
                      settings_of(node), context.cluster.nodes, context.cluster.domus)


install_heartbeat = planned(install)
write_authkeys = planned(authkeys)
write_ha_cf = planned(ha_cf)
write_haresources = planned(haresources)
copy_resource_scripts = planned(resource_scripts)
write_xendomains_config = planned(xendomains_config)
link_auto_folders = planned(auto_folders)
remove_xendomains_rc = planned(xendomains_rc)
inspect_cluster = planned(inspect)
start_heartbeat = planned(start)
