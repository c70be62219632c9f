"""Acceptance checks of 06-drbd: every resource connected and in sync on both nodes, roles
where the DomU runs, one drbd.conf, meta data in place, the DomU cfgs on drbd: disks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from typing import Any

import pytest

from runbook import consistency
from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.domu import cfg_path
from runbook.facts.drbd import (
    CONF_PATH,
    DRBD_CONF,
    INDEX_BYTES,
    PROC_DRBD,
    PROC_PATH,
    cfg_text,
    drbdadm_cstate,
    drbdadm_pair,
    meta_slot,
)
from runbook.facts.xen import XM_LIST
from runbook.findings import Finding, fail, fail_if, finding
from runbook.inventory import ClusterInventory, DomU, DrbdResource, DrbdSettings, NodeSettings
from runbook.parsers.drbd import DrbdDevice
from runbook.parsers.xen import cfg_disks, parse_domain_cfg, running
from runbook.tasks.drbd import conf_text, meta_device


def settings(node: NodeSettings) -> DrbdSettings:
    assert node.drbd is not None, "no drbd settings in the inventory"  # the inventory's job
    return node.drbd


def meta_of(node: NodeSettings) -> str:
    assert node.lvm is not None, "the drbd section implies lvm"  # the inventory's job
    return meta_device(settings(node), node.lvm.vg)


def drbd_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    drbd = settings(node)
    meta = meta_of(node)
    per_resource = [fact for r in drbd.resources for fact in (
        drbdadm_cstate(r.name), drbdadm_pair("role", r.name), drbdadm_pair("dstate", r.name),
        meta_slot(meta, r.meta_index))]
    return [PROC_DRBD, DRBD_CONF, XM_LIST, *per_resource, *(cfg_text(d) for d in cluster.domus)]


@pytest.fixture(scope="module")
def drbd(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(drbd_facts)
    return gathered


# -- the state of a resource: drbdadm's answer, and /proc/drbd's as a second witness -----------


def proc_words(dev: DrbdDevice) -> str:
    """The device's line of /proc/drbd, in its own words (and a running resync's progress)."""
    words = f"cs:{dev.cstate} ro:{dev.role}/{dev.peer_role} ds:{dev.disk}/{dev.peer_disk}"
    if dev.sync is not None:
        words += f", resync {dev.sync.percent:g}% done"
        words += f", finish {dev.sync.finish}" if dev.sync.finish else ""
    return f"{PROC_PATH}: {words}"


def proc_device(facts: HostFacts, node: NodeSettings, res: DrbdResource) -> DrbdDevice | Finding:
    """The resource's minor in /proc/drbd, or the finding that it is not there."""
    proc = facts.get(PROC_DRBD)
    if proc is None:
        return finding(subject=PROC_PATH, node=node, expected="the file", found="no such file",
                       note="the drbd module is not loaded")
    dev = proc.devices.get(res.minor)
    if dev is None:
        minors = ", ".join(map(str, sorted(proc.devices))) or "none"
        return finding(subject=PROC_PATH, key=f"minor {res.minor}", node=node,
                       expected=f"a line for {res.device} ({res.name})",
                       found=f"none (minors: {minors})")
    return dev


def state_findings(node: NodeSettings, res: DrbdResource, what: str, wanted: str, said: str,
                   dev: DrbdDevice | Finding, seen_in: Callable[[DrbdDevice], str]
                   ) -> list[Finding]:
    """drbdadm said ``said`` of ``what`` (cs, ds) and /proc/drbd shows ``seen_in(dev)``: both
    must be ``wanted``; one finding names what each source says when they disagree."""
    if isinstance(dev, Finding):
        return [dev] + ([finding(subject=res.name, node=node, expected=f"{what} {wanted}",
                                 found=said)] if said != wanted else [])
    seen = seen_in(dev)
    if said == wanted and seen == wanted:
        return []
    found = said if said == seen else f"{said} (drbdadm), {seen} ({PROC_PATH})"
    return [finding(subject=res.name, node=node, expected=f"{what} {wanted}", found=found,
                    note=proc_words(dev))]


