"""The guide's "Installing XEN": packages, loop devices, dom0 memory, reboot into Xen."""

from __future__ import annotations

from dataclasses import dataclass

from nornir.core.task import Result, Task

from runbook import progress, remote
from runbook.engine import Refused, StepFailed
from runbook.inventory import XenSettings
from runbook.parsers.xen import parse_menu_lst, parse_xm_list, running, set_magic_option
from runbook.tasks.base import settings
from runbook.tasks.files import ensure_file, read_file
from runbook.tasks.packages import ensure_packages

MODULES = "/etc/modules"
MENU_LST = "/boot/grub/menu.lst"
MAX_LOOP = "/sys/module/loop/parameters/max_loop"


def xen_settings(task: Task) -> XenSettings:
    xen = settings(task).xen
    if xen is None:  # the loader guarantees it when the runbook requires "xen"
        raise Refused("the inventory has no xen settings for this host")
    return xen


def install_xen(task: Task) -> Result:
    """The Xen packages of the guide (ubuntu-xen-server: hypervisor, -xen kernel, xm, xen-tools)."""
    packages = list(xen_settings(task).packages)
    installed = ensure_packages(task, packages)
    if not installed:
        return Result(host=task.host, result=f"already installed: {', '.join(packages)}")
    return Result(host=task.host, changed=True, result=f"installed {', '.join(installed)}")


def with_loop_line(modules: str, max_loop: int) -> str:
    """/etc/modules with exactly one ``loop max_loop=N`` line (replacing any other loop line)."""
    wanted = f"loop max_loop={max_loop}"
    lines = modules.splitlines()
    loop_lines = [i for i, line in enumerate(lines) if line.split()[:1] == ["loop"]]
    if loop_lines:
        lines[loop_lines[0]] = wanted
        lines = [line for i, line in enumerate(lines) if i not in loop_lines[1:]]
    else:
        lines.append(wanted)
    return "\n".join(lines) + "\n"


def enable_loop_devices(task: Task) -> Result:
    """`loop max_loop=64` in /etc/modules (active from the next boot)."""
    max_loop = xen_settings(task).max_loop
    current = read_file(task, MODULES) or ""
    change = ensure_file(task, MODULES, with_loop_line(current, max_loop))
    if not change.changed:
        return Result(host=task.host, result=f"{MODULES} already has loop max_loop={max_loop}")
    return Result(host=task.host, changed=True, diff=change.diff,
                  result=f"wrote loop max_loop={max_loop} to {MODULES} (active after reboot)")


def set_dom0_memory(task: Task) -> Result:
    """dom0_mem on the Xen line of GRUB (``# xenhopt=`` in menu.lst, then update-grub)."""
    memory = xen_settings(task).dom0_memory_mb
    current = read_file(task, MENU_LST)
    if current is None:
        raise Refused(f"{MENU_LST} does not exist: is this node booting with GRUB legacy?")
    change = ensure_file(task, MENU_LST, set_magic_option(current, "xenhopt", "dom0_mem",
                                                          f"{memory}M"))
    if not change.changed:
        return Result(host=task.host, result=f"dom0_mem={memory}M already set for Xen")
    remote.run(task, "update-grub", changes=True)
    return Result(host=task.host, changed=True, diff=change.diff,
                  result=f"xenhopt dom0_mem={memory}M, ran update-grub (active after reboot)")


@dataclass(frozen=True)
class BootState:
    kernel: str
    max_loop: int | None
    dom0_memory_mb: int | None
    guests: tuple[str, ...]
    boots_xen: bool  # the default GRUB entry starts the hypervisor


def boot_state(task: Task) -> BootState:
    facts = remote.run_many(task, {
        "uname": "uname -r",
        "max_loop": f"cat {MAX_LOOP}",
        "xm list": "xm list",
        "menu": f"cat {MENU_LST}",
    })
    domains = parse_xm_list(facts["xm list"].stdout) if facts["xm list"].ok else []
    dom0 = next((d for d in domains if d.name == "Domain-0"), None)
    loop = facts["max_loop"].stdout.strip()
    entry = parse_menu_lst(facts["menu"].stdout).default_entry
    return BootState(
        kernel=facts["uname"].stdout.strip(),
        max_loop=int(loop) if loop.isdigit() else None,
        dom0_memory_mb=dom0.memory_mb if dom0 else None,
        guests=tuple(running(domains)),
        boots_xen=entry is not None and entry.xen,
    )


def ensure_xend(task: Task, state: BootState, suffix: str) -> BootState:
    """On a Xen kernel whose xend is not answering, start xend and look again."""
    if state.dom0_memory_mb is not None or not state.kernel.endswith(suffix):
        return state
    remote.run(task, "/etc/init.d/xend start", changes=True)
    return boot_state(task) if not task.is_dry_run() else state


def reboot_reasons(state: BootState, xen: XenSettings) -> list[str]:
    """Why the node must reboot to be the guide's dom0; empty when it already is."""
    reasons = []
    if not state.kernel.endswith(xen.kernel_suffix):
        reasons.append(f"running kernel {state.kernel} is not {xen.kernel_suffix}")
    if state.max_loop != xen.max_loop:
        reasons.append(f"max_loop is {state.max_loop}, not {xen.max_loop}")
    if state.kernel.endswith(xen.kernel_suffix) and state.dom0_memory_mb != xen.dom0_memory_mb:
        reasons.append(f"Domain-0 has {state.dom0_memory_mb} MB, not {xen.dom0_memory_mb} MB")
    return reasons


def boot_into_xen(task: Task) -> Result:
    """Reboot into the Xen kernel (both nodes at once) and wait until SSH answers again."""
    xen = xen_settings(task)
    before = ensure_xend(task, boot_state(task), xen.kernel_suffix)
    reasons = reboot_reasons(before, xen)
    if not reasons:
        return Result(host=task.host, result=f"already running {before.kernel} with "
                      f"dom0 {before.dom0_memory_mb} MB and max_loop {before.max_loop}")
    if before.guests:
        raise Refused(f"a reboot is needed ({'; '.join(reasons)}) but DomUs run here "
                      f"({', '.join(before.guests)}): migrate or shut them down first")
    if not before.boots_xen and not task.is_dry_run():
        raise Refused(f"the default entry of {MENU_LST} does not start Xen: a reboot would "
                      "not help (is the Xen kernel installed?)")
    host = task.host.name
    remote.reboot_and_wait(
        task, timeout=xen.reboot_timeout_s,
        waiting=lambda s: progress.note(host, f"rebooting, waiting for SSH ({s:.0f}s)"),
    )
    if task.is_dry_run():
        return Result(host=task.host, changed=True, result=f"would reboot: {'; '.join(reasons)}")
    after = ensure_xend(task, boot_state(task), xen.kernel_suffix)
    still = reboot_reasons(after, xen)
    if still:
        raise StepFailed(f"came back after the reboot but {'; '.join(still)}")
    return Result(host=task.host, changed=True,
                  result=f"rebooted ({'; '.join(reasons)}): now {after.kernel}, "
                  f"dom0 {after.dom0_memory_mb} MB, max_loop {after.max_loop}")
