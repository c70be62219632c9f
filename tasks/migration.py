"""The guide's "Configure Live Migration": xend's relocation server, a restart that keeps the
DomUs running, and the live migration test with its downtime measured by a prober.

The relocation server is narrower than the guide's by default (inventory ``migration``): it
listens on the node's crossover address and accepts only the peer's crossover name and address.
A migration is refused while the DomU's DRBD resources are not Connected and
UpToDate/UpToDate, or while /etc/drbd.conf lacks ``allow-two-primaries`` for one of them (the
target's block-drbd makes the resource Primary while the source still is).

Each leg of the test (home -> peer over the peer's crossover name, then back) runs once: its
result is kept on the sending node in /var/lib/runbook/migration-NAME-LEG.json (the checks read
it) and in the step's plan as a ``measured:`` line of the run record.
"""

from __future__ import annotations

import datetime
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from nornir.core.task import Result, Task

from runbook import interrupt, remote
from runbook.engine import Refused, StepFailed
from runbook.facts import FactFailed
from runbook.facts.domu import Placement, cfg_path
from runbook.facts.drbd import PROC_DRBD
from runbook.facts.migration import (
    DRBD_CONF_PATH,
    DRBD_CONF_SECTIONS,
    LISTENING,
    MARKER_DIR,
    XEND_AGE,
    XEND_CONFIG_PATH,
    XEND_CONFIG_TEXT,
    LegResult,
    XendAge,
    leg_marker,
    marker_path,
)
from runbook.facts.xen import XM_LIST, xm_listed
from runbook.inventory import DomU, DrbdResource, MigrationSettings, NodeSettings
from runbook.parsers.drbd import ProcDrbd
from runbook.parsers.migration import (
    ConfSection,
    Probe,
    allows_two_primaries,
    comment_out,
    exact_host_regex,
    parse_probe,
    set_xend_settings,
    sxp_quote,
)
from runbook.parsers.xen import running
from runbook.plan import (
    NodeChanger,
    NodeReader,
    Plan,
    PlannedTask,
    plan_of,
    planned,
    required,
    write_file,
)
from runbook.tasks.domu import BOOT_WAIT_S, XM_CREATE_WAIT_S, wait_for_domain, wait_for_ping
from runbook.tasks.drbd import device_of, in_sync, state_words

LISTEN_WAIT_S = 30.0
POLL_S = 0.5
SETTLE_S = 1.0  # the prober goes on this long after the DomU answers again on the target


def settings_of(node: NodeReader) -> MigrationSettings:
    return required(node.settings.migration, "migration")


# -- xend-config.sxp ------------------------------------------------------------------------
def relocation_address(settings: MigrationSettings, node: NodeSettings) -> str:
    """The address xend binds relocation to: '' is every interface (the guide's)."""
    if settings.relocation_address == "crossover":
        return str(node.crossover.address)
    return "" if settings.open_address else settings.relocation_address


def hosts_allow(settings: MigrationSettings, peer: NodeSettings) -> str | None:
    """The hosts-allow value; None when the line is to be commented out (every host)."""
    if settings.open_hosts:
        return None
    if settings.hosts_allow == "peer":
        return " ".join((exact_host_regex(peer.crossover_name),
                         exact_host_regex(str(peer.crossover.address))))
    return " ".join(settings.hosts_allow)


def xend_config_text(current: str, settings: MigrationSettings, node: NodeSettings,
                     peer: NodeSettings) -> str:
    """xend-config.sxp with relocation set as the inventory says, the rest as it was."""
    wanted = {"xend-relocation-server": "yes",
              "xend-relocation-port": str(settings.relocation_port),
              "xend-relocation-address": sxp_quote(relocation_address(settings, node))}
    allow = hosts_allow(settings, peer)
    if allow is None:
        return comment_out(set_xend_settings(current, wanted), "xend-relocation-hosts-allow")
    return set_xend_settings(current, {**wanted,
                                       "xend-relocation-hosts-allow": sxp_quote(allow)})


def plan_xend_config(current: str | None, settings: MigrationSettings, node: NodeSettings,
                     peer: NodeSettings, dry_run: bool) -> Plan:
    if current is None:
        if dry_run:
            return plan_of(predictions=[f"predicted ({XEND_CONFIG_PATH} does not exist yet: "
                                        "02-xen installs it): relocation set in it"])
        raise StepFailed(f"{XEND_CONFIG_PATH} does not exist: is Xen installed (02-xen)?")
    wanted = xend_config_text(current, settings, node, peer)
    notes = [f"{XEND_CONFIG_PATH}: relocation already set"]
    return plan_of(write_file(XEND_CONFIG_PATH, current, wanted), notes=notes)


