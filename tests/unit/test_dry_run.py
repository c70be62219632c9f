"""The dry-run guarantee: a dry run plans, and never reaches a call that changes a node.

Every step of every runbook (runbooks/*.py, as the engine discovers them) runs in dry-run
mode on fake nodes with every changing call replaced by one that raises; no step may fail
and no node may change. A structural test shows why: planning code gets a NodeReader, and
only runbook/plan.py makes a NodeChanger, after the dry-run check.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from nornir.core import Nornir

from runbook import engine, paths, plan, remote
from runbook.engine import RunbookRun, StepOutcome
from runbook.inventory import ClusterInventory
from runbook.plan import NodeChanger, NodeReader, PlannedTask
from runbook.tasks import drbd
from runbook.tasks.files import render
from tests.unit import fakenode_heartbeat, fakenode_migration
from tests.unit.fakenode import FakeNode

PACKAGE = Path(plan.__file__).resolve().parent
CHANGING = ("change", "reboot_and_wait")


class Reached(AssertionError):
    """A changing call was reached in a dry run."""


@pytest.fixture
def no_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise Reached(f"changing call reached in a dry run: {args[1:2]}")

    for name in CHANGING:
        monkeypatch.setattr(remote, name, forbidden)
    monkeypatch.setattr(NodeChanger, "__init__", forbidden)
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "s3cret-domu")
    monkeypatch.setenv("RUNBOOK_HA_AUTHKEY", "s3cret-ha-key")


def dry_run_all(nr: Nornir) -> list[StepOutcome]:
    runner = RunbookRun(nr, dry_run=True)
    for runbook in engine.discover():
        runner.run(runbook)
    return runner.outcomes


def snapshot(nodes: dict[str, FakeNode]) -> dict[str, object]:
    return {n: (dict(f.files), f.hostname, set(f.packages), dict(f.pvs), dict(f.lvs),
                list(f.log)) for n, f in nodes.items()}


def test_every_step_dry_runs_on_fresh_nodes_without_a_change(
        nr: Nornir, fake_nodes: dict[str, FakeNode], no_changes: None) -> None:
    before = snapshot(fake_nodes)
    rows = dry_run_all(nr)
    steps = [(rb.id, s.name) for rb in engine.discover() for s in rb.steps]
    assert [(r.runbook, r.step) for r in rows if r.host == "ha1"] == steps
    assert not [r for r in rows if r.status in ("failed", "skipped")], [
        (r.host, r.runbook, r.step, r.message) for r in rows if r.status != "changed"]
    assert snapshot(fake_nodes) == before
    by_step = {(r.host, r.runbook, r.step): r for r in rows}
    reboot = by_step["ha1", "02-xen", "reboot"]
    assert reboot.status == "changed" and reboot.plan == [
        "reboot: running kernel 2.6.24-19-server is not -xen; max_loop is 8, not 64",
        "predicted (ubuntu-xen-server not installed yet): the default entry of "
        "/boot/grub/menu.lst starts Xen once they are"]
    image = by_step["ha1", "05-domu", "image"]
    assert [c.command for c in image.commands if c.predicted] == [
        "xen-create-image --hostname=test --ip=192.168.1.50 --memory=384Mb --size=5Gb "
        "--swap=384Mb --dist=hardy --lvm=vg (root password on stdin)"]
    assert all("s3cret-domu" not in c.command for r in rows for c in r.commands)
    assert by_step["ha2", "05-domu", "image"].status == "ok"


def test_dry_run_on_built_nodes_plans_nothing(
        nr: Nornir, cluster: ClusterInventory, fake_nodes: dict[str, FakeNode],
        no_changes: None) -> None:
    for name in fake_nodes:
        fake_nodes[name] = built = FakeNode.replicated(name)
        tools, drbd_settings = cluster.nodes[name].xen_tools, cluster.nodes[name].drbd
        assert tools is not None and drbd_settings is not None
        built.files["/etc/xen-tools/xen-tools.conf"] = render("xen-tools.conf.j2", t=tools)
        built.files["/etc/drbd.conf"] = drbd.conf_text(cluster, drbd_settings)
        fakenode_migration.run_07(built, cluster, name)
        fakenode_heartbeat.run_08(built, cluster, name, "s3cret-ha-key")
    nr.inventory.hosts["ha1"].connections["netmiko"].connection.responder = fake_nodes["ha1"]
    nr.inventory.hosts["ha2"].connections["netmiko"].connection.responder = fake_nodes["ha2"]
    rows = [r for r in dry_run_all(nr) if r.runbook != "01-base"]
    # "waited": the node a one-node step does not run on (06-drbd's initial sync)
    assert {r.status for r in rows} == {"ok", "waited"}, [
        (r.host, r.runbook, r.step, r.message) for r in rows if r.status != "ok"]


def test_missing_domu_password_is_refused_in_a_dry_run_too(
        nr: Nornir, no_changes: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_DOMU_PASSWORD")
    rows = dry_run_all(nr)
    image = next(r for r in rows if (r.host, r.runbook, r.step) == ("ha1", "05-domu", "image"))
    assert image.status == "failed" and "RUNBOOK_DOMU_PASSWORD" in image.message


# Structure: why the dry run cannot change anything ----------------------------------------
def test_every_step_is_a_planned_task_whose_planner_gets_only_a_reader() -> None:
    for runbook in engine.discover():
        for step in runbook.steps:
            assert isinstance(step.task, PlannedTask), f"{runbook.id} · {step.name}"
            (parameter,) = inspect.signature(step.task.plan_fn).parameters.values()
            assert parameter.annotation in ("NodeReader", NodeReader), (runbook.id, step.name)


def test_a_reader_has_no_changing_method() -> None:
    public = {name for name in dir(NodeReader) if not name.startswith("_")}
    assert not public & {*CHANGING, "write", "apply"}
    assert {*CHANGING} <= set(dir(NodeChanger))


def called(path: Path) -> set[str]:
    """Every called name of a module: `remote.change(...)` as "remote.change"."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            found.add(ast.unparse(node.func))
    return found


def test_only_the_changer_calls_the_changing_functions() -> None:
    changing = {f"remote.{name}" for name in CHANGING} | {"NodeChanger"}
    for module in PACKAGE.glob("*.py"):
        if module.name not in ("remote.py", "plan.py", "locking.py"):
            assert not called(module) & changing, module
    # The node lock is a change of its own, made only by a changing run (the CLI takes no
    # lock in a dry run, and remote.change refuses one anyway): no plan, no NodeChanger.
    assert called(PACKAGE / "locking.py") & changing == {"remote.change"}
    reads = {"remote.quote", "remote.run_many"}  # facts.read: one round trip of facts
    for module in [*(PACKAGE / "facts").glob("*.py"), *(paths.RESOURCES / "tasks").glob("*.py")]:
        # facts and tasks reach a node only through the reader or changer they are given
        allowed = reads if module == PACKAGE / "facts" / "__init__.py" else {"remote.quote"}
        assert not {c for c in called(module) if c.startswith("remote.")} - allowed, module
        assert "NodeChanger" not in called(module), module
    in_plan = [c for c in called(PACKAGE / "plan.py") if c in changing]
    assert sorted(in_plan) == ["NodeChanger", "remote.change", "remote.reboot_and_wait"]


def test_the_changer_is_made_only_after_the_dry_run_return() -> None:
    source = inspect.getsource(PlannedTask.__call__)
    assert source.index("if task.is_dry_run():") < source.index("NodeChanger(task)")
    assert source.count("NodeChanger(") == 1
