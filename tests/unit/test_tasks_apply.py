"""Real runs on fake nodes: plans applied through the changer, success judged by read-back.

A tool's exit status is not trusted where the 8.04 tool does not give one that means
anything (xen-create-image 3.8 exits 0 on most failures): the state read back decides.
"""

from __future__ import annotations

import pytest
from nornir.core import Nornir

from runbook import engine, interrupt
from runbook.engine import RunbookRun, StepOutcome
from runbook.tasks import domu
from tests.unit.fakenode import FakeNode


def runbook(ident: str) -> engine.Runbook:
    return engine.select(engine.discover(), [ident])[0]


def swap_nodes(nr: Nornir, fake_nodes: dict[str, FakeNode], **nodes: FakeNode) -> None:
    for name, node in nodes.items():
        fake_nodes[name] = node
        nr.inventory.hosts[name].connections["netmiko"].connection.responder = node


def row(rows: list[StepOutcome], host: str, step: str) -> StepOutcome:
    return next(r for r in rows if (r.host, r.step) == (host, step))


@pytest.fixture(autouse=True)
def domu_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_DOMU_PASSWORD", "s3cret-domu")


def test_lvm_creates_the_volume_group_then_is_a_no_op(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    rows = RunbookRun(nr).run(runbook("03-lvm"))
    assert {r.status for r in rows} == {"changed"}, [(r.host, r.step, r.message) for r in rows]
    assert fake_nodes["ha1"].pvs == {"/dev/sda3": "vg"}
    assert row(rows, "ha1", "volume-group").message == "created vg on /dev/sda3"
    again = RunbookRun(nr).run(runbook("03-lvm"))
    assert {r.status for r in again} == {"ok"}


def test_lvm_refuses_an_ext3_partition_unless_forced(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    fake_nodes["ha2"].signature = 'UUID="0b5a" TYPE="ext3"'
    rows = RunbookRun(nr).run(runbook("03-lvm"))
    assert row(rows, "ha2", "volume-group").status == "failed"
    assert "holds a ext3 signature" in row(rows, "ha2", "volume-group").message
    assert "/dev/sda3" not in fake_nodes["ha2"].pvs
    assert fake_nodes["ha1"].pvs == {"/dev/sda3": "vg"}  # the other node went on


def test_domu_image_peer_lvs_and_first_boot(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    swap_nodes(nr, fake_nodes, ha1=FakeNode.ready("ha1"), ha2=FakeNode.ready("ha2"))
    rows = RunbookRun(nr).run(runbook("05-domu"))
    assert not [r for r in rows if r.status == "failed"], [(r.host, r.step, r.message)
                                                           for r in rows]
    ha1, ha2 = fake_nodes["ha1"], fake_nodes["ha2"]
    assert ha1.log == ["xen-create-image test", "xm create /etc/xen/test.cfg",
                       "xm shutdown -w test",
                       "mkdir -p /var/lib/runbook && touch /var/lib/runbook/first-boot-test"]
    assert ha2.log == ["lvcreate -L 5120m -n test-disk vg", "lvcreate -L 384m -n test-swap vg"]
    assert ha2.lvs == ha1.lvs and not ha1.domains
    assert row(rows, "ha1", "first-boot").message == (
        "test: started, answered ping at 192.168.1.50 after 0s, shut down")
    again = RunbookRun(nr).run(runbook("05-domu"))
    assert {r.status for r in again} == {"ok"}, [(r.host, r.step, r.message) for r in again]


def test_xen_create_image_exiting_0_without_an_image_is_a_failure(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    broken = FakeNode.ready("ha1")
    broken.broken_installer = True
    swap_nodes(nr, fake_nodes, ha1=broken, ha2=FakeNode.ready("ha2"))
    rows = RunbookRun(nr).run(runbook("05-domu"))
    image = row(rows, "ha1", "image")
    assert image.status == "failed"
    assert image.message == ("xen-create-image test ran but test-disk, test-swap, "
                             "/etc/xen/test.cfg do(es) not exist (see its output and "
                             "/var/log/xen-tools/)")
    assert row(rows, "ha2", "peer-lvs").status == "failed"  # no sizes from ha1: nothing guessed
    assert not fake_nodes["ha2"].lvs


def test_a_failed_passwd_fails_the_image_step_though_xen_tools_exits_0(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    unlucky = FakeNode.ready("ha1")
    unlucky.broken_passwd = True
    swap_nodes(nr, fake_nodes, ha1=unlucky, ha2=FakeNode.ready("ha2"))
    rows = RunbookRun(nr).run(runbook("05-domu"))
    image = row(rows, "ha1", "image")
    assert image.status == "failed"
    assert "did not set its root password (passwd: Authentication token manipulation " \
           "error; password unchanged)" in image.message
    assert "xen-delete-image test" in image.message
    assert "xm create /etc/xen/test.cfg" not in unlucky.log  # never booted without a password


def test_first_boot_refuses_a_domu_running_on_the_peer(
        nr: Nornir, fake_nodes: dict[str, FakeNode]) -> None:
    ha1, ha2 = FakeNode.built("ha1"), FakeNode.built("ha2")
    del ha1.files["/var/lib/runbook/first-boot-test"]
    ha2.domains.add("test")
    swap_nodes(nr, fake_nodes, ha1=ha1, ha2=ha2)
    rows = RunbookRun(nr).run(runbook("05-domu"))
    boot = row(rows, "ha1", "first-boot")
    assert boot.status == "failed" and "test is running on ha2" in boot.message
    assert not ha1.domains and not ha1.log


class FakeClock:
    """time.monotonic for tasks.domu: one second passes at every reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_first_boot_waits_for_a_slow_guest(
        nr: Nornir, fake_nodes: dict[str, FakeNode], monkeypatch: pytest.MonkeyPatch) -> None:
    swap_nodes(nr, fake_nodes, ha1=FakeNode.ready("ha1"), ha2=FakeNode.ready("ha2"))
    fake_nodes["ha1"].silent_pings = 3
    monkeypatch.setattr(domu.time, "monotonic", FakeClock())
    rows = RunbookRun(nr).run(runbook("05-domu"))
    boot = row(rows, "ha1", "first-boot")
    assert boot.status == "changed", boot.message
    assert boot.message.startswith("test: started, answered ping at 192.168.1.50 after ")
    assert fake_nodes["ha1"].silent_pings == 0 and not fake_nodes["ha1"].domains


def test_first_boot_that_never_answers_leaves_the_node_as_before(
        nr: Nornir, fake_nodes: dict[str, FakeNode], monkeypatch: pytest.MonkeyPatch) -> None:
    swap_nodes(nr, fake_nodes, ha1=FakeNode.ready("ha1"), ha2=FakeNode.ready("ha2"))
    fake_nodes["ha1"].silent_pings = 10_000
    monkeypatch.setattr(domu.time, "monotonic", FakeClock())
    rows = RunbookRun(nr).run(runbook("05-domu"))
    boot = row(rows, "ha1", "first-boot")
    assert boot.status == "failed"
    assert "did not answer ping at 192.168.1.50 within 120s" in boot.message
    assert "test was shut down again, the node is as before the step" in boot.message
    assert not fake_nodes["ha1"].domains
    assert "/var/lib/runbook/first-boot-test" not in fake_nodes["ha1"].files
    # Nothing is left running, so the next run tries again instead of refusing.
    fake_nodes["ha1"].silent_pings = 0
    nr.data.failed_hosts.clear()  # a new invocation
    again = RunbookRun(nr).run(runbook("05-domu"))
    assert row(again, "ha1", "first-boot").status == "changed"


def test_an_interrupted_boot_test_shuts_the_domu_down(
        nr: Nornir, fake_nodes: dict[str, FakeNode], monkeypatch: pytest.MonkeyPatch) -> None:
    swap_nodes(nr, fake_nodes, ha1=FakeNode.ready("ha1"), ha2=FakeNode.ready("ha2"))
    fake_nodes["ha1"].silent_pings = 10_000
    clock = FakeClock()

    def ticking() -> float:
        if fake_nodes["ha1"].silent_pings <= 10_000 - 3:  # Ctrl-C while the guest boots
            interrupt.request("SIGINT")
        return clock()

    monkeypatch.setattr(domu.time, "monotonic", ticking)
    try:
        rows = RunbookRun(nr).run(runbook("05-domu"))
    finally:
        interrupt.reset()
    boot = row(rows, "ha1", "first-boot")
    assert boot.status == "interrupted", boot.message
    assert "xm shutdown -w test" in fake_nodes["ha1"].log
    assert not fake_nodes["ha1"].domains
