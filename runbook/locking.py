"""The node lock (runbook.nodelock) taken and released over the run's own SSH sessions.

A changing ``runbook run`` locks every node of the run in parallel, one round trip per
node, before its first step, and releases what it took at the end, also after a failure
or an interrupt. A node that cannot be reached is not locked and not refused: the run
fails it alone, as it fails any unreachable node.

Two runs started together may each win a different node. Both see the same pair of
owners, so one rule settles it without talking: the younger run (later ``since``, then
the larger token) gives its nodes back and is refused; the older one waits a moment for
them and goes on. A run that got no node at all is simply refused.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import nodelock, remote
from runbook.nodelock import LockOwner

RELEASE_WAIT_S = 30.0  # a node interrupted mid-reboot is waited for this long to unlock it
SPLIT_WAIT_S = 5.0  # the older of two runs that split the nodes waits this long for the rest


def owner_for(operator: str, command: str) -> LockOwner:
    """This invocation as a lock owner (``command``: ``runbook run 06-drbd``)."""
    return LockOwner(operator=operator, control_host=socket.gethostname(), pid=os.getpid(),
                     since=nodelock.now(), command=command, token=uuid.uuid4().hex)


@dataclass
class Acquired:
    owner: LockOwner
    taken: list[str] = field(default_factory=list)  # hosts this invocation now holds
    refusals: list[str] = field(default_factory=list)  # one message per host held elsewhere
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> why


@dataclass(frozen=True)
class _Held:
    """A node someone else holds: who (None: an unreadable owner file) and the refusal."""

    holder: LockOwner | None
    message: str


def _acquire(task: Task, owner: LockOwner) -> Result:
    try:
        done = remote.change(task, nodelock.acquire_command(owner),
                             ok_codes=(0, nodelock.HELD_STATUS),
                             display=f"take the node lock {nodelock.LOCK_DIR}")
    except remote.NodeUnreachable as exc:
        return Result(host=task.host, failed=True, result=exc.reason)
    except remote.RemoteError as exc:  # reached, but the lock could not be made: no run
        return Result(host=task.host, result=_Held(None, f"{task.host.name}: cannot take the "
                                                         f"node lock ({exc})"))
    if done.exit_status == 0:
        return Result(host=task.host, result="taken")
    holder = nodelock.parse_owner(done.stdout)
    this_host = socket.gethostname()
    alive = (nodelock.pid_alive(holder.pid)
             if holder is not None and holder.control_host == this_host else None)
    return Result(host=task.host, result=_Held(holder, nodelock.refusal(
        task.host.name, holder, nodelock.now(), this_host, alive)))


def _younger(holder: LockOwner | None, owner: LockOwner) -> bool:
    """``holder`` started after ``owner`` (the same answer in both runs: a total order)."""
    return holder is not None and (holder.since, holder.token) > (owner.since, owner.token)


def _attempt(nr: Nornir, owner: LockOwner, hosts: list[str], outcome: Acquired
             ) -> dict[str, _Held]:
    """Try ``hosts`` at once; record taken and unreachable ones, return the held ones."""
    aggregated = nr.filter(filter_func=lambda h: h.name in hosts).run(
        task=_acquire, name="lock", owner=owner, on_failed=True)
    held: dict[str, _Held] = {}
    for host in hosts:
        result = aggregated[host][0]
        if result.failed:
            outcome.unreachable[host] = str(result.result or result.exception)
        elif isinstance(result.result, _Held):
            held[host] = result.result
        else:
            outcome.taken.append(host)
    return held


def acquire(nr: Nornir, owner: LockOwner, split_wait_s: float = SPLIT_WAIT_S) -> Acquired:
    """Lock every host of ``nr`` at once; the answer says who got it and who holds the rest."""
    outcome = Acquired(owner)
    held = _attempt(nr, owner, list(nr.inventory.hosts), outcome)
    deadline = time.monotonic() + split_wait_s
    # Split with younger runs only: they give their nodes back (they see us as older).
    while (held and outcome.taken and time.monotonic() < deadline
           and all(_younger(h.holder, owner) for h in held.values())):
        time.sleep(0.2)
        held = _attempt(nr, owner, list(held), outcome)
    outcome.refusals = [h.message for h in held.values()]
    return outcome


def _release(task: Task, token: str, deadline: float) -> Result:
    """Release this invocation's lock; a node coming back from a reboot is retried."""
    while True:
        try:
            remote.change(task, nodelock.release_command(token),
                          display=f"release the node lock {nodelock.LOCK_DIR}")
            return Result(host=task.host, result="released")
        except remote.RemoteError as exc:
            if time.monotonic() >= deadline:
                return Result(host=task.host, failed=True, result=str(exc))
        remote.retry_connection(task.host.name)
        time.sleep(1.0)


def release(nr: Nornir, lock: Acquired, wait_s: float = RELEASE_WAIT_S) -> dict[str, str]:
    """Release every lock ``lock`` took; return host -> why its lock stays (none: all gone).

    A host that does not answer is tried again for ``wait_s`` (0: once); one already known
    unreachable is not tried at all.
    """
    gone = remote.unreachable_hosts()
    stays = {h: f"{h} unreachable: {gone[h]}" for h in lock.taken if h in gone}
    hosts = [h for h in lock.taken if h not in gone]
    if hosts:
        deadline = time.monotonic() + wait_s
        aggregated = nr.filter(filter_func=lambda h: h.name in hosts).run(
            task=_release, name="unlock", token=lock.owner.token, deadline=deadline,
            on_failed=True)  # a host that failed a step (or was interrupted) holds it too
        stays |= {h: str(r[0].result) for h, r in aggregated.items() if r[0].failed}
    return {h: stays[h] for h in lock.taken if h in stays}


def left_behind(host: str, why: str) -> str:
    return (f"the node lock on {host} stays ({why}); once {host} answers, clear it with "
            f"`runbook unlock --limit {host}`")


@dataclass(frozen=True)
class Cleared:
    host: str
    found: bool  # a lock was there
    owner: LockOwner | None  # who held it (None: no lock, or its owner file was unreadable)
    error: str = ""  # the node could not be reached

    def line(self) -> str:
        if self.error:
            return f"{self.host}: not cleared ({self.error})"
        if not self.found:
            return f"{self.host}: not locked"
        held = nodelock.describe_holder(self.host, self.owner).removeprefix(f"{self.host} is ")
        return f"{self.host}: cleared the lock ({held})"


def _clear(task: Task) -> Result:
    try:
        done = remote.change(task, nodelock.unlock_command(),
                             ok_codes=(0, nodelock.NOT_LOCKED_STATUS),
                             display=f"clear the node lock {nodelock.LOCK_DIR}")
    except remote.RemoteError as exc:
        return Result(host=task.host, failed=True, result=str(exc))
    found = done.exit_status == 0
    return Result(host=task.host, result=Cleared(
        task.host.name, found, nodelock.parse_owner(done.stdout) if found else None))


def clear(nr: Nornir, hosts: Sequence[str]) -> list[Cleared]:
    """``runbook unlock``: remove the lock of every host, saying who held it."""
    aggregated = nr.run(task=_clear, name="clear lock", on_failed=True)
    rows = []
    for host in hosts:
        result = aggregated[host][0]
        if result.failed or not isinstance(result.result, Cleared):
            rows.append(Cleared(host, False, None, str(result.result or result.exception)))
        else:
            rows.append(result.result)
    return rows
