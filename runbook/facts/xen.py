"""Facts of Xen: `xm list`, `xm info`, GRUB's menu.lst, /etc/modules, loop devices."""

from __future__ import annotations

from runbook.facts import Fact, stdout_fact
from runbook.facts.system import file_content
from runbook.parsers.xen import Domain, parse_colon_table, parse_xm_list
from runbook.remote import quote

MODULES = "/etc/modules"
MENU_LST = "/boot/grub/menu.lst"
MAX_LOOP_PATH = "/sys/module/loop/parameters/max_loop"

XM_LIST: Fact[list[Domain]] = stdout_fact("xm list", "xm list", parse_xm_list)


def _info(text: str) -> dict[str, str]:
    info = parse_colon_table(text)
    if "release" not in info or "xen_major" not in info:
        raise ValueError("no release or xen_major line")
    return info


XM_INFO: Fact[dict[str, str]] = stdout_fact("xm info", "xm info", _info)
MODULES_FILE = file_content(MODULES)
MENU_LST_FILE = file_content(MENU_LST)


def _max_loop(text: str | None) -> int | None:
    """The loop module's max_loop, or None when the module is not loaded (no such file)."""
    if text is None:
        return None
    value = text.strip()
    if not value.isdigit():
        raise ValueError(f"max_loop is {value!r}")
    return int(value)


_LOOP = file_content(MAX_LOOP_PATH)
MAX_LOOP: Fact[int | None] = Fact("max_loop", _LOOP.command,
                                  lambda r: _max_loop(_LOOP.parse(r)), _LOOP.ok_codes)


def dom0_memory(domains: list[Domain]) -> int | None:
    dom0 = next((d for d in domains if d.name == "Domain-0"), None)
    return dom0.memory_mb if dom0 is not None else None


def xm_listed(name: str) -> Fact[bool]:
    """``xm list NAME``: whether the domain exists (Xen 3.2 exits 1 when it does not)."""
    return Fact(f"xm list {name}", quote("xm", "list", name), lambda r: r.exit_status == 0,
                frozenset({0, 1}))