def xend_config(node: NodeReader) -> Plan:
    """Relocation on, on the inventory's port and address, open only to the peer."""
    peer = node.context.node(node.peer)
    return plan_xend_config(node.fact(XEND_CONFIG_TEXT), settings_of(node), node.settings, peer,
                            node.dry_run)


# -- xend restart -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RestartXend:
    """/etc/init.d/xend restart (a reload has no effect), keeping the DomUs running."""

    guests: frozenset[str]
    address: str
    port: int

    def describe(self) -> str:
        if not self.guests:
            return "run: /etc/init.d/xend restart (no DomU runs here now)"
        return (f"run: /etc/init.d/xend restart ({', '.join(sorted(self.guests))} must stay "
                "running)")

    def apply(self, node: NodeChanger) -> str:
        node.note("restarting xend")
        node.change("/etc/init.d/xend restart", timeout=120)
        listening = wait_for_listener(node, self.address, self.port)
        after = frozenset(running(node.fact(XM_LIST)))
        lost = sorted(self.guests - after)
        if lost:
            raise StepFailed(f"after the xend restart {', '.join(lost)} no longer run(s) here")
        kept = ", ".join(sorted(self.guests)) or "no DomU was running"
        return f"restarted xend, relocation on {listening}; {kept} still running" if \
            self.guests else f"restarted xend, relocation on {listening} ({kept})"


def wait_for_listener(node: NodeReader, address: str, port: int) -> str:
    """Until a socket listens on ``address``:``port`` ('' is every address)."""
    wanted = address or "0.0.0.0"
    began = time.monotonic()
    while True:
        found = node.fact(LISTENING)
        if (wanted, port) in found:
            return f"{wanted}:{port}"
        if time.monotonic() - began > LISTEN_WAIT_S:
            on_port = [f"{a}:{p}" for a, p in found if p == port] or ["nothing"]
            raise StepFailed(f"after the xend restart nothing listens on {wanted}:{port} "
                             f"(on port {port}: {', '.join(on_port)}; see /var/log/xen/xend.log)")
        node.note(f"waiting for xend to listen on {wanted}:{port}")
        interrupt.pause(POLL_S)


def plan_restart(age: XendAge, guests: frozenset[str], listening: list[tuple[str, int]],
                 address: str, port: int, config_changed: bool) -> Plan:
    """Restart when xend predates its config (or the config step is about to change it), is
    not running, or does not listen where the config says; otherwise nothing to do."""
    wanted = (address or "0.0.0.0", port)
    if not config_changed and age.running and not age.stale and wanted in listening:
        return plan_of(notes=[f"xend read the current config and listens on "
                              f"{wanted[0]}:{port}"])
    return plan_of([RestartXend(guests, address, port)])


def restart(node: NodeReader) -> Plan:
    settings = settings_of(node)
    facts = node.facts(XEND_AGE, XM_LIST, LISTENING)
    address = relocation_address(settings, node.settings)
    try:
        guests = frozenset(running(facts.get(XM_LIST)))
    except FactFailed:
        if not node.dry_run:
            raise
        return plan_of(predictions=["predicted (xm list does not answer yet: Xen is not "
                                    "running): run /etc/init.d/xend restart"])
    # A dry run wrote no config: if the config step would change it, the restart follows.
    changed = node.dry_run and bool(xend_config(node))
    return plan_restart(facts.get(XEND_AGE), guests, facts.get(LISTENING), address,
                        settings.relocation_port, changed)


# -- DomUs on their home node -------------------------------------------------------------------
@dataclass(frozen=True)
class StartDomU:
    """xm create on the home node, seen in xm list and answering ping (left running)."""

    domu: DomU

    def describe(self) -> str:
        return f"run: xm create {cfg_path(self.domu)} (then wait for ping {self.domu.ip})"

    def apply(self, node: NodeChanger) -> str:
        name = self.domu.name
        node.note(f"starting {name}")
        node.change(remote.quote("xm", "create", cfg_path(self.domu)), timeout=XM_CREATE_WAIT_S)
        wait_for_domain(node, name, True, BOOT_WAIT_S)
        waited = wait_for_ping(node, name, str(self.domu.ip), self.domu.boot_timeout_s)
        return f"{name}: started, answers ping at {self.domu.ip} after {waited:.0f}s"


