"""The cluster overview of the handover report: read live, once, stored, parsed at render time.

At the end of ``run`` and ``verify`` the tool asks every node of the invocation for the
overview facts in ONE round trip (read-only commands only) and writes the raw results, with
what the inventory says about the cluster, to a sidecar JSON beside the run record
(``<stem>.overview.json``). The handover document is rendered from the record and this file
alone, so ``runbook report`` can render it again later, without the nodes or the inventory.

Parsing happens at render time, through the same :mod:`runbook.facts` the checks use; a fact
that failed is shown as unavailable with its reason, never guessed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import remote
from runbook.facts import Fact, FactError, Facts, commands, stdout_fact
from runbook.facts.lvm import LVS
from runbook.facts.system import UNAME_R, file_content
from runbook.facts.xen import XM_INFO, XM_LIST
from runbook.inventory import ClusterInventory, size_to_mib
from runbook.parsers import parse_dpkg_packages
from runbook.parsers.drbd import InitStatus, parse_init_status
from runbook.parsers.heartbeat import (
    HaResource,
    parse_haresources,
    parse_hbstatus,
    parse_rscstatus,
)
from runbook.parsers.lvm import mib, parse_report, report_command
from runbook.parsers.xen import cfg_disks, parse_domain_cfg, running
from runbook.record import CommandRecord
from runbook.remote import CommandResult, quote

SCHEMA_VERSION = 1
T = TypeVar("T")

# -- what the inventory says, kept with the facts -------------------------------------------


@dataclass(frozen=True)
class NodeIdentity:
    name: str
    fqdn: str
    lan: str  # "eth0 192.168.1.11"
    crossover: str  # "eth1 10.0.0.1 (ha1X)"


@dataclass(frozen=True)
class DomUIdentity:
    name: str
    ip: str
    home: str
    memory_mib: int  # as configured (xen-tools size of the DomU)


@dataclass(frozen=True)
class ClusterIdentity:
    """The cluster as the inventory described it when the facts were read."""

    name: str
    name_source: str  # "inventory data.cluster_name" or "inventory folder name"
    nodes: tuple[NodeIdentity, ...]
    domus: tuple[DomUIdentity, ...] = ()
    vg: str = ""  # the DomUs' volume group ("" when the inventory has no lvm section)
    signoff: dict[str, str] = field(default_factory=dict)  # inventory data.signoff


SIGNOFF_KEYS = ("performed_by", "reviewed_by", "accepted_by", "change")


def folder_name(folder: Path) -> str:
    """The inventory folder's name, or its parent's for a folder named just "inventory"
    (the lab's: .lab/NAME/inventory)."""
    path = Path(folder)
    return path.parent.name if path.name == "inventory" and path.parent.name else path.name


def identity(cluster: ClusterInventory) -> ClusterIdentity:
    name = cluster.identity.cluster_name  # validated by the inventory's identity section
    vg = next((n.lvm.vg for n in cluster.nodes.values() if n.lvm is not None), "")
    domus = []
    for d in cluster.domus:
        try:
            memory = size_to_mib(d.memory)
        except ValueError:
            memory = 0
        domus.append(DomUIdentity(d.name, str(d.ip), d.home, memory))
    return ClusterIdentity(
        name=name or folder_name(cluster.folder),
        name_source="inventory data.cluster_name" if name else "inventory folder name",
        nodes=tuple(
            NodeIdentity(n.name, n.fqdn, f"{n.lan.name} {n.lan.address}",
                         f"{n.crossover.name} {n.crossover.address} ({n.crossover_name})")
            for n in cluster.nodes.values()),
        domus=tuple(domus), vg=vg,
        signoff=dict(cluster.identity.signoff),
    )


# -- the facts ------------------------------------------------------------------------------

CLUSTER_PACKAGES = ("ntp", "lvm2", "xen-tools", "ubuntu-xen-server", "xen-utils-*",
                    "xen-hypervisor-*", "linux-image-*-xen", "drbd8-utils", "heartbeat",
                    "heartbeat-2", "bridge-utils")
HA_FILES = ("/etc/drbd.conf", "/etc/ha.d/ha.cf", "/etc/ha.d/haresources", "/etc/ha.d/authkeys",
            "/etc/xen-tools/xen-tools.conf")
NOT_INSTALLED = 5  # exit status of the wrapped DRBD and Heartbeat commands: no such tool
VG_FIELDS = ["vg_name", "vg_size", "vg_free"]


def _clock(text: str) -> float:
    value = text.strip()
    if not re.fullmatch(r"\d+\.\d+", value):
        raise ValueError(f"not seconds.nanoseconds: {value!r}")
    return float(value)


def _release(text: str | None) -> str:
    if text is None:
        raise ValueError("no /etc/lsb-release")
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "DISTRIB_DESCRIPTION":
            return value.strip().strip('"')
    raise ValueError("no DISTRIB_DESCRIPTION in /etc/lsb-release")


def parse_hashes(text: str, paths: Sequence[str]) -> dict[str, str | None]:
    """``sha256sum`` lines (``HASH  PATH``) and ``- PATH`` for a missing file, for ``paths``."""
    found: dict[str, str | None] = {}
    for line in text.splitlines():
        digest, _, path = line.partition(" ")
        path = path.lstrip(" *")
        if digest == "-":
            found[path] = None
        elif re.fullmatch(r"[0-9a-f]{64}", digest):
            found[path] = digest
        elif line.strip():
            raise ValueError(f"not a sha256sum line: {line!r}")
    absent = [p for p in paths if p not in found]
    if absent:
        raise ValueError(f"no hash for {', '.join(absent)}")
    return found


@dataclass(frozen=True)
class VgSpace:
    size_mib: float
    free_mib: float


def _vgs(text: str) -> dict[str, VgSpace]:
    return {r["vg_name"]: VgSpace(mib(r["vg_size"]), mib(r["vg_free"]))
            for r in parse_report(text, VG_FIELDS)}


@dataclass(frozen=True)
class HeartbeatState:
    running: bool
    resources: str  # cl_status rscstatus: all, local, foreign, none ("" when stopped)


def parse_heartbeat(text: str) -> HeartbeatState:
    """The overview's Heartbeat command: `cl_status hbstatus`, then ``rscstatus: ANSWER``."""
    first, _, rest = text.partition("\n")
    running = parse_hbstatus(first)
    answer = next((ln.partition(":")[2] for ln in rest.splitlines()
                   if ln.startswith("rscstatus:")), "")
    return HeartbeatState(running, parse_rscstatus(answer) if running else "")


def parse_drbd_devices(text: str) -> dict[str, list[str]]:
    """drbd.conf: resource -> the backing devices its ``disk`` and ``meta-disk`` lines name."""
    devices: dict[str, list[str]] = {}
    resource = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"resource\s+(\S+)\s*\{?", line)
        if match:
            resource = match[1]
            devices.setdefault(resource, [])
            continue
        match = re.match(r"(?:meta-)?disk\s+(/dev/[^\s;\[]+)", line)
        if match and resource and match[1] not in devices[resource]:
            devices[resource].append(match[1])
    return devices


