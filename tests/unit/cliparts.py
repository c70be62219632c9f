"""What the plugin and CLI tests share: tiny check files, fake nodes behind Nornir, and an
inventory whose SSH files exist."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import remote
from runbook.engine import Runbook, Step
from runbook.inventory import ClusterInventory
from tests.unit.fakenode import FakeNode
from tests.unit.fakeshell import FakeShell, Responder, attach

CHECKS_97 = '''
import pytest

from runbook.facts import stdout_fact

HOSTNAME = stdout_fact("hostname", "hostname", str.strip)
MARK = stdout_fact("mark", "echo check-97", str)


def wanted(node, cluster):
    return [HOSTNAME, MARK]


@pytest.fixture(scope="module")
def facts(gather):
    return gather(wanted)


def test_hostname_is_the_short_name(node, facts):
    """`hostname` prints the node's short name."""
    assert facts[node].get(MARK) == "check-97\\n"
    assert facts[node].get(HOSTNAME) == node.name


def test_needs_no_command(node):
    """A check that reads nothing from the node."""
    assert node.fqdn.startswith(node.name)
'''

CHECKS_98 = '''
import pytest

from runbook.facts import stdout_fact

MARK = stdout_fact("mark", "echo check-98", str)


@pytest.fixture(scope="module")
def facts(gather):
    return gather(lambda node, cluster: [MARK])


def test_mark_answers(node, facts):
    """98's mark answers."""
    assert facts[node].get(MARK) == "check-98\\n"
'''


def with_echo(node: FakeNode) -> Responder:
    """The fake node, plus `echo WORD` (a marker of who ran what, and when)."""
    def answer(command: str) -> tuple[str, str, int]:
        if command.startswith("echo "):
            return command.removeprefix("echo ") + "\n", "", 0
        return node(command)
    return answer


def marking_step(runbook_id: str) -> Step:
    def mark(task: Task) -> Result:
        remote.run(task, f"echo step-{runbook_id[:2]}")
        return Result(host=task.host, changed=True)
    return Step("mark", mark, "leave a mark")


def runbooks(folder: Path) -> list[Runbook]:
    (folder / "test_97_first.py").write_text(CHECKS_97)
    (folder / "test_98_second.py").write_text(CHECKS_98)
    return [Runbook(rb, rb, (marking_step(rb),), ("base",), folder / f"{rb}.py", folder)
            for rb in ("97-first", "98-second")]


def with_fake_nodes(nr: Nornir, fake_nodes: dict[str, FakeNode]) -> Nornir:
    """``nr`` with each host's session answered by its fake node (plus ``echo``)."""
    for name, host in nr.inventory.hosts.items():
        attach(host, FakeShell(with_echo(fake_nodes[name])))
    return nr


def inventory_with_ssh_files(cluster: ClusterInventory, tmp_path: Path) -> Path:
    """A copy of the lab inventory whose key_file and known_hosts exist (the CLI checks them
    before connecting; the lab writes the real ones only when it is up)."""
    folder = tmp_path / "inventory"
    shutil.copytree(cluster.folder, folder)
    (tmp_path / "id_ed25519").write_text("not a real key: the nodes are fake\n")
    (tmp_path / "known_hosts").write_text("")
    defaults = folder / "defaults.yaml"
    text = re.sub(r"key_file: \S+", f"key_file: {tmp_path / 'id_ed25519'}", defaults.read_text())
    text = re.sub(r"known_hosts: \S+", f"known_hosts: {tmp_path / 'known_hosts'}", text)
    defaults.write_text(text)
    return folder
