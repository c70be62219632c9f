"""The node lock: its shell commands run for real (in a temp folder), its decisions as tables."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runbook import nodelock
from runbook.nodelock import LockOwner

OWNER = LockOwner("root@ops2", "ops2", 4242, 1_764_158_671, "runbook run 06-drbd", "tok-1")
OTHER = LockOwner("alice@ops1", "ops1", 77, 1_764_158_700, "runbook run 02-xen", "tok-2")


def sh(command: str, root: Path) -> subprocess.CompletedProcess[str]:
    local = command.replace(nodelock.LOCK_DIR, str(root / "lock"))
    local = local.replace("/var/lib/runbook", str(root))
    return subprocess.run(["bash", "-c", local], capture_output=True, text=True, check=False)


def test_owner_round_trips() -> None:
    assert nodelock.parse_owner(OWNER.render()) == OWNER


def test_garbled_owner_is_none() -> None:
    assert nodelock.parse_owner("operator=x\npid=notanumber\n") is None


def test_first_acquires_second_sees_the_owner(tmp_path: Path) -> None:
    first = sh(nodelock.acquire_command(OWNER), tmp_path)
    assert first.returncode == 0, first.stderr
    second = sh(nodelock.acquire_command(OTHER), tmp_path)
    assert second.returncode == nodelock.HELD_STATUS
    assert nodelock.parse_owner(second.stdout) == OWNER


def test_only_the_holder_releases(tmp_path: Path) -> None:
    sh(nodelock.acquire_command(OWNER), tmp_path)
    sh(nodelock.release_command(OTHER.token), tmp_path)
    assert (tmp_path / "lock").is_dir()
    sh(nodelock.release_command(OWNER.token), tmp_path)
    assert not (tmp_path / "lock").exists()
    assert sh(nodelock.acquire_command(OTHER), tmp_path).returncode == 0


def test_a_quote_in_the_command_line_cannot_break_out(tmp_path: Path) -> None:
    odd = LockOwner("root@ops2", "ops2", 1, 1, "runbook run 'x'; touch /tmp/pwned", "t")
    assert sh(nodelock.acquire_command(odd), tmp_path).returncode == 0
    assert nodelock.parse_owner((tmp_path / "lock" / "owner").read_text()) == odd


def test_refusal_names_who_since_when_and_what() -> None:
    text = nodelock.refusal("ha1", OWNER, OWNER.since + 60, "ops9", None)
    assert text == ("ha1 is locked by root@ops2 since 12:04:31 UTC "
                    "(runbook run 06-drbd, pid 4242); wait for that run to end")


@pytest.mark.parametrize(
    ("owner", "age", "this_host", "alive", "stale"),
    [
        (OWNER, 60, "ops2", True, None),  # our own machine, holder still running
        (OWNER, 60, "ops2", False, "pid 4242 no longer runs on ops2"),
        (OWNER, 60, "ops9", None, None),  # another machine: cannot see its pids
        (OWNER, 13 * 3600, "ops9", None, "it is 13 hours old (a run never takes more than 12)"),
        (None, 0, "ops9", None, "its owner file is missing or unreadable"),
    ],
)
def test_stale_reason(owner: LockOwner | None, age: int, this_host: str, alive: bool | None,
                      stale: str | None) -> None:
    since = owner.since if owner else 0
    assert nodelock.stale_reason(owner, since + age, this_host, alive) == stale


def test_stale_refusal_says_how_to_clear() -> None:
    text = nodelock.refusal("ha2", OWNER, OWNER.since + 60, "ops2", False)
    assert "looks stale (pid 4242 no longer runs on ops2)" in text
    assert "`runbook unlock --limit ha2`" in text


def test_unlock_shows_the_owner_then_clears(tmp_path: Path) -> None:
    sh(nodelock.acquire_command(OWNER), tmp_path)
    cleared = sh(nodelock.unlock_command(), tmp_path)
    assert cleared.returncode == 0 and nodelock.parse_owner(cleared.stdout) == OWNER
    assert not (tmp_path / "lock").exists()
    again = sh(nodelock.unlock_command(), tmp_path)
    assert again.returncode == nodelock.NOT_LOCKED_STATUS and again.stdout == ""


def test_the_acquire_command_is_one_line() -> None:
    # The session's shell must read it as one command, with no continuation lines.
    assert "\n" not in nodelock.acquire_command(OWNER)