def _wrapped(tool: str, command: str) -> str:
    return f"if [ -x {quote(tool)} ]; then {command}; else exit {NOT_INSTALLED}; fi"


CLOCK_START = stdout_fact("clock at start", "date -u +%s.%N", _clock)
CLOCK_END = stdout_fact("clock at end", "date -u +%s.%N", _clock)
RELEASE = Fact("release", file_content("/etc/lsb-release").command,
               lambda r: _release(file_content("/etc/lsb-release").parse(r)),
               file_content("/etc/lsb-release").ok_codes)
VGS_SPACE: Fact[dict[str, VgSpace]] = stdout_fact("vgs space", report_command("vgs", VG_FIELDS),
                                                  _vgs)
PACKAGES = stdout_fact("cluster packages",
                       "dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' "
                       + quote(*CLUSTER_PACKAGES) + " 2>/dev/null",
                       parse_dpkg_packages, (0, 1))
DRBD_STATUS: Fact[InitStatus | None] = Fact(
    "drbd status", _wrapped("/etc/init.d/drbd", "/etc/init.d/drbd status"),
    lambda r: None if r.exit_status == NOT_INSTALLED else parse_init_status(r.stdout,
                                                                            r.exit_status),
    frozenset({0, 3, NOT_INSTALLED}))
