"""The in-node simulated package manager, dpkg database and ntpq, on a temporary root."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from xenlab import nodefs

apt_get: ModuleType = nodefs.sim_module("apt_get")
dpkgdb: ModuleType = nodefs.sim_module("dpkgdb")
packages: ModuleType = nodefs.sim_module("packages")
ntpconf: ModuleType = nodefs.sim_module("ntpconf")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/info").mkdir()
    (tmp_path / "var/lib/dpkg/updates").mkdir()
    status.write_text(nodefs.dpkg_status())
    return tmp_path


def apt(root: Path, *argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = apt_get.main(list(argv), root=str(root), out=out, stdin=io.StringIO(stdin),
                        run_scripts=False)
    return code, out.getvalue()


def test_install_prints_hardy_apt_and_records_the_package(root: Path) -> None:
    code, out = apt(root, "install", "-y", "ntp")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Reading package lists... Done"
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
    assert "E: Unable to locate package nosuchpkg" in capsys.readouterr().err


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
    table = ntpconf.render_peers(packages.NTP_CONF)
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
