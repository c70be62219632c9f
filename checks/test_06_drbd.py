"""Acceptance checks of 06-drbd: every resource connected and in sync on both nodes, roles
where the DomU runs, one drbd.conf, meta data in place, the DomU cfgs on drbd: disks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from runbook.checking import Gathered, HostFacts
from runbook.facts import Fact
from runbook.facts.domu import cfg_path
from runbook.facts.drbd import (
    DRBD_CONF,
    PROC_DRBD,
    cfg_text,
    drbdadm_cstate,
    drbdadm_pair,
    meta_slot,
)
from runbook.facts.xen import XM_LIST
from runbook.inventory import ClusterInventory, DomU, DrbdResource, DrbdSettings, NodeSettings
from runbook.parsers.xen import cfg_disks, parse_domain_cfg, running
from runbook.plan import unified_diff
from runbook.tasks.drbd import conf_text, meta_device


def settings(node: NodeSettings) -> DrbdSettings:
    assert node.drbd is not None, "no drbd settings in the inventory"
    return node.drbd


def drbd_facts(node: NodeSettings, cluster: ClusterInventory) -> Sequence[Fact[Any]]:
    drbd = settings(node)
    assert node.lvm is not None
    meta = meta_device(drbd, node.lvm.vg)
    per_resource = [fact for r in drbd.resources for fact in (
        drbdadm_cstate(r.name), drbdadm_pair("role", r.name), drbdadm_pair("dstate", r.name),
        meta_slot(meta, r.meta_index))]
    return [PROC_DRBD, DRBD_CONF, XM_LIST, *per_resource, *(cfg_text(d) for d in cluster.domus)]


@pytest.fixture(scope="module")
def drbd(gather) -> Gathered:  # type: ignore[no-untyped-def]
    gathered: Gathered = gather(drbd_facts)
    return gathered


def proc_line(facts: HostFacts, res: DrbdResource) -> str:
    """The resource's state in /proc/drbd, in words (it is evidence next to drbdadm's)."""
    proc = facts.get(PROC_DRBD)
    assert proc is not None, "/proc/drbd does not exist: the drbd module is not loaded"
    dev = proc.devices.get(res.minor)
    assert dev is not None, f"/proc/drbd has no minor {res.minor} ({res.device})"
    return f"cs:{dev.cstate} ro:{dev.role}/{dev.peer_role} ds:{dev.disk}/{dev.peer_disk}"


def test_connected(node: NodeSettings, resource: DrbdResource, drbd: Gathered) -> None:
    """`drbdadm cstate RES` is Connected, and /proc/drbd agrees."""
    facts = drbd[node]
    cstate = facts.get(drbdadm_cstate(resource.name))
    line = proc_line(facts, resource)
    assert cstate == "Connected", f"{resource.name} is {cstate} ({line})"
    assert line.startswith("cs:Connected "), line


def test_up_to_date(node: NodeSettings, resource: DrbdResource, drbd: Gathered) -> None:
    """`drbdadm dstate RES` is UpToDate/UpToDate, and /proc/drbd agrees."""
    facts = drbd[node]
    dstate = facts.get(drbdadm_pair("dstate", resource.name))
    line = proc_line(facts, resource)
    assert dstate == ("UpToDate", "UpToDate"), f"{resource.name} is {'/'.join(dstate)} ({line})"
    assert line.endswith(" ds:UpToDate/UpToDate"), line


def test_roles_follow_the_domu(node: NodeSettings, resource: DrbdResource,
                               cluster: ClusterInventory, drbd: Gathered) -> None:
    """Primary where the resource's DomU runs, Secondary elsewhere (Secondary/Secondary when
    it is stopped). A node whose `xm list` fails fails this check."""
    runs_here = resource.domu in running(drbd[node].get(XM_LIST))
    runs_on_peer = resource.domu in running(drbd[node.peer].get(XM_LIST))
    want = ("Primary" if runs_here else "Secondary", "Primary" if runs_on_peer else "Secondary")
    role = drbd[node].get(drbdadm_pair("role", resource.name))
    where = node.name if runs_here else node.peer if runs_on_peer else "nowhere"
    assert role == want, (f"{resource.name} is {'/'.join(role)} on {node.name} but "
                          f"{resource.domu} runs {where}: expected {'/'.join(want)} "
                          f"({proc_line(drbd[node], resource)})")


def conf_hash(text: str | None) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16] if text is not None else "none"


def test_drbd_conf_identical_on_both_nodes(cluster: ClusterInventory, drbd: Gathered) -> None:
    """/etc/drbd.conf has the same SHA-256 on both nodes (the diff when not)."""
    first, second = cluster.nodes
    texts = {name: drbd[name].get(DRBD_CONF) for name in (first, second)}
    hashes = {name: conf_hash(text) for name, text in texts.items()}
    assert texts[first] is not None, f"{first} has no /etc/drbd.conf"
    assert hashes[first] == hashes[second], f"drbd.conf differs {hashes}:\n" + unified_diff(
        "/etc/drbd.conf", texts[first], texts[second] or "")


def test_drbd_conf_as_in_the_inventory(node: NodeSettings, cluster: ClusterInventory,
                                       drbd: Gathered) -> None:
    """/etc/drbd.conf is the one the inventory renders (the diff when not)."""
    wanted = conf_text(cluster, settings(node))
    found = drbd[node].get(DRBD_CONF)
    assert found == wanted, "edited by hand or stale:\n" + unified_diff(
        "/etc/drbd.conf", wanted, found or "")


def test_meta_data_on_the_meta_lv(node: NodeSettings, resource: DrbdResource,
                                  drbd: Gathered) -> None:
    """The meta LV holds DRBD meta data at the resource's index."""
    assert node.lvm is not None
    meta = meta_device(settings(node), node.lvm.vg)
    slot = drbd[node].get(meta_slot(meta, resource.meta_index))
    assert slot.device_exists, f"{meta} does not exist"
    assert slot.present, f"no DRBD meta data at {meta}[{resource.meta_index}]"


def test_domu_cfg_uses_drbd(node: NodeSettings, domu: DomU, drbd: Gathered) -> None:
    """/etc/xen/NAME.cfg exists on this node and every LV of the DomU is a drbd: disk."""
    text = drbd[node].get(cfg_text(domu))
    assert text is not None, f"no {cfg_path(domu)} on {node.name}"
    disks = cfg_disks(parse_domain_cfg(text))
    wanted = {f"drbd:{r.name}" for r in settings(node).of_domu(domu.name)}
    assert wanted <= set(disks), f"disks {disks}, expected {sorted(wanted)} among them"
    direct = [d for d in disks if d.startswith("phy:") and
              any(d.endswith(f"/{r.lv}") for r in settings(node).of_domu(domu.name))]
    assert not direct, f"disks bypass DRBD: {direct}"