HEARTBEAT: Fact[HeartbeatState | None] = Fact(
    "heartbeat status",
    _wrapped("/usr/bin/cl_status", 'cl_status hbstatus; echo "rscstatus: '
             '$(cl_status rscstatus 2>&1)"'),
    lambda r: None if r.exit_status == NOT_INSTALLED else parse_heartbeat(r.stdout),
    frozenset({0, NOT_INSTALLED}))
# Only the lines naming resources and their backing devices: drbd.conf may hold a
# `shared-secret`, which must never reach a report.
_DEVICE_LINES = r"^[[:space:]]*(resource|disk|meta-disk)[[:space:]]"
DRBD_CONF: Fact[str | None] = Fact(
    "drbd.conf devices",
    f"if [ -e /etc/drbd.conf ]; then grep -E {quote(_DEVICE_LINES)} /etc/drbd.conf; "
    "else exit 3; fi",
    lambda r: None if r.exit_status == 3 else r.stdout, frozenset({0, 1, 3}))
HARESOURCES = file_content("/etc/ha.d/haresources")


def hashed_files(domus: Sequence[DomUIdentity]) -> list[str]:
    return [*HA_FILES, *(f"/etc/xen/{d.name}.cfg" for d in domus)]


def hashes_fact(paths: Sequence[str]) -> Fact[dict[str, str | None]]:
    loop = (f"for f in {quote(*paths)}; do if [ -e \"$f\" ]; then sha256sum \"$f\"; "
            "else echo \"- $f\"; fi; done")
    return stdout_fact("file hashes", loop, lambda text: parse_hashes(text, paths))


def _cfg_fact(name: str) -> Fact[dict[str, object] | None]:
    """The parsed /etc/xen/NAME.cfg (None when missing), as :func:`runbook.facts.domu.cfg`."""
    raw = file_content(f"/etc/xen/{name}.cfg")

    def parse(result: CommandResult) -> dict[str, object] | None:
        text = raw.parse(result)
        return None if text is None else parse_domain_cfg(text)

    return Fact(f"cfg {name}", raw.command, parse, raw.ok_codes)


def overview_facts(ident: ClusterIdentity) -> list[Fact[Any]]:
    """Everything the overview reads from one node; the clock first and last."""
    return [CLOCK_START, RELEASE, UNAME_R, XM_INFO, XM_LIST, VGS_SPACE, LVS, PACKAGES,
            hashes_fact(hashed_files(ident.domus)), *(_cfg_fact(d.name) for d in ident.domus),
            DRBD_CONF, DRBD_STATUS, HARESOURCES, HEARTBEAT, CLOCK_END]


# -- reading and storing ----------------------------------------------------------------------


@dataclass
class NodeRead:
    """One node's answers: raw results, with the local clock around the round trip."""

    host: str
    sent: float  # this machine's time (epoch s) just before the commands went out
    received: float  # ... and just after the last answer came back
    results: dict[str, CommandRecord] = field(default_factory=dict)
    error: str = ""  # why the node could not be read


