"""01-base tasks on fake nodes: first run changes, second run changes nothing."""

from __future__ import annotations

from nornir.core import Nornir

from runbook import engine
from runbook.engine import RunbookRun
from tests.unit.fakenode import FakeNode


def base_runbook() -> engine.Runbook:
    return engine.select(engine.discover(), ["01-base"])[0]


def test_first_run_configures_second_run_is_a_no_op(
    nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    first = RunbookRun(nr).run(base_runbook())
    assert {r.status for r in first} == {"changed"}, [(r.step, r.message) for r in first]
    ha1 = fake_nodes["ha1"]
    assert ha1.hostname == "ha1.domain.local"
    assert ha1.files["/etc/hostname"] == "ha1.domain.local\n"
    assert "10.0.0.2\tha2X" in ha1.files["/etc/hosts"]
    assert "127.0.1.1\tha1.domain.local\tha1" in ha1.files["/etc/hosts"]
    assert "address 192.168.1.11" in ha1.files["/etc/network/interfaces"]
    assert "server 192.168.1.1 iburst" in ha1.files["/etc/ntp.conf"]
    assert ha1.log.count("restart eth0") == 1 and ha1.log.count("restart eth1") == 1

    writes_before = len(ha1.log)
    second = RunbookRun(nr).run(base_runbook())
    assert {r.status for r in second} == {"ok"}, [(r.step, r.message) for r in second]
    assert len(ha1.log) == writes_before
    assert any("already" in r.message for r in second)


def test_dry_run_predicts_and_changes_nothing(
    nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    before = {n: dict(f.files) for n, f in fake_nodes.items()}
    rows = RunbookRun(nr, dry_run=True).run(base_runbook())
    assert {r.status for r in rows} == {"changed"}
    assert {n: f.files for n, f in fake_nodes.items()} == before
    assert all(not f.log for f in fake_nodes.values())
    hosts_row = next(r for r in rows if r.step == "hosts" and r.host == "ha2")
    assert "+127.0.1.1\tha2.domain.local\tha2" in hosts_row.diff
    ntp_row = next(r for r in rows if r.step == "ntp" and r.host == "ha1")
    predicted = [c.command for c in ntp_row.commands if c.predicted]
    # Installing starts ntpd with the package's conf: the inventory's conf needs a restart.
    assert predicted == ["DEBIAN_FRONTEND=noninteractive apt-get install -y -q ntp",
                         "write /etc/ntp.conf (540 bytes, mode 0644)", "/etc/init.d/ntp restart"]


def test_only_changed_interfaces_are_restarted(
    nr: Nornir, fake_nodes: dict[str, FakeNode]
) -> None:
    RunbookRun(nr).run(base_runbook())
    node = fake_nodes["ha1"]
    node.files["/etc/network/interfaces"] = node.files["/etc/network/interfaces"].replace(
        "address 10.0.0.1", "address 10.0.0.9")
    node.log.clear()
    rows = RunbookRun(nr).run(base_runbook())
    row = next(r for r in rows if r.step == "interfaces" and r.host == "ha1")
    assert row.status == "changed"
    assert "-\taddress 10.0.0.9" in row.diff and "+\taddress 10.0.0.1" in row.diff
    assert node.log == ["write /etc/network/interfaces", "restart eth1"]
