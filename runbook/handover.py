"""The handover report: one self-contained HTML document per invocation, for an auditor.

Rendered with Jinja2 (``report_templates/handover.html.j2`` and its CSS, inlined) from the run
record and the overview sidecar (:mod:`runbook.report_overview`) alone, so ``runbook report``
renders the same document again later. Top down: the header (cluster, nodes, command line,
operator, times, tool, inventory, scope), the verdict grid and the failures, the cluster
overview and the cross-node consistency checks, the findings, what the runbooks did, the
evidence of every check (folded on screen, expanded in print), the sign-off block, and the
SHA-256 of the run record in the footer. Everything is in the HTML; the script only filters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from nornir.core import Nornir
from rich.console import Console

from runbook import consistency, report_overview
from runbook.inventory import ClusterInventory
from runbook.record import (
    CheckRecord,
    CommandRecord,
    Finding,
    RecordError,
    RunRecord,
    StepRecord,
)
from runbook.report_overview import (
    DRBD_CONF,
    ClusterIdentity,
    NodeState,
    Overview,
    folder_name,
    node_state,
    peer_offset,
)

HANDOVER_SUFFIX = ".handover.html"
OVERVIEW_SUFFIX = ".overview.json"
# The overview facts each consistency check reads (its evidence in the overview section).
VERDICT_FACTS = {"packages": ("cluster packages",), "files": ("file hashes",),
                 "clock": ("clock at start", "clock at end"), "memory": ("xm info", "xm list"),
                 "lvs": ("lvs", "cfg ", "drbd.conf devices")}
LONG_DIFF_LINES = 40  # a longer diff stays folded in print too (it is in the record in full)
CLUSTER_WIDE = "cluster"  # the grid column of checks that belong to no single node
SIGNOFF_ROLES = (("performed_by", "Performed by"), ("reviewed_by", "Reviewed by"),
                 ("accepted_by", "Accepted by"))


def handover_path(record: Path) -> Path:
    return record.with_name(record.stem + HANDOVER_SUFFIX)


def overview_path(record: Path) -> Path:
    return record.with_name(record.stem + OVERVIEW_SUFFIX)


def is_run_record(path: Path) -> bool:
    """``<stem>.json``; sidecars are ``<stem>.<what>.json`` (stems hold no dot)."""
    return path.suffixes == [".json"]


def newest_record(folder: Path) -> Path | None:
    """The newest run record in ``folder``: names start with the UTC time, so by name."""
    records = sorted(p for p in folder.glob("*.json") if is_run_record(p))
    return records[-1] if records else None


# -- pieces of the view -----------------------------------------------------------------------


@dataclass
class Cell:
    """One runbook on one node in the verdict grid."""

    passed: int = 0
    failed: int = 0  # failed or errored checks
    skipped: int = 0
    steps_failed: int = 0
    steps_changed: int = 0
    steps_done: int = 0  # ok or changed
    row_checked: bool = False  # the runbook's checks ran, in another column
    note: str = ""  # why nothing ran: "left out by --limit"
    cluster_wide: bool = False  # the column of checks that belong to no single node

    @property
    def status(self) -> str:
        if self.failed or self.steps_failed:
            return "failed"
        if self.passed:
            return "passed"
        if self.skipped:
            return "skipped"
        if self.note:
            return "not-run"
        return "none" if self.cluster_wide or self.steps_done or self.row_checked else "not-run"

    @property
    def label(self) -> str:
        parts = []
        if self.steps_failed:
            parts.append(f"{self.steps_failed} step{'s' * (self.steps_failed > 1)} failed")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.passed:
            parts.append(f"{self.passed} passed")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if parts:
            return " · ".join(parts)
        if self.cluster_wide:
            return "none"
        if self.note:
            return self.note
        if self.steps_done or self.row_checked:
            return "no checks of this node (see cluster-wide)"
        return "not run"


@dataclass
class CheckGroup:
    """A check on one node; a parametrized check's rows (one per key) grouped together."""

    runbook: str
    function: str
    node: str  # a node, or CLUSTER_WIDE
    description: str
    checks: list[CheckRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (param, plain message)

    @property
    def outcome(self) -> str:
        outcomes = {c.outcome for c in self.checks}
        for o in ("error", "failed", "passed", "skipped"):
            if o in outcomes:
                return "failed" if o == "error" else o
        return "skipped"

    @property
    def count(self) -> str:
        ok = sum(c.outcome == "passed" for c in self.checks)
        return f"{ok}/{len(self.checks)}"

    @property
    def evidence(self) -> list[CommandRecord]:
        """Each command once, even when every parameter of the check read it."""
        seen: dict[tuple[str, str, str, str], CommandRecord] = {}
        for check in self.checks:
            for cmd in check.evidence:
                seen.setdefault((cmd.host, cmd.command, cmd.stdout, cmd.stderr), cmd)
        return list(seen.values())

    @property
    def anchor(self) -> str:
        return _anchor(f"ev-{self.runbook}-{self.function}-{self.node}")


def _anchor(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)


def _function(name: str) -> str:
    return name.split("[", 1)[0]


def _param(check: CheckRecord) -> str:
    """``test_effective_setting[ha1-size]`` -> ``size``; a node-only id -> ``""``."""
    inner = check.name.partition("[")[2].removesuffix("]")
    if check.host and inner.startswith(check.host):
        inner = inner[len(check.host):].lstrip("-")
    return inner


UNSTATED = "the check failed without stating its finding (see its evidence)"
_PREFIXES = ("AssertionError: ", "Failed: ", "assert ")


def plain_message(check: CheckRecord) -> str:
    """A failure message without pytest's wrapping; an unexplained assert says so."""
    text = check.finding.strip()
    if text.startswith("assert ") or text in ("", "AssertionError"):
        return UNSTATED
    for prefix in _PREFIXES[:2]:
        text = text.removeprefix(prefix)
    return text


def check_findings(check: CheckRecord) -> list[Finding]:
    """The structured findings the plugin stored for the check (none from a plain assert)."""
    return list(check.findings)


def group_checks(checks: Iterable[CheckRecord]) -> list[CheckGroup]:
    groups: dict[tuple[str, str, str], CheckGroup] = {}
    for check in checks:
        node = check.host or CLUSTER_WIDE
        key = (check.runbook, _function(check.name), node)
        group = groups.get(key)
        if group is None:
            group = groups[key] = CheckGroup(check.runbook, key[1], node, check.description)
        group.checks.append(check)
        if check.outcome in ("failed", "error"):
            structured = check_findings(check)
            group.findings += structured
            if not structured:
                group.messages.append((_param(check), plain_message(check)))
    return list(groups.values())


@dataclass(frozen=True)
class Failure:
    """One line of "failures first": where, what, and one plain sentence."""

    node: str
    where: str  # "01-base · check: hostname is the FQDN" or "02-xen · step reboot"
    sentence: str
    anchor: str


def failures(record: RunRecord, groups: Sequence[CheckGroup]) -> list[Failure]:
    found = [Failure(s.host, f"{s.runbook} · step {s.step}",
                     s.message or "the step failed (see the commands in the step table)",
                     step_anchor(s))
             for s in record.failed_steps]
    for g in groups:
        if g.outcome != "failed":
            continue
        where = f"{g.runbook} · {g.description.rstrip('.')}"
        found += [Failure(g.node, where, f.sentence(), g.anchor) for f in g.findings]
        for param, msg in g.messages:
            if msg == UNSTATED:  # the check's own description is then the best sentence
                msg = f"{g.description.rstrip('.')}: failed, stating no finding (see its evidence)"
            found.append(Failure(g.node, g.runbook, f"{param}: {msg}" if param else msg,
                                 g.anchor))
    for host, why in sorted(record.unreachable.items()):
        found.append(Failure(host, "connection", f"{host} could not be reached: {why}", ""))
    return found


@dataclass(frozen=True)
class Shown:
    """A command of a check's evidence; ``first`` names the check that showed it before."""

    command: CommandRecord
    first: tuple[str, str] | None = None  # (label, anchor) of that earlier check


def evidence_rows(groups: Sequence[CheckGroup]) -> dict[str, list[Shown]]:
    """Each group's evidence; an output shown by an earlier check is printed there only."""
    seen: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    rows: dict[str, list[Shown]] = {}
    for g in groups:
        rows[g.anchor] = []
        for cmd in g.evidence:
            key = (cmd.host, cmd.command, cmd.stdout, cmd.stderr)
            rows[g.anchor].append(Shown(cmd, seen.get(key)))
            seen.setdefault(key, (f"{g.runbook} {g.function} on {g.node}", g.anchor))
    return rows


def grid(record: RunRecord, nodes: Sequence[str]) -> tuple[list[str], dict[str, dict[str, Cell]]]:
    """Columns (nodes, then CLUSTER_WIDE when such checks ran) and runbook -> column -> cell."""
    columns = list(nodes)
    if any(c.host is None for c in record.checks):
        columns.append(CLUSTER_WIDE)
    def new_row() -> dict[str, Cell]:
        return {col: Cell(cluster_wide=col == CLUSTER_WIDE) for col in columns}

    rows = {rb: new_row() for rb in record.invocation.runbooks}
    for c in record.checks:
        cell = rows.setdefault(c.runbook, new_row()).get(c.host or CLUSTER_WIDE)
        if cell is None:
            continue
        if c.outcome == "passed":
            cell.passed += 1
        elif c.outcome == "skipped":
            cell.skipped += 1
        else:
            cell.failed += 1
    for s in record.steps:
        cell = rows.get(s.runbook, {}).get(s.host)
        if cell is not None:
            cell.steps_failed += s.status == "failed"
            cell.steps_changed += s.status == "changed"
            cell.steps_done += s.status in ("ok", "changed")
    for per_node in rows.values():
        checked = any(c.passed or c.failed or c.skipped for c in per_node.values())
        for cell in per_node.values():
            cell.row_checked = checked
    for node in record.invocation.left_out:
        for per_node in rows.values():
            if node in per_node:
                per_node[node].note = "left out by --limit"
    return columns, rows


# -- the cluster overview -------------------------------------------------------------------------


@dataclass
class DomUView:
    name: str
    ip: str
    home: str
    runs_on: list[str]
    lvs: dict[str, list[str]]  # node -> its LVs of this DomU
    drbd: list[tuple[str, str, str, str, str]]  # (resource, node, cstate, roles, disks)


@dataclass
class ClusterView:
    identity: ClusterIdentity
    states: list[NodeState]
    offsets: dict[str, str]  # node -> "+0.002 s ± 0.004 s to ha2"
    domus: list[DomUView]
    drbd_rows: list[tuple[str, str, str, str, str]]  # resource, node, cstate, roles, disks
    drbd_note: str
    heartbeat_rows: list[tuple[str, str, str]]  # node, daemon, resources held
    groups_held: list[tuple[str, str, str]]  # group, preferred node, holder
    heartbeat_note: str
    verdicts: list[consistency.Verdict]
    gathered: datetime
    left_out: tuple[str, ...] = ()  # nodes of the inventory this invocation did not read


def _held_by(rsc: str, node: str, preferred: str) -> bool:
    return rsc == "all" or (rsc == "local" and node == preferred) or (
        rsc == "foreign" and node != preferred)


def _drbd_rows(states: Sequence[NodeState]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for s in states:
        if s.drbd is None:
            continue
        for res, row in sorted(s.drbd.rows.items()):
            rows.append((res, s.host, row.cstate, row.roles, row.disks))
    return sorted(rows)


def _heartbeat(states: Sequence[NodeState]) -> tuple[list[tuple[str, str, str]],
                                                      list[tuple[str, str, str]], str]:
    present = [s for s in states if s.heartbeat is not None]
    if not present:
        return [], [], "not installed"
    rows = [(s.host, "running" if s.heartbeat.running else "stopped",
             s.heartbeat.resources or "none") for s in present if s.heartbeat is not None]
    groups: dict[str, tuple[str, str]] = {}
    for s in states:
        for g in s.resource_groups or []:
            holders = [h.host for h in present if h.heartbeat is not None and h.heartbeat.running
                       and _held_by(h.heartbeat.resources, h.host, g.node)]
            groups.setdefault(g.resources[0], (g.node, ", ".join(holders) or "nobody"))
    return rows, [(name, p, h) for name, (p, h) in sorted(groups.items())], ""


def _lv_names(domu: str) -> tuple[str, str]:
    return f"{domu}-disk", f"{domu}-swap"


def _domus(ident: ClusterIdentity, states: Sequence[NodeState],
           drbd_rows: Sequence[tuple[str, str, str, str, str]]) -> list[DomUView]:
    views = []
    for d in ident.domus:
        used = set(_lv_names(d.name))
        resources: set[str] = set()
        for s in states:
            for disk in s.cfg_disks.get(d.name, []):
                if disk.startswith("drbd:"):
                    resources.add(disk.removeprefix("drbd:"))
                elif (ref := consistency.lv_of(disk)) is not None:
                    used.add(ref[1])
            for res, devices in (s.drbd_devices or {}).items():
                if any((ref := consistency.lv_of(dev)) and ref[1] in used for dev in devices):
                    resources.add(res)
        views.append(DomUView(
            d.name, d.ip, d.home,
            runs_on=[s.host for s in states if s.running and d.name in s.running],
            lvs={s.host: sorted(used & set(s.lvs)) if s.lvs is not None else [] for s in states},
            drbd=[r for r in drbd_rows if r[0] in resources],
        ))
    return views


def verdicts(ident: ClusterIdentity, states: Sequence[NodeState],
             clock_limit_s: float = consistency.DEFAULT_CLOCK_SKEW_LIMIT_S
             ) -> list[consistency.Verdict]:
    """The cross-node checks over the nodes' parsed facts."""
    names = " and ".join(s.host for s in states)
    missing = [s.host for s in states if s.unreachable]
    pair = len(states) == 2 and not missing
    if missing:
        why = f"needs both nodes' facts: {', '.join(missing)} could not be read"
    elif len(states) != 2:
        why = f"needs both nodes' facts: only {names or 'no node'} was read (--limit)"
    else:
        why = ""
    out: list[consistency.Verdict] = []

    def add(name: str, title: str, compared: str, needed: list[object],
            run: Callable[[], list[Finding]]) -> None:
        if why:
            out.append(consistency.Verdict(name, title, compared, unavailable=why))
        elif any(v is None for v in needed):
            out.append(consistency.Verdict(name, title, compared,
                                           unavailable="a fact it needs could not be read"))
        else:
            out.append(consistency.Verdict(name, title, compared, tuple(run())))

    pk = {s.host: s.packages for s in states}
    count = len({p for v in pk.values() for p in (v or {})})
    add("packages", "Same package versions on both nodes",
        f"{count} installed cluster packages on {names}", list(pk.values()),
        lambda: consistency.package_versions({h: v or {} for h, v in pk.items()}))
    hs = {s.host: s.hashes for s in states}
    add("files", "Identical drbd.conf, ha.cf, haresources, authkeys, xen-tools.conf and DomU "
        "cfgs", "by SHA-256, contents never shown", list(hs.values()),
        lambda: consistency.file_hashes({h: v or {} for h, v in hs.items()}))
    offset = peer_offset(states[0], states[1]) if pair else None
    add("clock", f"Clocks within {clock_limit_s:g} s of each other",
        "each node's clock read at the start and the end of its round trip", [offset],
        lambda: consistency.clock_skew(offset.offset_s, offset.uncertainty_s, clock_limit_s,
                                       (states[0].host, states[1].host)) if offset else [])
    free = {s.host: s.free_mib for s in states}
    memory = {d.name: float(d.memory_mib) for d in ident.domus}
    for s in states:
        for name, mib in (s.running or {}).items():
            if name in memory:
                memory[name] = float(mib)
    add("memory", "N+1 memory: either node can run every DomU if the other fails",
        f"Xen free memory against {len(memory)} DomU(s)",
        [*free.values(), *(s.running for s in states)],
        lambda: consistency.n_plus_one({h: float(v or 0) for h, v in free.items()},
                                       {s.host: {k: float(v) for k, v in (s.running or {}).items()}
                                        for s in states}, memory))
    used = [disk for s in states for disks in s.cfg_disks.values() for disk in disks]
    used += [dev for s in states for devs in (s.drbd_devices or {}).values() for dev in devs]
    owned = [lv for d in ident.domus for lv in _lv_names(d.name)]
    add("lvs", f"Every LV of volume group {ident.vg or '?'} belongs to a DomU or DRBD",
        "LVs against the DomU cfgs, drbd.conf and the inventory's DomUs",
        [ident.vg or None, *(s.lvs for s in states),
         *(None if _unread(s, DRBD_CONF.name, "cfg ") else True for s in states)],
        lambda: consistency.unused_lvs(ident.vg, {s.host: s.lvs or [] for s in states}, used,
                                       owned))
    return out


def _unread(state: NodeState, *facts: str) -> bool:
    """Whether one of these facts (a name, or a prefix ending in a blank) was not read."""
    return any(p == f or (f.endswith(" ") and p.startswith(f)) for p in state.problems
               for f in facts)


def cluster_view(overview: Overview) -> ClusterView:
    ident = overview.cluster
    states = [node_state(overview.reads[n.name], ident) for n in ident.nodes
              if n.name in overview.reads]
    offsets: dict[str, str] = {}
    if len(states) == 2:
        off = peer_offset(states[0], states[1])
        if off is not None:
            a, b = states[0].host, states[1].host
            offsets[a] = f"{-off.offset_s:+.3f} s ± {off.uncertainty_s:.3f} s to {b}"
            offsets[b] = f"{off.offset_s:+.3f} s ± {off.uncertainty_s:.3f} s to {a}"
    drbd_rows = _drbd_rows(states)
    installed = any(s.drbd_installed for s in states)
    hb_rows, held, hb_note = _heartbeat(states)
    return ClusterView(
        identity=ident, states=states, offsets=offsets,
        domus=_domus(ident, states, drbd_rows), drbd_rows=drbd_rows,
        drbd_note="" if drbd_rows else ("installed, no resource configured" if installed
                                        else "not installed"),
        heartbeat_rows=hb_rows, groups_held=held, heartbeat_note=hb_note,
        verdicts=verdicts(ident, states), gathered=overview.gathered,
        left_out=tuple(n.name for n in ident.nodes if n.name not in overview.reads),
    )


# -- drills ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    """The figures of the newest ``runbook drill`` record (its top-level ``drill`` object)."""

    record: str
    started: str
    scenario: str
    downtime_s: float | None
    time_to_recover_s: float | None


def last_drill(folder: Path) -> Drill | None:
    """Contract for `runbook drill`: its record's invocation.mode is "drill" and it carries
    ``"drill": {"scenario": str, "downtime_s": float, "time_to_recover_s": float}``."""
    for path in sorted((p for p in folder.glob("*-drill-*.json") if is_run_record(p)),
                       reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        drill = data.get("drill") if isinstance(data, dict) else None
        if not isinstance(drill, dict):
            continue

        def number(key: str, d: dict[str, Any] = drill) -> float | None:
            value = d.get(key)
            return float(value) if isinstance(value, int | float) else None

        started = str(data.get("invocation", {}).get("started", ""))
        return Drill(path.name, started, str(drill.get("scenario", "")), number("downtime_s"),
                     number("time_to_recover_s"))
    return None


# -- rendering ------------------------------------------------------------------------------------


@dataclass
class SignOff:
    performed_by: str = ""
    reviewed_by: str = ""
    accepted_by: str = ""
    change: str = ""

    def given(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def merged(self, fallback: dict[str, str]) -> SignOff:
        """These values, each empty one taken from ``fallback`` (the inventory's)."""
        return SignOff(*(getattr(self, k) or fallback.get(k, "") for k in
                         ("performed_by", "reviewed_by", "accepted_by", "change")))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runbook", "report_templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["utc"] = lambda t: f"{t:%Y-%m-%d %H:%M:%S} UTC" if t else "still running"
    env.filters["mib"] = lambda v: "unknown" if v is None else f"{v:,.0f} MiB"
    return env


def _css() -> str:
    return resources.files("runbook").joinpath("report_templates/handover.css").read_text(
        encoding="utf-8")


def _duration(record: RunRecord) -> str:
    end = record.invocation.ended
    if end is None:
        return "did not end"
    seconds = (end - record.invocation.started).total_seconds()
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s" if seconds >= 60 else f"{seconds:.1f} s"


@dataclass
class StepRow:
    """A row of "what the runbooks did": one step on one node, or the steps a node skipped
    for one reason (after a failure every later step says the same)."""

    steps: list[str]
    host: str
    status: str
    message: str
    plan: list[str] = field(default_factory=list)
    diff: str = ""
    anchor: str = ""


def step_anchor(step: StepRecord) -> str:
    return _anchor(f"step-{step.runbook}-{step.step}-{step.host}")


def steps_by_runbook(steps: Sequence[StepRecord]) -> dict[str, list[StepRow]]:
    out: dict[str, list[StepRow]] = {}
    skipped: dict[tuple[str, str, str], StepRow] = {}
    for s in steps:
        rows = out.setdefault(s.runbook, [])
        if s.status == "skipped":
            key = (s.runbook, s.host, s.message)
            if key in skipped:
                skipped[key].steps.append(s.step)
                continue
            skipped[key] = StepRow([s.step], s.host, s.status, s.message)
            rows.append(skipped[key])
            continue
        rows.append(StepRow([s.step], s.host, s.status, s.message, list(s.plan), s.diff,
                            step_anchor(s)))
    return out


def consistency_failures(view: ClusterView | None) -> list[Failure]:
    if view is None:
        return []
    return [Failure(f.node or CLUSTER_WIDE, f"consistency · {v.title}", f.sentence(),
                    "consistency") for v in view.verdicts for f in v.findings]


def _verdict_line(record: RunRecord, fails: Sequence[Failure],
                  cluster_fails: Sequence[Failure]) -> tuple[str, str]:
    interrupted = getattr(record, "interrupted", None)
    if interrupted is not None:
        line = interrupted.line() if hasattr(interrupted, "line") else "interrupted"
        return "failed", f"Not accepted: the run was {line}."
    if record.invocation.ended is None:
        return "failed", "Not accepted: the run did not complete (the record has no end time)."
    if not fails and record.passed:
        t = record.totals
        what = f"all {t.checks['passed']} checks passed"
        if record.steps:
            what = f"every step succeeded and {what}"
        if cluster_fails:
            n = len(cluster_fails)
            return "attention", (f"Passed: {what}. Cross-node consistency: {n} finding"
                                 f"{'s' * (n != 1)} to review (section 4).")
        return "passed", f"Passed: {what}."
    nodes = sorted({"cluster-wide" if f.node == CLUSTER_WIDE else f.node for f in fails})
    more = f" (and {len(cluster_fails)} cross-node)" if cluster_fails else ""
    return "failed", (f"Failed: {len(fails)} finding{'s' * (len(fails) != 1)}{more} on "
                      f"{', '.join(nodes)}; details below.")


def render(record: RunRecord, *, record_name: str, record_sha256: str,
           overview: Overview | None, overview_sha256: str = "", drill: Drill | None = None,
           signoff: SignOff | None = None, html_report: str = "",
           generated: datetime | None = None) -> str:
    """The handover document as one HTML string (styles inlined, no external resource)."""
    info = record.invocation
    view = cluster_view(overview) if overview is not None else None
    if view is not None:
        nodes = [n.name for n in view.identity.nodes]
    else:
        nodes = [*info.hosts, *(n for n in info.left_out if n not in info.hosts)]
    groups = group_checks(record.checks)
    fails = failures(record, groups)
    cluster_fails = consistency_failures(view)
    columns, rows = grid(record, nodes)
    status, verdict = _verdict_line(record, fails, cluster_fails)
    # the options of `runbook report`, then those the run was given, then the inventory's
    sign = (signoff or SignOff()).merged(overview.signoff if overview else {}).merged(
        view.identity.signoff if view else {})
    if not sign.performed_by:
        sign.performed_by = info.operator
    context = {
        "css": _css(), "record": record, "info": info, "command_line": shlex.join(
            info.command_line), "duration": _duration(record), "nodes": nodes,
        "view": view, "columns": columns, "rows": rows, "cluster_wide": CLUSTER_WIDE,
        "failures": [*fails, *cluster_fails], "status": status, "verdict": verdict,
        "cluster_name": view.identity.name if view else folder_name(
            Path(info.inventory_folder)),
        "long_diff": LONG_DIFF_LINES,
        "groups": groups, "evidence": evidence_rows(groups),
        "failed_groups": [g for g in groups if g.outcome == "failed"],
        "steps": steps_by_runbook(record.steps), "totals": record.totals,
        "record_name": record_name, "record_sha256": record_sha256,
        "overview_sha256": overview_sha256, "drill": drill, "signoff": sign,
        "signoff_roles": SIGNOFF_ROLES, "html_report": html_report,
        "generated": generated or datetime.now(UTC),
        "title": _title(record, view),
        "overview_commands": lambda host: _overview_commands(overview, host),
        "verdict_evidence": lambda name: _verdict_evidence(overview, name),
    }
    return _environment().get_template("handover.html.j2").render(context)


def evidence_anchor(host: str, fact: str) -> str:
    return _anchor(f"ov-{host}-{fact}")


def _overview_commands(overview: Overview | None,
                       host: str) -> list[tuple[str, CommandRecord]]:
    """(anchor, command) of each overview fact read on ``host``."""
    if overview is None or host not in overview.reads:
        return []
    return [(evidence_anchor(host, name), cmd)
            for name, cmd in overview.reads[host].results.items()]


def _verdict_evidence(overview: Overview | None, verdict: str) -> list[tuple[str, str]]:
    """(label, anchor) of the overview commands a consistency check compared."""
    if overview is None:
        return []
    wanted = VERDICT_FACTS.get(verdict, ())
    return [(f"{host}: {name}", evidence_anchor(host, name))
            for host, read in overview.reads.items() for name in read.results
            if any(name == w or (w.endswith(" ") and name.startswith(w)) for w in wanted)]


def _title(record: RunRecord, view: ClusterView | None) -> str:
    info = record.invocation
    cluster = view.identity.name if view else folder_name(Path(info.inventory_folder))
    modes = {"run": "Run and verification", "verify": "Verification", "drill": "Failover drill"}
    what = "Dry run" if info.dry_run else modes.get(info.mode, info.mode.capitalize())
    return f"{what} of {', '.join(info.runbooks)} on cluster {cluster}"


def write_handover(record_path: Path, signoff: SignOff | None = None) -> Path:
    """Render the handover document of the record at ``record_path``; return its path."""
    data = record_path.read_bytes()
    record = RunRecord.from_json(data.decode("utf-8"))
    overview = None
    sidecar = overview_path(record_path)
    overview_sha = ""
    if sidecar.exists():
        raw = sidecar.read_bytes()
        overview_sha = hashlib.sha256(raw).hexdigest()
        try:
            overview = Overview.from_json(raw.decode("utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordError(f"{sidecar}: unreadable overview ({exc})") from None
    html_report = record_path.with_suffix(".html")
    document = render(
        record, record_name=record_path.name, record_sha256=hashlib.sha256(data).hexdigest(),
        overview=overview, overview_sha256=overview_sha, drill=last_drill(record_path.parent),
        signoff=signoff, html_report=html_report.name if html_report.exists() else "",
    )
    target = handover_path(record_path)
    target.write_text(document, encoding="utf-8")
    return target


# -- the command line -----------------------------------------------------------------------------


def add_signoff_arguments(parser: argparse.ArgumentParser) -> None:
    """``--signoff-performed-by`` ... : names for the sign-off block (else the inventory's
    ``data.signoff``; performed by defaults to the operator)."""
    group = parser.add_argument_group("handover report sign-off")
    for key, label in (*SIGNOFF_ROLES, ("change", "Change or ticket reference")):
        group.add_argument(f"--signoff-{key.replace('_', '-')}", default="", metavar="TEXT",
                           dest=f"signoff_{key}", help=f"{label} (handover report)")


def signoff_of(args: argparse.Namespace) -> SignOff:
    return SignOff(*(str(getattr(args, f"signoff_{k}", "") or "") for k in
                     ("performed_by", "reviewed_by", "accepted_by", "change")))


def report_command(args: argparse.Namespace, console: Console) -> int:
    """Render the handover document again; 0 done, 2 no such record or an unreadable one."""
    path: Path | None = args.record or newest_record(args.report_dir)
    if path is None:
        console.print(f"[red]error:[/red] no run record in {args.report_dir}", highlight=False)
        return 2
    if not path.is_file():
        console.print(f"[red]error:[/red] no such run record: {path}", highlight=False)
        return 2
    try:
        target = write_handover(path, signoff_of(args))
    except (RecordError, OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]error:[/red] {path}: {exc}", highlight=False)
        return 2
    console.print(str(target), highlight=False, soft_wrap=True)
    return 0


def after_invocation(nr: Nornir, cluster: ClusterInventory, hosts: Sequence[str],
                     record_path: Path, signoff: SignOff, console: Console, *,
                     read_overview: bool = True) -> Path | None:
    """At the end of ``run``/``verify``: read the overview (one round trip per node), store it
    beside the record and render the handover document. A failure here never fails the run:
    it is said, and the document is rendered without the overview. An interrupted run reads
    nothing more from the nodes (``read_overview=False``)."""
    try:
        if read_overview:
            overview = report_overview.gather(nr, cluster, hosts)
            overview.signoff = signoff.given()
            report_overview.write(overview, overview_path(record_path))
    except Exception as exc:
        console.print(f"[yellow]handover: the cluster overview was not read: {exc}[/yellow]",
                      highlight=False)
    try:
        return write_handover(record_path, signoff)
    except Exception as exc:
        console.print(f"[yellow]handover: the report was not written: {exc}[/yellow]",
                      highlight=False)
        return None
