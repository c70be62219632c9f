"""The lab's real Heartbeat over real SSH: lab rbhb (ports 2471/2472), brought down at the end.

The guide's "Install and Configure Heartbeat" on two Xen nodes: Debian's real heartbeat daemon
with v1 files (ha.cf with ucast eth0 to both addresses, authkeys sha1 mode 600, haresources
``ha1.domain.local xendomainsHA1`` / ``ha2.domain.local xendomainsHA2``), the resource scripts
made from Xen 3.2.0's /etc/init.d/xendomains with the guide's two lines changed, the
/etc/default/xendomainsHA1/HA2 of the guide (MIGRATE names the other node), one DomU per node in
/etc/xen/auto/HA1 and HA2. Then: the daemon's own start-up refusals, both nodes active, a
planned stop (the peer takes over, the DomU live-migrates), failback, and kill -9 of heartbeat
(the node's softdog resets it, the peer declares it dead and starts its DomU). Timings are
printed (pytest -s) and bounded.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator

import pytest

from tests.integration.labtools import LAB_TESTS, own_lab, ssh
from xenlab import manager

pytestmark = LAB_TESTS

LAB = "rbhb"
PORT_BASE = 2471
NODES = ("ha1", "ha2")
PEER = {"ha1": "ha2", "ha2": "ha1"}
ADDR = {"ha1": "192.168.1.11", "ha2": "192.168.1.12"}
CROSS = {"ha1": "10.0.0.1", "ha2": "10.0.0.2"}
FQDN = {n: f"{n}.domain.local" for n in NODES}
DOMU = {"ha1": ("web1", "192.168.1.51"), "ha2": ("web2", "192.168.1.52")}
DEADTIME = 4  # the guide's 10, smaller to keep the test short (heartbeat wants > 2 keepalives)
MARGIN = DEADTIME + 1  # what heartbeat asks the watchdog for: deadtime + 10 ms, rounded up

HA_CF = f"""\
logfacility local0
udpport 694
keepalive 1
deadtime {DEADTIME}
warntime 2
initdead 8
ucast eth0 {ADDR["ha1"]}
ucast eth0 {ADDR["ha2"]}
auto_failback on
watchdog /dev/watchdog
debugfile /var/log/ha-debug
node ha1.domain.local
node ha2.domain.local
"""
HARESOURCES = "ha1.domain.local xendomainsHA1\nha2.domain.local xendomainsHA2\n"


def interfaces(node: str) -> str:
    return (f"auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n"
            f"\taddress {ADDR[node]}\n\tnetmask 255.255.255.0\n\tgateway 192.168.1.1\n\n"
            f"auto eth1\niface eth1 inet static\n\taddress {CROSS[node]}\n"
            f"\tnetmask 255.255.255.0\n")


HOSTS = ("127.0.0.1\tlocalhost\n"
         + "".join(f"{ADDR[n]}\t{FQDN[n]}\t{n}\n{CROSS[n]}\t{n}X\n" for n in NODES))


def domu_cfg(name: str, ip: str) -> str:
    return (f"kernel = '/boot/vmlinuz-2.6.24-19-xen'\nmemory = '128'\nname = '{name}'\n"
            f"vif = [ 'ip={ip}' ]\non_poweroff = 'destroy'\non_reboot = 'restart'\n")


def defaults_sed(node: str, group: str) -> str:
    """The guide's /etc/default/xendomainsHA1 (HA2): migrate to the OTHER node, no save, no
    shutdown-all, no restore, its own auto folder, auto domains only (and a shorter pause
    after xm create)."""
    settings = {"XENDOMAINS_MIGRATE": f'"{PEER[node]}X --live"', "XENDOMAINS_SAVE": '""',
                "XENDOMAINS_SHUTDOWN_ALL": '""', "XENDOMAINS_RESTORE": "false",
                "XENDOMAINS_AUTO": f"/etc/xen/auto/{group}", "XENDOMAINS_AUTO_ONLY": "true",
                # not the guide's: 1 s instead of 5 s after each xm create keeps the test short
                "XENDOMAINS_CREATE_USLEEP": "1000000"}
    return " ".join(f"-e 's|^{key}=.*|{key}={value}|'" for key, value in settings.items())


def wait_for(what: str, probe: Callable[[], bool], timeout: float) -> float:
    """Poll ``probe`` until it holds; returns the seconds it took."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.25)
    return time.monotonic() - start


