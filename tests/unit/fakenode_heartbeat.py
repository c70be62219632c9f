"""What a fake dom0 (tests/unit/fakenode.py) answers about Heartbeat: the exact read commands
of runbook.facts.heartbeat, from a little state of its own (:class:`HeartbeatState`)."""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runbook.facts import heartbeat as facts

if TYPE_CHECKING:
    from runbook.inventory import ClusterInventory
    from tests.unit.fakenode import FakeNode

Answer = tuple[str, str, int]


@dataclass
class HeartbeatState:
    running: bool = False
    modes: dict[str, int] = field(default_factory=dict)  # path -> mode (0644 when not set)
    folders: set[str] = field(default_factory=set)  # under /etc/xen/auto
    links: dict[str, str] = field(default_factory=dict)  # link -> target
    rc_links: list[str] = field(default_factory=list)  # /etc/rcN.d/SNNxendomains
    peers: dict[str, str] = field(default_factory=dict)  # node -> cl_status nodestatus
    rscstatus: str = "local"
    status: dict[str, str] = field(default_factory=dict)  # resource script -> [state]


STOPPED = ("", "ERROR: Cannot signon with heartbeat\n", 1)


def answer(node: FakeNode, command: str) -> Answer | None:
    """The answer to a Heartbeat read command (None: not one of them)."""
    ha = node.ha
    if command == "uname -n":
        return node.hostname + "\n", "", 0
    if command == facts.AUTHKEYS.command:
        text = node.files.get(facts.AUTHKEYS_PATH)
        if text is None:
            return "", "", 3
        digest = hashlib.sha256(text.encode()).hexdigest()
        return f"{digest}  -\n{ha.modes.get(facts.AUTHKEYS_PATH, 0o644):o}\n", "", 0
    if m := re.fullmatch(r"if \[ -e (\S+) \]; then stat -c %a \S+ && cat -- \S+; else exit 3; fi",
                         command):
        path = shlex.split(m[1])[0]
        if path not in node.files:
            return "", "", 3
        return f"{ha.modes.get(path, 0o644):o}\n{node.files[path]}", "", 0
    if command == facts.AUTO_ENTRIES.command:
        rows = [f"{d}\td\t" for d in sorted(ha.folders)]
        rows += [f"{link}\tl\t{target}" for link, target in sorted(ha.links.items())]
        return "".join(f"{row}\n" for row in rows), "", 0
    if command == facts.XENDOMAINS_RC_LINKS.command:
        return "".join(f"{link}\n" for link in ha.rc_links), "", 0
    return cl_status(node, command)


def cl_status(node: FakeNode, command: str) -> Answer | None:
    ha = node.ha
    words = shlex.split(command)
    if words[0] == "cl_status" and "heartbeat" not in node.packages:
        return "", "bash: cl_status: command not found\n", 127
    if words == ["cl_status", "hbstatus"]:
        return (("Heartbeat is running on this machine.\n", "", 0) if ha.running
                else ("Heartbeat is stopped on this machine.\n", "", 1))
    if words[:2] == ["cl_status", "nodestatus"]:
        return (f"{ha.peers.get(words[2], 'dead')}\n", "", 0) if ha.running else STOPPED
    if words == ["cl_status", "rscstatus"]:
        return (f"{ha.rscstatus}\n", "", 0) if ha.running else STOPPED
    if len(words) == 2 and words[1] == "status" and words[0] in ha.status:
        state = ha.status[words[0]]
        return (f"Checking for xendomains: *   [{state}] \n", "",
                {"running": 0, "dead": 1}.get(state, 3))
    return None


def configure(node: FakeNode, files: dict[str, str], names: list[str], own: str,
              modes: dict[str, int]) -> None:
    """Make ``node`` one 08-heartbeat has run on: ``files`` written, heartbeat running with
    both ``names`` active, its group ``own`` held (the resource scripts' paths in modes)."""
    node.packages.add("heartbeat")
    node.files.update(files)
    node.ha.modes.update(modes)
    node.ha.running = True
    node.ha.peers = dict.fromkeys(names, "active")
    node.ha.status = {path: ("running" if path.endswith(own) else "unused")
                      for path in modes if "/resource.d/" in path}


XENDOMAINS_INIT = """#!/bin/bash
# /etc/init.d/xendomains (its two lines the resource scripts change)
LOCKFILE=/var/lock/subsys/xendomains
XENDOM_CONFIG=/etc/default/xendomains
"""


def run_08(node: FakeNode, cluster: ClusterInventory, name: str, authkey: str) -> None:
    """Make ``node`` (inventory host ``name``) one 01-08 have run on, from the inventory."""
    from runbook.tasks import heartbeat as task  # the runbook's own renderings

    hb = cluster.nodes[name].heartbeat
    assert hb is not None
    here, peer = cluster.nodes[name], cluster.nodes[cluster.nodes[name].peer]
    files = {facts.XENDOMAINS_INIT: XENDOMAINS_INIT,
             facts.AUTHKEYS_PATH: task.authkeys_text(authkey),
             facts.HA_CF: task.ha_cf_text(hb, list(cluster.nodes.values())),
             facts.HARESOURCES: task.haresources_text(hb, cluster.nodes)}
    modes = {facts.AUTHKEYS_PATH: 0o600}
    for group in hb.groups:
        files[group.script] = task.resource_script(XENDOMAINS_INIT, group)
        modes[group.script] = 0o755
        files[group.config] = task.xendomains_default(hb, group, here, peer)
        node.ha.folders.add(group.auto_folder)
    for domu in cluster.domus:
        node.ha.links[f"{hb.group_of(domu.home).auto_folder}/{domu.name}"] = \
            f"/etc/xen/{domu.name}.cfg"
        if domu.home == name:
            node.domains.add(domu.name)
    configure(node, files, [n.fqdn for n in cluster.nodes.values()],
              hb.group_of(name).resource, modes)
