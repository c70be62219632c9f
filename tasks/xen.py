"""The guide's "Installing XEN": packages, loop devices, dom0 memory, reboot into Xen."""

from __future__ import annotations

from dataclasses import dataclass

from runbook.engine import Refused, StepFailed
from runbook.facts import FactFailed, Facts
from runbook.facts.packages import missing, packages
from runbook.facts.system import UNAME_R
from runbook.facts.xen import (
    MAX_LOOP,
    MENU_LST,
    MENU_LST_FILE,
    MODULES,
    MODULES_FILE,
    XM_LIST,
    dom0_memory,
)
from runbook.inventory import XenSettings
from runbook.parsers.xen import parse_menu_lst, running, set_magic_option
from runbook.plan import (
    NodeChanger,
    NodeReader,
    Plan,
    RunCommand,
    plan_of,
    planned,
    required,
    unmet,
    write_file,
)
from runbook.tasks.packages import plan_packages


def xen_settings(node: NodeReader) -> XenSettings:
    return required(node.settings.xen, "xen")


def packages_plan(node: NodeReader) -> Plan:
    """The Xen packages of the guide (ubuntu-xen-server: hypervisor, -xen kernel, xm, xen-tools)."""
    return plan_packages(node, xen_settings(node).packages)


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


def plan_loop(modules: str | None, max_loop: int) -> Plan:
    """`loop max_loop=N` in /etc/modules (active from the next boot)."""
    return plan_of(write_file(MODULES, modules, with_loop_line(modules or "", max_loop)),
                   notes=[f"{MODULES} already has loop max_loop={max_loop}"])


def loop(node: NodeReader) -> Plan:
    return plan_loop(node.fact(MODULES_FILE), xen_settings(node).max_loop)


def plan_dom0_memory(menu: str | None, memory_mb: int) -> Plan:
    """dom0_mem on the Xen line of GRUB (``# xenhopt=`` in menu.lst, then update-grub)."""
    if menu is None:
        raise Refused(f"{MENU_LST} does not exist: is this node booting with GRUB legacy?")
    write = write_file(MENU_LST, menu, set_magic_option(menu, "xenhopt", "dom0_mem",
                                                         f"{memory_mb}M"))
    if not write:
        return plan_of(notes=[f"dom0_mem={memory_mb}M already set for Xen"])
    return plan_of([*write, RunCommand("update-grub", done="ran update-grub")])


def dom0_memory_plan(node: NodeReader) -> Plan:
    return plan_dom0_memory(node.fact(MENU_LST_FILE),
                            xen_settings(node).dom0_memory_mb)


@dataclass(frozen=True)
class BootState:
    kernel: str
    max_loop: int | None
    dom0_memory_mb: int | None  # None: xm list does not answer (no Xen kernel, or no xend)
    guests: tuple[str, ...]
    boots_xen: bool  # the default GRUB entry starts the hypervisor
    xen_installed: bool = True  # every package of the inventory's xen.packages


BOOT_FACTS = (UNAME_R, MAX_LOOP, XM_LIST, MENU_LST_FILE)


def boot_state(facts: Facts, xen: XenSettings) -> BootState:
    """From BOOT_FACTS and the Xen packages. `xm list` may fail only off the Xen kernel or
    while xend is down on it (it is started then); any other failed fact is an error."""
    kernel = facts.get(UNAME_R)
    try:
        domains = facts.get(XM_LIST)
    except FactFailed:
        domains = []
    entry = parse_menu_lst(facts.get(MENU_LST_FILE) or "").default_entry
    return BootState(
        kernel=kernel,
        max_loop=facts.get(MAX_LOOP),
        dom0_memory_mb=dom0_memory(domains),
        guests=tuple(running(domains)),
        boots_xen=entry is not None and entry.xen,
        xen_installed=not missing(facts.get(packages(xen.packages)), xen.packages),
    )


def read_boot_state(node: NodeReader, xen: XenSettings) -> BootState:
    return boot_state(node.facts(*BOOT_FACTS, packages(xen.packages)), xen)


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


def xend_down(state: BootState, xen: XenSettings) -> bool:
    return state.kernel.endswith(xen.kernel_suffix) and state.dom0_memory_mb is None


def refuse_reboot(state: BootState, reasons: list[str]) -> None:
    if state.guests:
        raise Refused(f"a reboot is needed ({'; '.join(reasons)}) but DomUs run here "
                      f"({', '.join(state.guests)}): migrate or shut them down first")


@dataclass(frozen=True)
class BootIntoXen:
    """Start xend if it is down on the Xen kernel; reboot (and wait) if that is not enough."""

    xen: XenSettings
    reasons: tuple[str, ...]
    start_xend: bool

    def describe(self) -> str:
        if self.start_xend:
            return "run: /etc/init.d/xend start (then reboot if Domain-0 is still not right)"
        return f"reboot: {'; '.join(self.reasons)}"

    def apply(self, node: NodeChanger) -> str:
        done = []
        reasons = list(self.reasons)
        if self.start_xend:
            node.change("/etc/init.d/xend start")
            done.append("started xend")
            state = read_boot_state(node, self.xen)
            reasons = reboot_reasons(state, self.xen)
            if not reasons:
                return "; ".join(done)
            refuse_reboot(state, reasons)
        node.reboot_and_wait(self.xen.reboot_timeout_s)
        after = read_boot_state(node, self.xen)
        if xend_down(after, self.xen):
            node.change("/etc/init.d/xend start")
            after = read_boot_state(node, self.xen)
        still = reboot_reasons(after, self.xen)
        if still:
            raise StepFailed(f"came back after the reboot but {'; '.join(still)}")
        done.append(f"rebooted ({'; '.join(reasons)}): now {after.kernel}, "
                    f"dom0 {after.dom0_memory_mb} MB, max_loop {after.max_loop}")
        return "; ".join(done)


def plan_boot(state: BootState, xen: XenSettings, dry_run: bool) -> Plan:
    """Reboot into the Xen kernel when the running system is not the guide's dom0.

    Refuses a reboot while DomUs run, and one into a GRUB default that does not start Xen.
    A dry run before the Xen packages are installed (the packages step would install them)
    predicts the GRUB entry instead, and says so.
    """
    if xend_down(state, xen):
        return plan_of([BootIntoXen(xen, (), start_xend=True)])
    reasons = reboot_reasons(state, xen)
    if not reasons:
        return plan_of(notes=[f"already running {state.kernel} with dom0 "
                              f"{state.dom0_memory_mb} MB and max_loop {state.max_loop}"])
    refuse_reboot(state, reasons)
    predictions = []
    if not state.boots_xen:
        if state.xen_installed or not dry_run:
            raise Refused(f"the default entry of {MENU_LST} does not start Xen: a reboot would "
                          "not help (is the Xen kernel installed?)")
        predictions.append(unmet(dry_run, f"{', '.join(xen.packages)} not installed yet",
                                 f"the default entry of {MENU_LST} starts Xen once they are"))
    return plan_of([BootIntoXen(xen, tuple(reasons), start_xend=False)],
                   predictions=predictions)


def boot(node: NodeReader) -> Plan:
    xen = xen_settings(node)
    return plan_boot(read_boot_state(node, xen), xen, node.dry_run)


install_xen = planned(packages_plan)
enable_loop_devices = planned(loop)
set_dom0_memory = planned(dom0_memory_plan)
boot_into_xen = planned(boot)
