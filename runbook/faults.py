"""Fault injection for ``runbook drill``: what differs between the lab and real nodes.

A drill changes the cluster through one :class:`FaultInjector`. The lab's (:class:`LabFaults`)
acts from this machine through xenlab's host-side API (pull a node's plug, unplug the
crossover cable, read the lab DomU's write sequence); the real nodes' (:class:`RealFaults`)
can only do what an operator could: a crash is ``echo b > /proc/sysrq-trigger`` over SSH,
allowed only for the node named by ``--crash`` and confirmed, and a cut link is a command
the operator provides. xenlab is imported only when the inventory is a lab's, so the package
works on a machine that has no lab.

The inventory is a lab's when its SSH key is the one a lab wrote: ``<home>/.lab/<name>/
id_ed25519`` beside that lab's ``lab.json`` (every lab inventory, the default ``inventory/lab``
included, points there; a real inventory cannot, by accident, name a lab's state file).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runbook.inventory import ClusterInventory

LAB_META = "lab.json"  # xenlab.layout.Paths.meta: written by `runbook lab up`
SYSRQ_CRASH = "echo b > /proc/sysrq-trigger"  # reboot at once: no sync, no unmount


class FaultRefused(Exception):
    """The fault may not be injected here; the message says why and how to allow it."""


def lab_of(cluster: ClusterInventory) -> str | None:
    """The name of the lab whose inventory this is, or None for real nodes."""
    names = set()
    for ssh in cluster.ssh.values():
        key = ssh.key_file
        if key is None or key.parent.parent.name != ".lab" or not (key.parent / LAB_META).is_file():
            return None
        names.add(key.parent.name)
    return names.pop() if len(names) == 1 else None


class FaultInjector(Protocol):
    """What a drill asks of its site beyond SSH to the nodes."""

    @property
    def site(self) -> str:
        """``lab rbdl`` or ``real nodes``: said in the record."""
        ...

    def crash(self, node: str) -> str:
        """Take ``node`` down hard from here, now (only where :meth:`crash_command` is None);
        return what was done."""
        ...

    def crash_command(self, node: str) -> str | None:
        """The command to run ON the node to crash it (None: :meth:`crash` does it here)."""
        ...

    def power_on(self, node: str) -> str | None:
        """Bring a crashed node back; None when it comes back by itself (a sysrq reboot)."""
        ...

    def cut_link(self) -> str:
        ...

    def restore_link(self) -> str:
        ...

    def ping_argv(self, address: str, interval_s: float) -> list[str]:
        """The prober's ping (07's command), run where the site reaches the DomUs from."""
        ...

    def acknowledged_write(self, domu: str) -> int | None:
        """The DomU's last write acknowledged to it (None: the site cannot tell)."""
        ...

    def write_on_disk(self, node: str, vg: str, lv: str) -> int | None:
        """The last write on ``node``'s copy of the DomU's disk (None: cannot tell)."""
        ...

    def placement(self) -> dict[str, list[str]] | None:
        """Node -> DomUs running there, read without SSH (None: read it with `xm list`)."""
        ...


def _ping(prefix: list[str], address: str, interval_s: float) -> list[str]:
    from runbook.tasks.migration import probe_command  # 07's prober: ping -D -n -i

    return [*prefix, *probe_command(address, interval_s)]


