"""Manager messages and status rendering (no root, nothing started)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xenlab import manager


def test_not_root_says_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(manager.LabError, match=r"^the lab needs root: run it with sudo$"):
        manager._preflight()


def test_missing_packages_give_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)

    def fake_run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        installed = argv[-1] not in ("heartbeat", "drbd-utils")
        return subprocess.CompletedProcess(argv, 0 if installed else 1,
                                           "install ok installed" if installed else "", "")

    monkeypatch.setattr(manager, "_run", fake_run)
    with pytest.raises(manager.LabError) as err:
        manager._preflight()
    assert str(err.value) == ("missing Debian packages: heartbeat drbd-utils; install them with: "
                              "apt-get install -y heartbeat drbd-utils")


def node(name: str, up: bool) -> manager.NodeStatus:
    return manager.NodeStatus(node=name, netns=True, init_pid=42 if up else None,
                              init_alive=up, port=2201, ssh=up, hostname=name if up else None,
                              powered_off=not up)


def test_render_up_and_partial() -> None:
    st = manager.LabStatus("rbtl", Path("/x/.lab/rbtl"), exists=True, lan=True,
                           nodes=[node("ha1", True), node("ha2", True)])
    assert st.up and st.state == "up"
    assert st.render().splitlines()[0] == "lab rbtl: up (/x/.lab/rbtl)"
    st.nodes[1] = node("ha2", False)
    assert not st.up and st.state == "partial"
    text = st.render()
    assert "ha1     namespace present, init pid 42 alive, ssh 127.0.0.1:2201 answering" in text
    assert "(powered off)" in text


def test_render_down() -> None:
    empty = manager.NodeStatus("ha1", False, None, False, None, False, None)
    st = manager.LabStatus("rbtl", Path("/x"), exists=False, lan=False, nodes=[empty])
    assert st.state == "down" and not st.up


def test_process_record_needs_same_start_time(tmp_path: Path) -> None:
    record = tmp_path / "pid"
    manager._record(record, os.getpid())
    assert manager._recorded(record) == os.getpid()
    pid, _ = record.read_text().split()
    record.write_text(f"{pid} 1\n")  # same pid, another process (start time differs)
    assert manager._recorded(record) is None


def test_bad_name_is_a_lab_error() -> None:
    with pytest.raises(manager.LabError, match="invalid lab name"):
        manager.status("Bad-Name")