def plan_start(domu: DomU, here: Placement | None, peer: Placement | None,
               peer_name: str) -> Plan:
    """A DomU running nowhere is started on its home; one running anywhere is left alone."""
    if peer is None or here is None:
        raise Refused(f"cannot tell where {domu.name} runs (no placement from both nodes); "
                      f"not starting it")
    if domu.name in here.running:
        return plan_of(notes=[f"{domu.name} runs here, on its home node"])
    if domu.name in peer.running:
        return plan_of(notes=[f"{domu.name} runs on {peer_name}; the test brings it home"])
    return plan_of([StartDomU(domu)])


def start_domus(node: NodeReader) -> Plan:
    mine = [d for d in node.context.cluster.domus if d.home == node.name]
    if not mine:
        return plan_of(notes=["no DomU has this node as home"])
    plan = plan_of()
    for domu in mine:
        plan += plan_start(domu, node.context.placements.get(node.name),
                           node.context.placements.get(node.peer), node.peer)
    return plan


# -- the prober -------------------------------------------------------------------------------
class Prober(Protocol):
    """Pings the DomU at a fixed interval while it moves; ``stop`` returns the log."""

    def start(self) -> None: ...

    def stop(self) -> str: ...


def probe_command(ip: str, interval_s: float) -> list[str]:
    return ["ping", "-D", "-n", "-i", f"{interval_s:g}", ip]


@dataclass
class NodeProber:
    """ping on a node (in the background of its shell), logging to a file there."""

    node: NodeChanger
    ip: str
    interval_s: float
    log: str
    pid: str = ""
    stopped: str | None = None

    def start(self) -> None:
        log = remote.quote(self.log)
        ping = remote.quote(*probe_command(self.ip, self.interval_s))
        started = self.node.change(
            f"mkdir -p {MARKER_DIR} && {{ echo \"# probe started $(date +%s.%N)\"; "
            f"exec {ping}; }} > {log} 2>&1 < /dev/null & echo $!",
            display=f"start prober: {ping} > {self.log} (in the background)")
        self.pid = started.stdout.strip().splitlines()[-1]
        if not self.pid.isdigit():
            raise StepFailed(f"the prober did not start: {started.stdout.strip()!r}")

    def stop(self) -> str:
        if self.stopped is not None:  # stopping twice reads the same log
            return self.stopped
        log = remote.quote(self.log)
        stopped = self.node.change(
            f"t=$(date +%s.%N); kill -INT {self.pid}; i=0; while kill -0 {self.pid} 2>/dev/null "
            f"&& [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; "
            f"echo \"# probe stopped $t\" >> {log}; cat {log}",
            display=f"stop prober {self.pid}, read {self.log}")
        self.stopped = stopped.stdout
        return self.stopped


def probe_script(ip: str, interval_s: float) -> str:
    """A POSIX sh script that pings ``ip`` until a line arrives on its stdin, then stops ping
    with SIGINT (so it prints its statistics); the marks use the prober's own clock, as the
    ping -D stamps do."""
    ping = remote.quote(*probe_command(ip, interval_s))
    return (f"echo \"# probe started $(date +%s.%N)\"; {ping} & p=$!; read x; "
            "t=$(date +%s.%N); kill -INT $p; wait $p; echo \"# probe stopped $t\"")


def prober_argv(settings: MigrationSettings, ip: str) -> list[str]:
    """The local command of a prober on the control machine or, over ssh, on a named host."""
    script = probe_script(ip, settings.probe_interval_s)
    if settings.prober_from == "host":
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p",
                str(settings.prober_port), settings.prober_host, script]
    return ["sh", "-c", script]