@dataclass(frozen=True)
class LabFaults:
    """The lab: faults from outside, as the hardware would make them."""

    lab: str

    @property
    def site(self) -> str:
        return f"lab {self.lab}"

    def crash(self, node: str) -> str:
        from xenlab import manager

        manager.power_off(self.lab, node)
        return f"{node} powered off (the lab pulled its plug)"

    def crash_command(self, node: str) -> str | None:
        return None

    def power_on(self, node: str) -> str | None:
        from xenlab import manager

        manager.power_on(self.lab, node)
        return f"{node} powered on"

    def cut_link(self) -> str:
        from xenlab import manager

        manager.cut_link(self.lab, "crossover")
        return "crossover cable unplugged on both nodes"

    def restore_link(self) -> str:
        from xenlab import manager

        manager.restore_link(self.lab, "crossover")
        return "crossover cable plugged in again"

    def ping_argv(self, address: str, interval_s: float) -> list[str]:
        from xenlab.layout import netns

        return _ping(["ip", "netns", "exec", netns(self.lab, "lan")], address, interval_s)

    def acknowledged_write(self, domu: str) -> int | None:
        from xenlab import manager

        return manager.domu_last_write(self.lab, domu)

    def write_on_disk(self, node: str, vg: str, lv: str) -> int | None:
        from xenlab import manager

        return manager.disk_seq(self.lab, node, vg, lv)

    def placement(self) -> dict[str, list[str]] | None:
        from xenlab import manager

        return manager.domains(self.lab)


Runner = Callable[[str], str]


def _shell(command: str) -> str:
    """Run an operator-provided command on this machine; its output, or FaultRefused."""
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise FaultRefused(f"`{command}` exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-300:]}")
    return f"ran `{command}`"


@dataclass(frozen=True)
class RealFaults:
    """Real nodes: a crash only of the node the operator named and confirmed; a link cut only
    by the operator's own commands (the tool cannot unplug a cable)."""

    crash_allowed: str | None = None  # the node named by --crash AND confirmed
    link_cut: str | None = None  # --link-cut-command
    link_restore: str | None = None  # --link-restore-command
    run: Runner = _shell

    @property
    def site(self) -> str:
        return "real nodes"

    def crash(self, node: str) -> str:
        raise FaultRefused(f"{node} is crashed over SSH with its crash command, not from here")

    def crash_command(self, node: str) -> str | None:
        if self.crash_allowed != node:
            raise FaultRefused(
                f"crashing {node} cuts a production node: name it with --crash {node} and "
                f"confirm with --yes-really-crash {node} (or at the prompt)")
        return SYSRQ_CRASH

    def power_on(self, node: str) -> str | None:
        return None  # sysrq 'b' reboots the node: it comes back by itself

    def check_link(self) -> None:
        if not self.link_cut or not self.link_restore:
            raise FaultRefused("the tool cannot unplug a cable on real nodes: give the commands "
                               "that cut and restore the crossover link (--link-cut-command, "
                               "--link-restore-command)")

    def cut_link(self) -> str:
        self.check_link()
        assert self.link_cut is not None
        return self.run(self.link_cut)

    def restore_link(self) -> str:
        if not self.link_restore:
            raise FaultRefused("no --link-restore-command: restore the crossover link by hand")
        return self.run(self.link_restore)

    def ping_argv(self, address: str, interval_s: float) -> list[str]:
        return _ping([], address, interval_s)

    def acknowledged_write(self, domu: str) -> int | None:
        return None

    def write_on_disk(self, node: str, vg: str, lv: str) -> int | None:
        return None

    def placement(self) -> dict[str, list[str]] | None:
        return None


def confirm_crash(named: str | None, confirmed: str | None, node: str,
                  ask: Callable[[str], str] | None) -> str | None:
    """The node a real crash is allowed on: ``--crash NODE`` and ``--yes-really-crash NODE``
    naming the node to crash, or the node typed at the prompt (``ask``, a TTY only)."""
    if named != node:
        return None
    if confirmed == node:
        return node
    if ask is None:
        return None
    answer = ask(f"This crashes {node} ({SYSRQ_CRASH}): its DomUs die and are started on the "
                 f"peer. Type the node's name to go on: ")
    return node if answer.strip() == node else None


def injector_for(cluster: ClusterInventory, *, crash_allowed: str | None = None,
                 link_cut: str | None = None, link_restore: str | None = None) -> FaultInjector:
    lab = lab_of(cluster)
    if lab is not None:
        return LabFaults(lab)
    return RealFaults(crash_allowed, link_cut, link_restore)