@dataclass
class Overview:
    gathered: datetime
    cluster: ClusterIdentity
    reads: dict[str, NodeRead] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()  # inventory nodes this invocation did not reach (--limit)
    signoff: dict[str, str] = field(default_factory=dict)  # --signoff-* given to the run

    def to_json(self) -> str:
        return json.dumps(_overview_dict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Overview:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not an overview file of schema {SCHEMA_VERSION}")
        return _overview_of(data)


def _read_task(task: Task, facts: list[Fact[Any]]) -> Result:
    sent = time.time()
    results = remote.run_many(task, commands(facts))
    received = time.time()
    return Result(host=task.host, result=(sent, received, results))


def gather(nr: Nornir, cluster: ClusterInventory, hosts: Sequence[str]) -> Overview:
    """Read the overview facts on every node of ``nr``, in parallel, one round trip each."""
    ident = identity(cluster)
    facts = overview_facts(ident)
    failed_before = set(nr.data.failed_hosts)
    done = nr.run(task=_read_task, name="handover overview", facts=facts, on_failed=True)
    nr.data.failed_hosts.clear()
    nr.data.failed_hosts.update(failed_before)
    overview = Overview(datetime.now(UTC), ident,
                        left_out=tuple(n for n in cluster.nodes if n not in hosts))
    for host in hosts:
        multi = done.get(host)
        if multi is None:
            overview.reads[host] = NodeRead(host, 0.0, 0.0, error="not reached")
            continue
        result = multi[0]
        if result.failed:
            exc = result.exception
            reason = exc.reason if isinstance(exc, remote.NodeUnreachable) else str(exc)
            overview.reads[host] = NodeRead(host, 0.0, 0.0, error=reason)
            continue
        sent, received, results = result.result
        overview.reads[host] = NodeRead(
            host, sent, received, {k: CommandRecord.of(v) for k, v in results.items()})
    return overview


def write(overview: Overview, path: Path) -> None:
    path.write_text(overview.to_json(), encoding="utf-8")


def read(path: Path) -> Overview:
    return Overview.from_json(path.read_text(encoding="utf-8"))


def _command_dict(c: CommandRecord) -> dict[str, Any]:
    return {"host": c.host, "command": c.command, "exit_status": c.exit_status,
            "duration": round(c.duration, 4), "stdout": c.stdout, "stderr": c.stderr}


def _overview_dict(o: Overview) -> dict[str, Any]:
    c = o.cluster
    return {
        "schema_version": SCHEMA_VERSION,
        "gathered": o.gathered.isoformat(),
        "left_out": list(o.left_out),
        "signoff": dict(o.signoff),
        "cluster": {
            "name": c.name, "name_source": c.name_source, "vg": c.vg, "signoff": c.signoff,
            "nodes": [vars(n) for n in c.nodes], "domus": [vars(d) for d in c.domus],
        },
        "reads": {h: {"sent": r.sent, "received": r.received, "error": r.error,
                      "results": {k: _command_dict(v) for k, v in r.results.items()}}
                  for h, r in o.reads.items()},
    }


def _overview_of(d: Mapping[str, Any]) -> Overview:
    c = d["cluster"]
    ident = ClusterIdentity(
        name=str(c["name"]), name_source=str(c["name_source"]),
        nodes=tuple(NodeIdentity(**n) for n in c["nodes"]),
        domus=tuple(DomUIdentity(**x) for x in c["domus"]), vg=str(c.get("vg", "")),
        signoff={str(k): str(v) for k, v in c.get("signoff", {}).items()},
    )
    reads = {}
    for host, r in d["reads"].items():
        results = {k: CommandRecord(v["host"], v["command"], v["stdout"], v["stderr"],
                                    int(v["exit_status"]), float(v["duration"]))
                   for k, v in r["results"].items()}
        reads[host] = NodeRead(host, float(r["sent"]), float(r["received"]), results,
                               str(r.get("error", "")))
    return Overview(datetime.fromisoformat(d["gathered"]), ident, reads,
                    tuple(d.get("left_out", [])),
                    {str(k): str(v) for k, v in d.get("signoff", {}).items()})


# -- the parsed view -------------------------------------------------------------------------


@dataclass
class NodeState:
    """What one node said, parsed; ``problems`` names each fact that could not be read."""

    host: str
    release: str | None = None
    kernel: str | None = None
    xen_version: str | None = None
    total_mib: int | None = None
    free_mib: int | None = None
    dom0_mib: int | None = None
    vg: VgSpace | None = None
    running: dict[str, int] | None = None  # DomU -> memory MiB (Domain-0 left out)
    lvs: list[str] | None = None  # LV names in the DomUs' VG
    packages: dict[str, str | None] | None = None  # installed package -> version
    hashes: dict[str, str | None] | None = None
    cfg_disks: dict[str, list[str]] = field(default_factory=dict)  # DomU -> its cfg's disks
    drbd_devices: dict[str, list[str]] | None = None  # from drbd.conf (None: no drbd.conf)
    drbd: InitStatus | None = None
    drbd_installed: bool = False
    heartbeat: HeartbeatState | None = None
    resource_groups: list[HaResource] | None = None
    clock_start: float | None = None
    clock_end: float | None = None
    sent: float = 0.0
    received: float = 0.0
    problems: dict[str, str] = field(default_factory=dict)
    unreachable: str = ""


def _results(read: NodeRead) -> dict[str, CommandResult]:
    return {k: CommandResult(v.host, v.command, v.stdout, v.stderr, v.exit_status, v.duration)
            for k, v in read.results.items()}


def node_state(read: NodeRead, ident: ClusterIdentity) -> NodeState:
    state = NodeState(read.host, sent=read.sent, received=read.received)
    if read.error:
        state.unreachable = read.error
        return state
    facts = Facts(read.host, _results(read))

    def get(fact: Fact[T]) -> T | None:
        if fact not in facts:
            state.problems[fact.name] = "not read"
            return None
        try:
            return facts.get(fact)
        except FactError as exc:
            state.problems[fact.name] = exc.reason
            return None

    state.release, state.kernel = get(RELEASE), get(UNAME_R)
    info = get(XM_INFO)
    if info is not None:
        state.xen_version = ".".join(info.get(k, "?") for k in ("xen_major", "xen_minor")) + \
            info.get("xen_extra", "")
        state.total_mib = _int(info.get("total_memory"))
        state.free_mib = _int(info.get("free_memory"))
    domains = get(XM_LIST)
    if domains is not None:
        dom0 = next((d for d in domains if d.name == "Domain-0"), None)
        state.dom0_mib = dom0.memory_mb if dom0 else None
        state.running = {name: d.memory_mb for name, d in running(domains).items()}
    vgs = get(VGS_SPACE)
    if vgs is not None:
        state.vg = vgs.get(ident.vg)
    lvs = get(LVS)
    if lvs is not None:
        state.lvs = sorted(lv.name for lv in lvs if lv.vg == ident.vg)
    pkgs = get(PACKAGES)
    if pkgs is not None:
        state.packages = {n: (p.version if p.installed else None) for n, p in pkgs.items()
                          if p.installed}
    state.hashes = get(hashes_fact(hashed_files(ident.domus)))
    for d in ident.domus:
        parsed = get(_cfg_fact(d.name))
        if parsed is not None:
            state.cfg_disks[d.name] = cfg_disks(parsed)
    conf = get(DRBD_CONF)
    state.drbd_devices = parse_drbd_devices(conf) if conf is not None else None
    state.drbd = get(DRBD_STATUS)
    state.drbd_installed = state.drbd is not None
    state.heartbeat = get(HEARTBEAT)
    haresources = get(HARESOURCES)
    state.resource_groups = parse_haresources(haresources) if haresources is not None else None
    state.clock_start, state.clock_end = get(CLOCK_START), get(CLOCK_END)
    return state


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


@dataclass(frozen=True)
class ClockOffset:
    """The second node's clock minus the first's, and how exactly that is known."""

    offset_s: float
    uncertainty_s: float


def node_offset(state: NodeState) -> tuple[float, float] | None:
    """(offset to this machine, half-width) from the round trip around the node's two dates.

    The first ``date`` ran at a local time within [sent, received - (end - start)]: the
    node's own elapsed time between its two dates happened inside the round trip too.
    """
    if state.clock_start is None or state.clock_end is None or not state.received:
        return None
    elapsed = max(state.clock_end - state.clock_start, 0.0)
    earliest, latest = state.sent, max(state.received - elapsed, state.sent)
    low, high = state.clock_start - latest, state.clock_start - earliest
    return (low + high) / 2, (high - low) / 2


def peer_offset(first: NodeState, second: NodeState) -> ClockOffset | None:
    a, b = node_offset(first), node_offset(second)
    if a is None or b is None:
        return None
    return ClockOffset(b[0] - a[0], a[1] + b[1])
