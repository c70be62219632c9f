"""Section "xen": the Xen packages, Dom0 memory, loop devices, the reboot ("Installing XEN")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.values import MISSING, kind, read_integer, read_settings, read_text

_KEYS: Final = (
    "packages", "kernel_suffix", "version", "dom0_memory_mb", "max_loop", "reboot_timeout_s"
)
_PACKAGE: Final = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_KERNEL_SUFFIX: Final = re.compile(r"[A-Za-z0-9._+-]+")
_VERSION: Final = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class XenSettings:
    """Installing Xen on a node (inventory ``data.xen``)."""

    packages: tuple[str, ...]  # apt-get install these, e.g. ("ubuntu-xen-server",)
    kernel_suffix: str  # `uname -r` ends with it once the node runs the Xen kernel: "-xen"
    dom0_memory_mb: int  # Dom0's memory (the guide: 512, the size of its swap partition)
    max_loop: int  # `loop max_loop=64` in /etc/modules
    reboot_timeout_s: int  # how long to wait for the node to come back after the reboot
    version: str = "3.2"  # the hypervisor `xm info` must report (xen_major.xen_minor)


def _packages(h: HostView, key: KeyPath, packages: Any) -> None:
    what = "a list of Debian package names, e.g. [ubuntu-xen-server]"
    if packages is MISSING or packages is None:
        h.problem(key, f"missing: expected {what}")
    elif not isinstance(packages, list) or not packages:
        got = "an empty list" if packages == [] else kind(packages)
        h.problem(key, f"expected {what}, got {got}")
    else:
        for index, name in enumerate(packages):
            if not isinstance(name, str) or not _PACKAGE.fullmatch(name):
                h.problem((*key, index), f"not a Debian package name: {name!r}")
            elif name in packages[:index]:
                h.problem((*key, index), f"listed twice: {name!r}")


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "xen")
    xen = read_settings(h, key, _KEYS, "a mapping of Xen settings (" + ", ".join(_KEYS) + ")")
    if xen is None:
        return {"xen": None}
    start = h.problem_count()
    packages = xen.get("packages", MISSING)
    _packages(h, (*key, "packages"), packages)
    suffix = read_text(
        h,
        (*key, "kernel_suffix"),
        xen.get("kernel_suffix", MISSING),
        "the end of the Xen kernel's `uname -r`, e.g. -xen",
    )
    if suffix is not None and not _KERNEL_SUFFIX.fullmatch(suffix):
        h.problem((*key, "kernel_suffix"), f"not the end of a kernel release: {suffix!r}")
    version = xen.get("version", "3.2")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        h.problem((*key, "version"),
                  f"expected MAJOR.MINOR in quotes, e.g. \"3.2\", got {version!r}")

    def integer(name: str, low: int, high: int, what: str) -> int | None:
        return read_integer(h, (*key, name), xen.get(name, MISSING), low, high, what)

    memory = integer("dom0_memory_mb", 64, 1048576, "Dom0's memory in MB")
    max_loop = integer("max_loop", 8, 255, "the number of loop devices")
    timeout = integer(
        "reboot_timeout_s", 10, 3600, "seconds to wait for the node after its reboot"
    )
    if h.problem_count() > start:
        return {"xen": None}
    assert suffix is not None and memory is not None and max_loop is not None
    assert timeout is not None
    return {"xen": XenSettings(tuple(packages), suffix, memory, max_loop, timeout, version)}


SECTION: Final = Section(
    "data.xen: packages, kernel_suffix, version, dom0_memory_mb, max_loop, reboot_timeout_s",
    parse_host,
)
