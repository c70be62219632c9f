"""Fault injectors of runbook drill: a lab is told by its inventory, a real node is crashed only
when named and confirmed, a real link only by the operator's commands."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from rich.console import Console

from runbook import cli, faults
from runbook.inventory import ClusterInventory
from tests.unit.cliparts import inventory_with_ssh_files


def keyed(*keys: Path | None) -> ClusterInventory:
    """A stand-in inventory: only the SSH key files matter to lab_of."""
    ssh = {f"ha{i}": SimpleNamespace(key_file=k) for i, k in enumerate(keys, 1)}
    return cast(ClusterInventory, SimpleNamespace(ssh=ssh))


def lab_dir(root: Path, name: str, up: bool = True) -> Path:
    folder = root / ".lab" / name
    folder.mkdir(parents=True)
    (folder / "id_ed25519").write_text("key")
    if up:
        (folder / "lab.json").write_text("{}")
    return folder / "id_ed25519"


def test_a_lab_is_told_by_the_key_its_inventory_uses(tmp_path: Path) -> None:
    key = lab_dir(tmp_path, "rbdl")
    assert faults.lab_of(keyed(key, key)) == "rbdl"
    assert isinstance(faults.injector_for(keyed(key, key)), faults.LabFaults)
    down = lab_dir(tmp_path, "gone", up=False)  # no lab.json: not a lab (any more)
    assert faults.lab_of(keyed(down, down)) is None
    other = tmp_path / "keys" / "id_ed25519"
    assert faults.lab_of(keyed(other, other)) is None
    assert faults.lab_of(keyed(key, lab_dir(tmp_path, "rbxx"))) is None  # two labs: neither
    assert faults.lab_of(keyed(key, None)) is None
    assert isinstance(faults.injector_for(keyed(other, other)), faults.RealFaults)


def test_a_real_node_is_crashed_only_when_named_and_confirmed() -> None:
    with pytest.raises(faults.FaultRefused, match=r"--crash ha1 and confirm with "
                                                  r"--yes-really-crash ha1"):
        faults.RealFaults().crash_command("ha1")
    with pytest.raises(faults.FaultRefused):
        faults.RealFaults(crash_allowed="ha2").crash_command("ha1")
    assert faults.RealFaults(crash_allowed="ha1").crash_command("ha1") == (
        "echo b > /proc/sysrq-trigger")
    assert faults.RealFaults(crash_allowed="ha1").power_on("ha1") is None  # reboots itself
    with pytest.raises(faults.FaultRefused, match="over SSH"):
        faults.RealFaults(crash_allowed="ha1").crash("ha1")  # never from the control machine


@pytest.mark.parametrize(("named", "confirmed", "typed", "expected"), [
    (None, None, "ha1", None),  # no --crash: never, whatever is typed
    ("ha2", "ha2", None, None),  # named another node
    ("ha1", "ha2", None, None),  # confirmed another node, no terminal to ask
    ("ha1", "ha1", None, "ha1"),  # named and confirmed
    ("ha1", None, None, None),  # named, no confirmation, no terminal
    ("ha1", None, "ha1", "ha1"),  # named, the name typed at the prompt
    ("ha1", None, "yes", None),  # named, something else typed
])
def test_crash_confirmation(named: str | None, confirmed: str | None, typed: str | None,
                            expected: str | None) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return f"{typed}\n"

    assert faults.confirm_crash(named, confirmed, "ha1", ask if typed else None) == expected
    assert all("Type the node's name" in p for p in asked)


def test_a_real_link_is_cut_only_by_the_operators_commands() -> None:
    with pytest.raises(faults.FaultRefused, match="--link-cut-command"):
        faults.RealFaults().cut_link()
    with pytest.raises(faults.FaultRefused):
        faults.RealFaults(link_cut="ifdown eth1").cut_link()  # no way back given
    ran: list[str] = []

    def run(command: str) -> str:
        ran.append(command)
        return f"ran `{command}`"

    real = faults.RealFaults(link_cut="ssh sw1 shut", link_restore="ssh sw1 no-shut", run=run)
    assert (real.cut_link(), real.restore_link()) == ("ran `ssh sw1 shut`",
                                                      "ran `ssh sw1 no-shut`")
    assert ran == ["ssh sw1 shut", "ssh sw1 no-shut"]


def test_the_real_prober_pings_from_here_and_the_labs_from_its_lan() -> None:
    assert faults.RealFaults().ping_argv("10.1.1.5", 0.2) == [
        "ping", "-D", "-n", "-i", "0.2", "10.1.1.5"]
    assert faults.LabFaults("rbdl").ping_argv("192.168.1.50", 0.2)[:5] == [
        "ip", "netns", "exec", "rbdl-lan", "ping"]


def test_the_drill_command_refuses_a_real_crash_before_connecting(
        cluster: ClusterInventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = inventory_with_ssh_files(cluster, tmp_path)

    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("connected to a node")

    monkeypatch.setattr("runbook.drill.open_nornir", no_connection)
    reports = tmp_path / "reports"
    for extra in ([], ["--crash", "ha1"], ["--crash", "ha1", "--yes-really-crash", "ha2"]):
        out = StringIO()
        code = cli.run(["drill", "crash", "-i", str(inventory), "--report-dir", str(reports),
                        *extra], Console(file=out, width=200))
        assert (code, "refused" in out.getvalue()) == (2, True), out.getvalue()
    assert not reports.exists()  # nothing was written, nothing was locked
