"""The ``runbook`` command: run runbooks, verify clusters, drive the lab."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from nornir.core import Nornir
from rich.console import Console
from rich.text import Text

from runbook import console as console_mod
from runbook import (
    context,
    drill,
    engine,
    handover,
    interrupt,
    locking,
    paths,
    progress,
    remote,
    report,
)
from runbook.console import StepPrinter
from runbook.engine import Runbook, RunbookRun, UnknownRunbook
from runbook.inventory import (
    ClusterInventory,
    ConnectCheck,
    InventoryError,
    load_inventory,
    open_nornir,
)
from runbook.record import InvocationRecord, RunRecord


def default_inventory() -> Path:
    """The lab's inventory: the checkout's inventory/lab, or the copy an installed lab wrote."""
    if paths.checkout_root() is not None:
        return paths.LAB_INVENTORY
    return paths.state_home() / ".lab" / "rblab" / "inventory"


PROGRESS_ENV = "RUNBOOK_PROGRESS_INTERVAL"


class UsageError(Exception):
    """A bad option or setting, found before anything ran."""


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # a step or a check failed
    USAGE = 2  # unknown runbook, bad inventory, bad arguments
    LOCKED = 3  # another run holds the lock of a node
    INTERRUPTED = interrupt.EXIT_STATUS  # 130: Ctrl-C or SIGTERM
    CHANGES = 2  # --dry-run --detailed-exitcode: something would change (terraform plan's 2)


EPILOG = """\
exit status:
  0    every step and every check passed (--dry-run: nothing would change, or
       without --detailed-exitcode: the plan was made)
  1    a step or a check failed (the report says which, on which node)
  2    usage or input error: unknown runbook, bad inventory (a missing key_file too),
       unknown host; with --dry-run --detailed-exitcode: the plan was made and something
       would change (terraform plan's convention)
  3    refused: another run holds the lock of a node (who, since when and from where
       is printed); nothing was changed
  130  interrupted (Ctrl-C or SIGTERM): the running step stopped at its next safe point,
       the report and the run record were written, the node lock released; a second
       Ctrl-C quits at once (no report, the lock stays: runbook unlock)

environment:
  RUNBOOK_PROGRESS_INTERVAL  seconds between two progress lines when the output is not a
                             terminal (CI, a log file); default 10

examples:
  runbook lab up                      # two simulated dom0 nodes on this machine
  runbook run 01-base                 # apply 01-base to the lab, then check it
  runbook run all --dry-run           # print the commands and file diffs, change nothing
  runbook run all --dry-run --detailed-exitcode  # the same; exit 2 when something would change
  runbook verify -i inventory/prod    # post-change verification: checks only
  runbook unlock --limit ha1          # clear a stale node lock (shows who held it)
"""


def _targets(p: argparse.ArgumentParser, reports: bool = True) -> None:
    p.add_argument("-i", "--inventory", type=Path, default=None,
                   help=f"Nornir SimpleInventory folder (default: the lab's, "
                        f"{default_inventory()})")
    p.add_argument("--limit", default="", metavar="HOST[,HOST]",
                   help="only these inventory hosts")
    if reports:
        p.add_argument("--report-dir", type=Path, default=report.REPORT_DIR,
                       help=f"where reports are written (default: {report.REPORT_DIR})")
    p.add_argument("--no-host-key-check", action="store_true",
                   help="do NOT verify SSH host keys against known_hosts (unsafe)")


def _verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true",
                   help="a line per passed check (default: one line per runbook and node)")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="ID", help="runbook ids (01-base or 01) or 'all'")
    p.add_argument("--dry-run", action="store_true",
                   help="print per host the commands and file diffs; change nothing; write "
                        "the plan (record, JUnit, handover report) for a change request")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="with --dry-run: exit 2 when something would change, 0 when "
                        "nothing would (terraform plan's convention)")
    p.add_argument("--force", action="append", default=[], metavar="HOST",
                   help="let 03-lvm overwrite what HOST's partition holds (data is lost)")
    _targets(p)
    _verbose(p)
    handover.add_signoff_arguments(p)


def _verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="*", metavar="ID", help="runbook ids (default: all)")
    _targets(p)
    _verbose(p)
    handover.add_signoff_arguments(p)


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("record", nargs="?", type=Path, default=None, metavar="RECORD.json",
                   help="a run record (default: the newest in --report-dir)")
    p.add_argument("--report-dir", type=Path, default=report.REPORT_DIR,
                   help=f"where to look for the newest record (default: {report.REPORT_DIR})")
    handover.add_signoff_arguments(p)


def _lab_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--name", default=None, help="lab name, the prefix of all it creates")
    p.add_argument("--port-base", type=int, default=None, help="SSH port of ha1 (ha2: +1)")


Handler = Callable[[argparse.Namespace, Console, Sequence[str]], ExitStatus]


@dataclass(frozen=True)
class Command:
    """A subcommand: ``runbook --help`` lists exactly the ones in :data:`COMMANDS`."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handle: Handler
    nodes: bool = False  # talks to the nodes: Ctrl-C stops it at a safe point


def _no_arguments(p: argparse.ArgumentParser) -> None:
    """``runbook list`` takes none."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="Build, change and prove a two-node Xen/DRBD/Heartbeat cluster.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {report.tool_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.arguments(sub.add_parser(command.name, help=command.help,
                                         description=command.help))
    return parser


def _list(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> ExitStatus:
    for rb in engine.discover():  # a long title wraps under itself
        console_mod.print_line(console, Text(f"{rb.id:<16} "), rb.title, indent=17)
    return ExitStatus.OK


def _lab(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> ExitStatus:
    from xenlab import manager

    name = args.name or manager.DEFAULT_LAB
    try:
        if args.action == "up":
            info = manager.up(name, args.port_base, inventory_source=paths.LAB_INVENTORY)
            ports = ", ".join(f"{n} on 127.0.0.1:{p}" for n, p in info.nodes.items())
            console.print(f"lab '{info.name}' is up: {ports}", highlight=False)
            # paths are printed whole (the terminal wraps them), so they can be copied
            console.print(f"inventory: {info.inventory_dir}", highlight=False, soft_wrap=True)
            console.print(f"state:     {info.state_dir}", highlight=False, soft_wrap=True)
        elif args.action == "down":
            for line in manager.down(name):
                console.print(line, highlight=False)
        else:
            state = manager.status(name)
            console.print(state.render(), highlight=False)
            return ExitStatus.OK if state.up else ExitStatus.FAILED
    except manager.LabError as exc:
        console.print(f"[red]lab error:[/red] {exc}", highlight=False)
        return ExitStatus.USAGE
    return ExitStatus.OK


def _hosts(cluster: ClusterInventory, listed: str, option: str = "--limit") -> list[str]:
    """The inventory hosts named in a comma-separated option (all of them when empty)."""
    names = list(cluster.nodes)
    if not listed:
        return names
    wanted = [h.strip() for h in listed.split(",") if h.strip()]
    unknown = [h for h in wanted if h not in names]
    if unknown:
        raise InventoryError(
            f"{option} names unknown host(s) {', '.join(unknown)} (known: {', '.join(names)})",
            file=cluster.folder / "hosts.yaml",
        )
    return [h for h in names if h in wanted]


def _quiet_paramiko() -> None:
    """No traceback on the operator's terminal: paramiko logs a failed handshake (a node
    rebooting, a session cut at exit) and Nornir a task's exception with a traceback on
    stderr; the run names each failure's cause in its own words (terminal, record)."""
    for name in ("paramiko", "nornir"):
        log = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())
        log.propagate = False