def test_connected(node: NodeSettings, resource: DrbdResource, drbd: Gathered) -> None:
    """`drbdadm cstate RES` is Connected, and /proc/drbd agrees."""
    facts = drbd[node]
    cstate = facts.get(drbdadm_cstate(resource.name))
    fail_if(state_findings(node, resource, "cs", "Connected", cstate,
                           proc_device(facts, node, resource), lambda dev: dev.cstate))


def test_up_to_date(node: NodeSettings, resource: DrbdResource, drbd: Gathered) -> None:
    """`drbdadm dstate RES` is UpToDate/UpToDate, and /proc/drbd agrees."""
    facts = drbd[node]
    local, peer = facts.get(drbdadm_pair("dstate", resource.name))
    fail_if(state_findings(node, resource, "ds", "UpToDate/UpToDate", f"{local}/{peer}",
                           proc_device(facts, node, resource),
                           lambda dev: f"{dev.disk}/{dev.peer_disk}"))


def test_roles_follow_the_domu(node: NodeSettings, resource: DrbdResource,
                               cluster: ClusterInventory, drbd: Gathered) -> None:
    """Primary where the resource's DomU runs, Secondary elsewhere (Secondary/Secondary when
    it is stopped). A node whose `xm list` fails fails this check."""
    runs_here = resource.domu in running(drbd[node].get(XM_LIST))
    runs_on_peer = resource.domu in running(drbd[node.peer].get(XM_LIST))
    want = ("Primary" if runs_here else "Secondary", "Primary" if runs_on_peer else "Secondary")
    role = drbd[node].get(drbdadm_pair("role", resource.name))
    if role == want:
        return
    where = " and ".join(name for name, runs in ((node.name, runs_here),
                                                  (node.peer, runs_on_peer)) if runs)
    dev = proc_device(drbd[node], node, resource)
    fail(finding(subject=resource.name, node=node, expected=f"ro {'/'.join(want)}",
                 found="/".join(role),
                 note=f"DomU {resource.domu} runs on {where or 'no node'}; "
                      + (proc_words(dev) if isinstance(dev, DrbdDevice)
                         else f"{PROC_PATH}: {dev.found}")))


# -- drbd.conf: one file on both nodes, the one the inventory renders ---------------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _shown_lines(lines: Sequence[str], comments: bool = False) -> str:
    """The first line of a hunk, quoted: without its comment unless ``comments`` (or it is
    all comment), cut at 72 characters; a shared-secret's value is never shown."""
    first = lines[0].strip()
    code = first.split("#", 1)[0].strip()
    first = first if comments or not code else code
    if "shared-secret" in first:
        first = "shared-secret (hidden)"
    first = first if len(first) <= 72 else first[:71].rstrip() + "…"
    return f'"{first}"' + (f" (+{len(lines) - 1} lines)" if len(lines) > 1 else "")


def _span(start: int, end: int) -> str:
    return f"{start + 1}" if end - start == 1 else f"{start + 1}-{end}"


def differences(old: str, new: str, old_has: str, new_has: str, limit: int = 3) -> str:
    """The lines where ``new`` differs from ``old``, in one line for a finding's note:
    ``line 12: ha1 has "rate 90M;", ha2 has "rate 10M;"`` (line numbers are ``old``'s)."""
    a, b = old.splitlines(), new.splitlines()
    hunks = [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
             if op[0] != "equal"]
    words = []
    for tag, i1, i2, j1, j2 in hunks[:limit]:
        if tag == "insert":
            where = f"after line {i1}" if i1 else "at the top"
            words.append(f"{where}: only {new_has} {_shown_lines(b[j1:j2])}")
        elif tag == "delete":
            words.append(f"line {_span(i1, i2)}: only {old_has} {_shown_lines(a[i1:i2])}")
        elif [s.strip() for s in a[i1:i2]] == [s.strip() for s in b[j1:j2]]:
            words.append(f"line {_span(i1, i2)}: whitespace differs")
        else:
            comments = _shown_lines(a[i1:i2]) == _shown_lines(b[j1:j2])  # only they differ
            words.append(f"line {_span(i1, i2)}: {old_has} {_shown_lines(a[i1:i2], comments)}, "
                         f"{new_has} {_shown_lines(b[j1:j2], comments)}")
    if not words and old != new:  # the lines agree: a line ending differs
        words.append("line endings differ")
    more = len(hunks) - limit
    return "; ".join(words) + (f"; and {more} more" if more > 0 else "")


