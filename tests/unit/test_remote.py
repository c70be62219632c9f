"""The remote command helper over a fake shell: framing, status, dry run, secrets."""

from __future__ import annotations

import pytest
from nornir.core import Nornir
from nornir.core.task import Result, Task

from runbook import remote


def run_on_all(nr: Nornir, func) -> dict[str, Result]:  # type: ignore[no-untyped-def]
    agg = nr.run(task=func, on_failed=True)
    return {h: m[0] for h, m in agg.items()}


def test_quote_shell_quotes_each_argument() -> None:
    assert remote.quote("echo", "a b", "$(rm -rf /)", "it's") == (
        "echo 'a b' '$(rm -rf /)' 'it'\"'\"'s'"
    )


def test_nonzero_status_fails_with_stdout_stderr_and_status(nr: Nornir) -> None:
    def task(task: Task) -> Result:
        remote.run(task, "no-such-command")
        return Result(host=task.host)

    results = run_on_all(nr, task)
    exc = results["ha1"].exception
    assert isinstance(exc, remote.CommandFailed)
    assert exc.result.exit_status == 127
    assert "unknown command" in exc.result.stderr


def test_accepted_codes_and_exact_output(nr: Nornir) -> None:
    def task(task: Task) -> Result:
        return Result(host=task.host, result=remote.run(task, "hostname"))

    results = run_on_all(nr, task)
    assert results["ha1"].result.stdout == "ha1\n"
    assert results["ha2"].result.exit_status == 0


def test_a_change_in_a_dry_run_is_refused_and_runs_nothing(nr: Nornir, fake_nodes) -> None:  # type: ignore[no-untyped-def]
    def task(task: Task) -> Result:
        remote.change(task, "hostname ha1.domain.local")
        return Result(host=task.host)

    nr.data.dry_run = True
    results = run_on_all(nr, task)
    assert isinstance(results["ha1"].exception, remote.ChangeInDryRun)
    assert fake_nodes["ha1"].hostname == "ha1" and remote.journal("ha1") == []


def test_change_runs_outside_a_dry_run(nr: Nornir, fake_nodes) -> None:  # type: ignore[no-untyped-def]
    def task(task: Task) -> Result:
        remote.change(task, "hostname ha1.domain.local", display="set the hostname")
        return Result(host=task.host)

    nr.filter(name="ha1").run(task=task)
    assert fake_nodes["ha1"].hostname == "ha1.domain.local"
    assert remote.journal("ha1")[-1].command == "set the hostname"


def test_run_many_is_one_write(nr: Nornir, fake_nodes) -> None:  # type: ignore[no-untyped-def]
    def task(task: Task) -> Result:
        return Result(host=task.host, result=remote.run_many(
            task, {"name": "hostname", "bad": "nope"}))

    results = run_on_all(nr, task)
    facts = results["ha2"].result
    assert facts["name"].stdout == "ha2\n"
    assert facts["bad"].exit_status == 127


def test_secrets_never_reach_the_journal(nr: Nornir) -> None:
    def task(task: Task) -> Result:
        remote.register_secret(task.host.name, "SecretKey123")
        remote.run(task, "echo SecretKey123 > /dev/null", ok_codes=range(256))
        return Result(host=task.host)

    nr.run(task=task)
    assert all("SecretKey123" not in c.command for c in remote.journal("ha1"))
    assert remote.journal("ha1")[-1].command == f"echo {remote.REDACTED} > /dev/null"


def test_unreachable_host_fails_fast_with_its_reason(nr: Nornir) -> None:
    host = nr.inventory.hosts["ha2"]
    del host.connections["netmiko"]
    host.port = 1  # nothing listens there

    def task(task: Task) -> Result:
        return Result(host=task.host, result=remote.run(task, "hostname").stdout)

    results = run_on_all(nr, task)
    assert results["ha1"].result == "ha1\n"
    exc = results["ha2"].exception
    assert isinstance(exc, remote.NodeUnreachable)
    assert "127.0.0.1:1" in exc.reason
    again = run_on_all(nr, task)["ha2"].exception
    assert isinstance(again, remote.NodeUnreachable) and again.reason == exc.reason
    with pytest.raises(KeyError):
        remote.unreachable_hosts()["ha1"]


def test_stdin_reaches_the_command_but_never_the_journal(nr: Nornir) -> None:
    shells = {h: nr.inventory.hosts[h].connections["netmiko"].connection for h in ("ha1",)}

    def task(task: Task) -> Result:
        remote.change(task, "hostname", stdin="s3cret\ns3cret\n")
        return Result(host=task.host)

    nr.filter(name="ha1").run(task=task)
    assert shells["ha1"].stdins[-1] == "s3cret\ns3cret\n"
    entry = remote.journal("ha1")[-1]
    assert entry.command == "hostname" and "s3cret" not in repr(entry)


def test_long_commands_and_stdin_travel_in_short_lines(nr: Nornir) -> None:
    shell = nr.inventory.hosts["ha1"].connections["netmiko"].connection
    long_command = "echo " + "x" * 9000 + " > /dev/null; hostname"
    secret = "p" * 3000

    def task(task: Task) -> Result:
        return Result(host=task.host, result=remote.change(
            task, long_command, stdin=secret, ok_codes=range(256)))

    nr.filter(name="ha1").run(task=task)
    assert shell.commands[-1] == long_command and shell.stdins[-1] == secret
    assert shell.longest_line <= remote.MAX_LINE