def boot_id(lab: manager.LabInfo, node: str) -> str:
    result = ssh(lab, node, "cat /proc/sys/kernel/random/boot_id", check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def rebooted(lab: manager.LabInfo, node: str, before: str) -> Callable[[], bool]:
    return lambda: boot_id(lab, node) not in ("", before)


def cl(lab: manager.LabInfo, node: str, args: str) -> str:
    """cl_status's answer (it exits 1 for "dead" and when heartbeat is stopped)."""
    return ssh(lab, node, f"cl_status {args}", check=False).stdout.strip()


def placement(lab: manager.LabInfo) -> dict[str, list[str]]:
    """Node -> its running DomUs, by name."""
    return {node: sorted(names) for node, names in manager.domains(LAB).items()}


@pytest.fixture(scope="module")
def lab() -> Iterator[manager.LabInfo]:
    with own_lab(LAB, PORT_BASE) as info:
        yield info


def test_heartbeat_appears_only_where_installed(lab: manager.LabInfo) -> None:
    missing = ssh(lab, "ha1", "cl_status hbstatus; ls /etc/init.d/heartbeat /etc/ha.d",
                  check=False)
    assert missing.returncode != 0
    assert "cl_status: command not found" in missing.stderr
    assert ssh(lab, "ha1", "test -p /dev/watchdog && stat -c %a /dev/watchdog").stdout == "600\n"
    out = ssh(lab, "ha1", "apt-get install -y heartbeat").stdout
    assert "Setting up heartbeat (2.1.3-2) ..." in out
    # the postinst starts it: Debian's 3.0.6 init script, no ha.cf yet
    assert ("Heartbeat not configured: /etc/ha.d/ha.cf not found. Heartbeat failure [rc=1]. "
            "Failed.") in out
    assert ssh(lab, "ha2", "command -v cl_status", check=False).returncode == 1
    ssh(lab, "ha2", "apt-get install -y -q heartbeat >/dev/null")
    files = ssh(lab, "ha1", "readlink -f /usr/lib/heartbeat/heartbeat; ls /etc/ha.d/resource.d; "
                            "ls -l /etc/rc2.d | grep -c S75heartbeat").stdout.split()
    assert files[0].endswith("/libexec/heartbeat/heartbeat")
    assert "IPaddr" in files and files[-1] == "1"


def test_guide_setup_on_xen(lab: manager.LabInfo) -> None:
    for node in NODES:
        ssh(lab, node, "apt-get install -y -q ubuntu-xen-server >/dev/null && "
                       "update-rc.d -f xendomains remove >/dev/null && "
                       "sed -i 's/^(xend-relocation-hosts-allow/#&/' /etc/xen/xend-config.sxp")
        ssh(lab, node, f"cat > /etc/network/interfaces && echo {FQDN[node]} > /etc/hostname",
            stdin=interfaces(node))
        ssh(lab, node, "cat > /etc/hosts", stdin=HOSTS)
    before = {node: boot_id(lab, node) for node in NODES}
    for node in NODES:
        ssh(lab, node, "reboot", check=False)
    for node in NODES:
        wait_for(f"{node} back from reboot", rebooted(lab, node, before[node]), 60)
    for node in NODES:
        assert ssh(lab, node, "uname -n; uname -r").stdout.split() == [FQDN[node],
                                                                        "2.6.24-19-xen"]
        for name, ip in DOMU.values():
            ssh(lab, node, f"cat > /etc/xen/{name}.cfg", stdin=domu_cfg(name, ip))
        script = []
        for home, group in (("ha1", "HA1"), ("ha2", "HA2")):
            name = DOMU[home][0]
            script += [
                f"mkdir -p /etc/xen/auto/{group}",
                f"ln -s /etc/xen/{name}.cfg /etc/xen/auto/{group}/{name}",
                # the guide's two changed lines: its own config file and lock file
                f"sed -e 's|^LOCKFILE=.*|LOCKFILE=/var/lock/subsys/xendomains{group}|' "
                f"-e 's|^XENDOM_CONFIG=.*|XENDOM_CONFIG=/etc/default/xendomains{group}|' "
                f"/etc/init.d/xendomains > /etc/ha.d/resource.d/xendomains{group}",
                f"chmod 755 /etc/ha.d/resource.d/xendomains{group}",
                f"sed {defaults_sed(node, group)} /etc/default/xendomains "
                f"> /etc/default/xendomains{group}",
            ]
        ssh(lab, node, " && ".join(script))
        ssh(lab, node, "cat > /etc/ha.d/ha.cf", stdin=HA_CF)
        ssh(lab, node, "cat > /etc/ha.d/haresources", stdin=HARESOURCES)
    changed = ssh(lab, "ha1", "diff /etc/init.d/xendomains /etc/ha.d/resource.d/xendomainsHA1",
                  check=False).stdout
    assert [line for line in changed.splitlines() if line[:1] in "<>"] == [
        "< LOCKFILE=/var/lock/subsys/xendomains", "< XENDOM_CONFIG=/etc/default/xendomains",
        "> LOCKFILE=/var/lock/subsys/xendomainsHA1",
        "> XENDOM_CONFIG=/etc/default/xendomainsHA1"]


def test_startup_refusals_come_from_the_daemon(lab: manager.LabInfo) -> None:
    key = secrets.token_hex(16)
    for node in NODES:  # the key travels on stdin only, never in a command line
        ssh(lab, node, "umask 077 && cat > /etc/ha.d/authkeys", stdin=f"auth 1\n1 sha1 {key}\n")
    ssh(lab, "ha1", "chmod 644 /etc/ha.d/authkeys")
    loose = ssh(lab, "ha1", "/etc/init.d/heartbeat start", check=False)
    assert loose.returncode == 6
    assert loose.stdout.startswith("Starting High-Availability services:  Heartbeat failure "
                                   "[rc=6]. Failed.\n")
    assert ("ERROR: Bad permissions on keyfile [/etc/ha.d//authkeys], 600 recommended."
            in loose.stdout)
    assert "ERROR: Configuration error, heartbeat not started." in loose.stdout
    ssh(lab, "ha1", "chmod 600 /etc/ha.d/authkeys && hostname ha1")
    unnamed = ssh(lab, "ha1", "/etc/init.d/heartbeat start", check=False)
    ssh(lab, "ha1", "hostname ha1.domain.local")
    assert unnamed.returncode == 6
    assert "ERROR: Current node [ha1] not in configuration!" in unnamed.stdout
    assert ("By default, cluster nodes are named by `uname -n` and must be declared with a "
            "'node' directive in the ha.cf file.") in unnamed.stdout
    assert ssh(lab, "ha1", "cl_status hbstatus", check=False).stdout == (
        "Heartbeat is stopped on this machine.\n")
    assert key not in loose.stdout + unnamed.stdout


def test_both_nodes_active_each_holding_its_group(lab: manager.LabInfo) -> None:
    for node in NODES:
        out = ssh(lab, node, "/etc/init.d/heartbeat start").stdout
        assert out == "Starting High-Availability services: Done.\n\n"
    took = wait_for("each node holding its own group",
                    lambda: placement(lab) == {"ha1": ["web1"], "ha2": ["web2"]}
                    and all(cl(lab, n, "rscstatus") == "local" for n in NODES), 45)
    print(f"\nstart to both groups held: {took:.1f}s")
    for node in NODES:
        assert cl(lab, node, "hbstatus") == "Heartbeat is running on this machine."
        assert cl(lab, node, f"nodestatus {FQDN[PEER[node]]}") == "active"
        assert cl(lab, node, f"nodestatus {FQDN[node]}") == "active"
    status = ssh(lab, "ha1", "/etc/ha.d/resource.d/xendomainsHA1 status")
    assert "web1" in status.stdout and "running" in status.stdout
    log = ssh(lab, "ha1", "cat /var/log/ha-debug").stdout
    assert "Using watchdog device: /dev/watchdog" in log
    assert "info: Running /etc/ha.d/resource.d/xendomainsHA1  start" in log
    assert f"open margin {MARGIN}s" in manager.watchdog_events(LAB, "ha1")[-1]


def test_planned_stop_then_failback(lab: manager.LabInfo) -> None:
    start = time.monotonic()
    out = ssh(lab, "ha1", "/etc/init.d/heartbeat stop").stdout
    assert out == "Stopping High-Availability services: Done.\n\n"
    stopped = time.monotonic() - start
    took = wait_for("ha2 holding both groups", lambda: cl(lab, "ha2", "rscstatus") == "all"
                    and placement(lab) == {"ha1": [], "ha2": ["web1", "web2"]}, 40)
    print(f"\nheartbeat stop on ha1: {stopped:.1f}s; stop to ha2 holding both groups: "
          f"{stopped + took:.1f}s")
    log2 = ssh(lab, "ha2", "cat /var/log/ha-debug").stdout
    for line in ("Received shutdown notice from 'ha1.domain.local'.",
                 "Taking over resource group xendomainsHA1",
                 "Acquiring resource group: ha1.domain.local xendomainsHA1",
                 "Running /etc/ha.d/resource.d/xendomainsHA1  start",
                 "Starting auto Xen domains: web1(skip)"):
        assert line in log2
    log1 = ssh(lab, "ha1", "cat /var/log/ha-debug").stdout
    assert "Shutting down Xen domains: web1(migr)" in log1
    assert "ha1.domain.local Heartbeat shutdown complete." in log1
    assert ("close (magic)" in manager.watchdog_events(LAB, "ha1")[-1])  # 'V' then close
    # a node that said goodbye is declared dead once deadtime passes without its heartbeats
    wait_for("ha2 seeing ha1 dead", lambda: cl(lab, "ha2", "nodestatus ha1.domain.local")
             == "dead", DEADTIME + 5)
    start = time.monotonic()
    ssh(lab, "ha1", "/etc/init.d/heartbeat start")
    took = wait_for("failback to ha1", lambda: placement(lab) == {"ha1": ["web1"],
                                                                  "ha2": ["web2"]}
                    and cl(lab, "ha1", "rscstatus") == "local"
                    and cl(lab, "ha2", "rscstatus") == "local", 60)
    print(f"start on ha1 to failback done: {time.monotonic() - start:.1f}s ({took:.1f}s)")
    log2 = ssh(lab, "ha2", "cat /var/log/ha-debug").stdout
    assert "Running /etc/ha.d/resource.d/xendomainsHA1  stop" in log2


def log_times(log: str, text: str) -> list[float]:
    """Epoch times of the ResourceManager/mach_down lines (``prog[pid]:\tYYYY/MM/DD_HH:MM:SS
    info: ...``) of a heartbeat debugfile that contain ``text``."""
    found = []
    for line in log.splitlines():
        match = re.search(r"\t(\d{4}/\d\d/\d\d_\d\d:\d\d:\d\d) ", line)
        if match and text in line:
            found.append(time.mktime(time.strptime(match.group(1), "%Y/%m/%d_%H:%M:%S")))
    return found


def test_kill_9_heartbeat_the_watchdog_resets_the_node(lab: manager.LabInfo) -> None:
    before = boot_id(lab, "ha1")
    killed = time.time()
    manager.kill_heartbeat(LAB, "ha1")
    wait_for("ha1 reset by its watchdog",
             lambda: manager.watchdog_events(LAB, "ha1")[-1].endswith(" reset"), 30)
    events = manager.watchdog_events(LAB, "ha1")
    assert [e.split(" ", 1)[1] for e in events[-4:]] == [
        "close (unexpected)", "printk SOFTDOG: Unexpected close, not stopping watchdog!",
        "printk SOFTDOG: Initiating system reboot.", "reset"]
    closed, fired = float(events[-4].split()[0]), float(events[-1].split()[0])
    assert MARGIN - 0.2 <= fired - closed <= MARGIN + 1.5
    wait_for("ha1 back", rebooted(lab, "ha1", before), 60)
    # ha1's heartbeat starts at boot (rc2.d S75heartbeat) and auto_failback brings web1 home
    wait_for("failback after the reset", lambda: placement(lab) == {"ha1": ["web1"],
                                                                    "ha2": ["web2"]}
             and all(cl(lab, n, "rscstatus") == "local" for n in NODES), 60)
    log2 = ssh(lab, "ha2", "cat /var/log/ha-debug").stdout
    crash = log2[log2.rindex("WARN: node ha1.domain.local: is dead"):]
    for line in ("WARN: No STONITH device configured.", "Taking over resource group xendomainsHA1",
                 "Starting auto Xen domains: web1",
                 "mach_down takeover complete for node ha1.domain.local.",
                 "give up foreign HA resources (standby).",
                 "Shutting down Xen domains: web2(skip) web1(migr)"):
        assert line in crash
    assert "web1(skip)" not in crash  # it ran on ha1 only: ha2 created it from its auto folder
    acquired = [t for t in log_times(log2, "Taking over resource group xendomainsHA1")
                if t >= int(killed)]
    done = [t for t in log_times(log2, "mach_down takeover complete for node ha1")
            if t >= int(killed)]
    print(f"\nkill -9 on ha1 -> ha2 takes over xendomainsHA1: {acquired[0] - killed:.0f}s, "
          f"web1 started there: {done[0] - killed:.0f}s (1 s resolution); watchdog reset "
          f"{fired - closed:.1f}s after heartbeat's close (margin {MARGIN}s)")
    # dead = deadtime after the last heartbeat heard (up to a keepalive before the kill); the
    # log's time has whole seconds
    assert DEADTIME - 2 <= acquired[0] - killed <= DEADTIME + 3
    kern = ssh(lab, "ha1", "grep SOFTDOG /var/log/kern.log").stdout
    assert "SOFTDOG: Initiating system reboot." in kern
