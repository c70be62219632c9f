"""The tool installs like a Python tool: a built wheel, not the checkout, runs it.

The wheel is built from the checkout and installed (not editable) into a fresh virtualenv
in a temporary folder; its dependencies are borrowed from the project's virtualenv through
a path file, so the test needs no package index. Every command then runs from another
folder, with no checkout on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.labtools import shrink_domu_disks

ROOT = Path(__file__).resolve().parents[2]
LAB = "rbwh"
PORT_BASE = 2461


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path  # RUNBOOK_HOME: where the installed tool keeps reports and lab state
    workdir: Path

    @property
    def runbook(self) -> str:
        return str(self.venv / "bin" / "runbook")

    def run(self, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [self.runbook, *args], cwd=self.workdir, capture_output=True, text=True,
            timeout=timeout, check=False,
            env={**clean, "RUNBOOK_HOME": str(self.home), "COLUMNS": "200", **(env or {})},
        )


def _sh(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    _sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
        "-w", dist, ROOT, cwd=base)
    (wheel,) = dist.glob("xen_ha_runbooks-*.whl")
    venv = base / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(_sh(venv / "bin" / "python", "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # Dependencies (nornir, pytest, ...) from the project's venv; the tool itself from the wheel.
    (site / "deps-from-project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--no-deps", "--no-index", "-q", wheel)
    workdir = base / "elsewhere"
    workdir.mkdir()
    yield Installed(wheel, venv, base / "home", workdir)


def test_wheel_carries_its_resources_inside_the_package(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.endswith(".dist-info/RECORD")}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"runbook", "xenlab"}
    for wanted in ("runbook/runbooks/01-base.py", "runbook/checks/test_01_base.py",
                   "runbook/checks/pytest.ini", "runbook/templates/hosts.j2",
                   "runbook/tasks/base.py", "runbook/inventories/lab/hosts.yaml",
                   "xenlab/sim/xm.py"):
        assert wanted in names


def test_installed_tool_runs_from_another_folder(installed: Installed) -> None:
    version = installed.run("--version")
    assert version.returncode == 0 and version.stdout.split() == ["runbook", "0.1.0"]
    listed = installed.run("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()][:5] == [
        "01-base", "02-xen", "03-lvm", "04-xen-tools", "05-domu"]
    helped = installed.run("verify", "--help")
    assert helped.returncode == 0, helped.stderr
    assert str(installed.home / ".lab" / "rblab" / "inventory") in " ".join(helped.stdout.split())
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import runbook; print(runbook.__file__)"],
        cwd=installed.workdir, capture_output=True, text=True, check=True,
    ).stdout
    assert str(installed.venv) in where and str(ROOT) not in where


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")
def test_installed_tool_brings_a_lab_up_and_runs_every_runbook(installed: Installed) -> None:
    up = installed.run("lab", "up", "--name", LAB, "--port-base", str(PORT_BASE), timeout=180)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = installed.home / ".lab" / LAB
        assert f"state:     {state}" in up.stdout
        inventory = state / "inventory"
        shrink_domu_disks(inventory)  # 06's initial sync in seconds
        done = installed.run("run", "all", "-i", str(inventory), timeout=600,
                             env={"RUNBOOK_DOMU_PASSWORD": "wheel-test-secret",
                                  "RUNBOOK_HA_AUTHKEY": "wheel-test-authkey"})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        reports = sorted(p for p in (installed.home / "reports").glob("*-run-*.html")
                         if not p.name.endswith(".handover.html"))
        assert len(reports) == 1
        assert "wheel-test-secret" not in reports[0].read_text()
    finally:
        installed.run("lab", "down", "--name", LAB, timeout=120)
