"""The lab itself, over real SSH: a lab named rbtl (ports 2241/2242), never the default lab."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager
from xenlab.layout import Paths

pytestmark = LAB_TESTS

LAB = "rbtl"
PORT_BASE = 2241
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(2)
            return not sock.recv(16)
    except OSError:
        return True


@pytest.mark.parametrize("node", ["ha1", "ha2"])
def test_hostname(lab: manager.LabInfo, node: str) -> None:
    assert ssh(lab, node, "hostname").stdout.strip() == node


def test_status_reports_up(lab: manager.LabInfo) -> None:
    st = manager.status(LAB, project_root=PROJECT)
    assert st.up, st.render()
    assert [n.hostname for n in st.nodes] == ["ha1", "ha2"]
    assert "rbtl: up" in st.render()


def test_each_node_has_its_own_etc(lab: manager.LabInfo) -> None:
    ssh(lab, "ha1", "echo '10.0.0.2 ha2X' >> /etc/hosts && touch /etc/rbtl-marker")
    assert "ha2X" in ssh(lab, "ha1", "cat /etc/hosts").stdout
    assert "ha2X" not in ssh(lab, "ha2", "cat /etc/hosts").stdout
    assert ssh(lab, "ha2", "test -e /etc/rbtl-marker", check=False).returncode == 1
    assert not Path("/etc/rbtl-marker").exists()


def test_fresh_node_is_hardy_with_ssh_only(lab: manager.LabInfo) -> None:
    out = ssh(lab, "ha2", "cat /etc/hostname; grep -c dhcp /etc/network/interfaces; "
                          "dpkg-query -W -f='${Version}' openssh-server").stdout.split()
    assert out == ["ha2", "1", "1:4.7p1-8ubuntu1"]
    assert ssh(lab, "ha2", "uname -r").stdout.strip() == "2.6.24-19-server"
    assert "2.6.24-19-server" in ssh(lab, "ha2", "uname -a").stdout
    hidden = "ls -d /etc/ha.d /etc/drbd.conf /usr/sbin/drbdadm /etc/init.d/heartbeat /etc/ntp.conf"
    assert ssh(lab, "ha1", hidden + " 2>/dev/null", check=False).stdout == ""


def test_apt_get_install_ntp(lab: manager.LabInfo) -> None:
    assert ssh(lab, "ha1", "dpkg-query -W ntp", check=False).returncode != 0
    out = ssh(lab, "ha1", "apt-get install -y ntp").stdout
    assert "Setting up ntp (1:4.2.4p4+dfsg-3ubuntu2) ..." in out
    assert ssh(lab, "ha1", "/etc/init.d/ntp status").stdout.strip() == "* NTP server is running."
    assert "ntp.ubuntu.com" in ssh(lab, "ha1", "ntpq -p").stdout
    status = ssh(lab, "ha1", "dpkg-query -W -f='${Status} ${Version}' ntp").stdout
    assert status == "install ok installed 1:4.2.4p4+dfsg-3ubuntu2"
    assert ssh(lab, "ha1", "dpkg -l ntp").stdout.splitlines()[-1].startswith("ii  ntp")
    assert ssh(lab, "ha2", "dpkg-query -W ntp", check=False).returncode != 0
    assert ssh(lab, "ha2", "test -e /usr/sbin/ntpd", check=False).returncode == 1


def test_crossover_with_real_ifupdown(lab: manager.LabInfo) -> None:
    for node, address in (("ha1", "10.0.0.1"), ("ha2", "10.0.0.2")):
        ssh(lab, node, "printf '\\nauto eth1\\niface eth1 inet static\\n"
                       f"    address {address}\\n    netmask 255.255.255.0\\n'"
                       " >> /etc/network/interfaces && ifup eth1")
    assert ssh(lab, "ha1", "ping -c1 -W1 10.0.0.2").returncode == 0
    ssh(lab, "ha2", "ifdown eth1; ifup eth1")  # what a runbook does after editing the file
    assert ssh(lab, "ha1", "ping -c1 -W1 10.0.0.2").returncode == 0
    manager.cut_link(LAB, project_root=PROJECT)
    try:
        assert ssh(lab, "ha1", "ping -c1 -W1 10.0.0.2", check=False).returncode != 0
    finally:
        manager.restore_link(LAB, project_root=PROJECT)
    assert ssh(lab, "ha1", "ping -c3 -i0.3 -W1 10.0.0.2").returncode == 0


def test_up_is_idempotent(lab: manager.LabInfo) -> None:
    pids = sorted(p.read_text() for p in (lab.state_dir / "pids").iterdir())
    again = manager.up(LAB, port_base=PORT_BASE, project_root=PROJECT)
    assert again == lab
    assert sorted(p.read_text() for p in (lab.state_dir / "pids").iterdir()) == pids


def test_reboot_from_inside_the_node(lab: manager.LabInfo) -> None:
    boot_id = ssh(lab, "ha2", "cat /usr/lib/runbook-lab/node/boot_id").stdout
    ssh(lab, "ha2", "reboot", check=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = ssh(lab, "ha2", "cat /usr/lib/runbook-lab/node/boot_id", check=False)
        if result.returncode == 0 and result.stdout and result.stdout != boot_id:
            break
        time.sleep(1)
    else:
        pytest.fail("ha2 did not come back from reboot within 60s")
    # what the node wrote to disk survives, addresses come back from its own interfaces file
    assert "10.0.0.2/24" in ssh(lab, "ha2", "ip -o addr show eth1").stdout


def test_power_off_and_on(lab: manager.LabInfo) -> None:
    port = lab.nodes["ha2"]
    manager.power_off(LAB, "ha2", project_root=PROJECT)
    deadline = time.monotonic() + 5
    while not refuses(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert refuses(port)
    assert ssh(lab, "ha1", "ping -c1 -W1 10.0.0.2", check=False).returncode != 0
    assert not manager.status(LAB, project_root=PROJECT).up
    manager.power_on(LAB, "ha2", project_root=PROJECT)
    assert ssh(lab, "ha2", "hostname").stdout.strip() == "ha2"


def test_a_second_lab_coexists(lab: manager.LabInfo) -> None:
    try:
        other = manager.up("rbtl2", port_base=PORT_BASE + 2, project_root=PROJECT)
        assert ssh(other, "ha1", "hostname").stdout.strip() == "ha1"
        assert ssh(other, "ha1", "dpkg-query -W ntp", check=False).returncode != 0
        assert other.inventory_dir == other.state_dir / "inventory"
    finally:
        manager.down("rbtl2", project_root=PROJECT)
    assert manager.status(LAB, project_root=PROJECT).up


def test_down_removes_everything(lab: manager.LabInfo) -> None:
    pids = [int(p.read_text().split()[0]) for p in (lab.state_dir / "pids").iterdir()]
    removed = manager.down(LAB, project_root=PROJECT)
    assert any("rbtl-lan" in line for line in removed)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "rbtl-" not in namespaces
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not Paths(PROJECT, LAB).state_dir.exists()
    assert manager.down(LAB, project_root=PROJECT) == []