def _progress_interval() -> float:
    """Seconds between two progress lines in non-interactive output (default 10)."""
    text = os.environ.get(PROGRESS_ENV, "")
    if not text:
        return console_mod.PROGRESS_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise UsageError(f"{PROGRESS_ENV}={text!r}: expected seconds between 0 and 86400")
    return seconds


def _load(args: argparse.Namespace, requires: Sequence[str]) -> ClusterInventory:
    """The inventory, with the SSH files it names checked before any connection."""
    folder = (args.inventory or default_inventory()).resolve()
    limit = [h.strip() for h in args.limit.split(",") if h.strip()]
    check = ConnectCheck(hosts=limit or None, strict_host_keys=not args.no_host_key_check)
    # "identity": the cluster name and sign-off of the handover report every run writes
    return load_inventory(folder, require=(*(requires or ("base",)), "identity"), connect=check)


def _execute(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> ExitStatus:
    interval = _progress_interval()
    available = engine.discover()
    runbooks = engine.select(available, args.ids)
    requires = sorted({section for rb in runbooks for section in rb.requires})
    cluster = _load(args, requires)
    hosts = _hosts(cluster, args.limit)
    force = ",".join(getattr(args, "force", []))
    forced = _hosts(cluster, force, "--force") if force else []
    missing = [rb.id for rb in runbooks if not rb.checks.exists()]
    if missing:
        console.print(f"[red]error:[/red] no checks for {', '.join(missing)}")
        return ExitStatus.USAGE
    dry_run = getattr(args, "dry_run", False)
    if getattr(args, "detailed_exitcode", False) and not dry_run:
        raise UsageError("--detailed-exitcode goes with --dry-run")
    info = report.invocation_record(
        command_line=["runbook", *argv], mode="plan" if dry_run else args.command,
        cluster=cluster,
        runbook_ids=[rb.id for rb in runbooks], hosts=hosts,
        limit=[h.strip() for h in args.limit.split(",") if h.strip()], forced=forced,
        dry_run=dry_run,
    )
    remote.reset()
    progress.reset()
    _quiet_paramiko()
    nr = open_nornir(cluster, strict_host_keys=not args.no_host_key_check)
    context.attach(nr, cluster, forced=forced)  # what the steps share, typed
    nr = nr.filter(filter_func=lambda h: h.name in hosts)
    printer = StepPrinter(console, dry_run=dry_run, interval=interval)
    runner = RunbookRun(nr, cluster, dry_run=dry_run, on_step_start=printer.started,
                        on_step_done=printer.done)
    if info.left_out:
        console.print(f"left out by --limit: {', '.join(info.left_out)}", highlight=False)
    lock: locking.Acquired | None = None
    progress.listen(printer.note)
    try:
        if info.mode == "run" and not dry_run:  # verify and dry runs change nothing: no lock
            lock = locking.acquire(nr, locking.owner_for(
                info.operator, f"runbook run {' '.join(info.runbooks)}"))
            if lock.refusals:
                for line in lock.refusals:
                    console.print(f"[red]refused:[/red] {line}", highlight=False)
                return ExitStatus.LOCKED
        stop = interrupt.requested()
        if stop is not None:  # before the first step: nothing to report
            console.print(stop.line(), highlight=False)
            return ExitStatus.INTERRUPTED
        if dry_run:
            return _dry_run(args, console, runbooks, cluster, runner, info)
        return _with_checks(args, console, runbooks, cluster, runner, info)
    finally:
        progress.listen(None)
        printer.stop()
        if lock is not None:
            _release(console, nr, lock)
        _close(nr)


def _release(console: Console, nr: Nornir, lock: locking.Acquired) -> None:
    """Give the node lock back. After an interrupt a node may be halfway through a reboot:
    it is waited for, bounded; otherwise one attempt per node (a dead node is not waited
    for at the end of every run)."""
    interrupted = interrupt.requested() is not None
    if interrupted and lock.taken:
        console.print(f"releasing the node lock on {', '.join(lock.taken)} (a node back from "
                      f"a reboot is waited for up to {locking.RELEASE_WAIT_S:.0f} s)",
                      highlight=False)
    stays = locking.release(nr, lock, wait_s=locking.RELEASE_WAIT_S if interrupted else 0.0)
    for host, why in stays.items():
        console.print(f"[red]{locking.left_behind(host, why)}[/red]", highlight=False)
    released = [h for h in lock.taken if h not in stays]
    if interrupted and released:
        console.print(f"node lock released on {', '.join(released)}", highlight=False)


def _dry_run(
    args: argparse.Namespace, console: Console, runbooks: list[Runbook],
    cluster: ClusterInventory, runner: RunbookRun, info: InvocationRecord,
) -> ExitStatus:
    """Predict every step from the nodes' real state; write the plan (record with mode
    "plan", JUnit of the steps, handover report) for a change request."""
    console.print("[bold]dry run[/bold]: nothing is changed on the nodes", highlight=False)
    for rb in runbooks:
        if interrupt.requested():
            break
        console.rule(f"{rb.id}: {rb.title}")
        runner.run(rb)
    info.ended = report.utc_now()
    record = RunRecord(invocation=info, steps=list(runner.outcomes),
                       unreachable=remote.unreachable_hosts())
    stop = interrupt.requested()
    record.interrupted = stop.record() if stop is not None else None
    files = report.reserve_report_files(args.report_dir, info.mode, info.runbooks, info.started)
    files.html.unlink(missing_ok=True)  # the plan's document is the handover report
    report.add_steps_to_junit(files.junit, record)
    sha256 = record.write(files.record)
    handover_file = handover.after_invocation(
        runner.nornir, cluster, info.hosts, files.record, handover.signoff_of(args), console,
        read_overview=stop is None)
    changes = record.totals.steps["changed"]
    console_mod.run_summary(
        console, record, [("junit", files.junit), ("record", files.record)], sha256,
        handover_file,
        verdict=f"{changes} step(s) would change something" if changes else "nothing would change")
    if stop is not None:
        return ExitStatus.INTERRUPTED
    if not record.passed:
        return ExitStatus.FAILED
    return ExitStatus.CHANGES if changes and args.detailed_exitcode else ExitStatus.OK


def _with_checks(
    args: argparse.Namespace,
    console: Console,
    runbooks: list[Runbook],
    cluster: ClusterInventory,
    runner: RunbookRun,
    info: InvocationRecord,
) -> ExitStatus:
    import pytest

    from runbook.pytest_plugin import Invocation, RunbookPlugin

    invocation = Invocation(
        info=info, runbooks=runbooks, cluster=cluster, nornir=runner.nornir, runner=runner,
        console=console, verbose=args.verbose,
    )
    files = report.reserve_report_files(args.report_dir, info.mode, info.runbooks, info.started)
    invocation.record_file = files.record
    RunRecord(invocation=info).write(files.record)  # there from the start; complete at the end
    pytest_args = [
        *(str(rb.checks) for rb in runbooks),
        "-c", str(engine.CHECKS_DIR / "pytest.ini"),
        "--rootdir", str(engine.CHECKS_DIR),
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        f"--html={files.html}",
        "--self-contained-html",
        f"--css={engine.CHECKS_DIR / 'report.css'}",
        f"--junitxml={files.junit}",
    ]
    code = pytest.main(pytest_args, plugins=[RunbookPlugin(invocation)])
    record = invocation.record or invocation.finish()  # None: pytest stopped before the end
    stop = interrupt.requested()
    if stop is not None and record.interrupted is None:  # came after the checks ended
        record.interrupted = stop.record()
    report.add_steps_to_junit(files.junit, record)
    sha256 = record.write(files.record)
    handover_file = handover.after_invocation(
        runner.nornir, cluster, info.hosts, files.record, handover.signoff_of(args), console,
        read_overview=record.interrupted is None)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                    pytest.ExitCode.INTERRUPTED):
        console.print(f"[red]the checks did not complete (pytest exit {int(code)})[/red]")
    console_mod.run_summary(
        console, record, [("report", files.html), ("junit", files.junit), ("record", files.record)],
        sha256, handover_file)
    if record.interrupted is not None:
        return ExitStatus.INTERRUPTED
    if code == pytest.ExitCode.OK and record.passed:
        return ExitStatus.OK
    return ExitStatus.FAILED


