"""The lab's Heartbeat side, pure parts and small real runs (no root, no lab): the softdog
watchdog (heartbeat's margin, the magic close, a real FIFO served in a thread), the heartbeat
package's file map, and Xen 3.2.0's xendomains run by bash against a fake xm."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from xenlab import nodefs

wd: ModuleType = nodefs.sim_module("watchdog_softdog")
packages: ModuleType = nodefs.sim_module("packages")
hb_pkgs: ModuleType = nodefs.sim_module("heartbeat_pkgs")
xendomains: ModuleType = nodefs.sim_module("xendomains_init")


# ----------------------------------------------------------------------------- watchdog


@pytest.mark.parametrize(("text", "ms"), [("10", 10000), ("500ms", 500), ("1.5", 1500),
                                          ("2s", 2000), ("250000us", 250), ("ten", None),
                                          ("", None)])
def test_heartbeat_time_values(text: str, ms: int | None) -> None:
    assert wd.parse_msec(text) == ms


def test_heartbeat_watchdog_timeout_is_deadtime_plus_10ms_rounded_up() -> None:
    guide = "logfacility local0\nkeepalive 1\ndeadtime 10\nwarntime 3\ninitdead 20\n"
    assert wd.heartbeat_timeout(guide) == 11
    assert wd.heartbeat_timeout("deadtime 4 # short\n") == 5
    assert wd.heartbeat_timeout("deadtime 990ms\n") == 1
    assert wd.heartbeat_timeout("deadtime 5\ndeadtime 8\n") == 9  # the last line wins
    assert wd.heartbeat_timeout("#deadtime 4\n") == 31  # heartbeat's default: 30000 ms


def test_softdog_magic_close_disarms() -> None:
    dog = wd.Softdog()
    dog.open(100.0, margin=11)
    assert dog.armed and dog.deadline == 111.0
    dog.write(b"\0", 105.0)
    assert dog.deadline == 116.0 and not dog.expired(115.9)
    dog.write(b"V", 106.0)
    assert dog.close(106.5) is None
    assert not dog.armed and not dog.expired(10_000.0)


def test_softdog_unexpected_close_pings_once_and_fires_a_margin_later() -> None:
    dog = wd.Softdog()
    dog.open(0.0, margin=5)
    dog.write(b"V", 1.0)
    dog.write(b"\0", 2.0)  # a later write without 'V' cancels the magic close
    assert dog.close(3.0) == "Unexpected close, not stopping watchdog!"
    assert dog.deadline == 8.0
    assert not dog.expired(7.9) and dog.expired(8.0)


def test_kernel_line_is_sysklogd_format() -> None:
    when = time.mktime((2026, 11, 26, 12, 0, 5, 0, 0, -1))
    assert wd.kernel_line("ha1", 928.31, "SOFTDOG: Initiating system reboot.", when) == (
        "Nov 26 12:00:05 ha1 kernel: [  928.310000] SOFTDOG: Initiating system reboot.\n")


class FifoDog:
    """watchdog_softdog.serve() on a FIFO in a temporary folder; the reset is recorded."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch, margin: float) -> None:
        self.device = tmp / "watchdog"
        self.reset = threading.Event()
        monkeypatch.setattr(wd, "DEVICE", str(self.device))
        monkeypatch.setattr(wd, "STATE_LOG", str(tmp / "watchdog.log"))
        monkeypatch.setattr(wd, "KERNEL_LOGS", (str(tmp / "kern.log"),))
        monkeypatch.setattr(wd, "margin_for_opener", lambda: margin)
        monkeypatch.setattr(wd, "reset_node", self.reset.set)
        self.thread = threading.Thread(target=wd.serve, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.device.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    def session(self, *writes: bytes) -> None:
        fd = os.open(self.device, os.O_WRONLY)  # blocks until the dog reads, as on a node
        try:
            for data in writes:
                os.write(fd, data)
                time.sleep(0.02)
        finally:
            os.close(fd)

    def events(self) -> list[str]:
        log = self.device.parent / "watchdog.log"
        return [line.split(" ", 1)[1] for line in log.read_text().splitlines()]


def test_fifo_watchdog_resets_after_an_unexpected_close(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    dog = FifoDog(tmp_path, monkeypatch, margin=0.4)
    assert oct(os.stat(dog.device).st_mode & 0o777) == "0o600"
    dog.session(b"\0", b"V")  # heartbeat's clean stop: ticks, 'V', close
    time.sleep(0.7)
    assert not dog.reset.is_set()
    start = time.monotonic()
    dog.session(b"\0", b"\0")  # then a heartbeat killed with -9: no 'V'
    assert dog.reset.wait(3)
    assert 0.3 <= time.monotonic() - start <= 1.5
    dog.thread.join(2)
    assert not dog.thread.is_alive()
    assert dog.events() == ["open margin 0.4s", "close (magic)", "open margin 0.4s",
                            "close (unexpected)",
                            "printk SOFTDOG: Unexpected close, not stopping watchdog!"]
    assert "SOFTDOG: Unexpected close" in (tmp_path / "kern.log").read_text()


def test_fifo_watchdog_keeps_a_fed_node_alive(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dog = FifoDog(tmp_path, monkeypatch, margin=0.3)
    dog.session(*[b"\0"] * 40)  # 0.8 s of ticks every 20 ms: longer than the margin
    assert not dog.reset.is_set()
    assert dog.reset.wait(2)  # the close had no 'V'


# ----------------------------------------------------------------------------- the package


def fake_host(tmp: Path) -> tuple[Path, Path]:
    usr, etc = tmp / "usr", tmp / "etc"
    for rel in ("libexec/heartbeat/heartbeat", "share/heartbeat/ResourceManager",
                "share/heartbeat/hb_standby", "lib/heartbeat/plugins/HBcomm/ucast.so",
                "lib/ocf/lib/heartbeat/ocf-shellfuncs", "bin/cl_status",
                "lib/libhbclient.so.1.0.0", "lib/libglib-2.0.so.0"):
        (usr / rel).parent.mkdir(parents=True, exist_ok=True)
        (usr / rel).write_text("x")
    (usr / "lib/libhbclient.so.1").symlink_to("libhbclient.so.1.0.0")
    for rel, mode in (("ha.d/shellfuncs", 0o644), ("ha.d/harc", 0o755),
                      ("ha.d/resource.d/IPaddr", 0o755), ("ha.d/resource.d/drbddisk", 0o755),
                      ("init.d/heartbeat", 0o755)):
        (etc / rel).parent.mkdir(parents=True, exist_ok=True)
        (etc / rel).write_text("x")
        os.chmod(etc / rel, mode)
    return usr, etc


def test_package_files_link_the_host_trees(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    usr, etc = fake_host(tmp_path)
    monkeypatch.setattr(hb_pkgs, "HOST_USR_VIEW", str(usr))
    monkeypatch.setattr(hb_pkgs, "HOST_ETC_VIEW", str(etc))
    files = {**hb_pkgs.usr_files(), **hb_pkgs.etc_files()}
    links = {p: s.target for p, s in files.items() if isinstance(s, hb_pkgs.Symlink)}
    assert links["/usr/libexec/heartbeat/heartbeat"] == f"{usr}/libexec/heartbeat/heartbeat"
    assert links["/usr/lib/libhbclient.so.1"] == f"{usr}/lib/libhbclient.so.1"
    assert "/usr/lib/libglib-2.0.so.0" not in files  # not heartbeat's: the node has it
    # 8.04's paths for the 3.0.6 files
    assert links["/usr/lib/heartbeat/heartbeat"] == "/usr/libexec/heartbeat/heartbeat"
    assert links["/usr/lib/heartbeat/ResourceManager"] == "/usr/share/heartbeat/ResourceManager"
    assert links["/usr/lib/heartbeat/plugins/HBcomm/ucast.so"].endswith("HBcomm/ucast.so")
    copies = {p: s for p, s in files.items() if isinstance(s, hb_pkgs.HostCopy)}
    assert sorted(copies) == ["/etc/ha.d/harc", "/etc/ha.d/resource.d/IPaddr",
                              "/etc/ha.d/shellfuncs", "/etc/init.d/heartbeat"]
    assert copies["/etc/ha.d/harc"].mode == 0o755 and copies["/etc/ha.d/shellfuncs"].mode == 0o644


def test_package_is_registered_with_the_8_04_version() -> None:
    pkg = packages.CATALOGUE["heartbeat"]
    assert pkg.version == "2.1.3-2"
    assert [type(a).__name__ for a in pkg.postinst] == ["StateDirs", "RcLinks", "StartService"]
    if Path("/usr/libexec/heartbeat/heartbeat").exists():  # the lab's host package
        assert "/usr/libexec/heartbeat/heartbeat" in pkg.files
        assert "/etc/init.d/heartbeat" in pkg.files and "/usr/bin/cl_status" in pkg.files


# ----------------------------------------------------------------------------- xendomains

FAKE_XM = r"""#!/bin/bash
# xm for the test: running domains are "id name" lines in $XM_STATE; calls go to $XM_LOG
echo "$*" >> "$XM_LOG"
case "$1" in
  list)
    printf '(domain\n    (domid 0)\n    (name Domain-0)\n)\n'
    while read id name; do
      printf '(domain\n    (domid %s)\n    (on_crash restart)\n    (name %s)\n)\n' "$id" "$name"
    done < "$XM_STATE" ;;
  create)
    name=$(sed -n "s/^name *= *'\(.*\)'/\1/p" "${@: -1}")
    case " $* " in
      *" --dryrun "*) printf '(vm\n    (name %s)\n)\n' "$name" ;;
      *) echo "9 $name" >> "$XM_STATE" ;;
    esac ;;
  migrate) [ -n "$XM_MIGRATE_FAILS" ] && exit 1; sed -i "/^$2 /d" "$XM_STATE" ;;
  shutdown) sed -i "/^$2 /d" "$XM_STATE" ;;
esac
exit 0
"""


class Xendomains:
    """The lab's /etc/init.d/xendomains with the guide's two lines changed (own config and
    lock) and the hypervisor test pointed at a file of the test, run by the real bash."""

    def __init__(self, tmp: Path, settings: dict[str, str], auto: list[str],
                 running: list[str]) -> None:
        self.tmp = tmp
        (tmp / "bin").mkdir()
        (tmp / "bin/xm").write_text(FAKE_XM)
        os.chmod(tmp / "bin/xm", 0o755)
        (tmp / "hypervisor").write_text("xen-3.2-1-amd64.gz\n")
        (tmp / "auto").mkdir()
        for name in auto:
            (tmp / f"{name}.cfg").write_text(f"name = '{name}'\nmemory = '128'\n")
            (tmp / "auto" / name).symlink_to(tmp / f"{name}.cfg")
        (tmp / "state").write_text("".join(f"{i} {n}\n" for i, n in enumerate(running, 1)))
        (tmp / "xm.log").write_text("")
        config = xendomains.XENDOMAINS_DEFAULT
        for key, value in {"XENDOMAINS_AUTO": str(tmp / "auto"), **settings}.items():
            lines = [f"{key}={value}" if line.startswith(f"{key}=") else line
                     for line in config.splitlines()]
            config = "\n".join(lines) + "\n"
        (tmp / "xendomainsHA1").write_text(config)
        script = (xendomains.XENDOMAINS_INIT
                  .replace("/usr/lib/runbook-lab/node/hypervisor", str(tmp / "hypervisor"))
                  .replace("LOCKFILE=/var/lock/subsys/xendomains", f"LOCKFILE={tmp}/lock")
                  .replace("XENDOM_CONFIG=/etc/default/xendomains",
                           f"XENDOM_CONFIG={tmp}/xendomainsHA1"))
        (tmp / "xendomainsHA1.sh").write_text(script)

    def run(self, action: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.tmp / "xendomainsHA1.sh"), action], capture_output=True,
            text=True, check=False, timeout=60,
            env={"PATH": f"{self.tmp}/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
                 "XM_STATE": str(self.tmp / "state"), "XM_LOG": str(self.tmp / "xm.log"),
                 **env})

    def calls(self, verb: str) -> list[str]:
        return [c for c in (self.tmp / "xm.log").read_text().splitlines()
                if c.startswith(verb)]

    def running(self) -> list[str]:
        return (self.tmp / "state").read_text().split()[1::2]


GUIDE = {"XENDOMAINS_MIGRATE": '"ha2X --live"', "XENDOMAINS_SAVE": '""',
         "XENDOMAINS_SHUTDOWN_ALL": '""', "XENDOMAINS_RESTORE": "false",
         "XENDOMAINS_AUTO_ONLY": "true", "XENDOMAINS_CREATE_USLEEP": "0"}
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_xendomains_text_is_upstream_3_2_0_with_the_lab_lines_marked() -> None:
    text = xendomains.XENDOMAINS_INIT
    assert text.startswith("#!/bin/bash\n#\n# /etc/init.d/xendomains\n")
    assert "LOCKFILE=/var/lock/subsys/xendomains\nXENDOM_CONFIG=/etc/default/xendomains\n" in text
    assert '    if [[ "$1" =~ "\\(domain" ]]; then\n' in text  # parseln as 3.2.0 wrote it
    assert "    case $name in\n\t\t($NAMES)\n" in text  # the AUTO_ONLY bug, fixed in 3.3
    assert "/proc/xen/privcmd" not in text
    assert sum(line.startswith("# lab node:") for line in text.splitlines()) == 2
    assert "XENDOMAINS_SHUTDOWN=\"--halt --wait\"\n" in xendomains.XENDOMAINS_DEFAULT


@needs_bash
def test_stop_migrates_auto_domains_and_skips_the_others(tmp_path: Path) -> None:
    xd = Xendomains(tmp_path, GUIDE, auto=["web1"], running=["web1", "other"])
    assert xd.run("start").returncode == 0
    out = xd.run("stop")
    assert out.stdout.startswith("Shutting down Xen domains: web1(migr) other(skip)")
    assert out.returncode == 0
    assert xd.calls("migrate") == ["migrate 1 ha2X --live"]
    assert xd.running() == ["other"] and not (tmp_path / "lock").exists()


@needs_bash
def test_auto_only_with_two_auto_domains_migrates_nothing(tmp_path: Path) -> None:
    xd = Xendomains(tmp_path, GUIDE, auto=["web1", "web3"], running=["web1", "web3"])
    out = xd.run("stop")
    assert out.stdout.startswith("Shutting down Xen domains: web1(skip) web3(skip)")
    assert xd.calls("migrate") == [] and xd.running() == ["web1", "web3"]


@needs_bash
def test_start_skips_a_running_domain_and_creates_the_rest(tmp_path: Path) -> None:
    xd = Xendomains(tmp_path, GUIDE, auto=["web1", "web3"], running=["web1"])
    out = xd.run("start")
    assert out.stdout.startswith("Starting auto Xen domains: web1(skip) web3")
    assert "touch" not in out.stderr
    assert [c for c in xd.calls("create") if "--dryrun" not in c] == [
        f"create --quiet --defconfig {tmp_path}/auto/web3"]
    again = xd.run("start")
    assert again.stdout.startswith("xendomains already running (lockfile exists)")


@needs_bash
def test_failed_migration_shuts_down_and_still_exits_0(tmp_path: Path) -> None:
    xd = Xendomains(tmp_path, {**GUIDE, "XENDOMAINS_SHUTDOWN": '"--halt --wait"'},
                    auto=["web1"], running=["web1"])
    out = xd.run("stop", XM_MIGRATE_FAILS="1")
    assert out.stdout.startswith("Shutting down Xen domains: web1(migr)!(shut)")
    assert out.returncode == 0  # rc_failed $? after `test`: records 0
    assert xd.calls("shutdown") == ["shutdown 1 --halt --wait"]


@needs_bash
def test_status_without_lock_is_unused_exit_3(tmp_path: Path) -> None:
    xd = Xendomains(tmp_path, GUIDE, auto=["web1"], running=["web1"])
    out = xd.run("status")
    assert out.stdout.startswith("Checking for xendomains:")
    assert "unused" in out.stdout and out.returncode == 3
    xd.run("start")
    up = xd.run("status")
    assert up.stdout.startswith("Checking for xendomains: web1")
    assert "running" in up.stdout and up.returncode == 0


# ----------------------------------------------------------------------------- syslog

sysklogd: ModuleType = nodefs.sim_module("sysklogd")


def test_syslog_message_from_heartbeat_local0() -> None:
    # syslog(3) of glibc: <PRI>TIMESTAMP TAG: text; local0.info is 16 * 8 + 6
    facility, severity, text = sysklogd.parse(
        "<134>Nov 26 12:37:16 heartbeat: [263]: info: Taking over resource group xendomainsHA1")
    assert (facility, severity) == ("local0", "info")
    assert sysklogd.line("ha2", text) == (
        "Nov 26 12:37:16 ha2 heartbeat: [263]: info: Taking over resource group xendomainsHA1\n")
    assert sysklogd.files_for(facility, severity) == ["syslog", "messages"]


@pytest.mark.parametrize(("facility", "severity", "files"), [
    ("local0", "debug", ["syslog", "debug"]),
    ("local0", "err", ["syslog"]),
    ("daemon", "info", ["syslog", "daemon.log"]),
    ("kern", "crit", ["syslog", "kern.log"]),
    ("authpriv", "info", ["auth.log"]),
    ("mail", "debug", ["syslog", "mail.log"]),
])
def test_syslog_files_follow_hardys_syslog_conf(facility: str, severity: str,
                                                files: list[str]) -> None:
    assert sysklogd.files_for(facility, severity) == files


def test_syslog_message_without_priority_or_timestamp() -> None:
    facility, severity, text = sysklogd.parse("hello\n")
    assert (facility, severity) == ("user", "notice")
    assert sysklogd.STAMP.match(text) and text.endswith(" hello ")  # newline: a space


def test_syslog_printable_as_sysklogd() -> None:
    assert sysklogd.printable("ERROR: Configuration error.\0junk") == "ERROR: Configuration error."
    assert sysklogd.printable("a\tb\nc\n") == "a^Ib c "


# ----------------------------------------------------------------------------- host API


def test_host_pid_translates_a_pid_of_the_same_namespace() -> None:
    from xenlab import manager

    me = os.getpid()  # in one pid namespace the node's pid and the host's are the same
    assert manager._host_pid(me, me) == me
    assert manager._host_pid(me, 2**22 + 7) is None  # no such pid in that namespace


def test_kill_heartbeat_needs_a_running_lab(tmp_path: Path) -> None:
    from xenlab import manager

    with pytest.raises(manager.LabError, match="is not up"):
        manager.kill_heartbeat("rbnone", "ha1", project_root=tmp_path)
    with pytest.raises(manager.LabError, match="unknown node"):
        manager.watchdog_events("rbnone", "ha9", project_root=tmp_path)
