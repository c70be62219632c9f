"""What every lab integration test needs: a lab of its own, and a shell on its nodes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from runbook import handover, record
from runbook.record import CheckRecord, RunRecord, StepRecord
from xenlab import manager
from xenlab.layout import PROJECT_ROOT

LABS_DIR = PROJECT_ROOT / ".lab"
# Every lab test module: `pytestmark = LAB_TESTS`.
LAB_TESTS = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
]


SMALL_DOMU = {"size": "64Mb", "swap": "32Mb"}  # DRBD syncs them in seconds, not minutes


def shrink_domu_disks(inventory_dir: Path) -> None:
    """Give the lab inventory's DomUs small disks (the issue allows it for the lab), so a test
    that runs 06-drbd waits seconds for the initial sync instead of minutes for 5 GiB."""
    groups = inventory_dir / "groups.yaml"
    doc = yaml.safe_load(groups.read_text(encoding="utf-8"))
    doc["xen_cluster"]["data"]["xen_tools"].update(SMALL_DOMU)
    groups.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


@contextmanager
def own_lab(name: str, port_base: int, *, small_disks: bool = False
            ) -> Iterator[manager.LabInfo]:
    """Bring up lab ``name`` (never the default one) on fresh nodes; bring it down even when a
    test fails. ``small_disks``: its inventory's DomUs get SMALL_DOMU disks."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (network namespaces)")
    # `up` keeps a lab that is already up: one left by a run that died (a killed worker, a
    # timeout) would hand this module its used nodes.
    manager.down(name)
    try:
        info = manager.up(name, port_base=port_base)
        if small_disks:
            shrink_domu_disks(info.inventory_dir)
        yield info
    finally:
        manager.down(name)
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                    check=False).stdout
        assert f"{name}-" not in namespaces, f"lab {name} left namespaces: {namespaces}"
        left = [p.name for p in LABS_DIR.glob(f"{name}*")] if LABS_DIR.exists() else []
        assert not left, f"lab {name} left files in {LABS_DIR}: {left}"


def ssh(lab: manager.LabInfo, node: str, command: str, check: bool = True, *,
        stdin: str | None = None, tty: bool = False,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on ``node`` with the real OpenSSH client and the lab's own host keys."""
    __tracebackhide__ = True
    argv = ["ssh", "-i", str(lab.state_dir / "id_ed25519"),
            "-o", f"UserKnownHostsFile={lab.state_dir / 'known_hosts'}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5", "-p", str(lab.nodes[node]),
            *(["-tt"] if tty else []), "root@127.0.0.1", command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                            input=stdin if stdin is not None else "")
    if check and result.returncode != 0:
        pytest.fail(f"{node}: {command!r} exited {result.returncode}:\n{result.stdout}"
                    f"{result.stderr}")
    return result


# -- the `runbook` command, judged by what it writes --------------------------------------------

RUNBOOK = str(Path(sys.executable).parent / "runbook")


@dataclass(frozen=True)
class Invocation:
    """One ``runbook`` command: its exit status and the files it wrote, the run record read.

    Tests judge the command by these; ``output`` only explains a failed assertion.
    """

    argv: list[str]
    exit_status: int
    folder: Path  # the report folder of this invocation alone
    record: RunRecord | None  # None: the command wrote no record (a usage error, a lock refusal)
    record_file: Path | None
    output: str

    @property
    def files(self) -> list[Path]:
        return sorted(self.folder.iterdir())

    def steps(self) -> dict[tuple[str, str, str], StepRecord]:
        """(host, runbook, step) -> what that step did there."""
        return {(s.host, s.runbook, s.step): s for s in self.ran().steps}

    def step(self, host: str, runbook: str, step: str) -> StepRecord:
        __tracebackhide__ = True
        found = self.steps().get((host, runbook, step))
        if found is None:
            pytest.fail(f"no step {runbook} · {step} on {host} in the record\n{self}")
        return found

    def statuses(self) -> dict[tuple[str, str, str], str]:
        return {key: s.status for key, s in self.steps().items()}

    def checks(self) -> dict[str, CheckRecord]:
        """check name (``test_volume_group_size[ha1]``) -> its outcome, finding and evidence."""
        return {c.name: c for c in self.ran().checks}

    def ran(self) -> RunRecord:
        __tracebackhide__ = True
        if self.record is None:
            pytest.fail(f"no run record was written\n{self}")
        return self.record

    def said(self, text: str) -> bool:
        """Whether the output holds ``text`` however the terminal width wrapped it (rich breaks
        a path longer than a line inside it): for the one message a usage error consists of."""
        return "".join(text.split()) in "".join(self.output.split())

    def text_of_reports(self) -> str:
        """Everything the invocation wrote and printed: where a secret must never be."""
        return self.output + "".join(p.read_text(errors="replace") for p in self.files)

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.exit_status}\n{self.output[-6000:]}"


def invoke(*args: str, reports: Path, env: Mapping[str, str] | None = None,
           timeout: float = 900) -> Invocation:
    """Run ``runbook ARGS`` with a report folder of its own under ``reports``, read its record."""
    folder = Path(tempfile.mkdtemp(prefix=f"{args[0]}-", dir=reports))
    argv = [RUNBOOK, *args]
    if args[0] in ("run", "verify", "drill"):
        argv += ["--report-dir", str(folder)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ if env is None else env), stdin=subprocess.DEVNULL)
    records = [p for p in folder.glob("*.json") if handover.is_run_record(p)]
    assert len(records) <= 1, f"one invocation wrote {len(records)} records: {records}"
    record_file = records[0] if records else None
    return Invocation(
        argv=["runbook", *argv[1:]], exit_status=done.returncode, folder=folder,
        record=record.read(record_file) if record_file else None, record_file=record_file,
        output=done.stdout + done.stderr,
    )


def junit_cases(path: Path) -> dict[str, str]:
    """JUnit test case name -> "passed", "failed", "error" or "skipped"."""
    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}
    cases = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        marks = [outcome[child.tag] for child in case if child.tag in outcome]
        cases[case.get("name", "")] = marks[0] if marks else "passed"
    return cases
