"""What the steps of one invocation share, typed: the inventory, the operator's --force,
and what a step learns on one node that a later step on the other node needs.

One :class:`RunContext` per invocation, attached to every host of the Nornir object
(:func:`attach`) and read back with :func:`of`. Steps on different nodes write only
their own host's entries; the step barrier orders every write before the next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nornir.core import Nornir
from nornir.core.inventory import Host

from runbook.facts.domu import Placement
from runbook.facts.heartbeat import HeartbeatView
from runbook.inventory import ClusterInventory, NodeSettings

_KEY = "runbook.context"


@dataclass
class RunContext:
    cluster: ClusterInventory
    forced: frozenset[str] = frozenset()  # hosts whose 03-lvm partition may be overwritten
    placements: dict[str, Placement] = field(default_factory=dict)  # 05-domu, per node
    home_lvs: dict[str, dict[str, float]] = field(default_factory=dict)  # node -> LV -> MiB
    domu_cfgs: dict[str, str] = field(default_factory=dict)  # 06-drbd: DomU -> home's cfg
    heartbeat: dict[str, HeartbeatView] = field(default_factory=dict)  # 08: node -> view
    heartbeat_rewritten: set[str] = field(default_factory=set)  # 08: ha.cf etc. new, per node

    def node(self, name: str) -> NodeSettings:
        return self.cluster.nodes[name]

    @property
    def nodes(self) -> list[NodeSettings]:
        """Every node's settings, in inventory order (for files alike on every node)."""
        return list(self.cluster.nodes.values())


def attach(nr: Nornir, cluster: ClusterInventory, forced: list[str] | None = None) -> RunContext:
    """Give every host of ``nr`` one shared context for this invocation."""
    context = RunContext(cluster, frozenset(forced or ()))
    for host in nr.inventory.hosts.values():
        host.data[_KEY] = context
    return context


def of(host: Host) -> RunContext:
    context = host.data.get(_KEY)
    if not isinstance(context, RunContext):
        raise RuntimeError(f"{host.name} has no run context (runbook.context.attach)")
    return context
