"""The in-node simulated package manager, dpkg database and ntpq, on a temporary root."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from xenlab import nodefs

apt_get: ModuleType = nodefs.sim_module("apt_get")
dpkgdb: ModuleType = nodefs.sim_module("dpkgdb")
packages: ModuleType = nodefs.sim_module("packages")
ntpconf: ModuleType = nodefs.sim_module("ntpconf")
blkid: ModuleType = nodefs.sim_module("blkid")
uname: ModuleType = nodefs.sim_module("uname")
dpkg_era: ModuleType = nodefs.sim_module("dpkg_era")
ip_era: ModuleType = nodefs.sim_module("ip_era")
base_pkgs: ModuleType = sys.modules["base_pkgs"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/info").mkdir()
    (tmp_path / "var/lib/dpkg/updates").mkdir()
    status.write_text(nodefs.dpkg_status())
    return tmp_path


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def apt(root: Path, *argv: str, stdin: str = "", tty: bool = False) -> tuple[int, str]:
    out = Terminal() if tty else io.StringIO()
    code = apt_get.main(list(argv), root=str(root), out=out, stdin=io.StringIO(stdin),
                        run_scripts=False)
    return code, out.getvalue()


def test_install_prints_hardy_apt_and_records_the_package(root: Path) -> None:
    code, out = apt(root, "install", "-y", "ntp")
    assert code == 0
    lines = out.splitlines()
    # stdout is no terminal: apt-get 0.7.9 runs as with -q (each operation once, then "...")
    assert lines[:3] == ["Reading package lists...", "Building dependency tree...",
                         "Reading state information..."]
    assert "Get:1 http://archive.ubuntu.com hardy/main ntp 1:4.2.4p4+dfsg-3ubuntu2 [441kB]" in lines
    assert "The following NEW packages will be installed:" in lines
    assert "  ntp" in lines
    assert "0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded." in lines
    assert "Setting up ntp (1:4.2.4p4+dfsg-3ubuntu2) ..." in lines
    assert (root / "etc/ntp.conf").read_text().count("server ntp.ubuntu.com") == 1
    assert (root / "etc/init.d/ntp").stat().st_mode & 0o111
    stanza = dpkgdb.Database(str(root)).get("ntp")
    assert stanza["Status"] == "install ok installed"
    assert stanza["Version"] == "1:4.2.4p4+dfsg-3ubuntu2"
    assert "/etc/ntp.conf" in stanza["Conffiles"]


def test_install_twice_says_already_newest(root: Path) -> None:
    apt(root, "install", "-y", "ntp")
    code, out = apt(root, "install", "-y", "ntp")
    assert code == 0
    assert "ntp is already the newest version." in out
    assert "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded." in out


def test_unknown_package_exits_100(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = apt(root, "install", "-y", "nosuchpkg")
    assert code == 100
    assert capsys.readouterr().err == "E: Couldn't find package nosuchpkg\n"


def test_on_a_terminal_apt_prints_the_progress_lines(root: Path) -> None:
    code, out = apt(root, "install", "-y", "ntp", tty=True)
    assert code == 0
    assert out.splitlines()[:3] == ["Reading package lists... Done",
                                    "Building dependency tree       ",
                                    "Reading state information... Done"]


def test_remove_without_yes_on_a_non_tty_aborts(root: Path) -> None:
    apt(root, "install", "-y", "ntp")
    code, out = apt(root, "remove", "ntp", stdin="")
    assert code == 1
    assert out.rstrip().endswith("Do you want to continue [Y/n]? Abort.")
    assert dpkgdb.Database(str(root)).is_installed("ntp")


def test_remove_keeps_conffiles_and_purge_drops_them(root: Path) -> None:
    apt(root, "install", "-y", "ntp")
    code, out = apt(root, "remove", "-y", "ntp")
    assert code == 0 and "Removing ntp ..." in out
    db = dpkgdb.Database(str(root))
    assert db.status_of("ntp") == "config-files"
    assert (root / "etc/ntp.conf").exists() and not (root / "usr/sbin/ntpd").exists()
    code, out = apt(root, "purge", "-y", "ntp")
    assert code == 0 and "Purging configuration files for ntp ..." in out
    assert db.get("ntp") is None and not (root / "etc/ntp.conf").exists()


def test_install_keeps_an_existing_conffile(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/ntp.conf").write_text("server 192.168.1.1\n")
    apt(root, "install", "-y", "ntp")
    assert (root / "etc/ntp.conf").read_text() == "server 192.168.1.1\n"


def test_simulate_changes_nothing(root: Path) -> None:
    code, out = apt(root, "install", "-s", "ntp")
    assert code == 0 and "Inst ntp (1:4.2.4p4+dfsg-3ubuntu2 Ubuntu:8.04/hardy)" in out
    assert not dpkgdb.Database(str(root)).is_installed("ntp")


def test_status_roundtrip_keeps_continuation_lines() -> None:
    text = ("Package: a\nStatus: install ok installed\nConffiles:\n /etc/a 0123\n"
            "Description: short\n long line\n\nPackage: b\nVersion: 1\n")
    stanzas = dpkgdb.parse_status(text)
    assert [s["Package"] for s in stanzas] == ["a", "b"]
    assert dpkgdb.parse_status(dpkgdb.render_status(stanzas)) == stanzas


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")
def test_real_dpkg_query_reads_what_apt_wrote(root: Path) -> None:
    admindir = f"--admindir={root / 'var/lib/dpkg'}"
    before = subprocess.run(["dpkg-query", admindir, "-W", "ntp"], capture_output=True)
    assert before.returncode != 0
    apt(root, "install", "-y", "ntp")
    after = subprocess.run(["dpkg-query", admindir, "-W", "-f=${Status} ${Version}\n", "ntp"],
                           capture_output=True, text=True, check=True)
    assert after.stdout == "install ok installed 1:4.2.4p4+dfsg-3ubuntu2\n"
    listing = subprocess.run(["dpkg-query", admindir, "-L", "ntp"], capture_output=True,
                             text=True, check=True)
    assert "/usr/sbin/ntpd" in listing.stdout.splitlines()
    ssh = subprocess.run(["dpkg-query", admindir, "-W", "-f=${Version}", "openssh-server"],
                         capture_output=True, text=True, check=True)
    assert ssh.stdout == "1:4.7p1-8ubuntu1"


def test_ntpq_peer_table() -> None:
    table = ntpconf.render_peers(base_pkgs.NTP_CONF)
    lines = table.splitlines()
    assert lines[0].split() == ["remote", "refid", "st", "t", "when", "poll", "reach",
                                "delay", "offset", "jitter"]
    assert set(lines[1]) == {"="}
    assert len(lines) == 3
    assert lines[2].split()[:3] == ["ntp.ubuntu.com", ".INIT.", "16"]


def test_ntp_peers_ignore_comments() -> None:
    assert ntpconf.peers("# server a\nserver b iburst\npeer c\nrestrict d\n") == ["b", "c"]


def test_catalogue_entries_are_complete() -> None:
    for name, pkg in packages.CATALOGUE.items():
        assert pkg.name == name and pkg.version and pkg.description
        assert all(path.startswith("/") for path in pkg.files)
    assert "/usr/sbin/ntpd" in packages.all_paths()


def test_a_family_module_registers_with_one_name(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "extra_pkgs.py").write_text(
        "from packages import Package\n"
        "PACKAGES = {'extra': Package(name='extra', version='1', description='d')}\n"
        "INSTALLED = (('extra-base', '2', 'admin', 'optional', 'd'),)\n")
    (tmp_path / "clash_pkgs.py").write_text(
        "from packages import Package\n"
        "PACKAGES = {'ntp': Package(name='ntp', version='1', description='d')}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    catalogue, installed = packages.load_families(("base_pkgs", "extra_pkgs"))
    assert "extra" in catalogue and "ntp" in catalogue
    assert installed[-1][0] == "extra-base"
    with pytest.raises(ValueError, match=r"clash_pkgs.*ntp"):
        packages.load_families(("base_pkgs", "clash_pkgs"))
    assert packages.FAMILIES[:3] == ("base_pkgs", "xen_pkgs", "storage_pkgs")


NTP_STOPPED = "ntpq: read: Connection refused\n"


def test_ntpq_with_ntpd_down_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ntpq = nodefs.sim_module("ntpq")
    monkeypatch.setattr(ntpq, "ntpd_running", lambda: False)
    assert ntpq.main(["-p"]) == 0
    assert capsys.readouterr().err == NTP_STOPPED


def test_ntp_init_is_debians_with_a_race_free_pid_check() -> None:
    script = base_pkgs.NTP_INIT
    # the lab's old check raced with ntpd removing its pid file between `[ -f ]` and `cat`
    assert "[ -f $PIDFILE ]" not in script
    assert "pidofproc -p $PIDFILE $DAEMON" in script and ". /lib/lsb/init-functions" in script
    assert "$0 stop && sleep 2 && $0 start" in script
    assert 'echo "Usage: $0 {start|stop|restart|try-restart|force-reload|status}"' in script


# ---------------------------------------------------------------- blkid of e2fsprogs 1.40.8

SDA1 = [("UUID", "1270-ab"), ("SEC_TYPE", "ext2"), ("TYPE", "ext3")]
DEVICES = {"/dev/sda1": SDA1, "/dev/sda2": [("UUID", "f15b"), ("TYPE", "swap")],
           "/dev/sda3": None}


def probe_table(name: str | None) -> object:
    return list(DEVICES) if name is None else DEVICES.get(name)


@pytest.mark.parametrize(("argv", "code", "out", "err_start"), [
    (["/dev/sda1"], 0, '/dev/sda1: UUID="1270-ab" SEC_TYPE="ext2" TYPE="ext3" \n', ""),
    (["-c", "/dev/null", "/dev/sda3"], 2, "", ""),
    (["/dev/nosuch"], 2, "", ""),
    (["-s", "TYPE", "-o", "value", "/dev/sda2"], 0, "swap\n", ""),
    (["-o", "device", "-t", "TYPE=swap"], 0, "/dev/sda2\n", ""),
    (["-s", "LABEL", "/dev/sda1"], 0, "", ""),
    (["/dev/sda1", "-ovalue", "-sUUID"], 0, "1270-ab\n", ""),
    (["-p", "-o", "export", "/dev/sda3"], 4, "", "blkid: invalid option -- p\nblkid 1.0.0 "),
    (["-o", "export", "/dev/sda3"], 1, "",
     "Invalid output format export.  Chose from value, device, or full\n"),
    (["-o", "export", "-p"], 1, "", "Invalid output format export."),
    (["-L", "root"], 4, "", "blkid: invalid option -- L\n"),
    (["--version"], 4, "", "blkid: invalid option -- -\n"),
    (["-s"], 4, "", "blkid: option requires an argument -- s\n"),
    (["-t", "TYPE"], 4, "", "-t needs NAME=value pair\nblkid 1.0.0 "),
    (["-l"], 1, "", "The lookup option requires a search type specified using -t\n"),
    (["-v"], 4, "blkid 1.0.0 (12-Feb-2003)\n", ""),
    (["-h"], 0, "blkid 1.0.0 (12-Feb-2003)\nusage:", ""),
])
def test_blkid_speaks_e2fsprogs_1_40_8(argv: list[str], code: int, out: str,
                                       err_start: str) -> None:
    status, stdout, stderr = blkid.run(argv, probe_table)
    assert status == code
    assert stdout.startswith(out) and (out or stdout == "")
    assert stderr.startswith(err_start) and (err_start or stderr == "")


def test_blkid_lists_every_device_with_a_signature() -> None:
    assert blkid.run([], probe_table)[1].splitlines() == [
        '/dev/sda1: UUID="1270-ab" SEC_TYPE="ext2" TYPE="ext3" ',
        '/dev/sda2: UUID="f15b" TYPE="swap" ']


def test_blkid_keeps_the_1_40_8_tags_in_probe_order() -> None:
    export = ("DEVNAME=/x\nUUID=abc\nBLOCK_SIZE=4096\nSEC_TYPE=ext2\nLABEL=my\\ disk\n"
              "TYPE=ext3\n")
    assert blkid.era_tags(export) == [("LABEL", "my disk"), ("UUID", "abc"),
                                      ("SEC_TYPE", "ext2"), ("TYPE", "ext3")]
    assert blkid.era_tags("UUID=x\nTYPE=LVM2_member\n") == [("UUID", "x"), ("TYPE", "lvm2pv")]
    assert blkid.era_tags("PTUUID=x\nPTTYPE=dos\n") is None


# ---------------------------------------------------------------- uname, /proc/version, dpkg

SERVER = {"s": "Linux", "n": "ha1", "r": "2.6.24-19-server",
          "v": "#1 SMP Wed Aug 20 18:43:06 UTC 2008", "m": "x86_64", "p": "unknown",
          "i": "unknown", "o": "GNU/Linux"}


@pytest.mark.parametrize(("argv", "code", "out", "err"), [
    (["-a"], 0, "Linux ha1 2.6.24-19-server #1 SMP Wed Aug 20 18:43:06 UTC 2008 x86_64 "
     "GNU/Linux\n", ""),
    (["-r"], 0, "2.6.24-19-server\n", ""),
    ([], 0, "Linux\n", ""),
    (["-rm"], 0, "2.6.24-19-server x86_64\n", ""),
    (["--kernel-rel"], 0, "2.6.24-19-server\n", ""),
    (["-p"], 0, "unknown\n", ""),
    (["-x"], 1, "", "uname: invalid option -- x\nTry `uname --help' for more information.\n"),
    (["foo"], 1, "", "uname: extra operand `foo'\nTry `uname --help' for more information.\n"),
])
def test_uname_is_coreutils_6_10_on_the_booted_kernel(argv: list[str], code: int, out: str,
                                                       err: str) -> None:
    assert uname.run(argv, SERVER) == (code, out, err)


def test_proc_version_of_the_xen_kernel() -> None:
    texts = uname.proc_texts("2.6.24-19-xen")
    assert texts["/proc/version"] == (
        "Linux version 2.6.24-19-xen (buildd@crested) (gcc version 4.2.3 (Ubuntu "
        "4.2.3-2ubuntu7)) #1 SMP Wed Aug 20 21:08:51 UTC 2008\n")
    assert texts["/proc/sys/kernel/osrelease"] == "2.6.24-19-xen\n"


def test_dpkg_query_messages_are_1_14s() -> None:
    assert dpkg_era.era_stderr("dpkg-query: no packages found matching drbd8-utils\n") == (
        "No packages found matching drbd8-utils.\n")
    assert dpkg_era.era_stderr("dpkg-query: package 'ntp' is not installed\n") == (
        "Package `ntp' is not installed.\n")
    assert dpkg_era.VERSION_TEXT["dpkg"].startswith(
        "Debian `dpkg' package management program version 1.14.16.6ubuntu1 (amd64).\n")


def test_ip_addr_drops_ipv4_lifetimes_like_2_6_24() -> None:
    oneline = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft "
               "forever\n2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever "
               "preferred_lft forever\n")
    assert ip_era.era_output(oneline) == (
        "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet6 fe80::1/64 scope link "
        "\\       valid_lft forever preferred_lft forever\n")
    full = ("2: eth0: <BROADCAST,UP> mtu 1500\n    link/ether 00:16:3e:00:00:01 brd ff:ff\n"
            "    inet 192.168.1.11/24 brd 192.168.1.255 scope global eth0\n"
            "       valid_lft forever preferred_lft forever\n"
            "    inet6 fe80::1/64 scope link\n       valid_lft forever preferred_lft forever\n")
    assert ip_era.era_output(full) == full.replace(
        "eth0\n       valid_lft forever preferred_lft forever\n", "eth0\n")
