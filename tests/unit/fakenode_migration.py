"""07-migration on the fake dom0 (tests/unit/fakenode.py): xend's age and relocation listener,
and a node 07 has run on.

xend's state is read from what the tasks did to the fake: the config counts as newer than xend
when the last write of xend-config.sxp came after the last `/etc/init.d/xend restart`; xend
listens where the config says once Xen runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.facts.migration import XEND_AGE, XEND_CONFIG_PATH
from runbook.inventory import ClusterInventory
from runbook.parsers.migration import parse_xend_config

if TYPE_CHECKING:
    from tests.unit.fakenode import FakeNode

RESTART = "/etc/init.d/xend restart"
NETSTAT_HEAD = ("Active Internet connections (only servers)\n"
                "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
                "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN\n")


def xen_runs(node: FakeNode) -> bool:
    return "ubuntu-xen-server" in node.packages and node.kernel.endswith("-xen")


def stale(node: FakeNode) -> bool:
    writes = [i for i, c in enumerate(node.log) if c == f"write {XEND_CONFIG_PATH}"]
    restarts = [i for i, c in enumerate(node.log) if c == RESTART]
    return bool(writes) and (not restarts or writes[-1] > restarts[-1])


def listening(node: FakeNode) -> str:
    """netstat -ltn: sshd, and xend's relocation port where the config it read says."""
    text = node.files.get(XEND_CONFIG_PATH)
    if not xen_runs(node) or text is None or stale(node):
        return NETSTAT_HEAD
    config = parse_xend_config(text)
    if config.get("xend-relocation-server") != "yes":
        return NETSTAT_HEAD
    address = config.get("xend-relocation-address") or "0.0.0.0"
    port = config.get("xend-relocation-port", "8002")
    return NETSTAT_HEAD + f"tcp        0      0 {address + ':' + port:<23} 0.0.0.0:*" \
                          "               LISTEN\n"


def answer(node: FakeNode, command: str) -> tuple[str, str, int] | None:
    if command == XEND_AGE.command:
        runs = "yes" if xen_runs(node) else "no"
        config = ("200" if stale(node) else "100") if XEND_CONFIG_PATH in node.files else ""
        return f"running={runs}\nconfig={config}\nstarted={'150' if runs == 'yes' else ''}\n", \
            "", 0
    if command == "netstat -ltn":
        return listening(node), "", 0
    if command == RESTART:
        node.log.append(command)
        return " * Restarting Xen daemon xend\n   ...done.\n", "", 0
    return None


def run_07(node: FakeNode, cluster: ClusterInventory, name: str) -> None:
    """Make ``node`` (inventory host ``name``) one 07 has run on: relocation configured as the
    inventory says, both legs of each DomU's test passed."""
    from runbook.facts.migration import LegResult, marker_path
    from runbook.tasks import migration as task

    here, peer = cluster.nodes[name], cluster.nodes[cluster.nodes[name].peer]
    settings = here.migration
    assert settings is not None
    node.files[XEND_CONFIG_PATH] = task.xend_config_text(
        node.files.get(XEND_CONFIG_PATH, "(xend-relocation-server no)\n"), settings, here, peer)
    for domu in cluster.domus:
        leg = "away" if domu.home == name else "back"
        target = peer.name
        node.files[marker_path(domu, leg)] = LegResult(
            domu.name, name, target, "2026-11-26 13:00:00 UTC", 0.4, 1, 40, 0.2,
            settings.max_gap_s, settings.max_lost).to_json() + "\n"
