"""The CLI under faults, with fake nodes: the node lock, Ctrl-C mid-step, unlock, a missing key.

Each case reads structured results (the exit status, the run record, JUnit, the fake node's
lock) rather than terminal prose, except where the message itself is the point.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task
from rich.console import Console

from runbook import cli, engine, interrupt, locking, nodelock, progress, remote
from runbook.engine import Runbook, Step
from runbook.nodelock import LockOwner
from runbook.record import read
from tests.unit.cliparts import marking_step, runbooks
from tests.unit.fakenode import FakeNode

pytest_plugins = ["pytester"]  # fake_nr, inventory_dir and checks_dir: conftest.py

HOLDER = LockOwner("alice@ops1", "ops1", 4242, nodelock.now() - 60, "runbook run 06-drbd",
                   "tok-a")  # a run on another control machine, started a minute ago
SINCE = nodelock.utc_clock(HOLDER.since)


@pytest.fixture(autouse=True)
def fresh_interrupt_state() -> Iterator[None]:
    interrupt.reset()
    progress.reset()
    yield
    assert interrupt.requested() is None  # the CLI forgets its request on the way out
    progress.reset()


def cli_run(args: list[str], inventory: Path, reports: Path) -> tuple[int, str]:
    out = StringIO()
    extra = ["--report-dir", str(reports)] if args[0] in ("run", "verify") else []
    console = Console(file=out, width=200, soft_wrap=True)
    code = cli.run([*args, "-i", str(inventory), *extra], console)
    return code, out.getvalue()


def use(monkeypatch: pytest.MonkeyPatch, nr: Nornir, books: list[Runbook]) -> None:
    monkeypatch.setattr(engine, "discover", lambda: books)
    monkeypatch.setattr(cli, "open_nornir", lambda inv, **options: nr)


def commands(host: str) -> list[str]:
    return [c.command for c in remote.journal(host)]


def test_a_run_holds_the_lock_on_every_node_while_its_steps_run(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, str | None] = {}

    def look(task: Task) -> Result:
        seen[task.host.name] = fake_nodes[task.host.name].lock_owner
        return Result(host=task.host)

    books = runbooks(checks_dir.path)
    books[0] = Runbook(books[0].id, "", (Step("look", look, ""),), ("base",), books[0].path,
                       checks_dir.path)
    use(monkeypatch, fake_nr, books)
    code, out = cli_run(["run", "97"], inventory_dir, checks_dir.path / "reports")
    assert code == cli.ExitStatus.OK, out
    owners = {h: nodelock.parse_owner(text or "") for h, text in seen.items()}
    assert {h: (o.pid, o.command) for h, o in owners.items() if o} == {
        "ha1": (os.getpid(), "runbook run 97-first"), "ha2": (os.getpid(), "runbook run 97-first")}
    assert all(n.lock_owner is None for n in fake_nodes.values())  # released at the end
    for host in ("ha1", "ha2"):  # one round trip to lock, one to release, around the steps
        lock_lines = [c for c in commands(host) if "node lock" in c]
        assert lock_lines == [f"take the node lock {nodelock.LOCK_DIR}",
                              f"release the node lock {nodelock.LOCK_DIR}"]


def test_a_locked_node_refuses_the_run_before_any_step(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_nodes["ha2"].lock_owner = HOLDER.render()
    use(monkeypatch, fake_nr, runbooks(checks_dir.path))
    reports = checks_dir.path / "reports"
    code, out = cli_run(["run", "97", "98"], inventory_dir, reports)
    assert code == cli.ExitStatus.LOCKED and int(code) == 3
    assert (f"refused: ha2 is locked by alice@ops1 since {SINCE} "
            "(runbook run 06-drbd, pid 4242); wait for that run to end") in out
    assert fake_nodes["ha1"].lock_owner is None  # the lock it did take is given back
    assert fake_nodes["ha2"].lock_owner == HOLDER.render()  # someone else's stays
    assert not any(c.startswith("echo step-") for h in ("ha1", "ha2") for c in commands(h))
    assert not reports.exists() or not list(reports.iterdir())


@pytest.mark.parametrize("args", [["verify"], ["run", "97", "--dry-run"]])
def test_verify_and_dry_run_take_no_lock(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
) -> None:
    fake_nodes["ha1"].lock_owner = HOLDER.render()  # another run is changing the cluster
    use(monkeypatch, fake_nr, runbooks(checks_dir.path))
    code, out = cli_run(args, inventory_dir, checks_dir.path / "reports")
    assert code == cli.ExitStatus.OK, out
    assert not [c for h in ("ha1", "ha2") for c in commands(h) if "lock" in c]
    assert fake_nodes["ha1"].lock_owner == HOLDER.render()


def waiting_step(stop_after: float) -> Step:
    """Both note "waiting for SSH", then ha1 gets Ctrl-C for real; both wait at a safe point."""
    both_noted = threading.Barrier(2)

    def wait(task: Task) -> Result:
        progress.note(task.host.name, "waiting for SSH")
        both_noted.wait(5)
        if task.host.name == "ha1":
            os.kill(os.getpid(), signal.SIGINT)
        interrupt.pause(stop_after)
        return Result(host=task.host, changed=True)
    return Step("wait", wait, "a long wait")


def test_ctrl_c_stops_the_running_step_at_its_safe_point_and_writes_the_record(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    books = runbooks(checks_dir.path)
    first = Runbook(books[0].id, "", (waiting_step(30.0), marking_step("97")), ("base",),
                    books[0].path, checks_dir.path)
    use(monkeypatch, fake_nr, [first, books[1]])
    began = time.monotonic()
    code, out = cli_run(["run", "97", "98"], inventory_dir, checks_dir.path / "reports")
    assert time.monotonic() - began < 20  # the 30 s wait was cut short (slack for a busy CI)
    assert code == cli.ExitStatus.INTERRUPTED and int(code) == 130
    path = Path(re.search(r"^record: +(\S+)$", out, re.M)[1])  # type: ignore[index]
    record = read(path)
    assert [(s.runbook, s.step, s.host, s.status, s.message) for s in record.steps] == [
        ("97-first", "wait", h, "interrupted", "interrupted by SIGINT while waiting for SSH")
        for h in ("ha1", "ha2")]
    assert record.checks == []  # no check starts after the interrupt
    assert record.interrupted is not None and record.interrupted.signal == "SIGINT"
    assert record.interrupted.line() == (
        "interrupted during 97-first · wait (ha1: waiting for SSH, ha2: waiting for SSH)")
    assert record.invocation.ended is not None and not record.passed
    junit = ET.parse(path.with_suffix(".xml")).getroot()
    errors = junit.findall("testsuite[@name='runbook-steps']/testcase/error")
    assert [e.get("type") for e in errors] == ["interrupted", "interrupted"]
    assert record.interrupted.line() in out
    assert all(n.lock_owner is None for n in fake_nodes.values())
    assert not any(c.startswith("echo step-") for h in ("ha1", "ha2") for c in commands(h))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_unlock_shows_who_held_the_lock_then_clears_it(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_nodes["ha1"].lock_owner = HOLDER.render()
    use(monkeypatch, fake_nr, [])
    code, out = cli_run(["unlock"], inventory_dir, checks_dir.path)
    assert code == cli.ExitStatus.OK, out
    assert out.splitlines() == [
        f"ha1: cleared the lock (locked by alice@ops1 since {SINCE} "
        "(runbook run 06-drbd, pid 4242))",
        "ha2: not locked",
    ]
    assert fake_nodes["ha1"].lock_owner is None


def test_a_missing_key_file_stops_the_run_before_connecting(
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = inventory_dir.parent / "id_ed25519"
    key.unlink()
    monkeypatch.setattr(cli, "open_nornir", lambda *a, **k: pytest.fail("connected"))
    code, out = cli_run(["run", "01"], inventory_dir, inventory_dir.parent / "reports")
    assert code == cli.ExitStatus.USAGE
    assert str(key) in out and "data.ssh.key_file" in out
    assert re.search(r"\bha1\b", out) and re.search(r"\bha2\b", out)


def owner(since_offset: int, token: str) -> LockOwner:
    return LockOwner("bob@ops3", "ops3", 77, nodelock.now() + since_offset, "runbook run 01-base",
                     token)


def test_two_runs_that_split_the_nodes_the_younger_gives_way(
    fake_nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    me = owner(0, "tok-me")
    younger = owner(5, "tok-younger")  # it won ha2; it sees us (older) on ha1 and gives back
    fake_nodes["ha2"].lock_owner = younger.render()
    threading.Timer(0.3, setattr, [fake_nodes["ha2"], "lock_owner", None]).start()
    got = locking.acquire(fake_nr, me)
    assert (sorted(got.taken), got.refusals) == (["ha1", "ha2"], [])
    assert nodelock.parse_owner(fake_nodes["ha2"].lock_owner or "") == me


def test_the_younger_of_two_split_runs_is_refused_at_once(
    fake_nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    me = owner(0, "tok-me")
    fake_nodes["ha2"].lock_owner = owner(-5, "tok-older").render()
    began = time.monotonic()
    got = locking.acquire(fake_nr, me)
    assert time.monotonic() - began < 0.2
    assert got.taken == ["ha1"] and len(got.refusals) == 1  # the CLI gives ha1 back
    assert got.refusals[0].startswith("ha2 is locked by bob@ops3 since ")


def test_a_younger_holder_that_keeps_its_node_is_waited_for_a_bounded_time(
    fake_nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    fake_nodes["ha2"].lock_owner = owner(5, "tok-younger").render()  # a --limit ha2 run
    began = time.monotonic()
    got = locking.acquire(fake_nr, owner(0, "tok-me"), split_wait_s=0.5)
    assert 0.5 <= time.monotonic() - began < 2
    assert got.taken == ["ha1"] and len(got.refusals) == 1


def test_a_step_with_no_safe_point_finishes_and_nothing_after_it_starts(
    checks_dir: pytest.Pytester, fake_nr: Nornir, fake_nodes: dict[str, FakeNode],
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def asked_to_stop(task: Task) -> Result:
        remote.run(task, "echo step-97")
        if task.host.name == "ha2":
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 5  # the signal comes while the step still runs
            while interrupt.requested() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        return Result(host=task.host, changed=True)

    books = runbooks(checks_dir.path)
    first = Runbook(books[0].id, "", (Step("quick", asked_to_stop, ""), marking_step("97")),
                    ("base",), books[0].path, checks_dir.path)
    use(monkeypatch, fake_nr, [first, books[1]])
    code, out = cli_run(["run", "97", "98"], inventory_dir, checks_dir.path / "reports")
    assert code == cli.ExitStatus.INTERRUPTED, out
    record = read(Path(re.search(r"^record: +(\S+)$", out, re.M)[1]))  # type: ignore[index]
    assert [(s.step, s.host, s.status) for s in record.steps] == [
        ("quick", "ha1", "changed"), ("quick", "ha2", "changed")]
    assert record.checks == []
    assert record.interrupted is not None and record.interrupted.signal == "SIGTERM"
    assert record.interrupted.line() == "interrupted during 97-first · quick"
    assert all(n.lock_owner is None for n in fake_nodes.values())


def test_ctrl_c_in_a_dry_run_stops_it_with_130(
    checks_dir: pytest.Pytester, fake_nr: Nornir, inventory_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    books = runbooks(checks_dir.path)
    first = Runbook(books[0].id, "", (waiting_step(30.0), marking_step("97")), ("base",),
                    books[0].path, checks_dir.path)
    use(monkeypatch, fake_nr, [first, books[1]])
    code, out = cli_run(["run", "97", "98", "--dry-run"], inventory_dir, checks_dir.path)
    assert code == cli.ExitStatus.INTERRUPTED, out
    assert ("interrupted during 97-first · wait (ha1: waiting for SSH, ha2: waiting for SSH)"
            in out)
    assert not any(c.startswith("echo step-") for h in ("ha1", "ha2") for c in commands(h))


@pytest.mark.parametrize("value", ["0", "soon", "-5"])
def test_a_bad_progress_interval_is_a_usage_error(
    inventory_dir: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RUNBOOK_PROGRESS_INTERVAL", value)
    monkeypatch.setattr(cli, "open_nornir", lambda *a, **k: pytest.fail("connected"))
    code, out = cli_run(["run", "01"], inventory_dir, inventory_dir.parent / "reports")
    assert code == cli.ExitStatus.USAGE
    assert f"RUNBOOK_PROGRESS_INTERVAL={value!r}" in out


def test_a_node_that_does_not_answer_keeps_its_lock_unless_waited_for(
    fake_nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    got = locking.acquire(fake_nr, owner(0, "tok-me"))
    shell = fake_nr.inventory.hosts["ha2"].connections["netmiko"].connection
    answers = shell.responder

    def gone(command: str) -> tuple[str, str, int]:
        raise OSError("Connection reset by peer")

    shell.responder = gone  # ha2 is rebooting
    began = time.monotonic()
    stays = locking.release(fake_nr, got, wait_s=0)  # the end of a run: one attempt
    assert time.monotonic() - began < 1
    assert stays == {"ha2": "ha2 unreachable: session dropped: Connection reset by peer"}
    assert fake_nodes["ha1"].lock_owner is None and fake_nodes["ha2"].lock_owner is not None
    assert "runbook unlock --limit ha2" in locking.left_behind("ha2", stays["ha2"])
    threading.Timer(0.5, setattr, [shell, "responder", answers]).start()  # ha2 is back
    began = time.monotonic()
    assert locking.release(fake_nr, got, wait_s=10) == {}  # after an interrupt: waited for
    assert 0.5 <= time.monotonic() - began < 5
    assert fake_nodes["ha2"].lock_owner is None