def _unlock(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> ExitStatus:
    """Clear the node lock of the hosts (all, or --limit), saying who held each."""
    cluster = _load(args, ("base",))
    hosts = _hosts(cluster, args.limit)
    remote.reset()
    _quiet_paramiko()
    nr = open_nornir(cluster, strict_host_keys=not args.no_host_key_check)
    nr = nr.filter(filter_func=lambda h: h.name in hosts)
    try:
        rows = locking.clear(nr, hosts)
    finally:
        _close(nr)
    for row in rows:
        console.print(row.line(), highlight=False)
    return ExitStatus.FAILED if any(r.error for r in rows) else ExitStatus.OK


def _close(nr: object) -> None:
    """Close every node's session once, failed hosts included."""
    inventory = getattr(nr, "inventory", None)
    if inventory is None:
        return
    for host in inventory.hosts.values():
        conn = host.connections.get("netmiko")
        if conn is not None:
            remote.close_session(conn.connection)
            with contextlib.suppress(Exception):  # a node that just went away
                host.close_connections()


def _report(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> ExitStatus:
    return ExitStatus(handover.report_command(args, console))


#: The subcommands, in the order ``runbook --help`` lists them: a new one is one entry here.
COMMANDS: tuple[Command, ...] = (
    Command("list", "the numbered runbooks with a one-line description each", _no_arguments,
            _list),
    Command("run", "run runbooks in order, each followed by its checks", _run_arguments,
            _execute, nodes=True),
    Command("verify", "the checks only: post-change verification", _verify_arguments,
            _execute, nodes=True),
    Command("unlock", "clear the node lock a run left behind (shows who held it)",
            lambda p: _targets(p, reports=False), _unlock, nodes=True),
    Command("report", "render the handover report of a run record again and print its path",
            _report_arguments, _report),
    Command("lab", "the two-node lab on this machine", _lab_arguments, _lab),
    Command("drill", drill.HELP, drill.arguments,
            lambda a, c, v: ExitStatus(drill.handle(a, c, v)), nodes=True),
)


def run(argv: Sequence[str] | None = None, console: Console | None = None) -> ExitStatus:
    console = console or Console(highlight=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return ExitStatus.OK if exc.code == 0 else ExitStatus.USAGE
    command = next(c for c in COMMANDS if c.name == args.command)
    try:
        if not command.nodes:
            return command.handle(args, console, argv)
        with interrupt.handling():
            return command.handle(args, console, argv)
    except (UnknownRunbook, InventoryError, UsageError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return ExitStatus.USAGE


def main() -> None:
    # Piped into `head` or `less`: die quietly on a closed pipe, as Unix tools do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(ExitStatus.INTERRUPTED)