@dataclass
class CommandProber:
    """A prober run from the control machine: there (``sh -c``), or on a named host through
    the control machine's ssh client (key-based; BatchMode never asks for a password)."""

    argv: list[str]
    process: subprocess.Popen[str] | None = None
    stopped: str | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
                                        text=True)

    def stop(self) -> str:
        assert self.process is not None
        if self.stopped is not None:
            return self.stopped
        try:
            out, _ = self.process.communicate(input="\n", timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.stopped = out
        return out


def make_prober(node: NodeChanger, settings: MigrationSettings, domu: DomU) -> Prober:
    if settings.prober_from in ("control", "host"):
        return CommandProber(prober_argv(settings, str(domu.ip)))
    return NodeProber(node, str(domu.ip), settings.probe_interval_s,
                      f"{MARKER_DIR}/probe-{domu.name}.log")


# -- the migration test -----------------------------------------------------------------------
MEASURED: dict[str, list[str]] = {}  # host -> "measured: ..." lines of the running step
_MEASURED_LOCK = threading.Lock()


def probe_summary(log: str, interval_s: float) -> str:
    try:
        return parse_probe(log, interval_s).summary()
    except ValueError as exc:
        return f"no reading ({exc})"


def measured_line(leg: LegResult) -> str:
    return (f"measured: {leg.domu} {leg.source} -> {leg.target} "
            f"longest_gap_s={leg.longest_gap_s:.3f} lost={leg.lost} "
            f"transmitted={leg.transmitted} interval_s={leg.interval_s:g}")


@dataclass(frozen=True)
class LiveMigrate:
    """``xm migrate NAME HOST --live`` with a prober pinging the DomU the whole time."""

    domu: DomU
    leg: str
    target: str  # the inventory node
    target_host: str  # the name xm migrate is given: the target's crossover name
    settings: MigrationSettings

    @property
    def command(self) -> str:
        port = self.settings.relocation_port
        extra = [] if port == 8002 else ["-p", str(port)]
        return remote.quote("xm", "migrate", self.domu.name, self.target_host, "--live", *extra)

    def describe(self) -> str:
        where = self.settings.prober_host if self.settings.prober_from == "host" else \
            self.settings.prober_from
        return (f"run: {self.command} (prober: ping {self.domu.ip} every "
                f"{self.settings.probe_interval_s:g} s from {where})")

    def apply(self, node: NodeChanger) -> str:
        prober = make_prober(node, self.settings, self.domu)
        prober.start()
        try:
            probe = self.migrate(node, prober)
        except BaseException:
            prober.stop()  # never leave a ping running on the node, whatever happened
            raise
        result = self.record(node, probe)
        with _MEASURED_LOCK:
            MEASURED.setdefault(node.name, []).append(measured_line(result))
        if not result.within:
            raise StepFailed(f"{result.summary()}: over the inventory's limit (max_gap_s "
                             f"{self.settings.max_gap_s:g}, max_lost {self.settings.max_lost})")
        return f"migrated live: {result.summary()}"

    def migrate(self, node: NodeChanger, prober: Prober) -> Probe:
        """xm migrate, then the prober's reading once the DomU had time to answer again."""
        name = self.domu.name
        node.note(f"migrating {name} to {self.target_host}")
        try:
            node.change(self.command, timeout=self.settings.migrate_timeout_s)
        except remote.CommandFailed as exc:
            seen = probe_summary(prober.stop(), self.settings.probe_interval_s)
            where = "still runs here" if node.fact(xm_listed(name)) else "no longer runs here"
            raise StepFailed(f"{self.command} failed: {exc}; {name} {where} "
                             f"(prober: {seen})") from None
        self.wait_answer(node, prober)
        return parse_probe(prober.stop(), self.settings.probe_interval_s)

    def wait_answer(self, node: NodeChanger, prober: Prober) -> None:
        """Let the prober see the DomU answer on the target (or its silence, bounded)."""
        if node.fact(xm_listed(self.domu.name)):
            raise StepFailed(f"xm migrate exited 0 but {self.domu.name} is still listed here")
        interrupt.pause(self.settings.max_gap_s + SETTLE_S)

    def record(self, node: NodeChanger, probe: Probe) -> LegResult:
        leg = LegResult(self.domu.name, node.name, self.target,
                        datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                        probe.longest_gap_s, probe.lost, probe.transmitted, probe.interval_s,
                        self.settings.max_gap_s, self.settings.max_lost)
        path = marker_path(self.domu, self.leg)
        node.change(f"mkdir -p {MARKER_DIR} && printf '%s\\n' {remote.quote(leg.to_json())} > "
                    f"{remote.quote(path)}", display=f"write {path}")
        return leg


def refusals(domu: DomU, resources: tuple[DrbdResource, ...], proc: ProcDrbd | None,
             conf: ConfSection | None) -> list[str]:
    """Why ``domu`` must not migrate now (empty: it may)."""
    problems = []
    unready = [f"{r.name} {state_words(device_of(proc, r))}" for r in resources
               if not in_sync(device_of(proc, r))]
    if unready:
        problems.append(f"its DRBD resources must be Connected and UpToDate/UpToDate on both "
                        f"sides: {'; '.join(unready)}")
    if conf is None:
        problems.append(f"{DRBD_CONF_PATH} does not exist")
    else:
        lacking = [r.name for r in resources if not allows_two_primaries(conf, r.name)]
        if lacking:
            problems.append(f"'allow-two-primaries;' is missing from the net section of "
                            f"resource {', '.join(lacking)} (or common) in {DRBD_CONF_PATH}: "
                            "the target's block-drbd makes the resource Primary while the "
                            "source still is (set drbd.allow_two_primaries and run 06-drbd)")
    return problems


def plan_leg(domu: DomU, leg: str, here: frozenset[str], marker: LegResult | None,
             target: NodeSettings, resources: tuple[DrbdResource, ...], proc: ProcDrbd | None,
             conf: ConfSection | None, settings: MigrationSettings,
             predicted: str = "") -> Plan:
    """One leg for one DomU: done (a marker within the limits), nothing here, or migrate.

    ``predicted``: a dry run's reason to expect the DomU here when the step runs (an earlier
    step of the run starts or brings it); the DRBD refusals are still judged on what is."""
    if leg == "away" and marker is not None and marker.within:
        return plan_of(notes=[f"{leg} test already passed: {marker.summary()}"])
    if domu.name not in here and not predicted:
        note = f"{domu.name} does not run here"
        if marker is not None:
            note += f"; last {leg} test: {marker.summary()}"
        return plan_of(notes=[note])
    why = refusals(domu, resources, proc, conf)
    if why:
        raise Refused(f"not migrating {domu.name}: {'; '.join(why)}")
    migrate = LiveMigrate(domu, leg, target.name, target.crossover_name, settings)
    if domu.name not in here:
        return plan_of([migrate], predictions=[f"predicted ({predicted}): {migrate.command}"])
    return plan_of([migrate])


def dry_run_expects(node: NodeReader, domu: DomU, leg: str, marker: LegResult | None) -> str:
    """Why a dry run expects ``domu`` here when the leg runs ("" for no reason): away, the
    start step starts it here when it runs nowhere; back, the peer's away leg sends it."""
    if not node.dry_run:
        return ""
    runs_anywhere = any(domu.name in p.running for p in node.context.placements.values())
    if leg == "away" and not runs_anywhere:
        return f"start-domus starts {domu.name} here first"
    if leg == "back" and (marker is None or not marker.within) and not runs_anywhere:
        return f"{domu.home}'s away leg sends {domu.name} here first"
    return ""


def leg_plan(node: NodeReader, leg: str) -> Plan:
    """away: DomUs whose home is this node go to the peer; back: the peer's come home."""
    settings = settings_of(node)
    drbd = required(node.settings.drbd, "drbd")
    domus = [d for d in node.context.cluster.domus if (d.home == node.name) == (leg == "away")]
    if not domus:
        return plan_of(notes=[f"no DomU to migrate {leg} from here"])
    facts = node.facts(XM_LIST, PROC_DRBD, DRBD_CONF_SECTIONS,
                       *(leg_marker(d, leg) for d in domus))
    try:
        here = frozenset(running(facts.get(XM_LIST)))
    except FactFailed:
        if not node.dry_run:
            raise
        return plan_of(predictions=["predicted (xm list does not answer yet): each DomU "
                                    f"migrates {leg} live"])
    if node.dry_run and (facts.get(PROC_DRBD) is None or facts.get(DRBD_CONF_SECTIONS) is None):
        return plan_of(predictions=["predicted (DRBD is not running yet: 06-drbd starts it): "
                                    f"each DomU migrates {leg} live"])
    target = node.context.node(node.peer)
    plan = plan_of()
    for domu in domus:
        marker = facts.get(leg_marker(domu, leg))
        plan += plan_leg(domu, leg, here, marker, target, drbd.of_domu(domu.name),
                         facts.get(PROC_DRBD), facts.get(DRBD_CONF_SECTIONS), settings,
                         dry_run_expects(node, domu, leg, marker))
    return plan


def away(node: NodeReader) -> Plan:
    return leg_plan(node, "away")


def back(node: NodeReader) -> Plan:
    return leg_plan(node, "back")


@dataclass(frozen=True)
class MeasuredPlan:
    """A plan with what its actions measured: the ``measured:`` lines join the step's plan
    in the run record (runbook.engine.plan_lines)."""

    plan: Plan
    measured: tuple[str, ...]

    def describe(self) -> list[str]:
        return [*self.plan.describe(), *self.measured]


class MeasuredTask(PlannedTask):
    """A planned step whose actions measure something: their ``measured:`` lines join the
    step's plan in the run record."""

    def __call__(self, task: Task) -> Result:
        with _MEASURED_LOCK:
            MEASURED.pop(task.host.name, None)
        result = super().__call__(task)
        with _MEASURED_LOCK:
            lines = MEASURED.pop(task.host.name, [])
        if lines:
            result.plan = MeasuredPlan(result.plan, tuple(lines))  # type: ignore[attr-defined]
        return result


write_xend_config = planned(xend_config)
restart_xend = planned(restart)
start_at_home = planned(start_domus)
migrate_away = MeasuredTask(away, "away")
migrate_back = MeasuredTask(back, "back")