def test_drbd_conf_identical_on_both_nodes(cluster: ClusterInventory, drbd: Gathered) -> None:
    """/etc/drbd.conf has the same SHA-256 on both nodes (the lines that differ when not)."""
    texts = {name: drbd[name].get(DRBD_CONF) for name in cluster.nodes}
    if all(text is None for text in texts.values()):
        fail(*(finding(subject=CONF_PATH, node=name, expected="the file", found="no such file")
               for name in texts))
    problems = consistency.file_hashes(
        {name: {CONF_PATH: sha256(text) if text is not None else None}
         for name, text in texts.items()})
    first = min(name for name, text in texts.items() if text is not None)  # file_hashes' order
    fail_if(f if f.found == "no such file" or f.node is None else Finding(
        f.subject, f.expected, f.found, f.node, f.key,
        differences(texts[first] or "", texts[f.node] or "", f"{first} has", f"{f.node} has"))
        for f in problems)


def test_drbd_conf_as_in_the_inventory(node: NodeSettings, cluster: ClusterInventory,
                                       drbd: Gathered) -> None:
    """/etc/drbd.conf is the one the inventory renders (the lines that differ when not)."""
    wanted = conf_text(cluster, settings(node))
    found = drbd[node].get(DRBD_CONF)
    if found is None:
        fail(finding(subject=CONF_PATH, node=node, expected="the file 06-drbd writes",
                     found="no such file"))
    if found != wanted:
        fail(finding(subject=CONF_PATH, node=node,
                     expected=f"SHA-256 {sha256(wanted)[:16]}… (as the inventory renders it)",
                     found=f"SHA-256 {sha256(found)[:16]}…",
                     note="edited by hand or stale: " + differences(
                         wanted, found, "the inventory renders", f"{node.name} has")))


# -- meta data and the DomUs' disks --------------------------------------------------------------


def test_meta_data_on_the_meta_lv(node: NodeSettings, resource: DrbdResource,
                                  drbd: Gathered) -> None:
    """The meta LV holds DRBD meta data at the resource's index."""
    meta = meta_of(node)
    slot = drbd[node].get(meta_slot(meta, resource.meta_index))
    if not slot.device_exists:
        fail(finding(subject=meta, node=node, expected="the meta LV", found="no such device"))
    if not slot.present:
        offset = resource.meta_index * INDEX_BYTES // 2**20
        fail(finding(subject=f"{meta}[{resource.meta_index}]", node=node,
                     expected=f"DRBD meta data of {resource.name}", found="none",
                     note=f"no DRBD magic at {offset} MiB: `drbdadm create-md "
                          f"{resource.name}` has not run here, or was overwritten"))


def test_domu_cfg_uses_drbd(node: NodeSettings, domu: DomU, drbd: Gathered) -> None:
    """/etc/xen/NAME.cfg exists on this node and every LV of the DomU is a drbd: disk."""
    path = cfg_path(domu)
    text = drbd[node].get(cfg_text(domu))
    if text is None:
        fail(finding(subject=path, node=node, expected="the file", found="no such file"))
    disks = cfg_disks(parse_domain_cfg(text))
    fail_if(problem for r in settings(node).of_domu(domu.name)
            if (problem := disk_finding(path, node, r, disks)) is not None)


def disk_finding(path: str, node: NodeSettings, res: DrbdResource,
                 disks: Sequence[str]) -> Finding | None:
    """What is wrong with the cfg's disk for ``res``: drbd:RES missing, or its LV still
    given as a phy: disk (the DomU's writes then bypass DRBD)."""
    wanted = f"drbd:{res.name}"
    direct = [d for d in disks if d.startswith("phy:") and d.endswith(f"/{res.lv}")]
    if wanted in disks and not direct:
        return None
    if wanted not in disks and not direct:
        return finding(subject=path, key="disk", node=node, expected=wanted,
                       found=f"no disk of {res.name} (disks: {', '.join(disks) or 'none'})")
    return finding(subject=path, key="disk", node=node,
                   expected=wanted if wanted not in disks else f"{wanted} only",
                   found=" and ".join(([wanted] if wanted in disks else []) + direct),
                   note="its writes bypass DRBD: the peer's copy goes stale")
