"""Value readers shared by the sections.

Each ``read_*`` function checks one value of a host's settings, reports what is wrong on the
host (:meth:`HostView.problem`) and returns None when the value is bad or missing.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Sequence
from decimal import Decimal
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any, Final

from runbook.inventory.errors import KeyPath

if TYPE_CHECKING:
    from runbook.inventory.hosts import HostView

#: A key that is not written at all (``None`` is a key written with no value).
MISSING: Final = object()

LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DIST: Final = re.compile(r"[a-z][a-z0-9.-]*")
_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(Mb|Gb|M|G|MB|GB)", re.IGNORECASE)
_LVM_NAME: Final = re.compile(r"(?!-)[A-Za-z0-9+_.-]{1,127}")


def kind(value: Any) -> str:
    """How a YAML value reads in a message: "a list", "a string: '22'"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean: {value!r}"
    if isinstance(value, int | float):
        return f"a number: {value!r}"
    if isinstance(value, str):
        return f"a string: {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__}: {value!r}"


def is_hostname(text: str, *, min_labels: int = 1) -> bool:
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= min_labels
        and all(LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def size_to_mib(text: str) -> int:
    """A xen-tools size in MiB: "384Mb" -> 384, "5Gb" -> 5120, "1.5G" -> 1536.

    The units, in any case: Mb, M, MB (MiB) and Gb, G, GB (1024 MiB), after an optional space.
    Raises ValueError for any other text and for a size that is not a whole number of MiB.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a size such as 5Gb or 384Mb: {text!r}")
    mib = Decimal(match[1]) * (1024 if match[2].upper().startswith("G") else 1)
    if mib != mib.to_integral_value():
        raise ValueError(f"not a whole number of MiB: {text!r}")
    return int(mib)


def read_text(
    h: HostView, key: KeyPath, value: Any, what: str, *, required: bool = True
) -> str | None:
    if value is MISSING or value is None:
        if required:
            h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, str) or not value.strip():
        h.problem(key, f"expected {what}, got {kind(value)}")
        return None
    return value


def read_mapping(h: HostView, key: KeyPath, value: Any, what: str) -> dict[str, Any] | None:
    if value is MISSING or value is None:
        h.problem(key, f"missing: expected {what}")
        return None
    if not isinstance(value, dict):
        h.problem(key, f"expected {what}, got {kind(value)}")
        return None
    return value


def unknown_keys(h: HostView, key: KeyPath, value: dict[str, Any], known: Sequence[str]) -> None:
    for name in value:
        if name not in known:
            h.problem((*key, name), f"unknown key (expected one of: {', '.join(known)})")


def read_settings(
    h: HostView, key: KeyPath, known: Sequence[str], what: str
) -> dict[str, Any] | None:
    """The mapping at ``key`` (a top-level data key), its unknown keys reported."""
    value = read_mapping(h, key, h.get(key), what)
    if value is not None:
        unknown_keys(h, key, value, known)
    return value


def read_label(h: HostView, key: KeyPath, value: Any, what: str) -> str | None:
    text = read_text(h, key, value, what)
    if text is not None and not (LABEL.fullmatch(text) and not text.isdigit()):
        h.problem(key, f"not a host name without dots (letters, digits, '-'): {text!r}")
        return None
    return text


def read_ipv4(h: HostView, key: KeyPath, value: Any, what: str) -> IPv4Address | None:
    text = read_text(h, key, value, what)
    if text is None:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        h.problem(key, f"not an IPv4 address: {text!r}")
        return None


def read_netmask(
    h: HostView, key: KeyPath, value: Any, room: str = "two nodes"
) -> IPv4Address | None:
    mask = read_ipv4(h, key, value, "a netmask, e.g. 255.255.255.0")
    if mask is None:
        return None
    inverted = ~int(mask) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        h.problem(key, f"not a valid netmask (its one bits must come first): '{mask}'")
        return None
    if not 1 <= 32 - inverted.bit_length() <= 30:
        h.problem(key, f"netmask '{mask}' leaves no room for {room} (use /1 to /30)")
        return None
    return mask


def read_size(h: HostView, key: KeyPath, value: Any, *, required: bool = True) -> str | None:
    text = read_text(h, key, value, "a size such as 5Gb or 384Mb", required=required)
    if text is None:
        return None
    try:
        mib = size_to_mib(text)
    except ValueError as exc:
        h.problem(key, str(exc))
        return None
    if mib == 0:
        h.problem(key, f"must be more than 0: {text!r}")
        return None
    return text


def read_integer(
    h: HostView, key: KeyPath, value: Any, low: int, high: int, what: str
) -> int | None:
    if value is MISSING or value is None:
        h.problem(key, f"missing: expected {what}, an integer from {low} to {high}")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        h.problem(key, f"expected an integer from {low} to {high}, got {kind(value)}")
        return None
    return value


def read_boolean(h: HostView, key: KeyPath, value: Any, default: bool | None = None) -> bool | None:
    if value is MISSING or value is None:
        if default is None:
            h.problem(key, "missing: expected true or false")
        return default
    if not isinstance(value, bool):
        h.problem(key, f"expected true or false, got {kind(value)}")
        return None
    return value


def read_choice(
    h: HostView, key: KeyPath, value: Any, choices: Sequence[str], default: str | None = None
) -> str | None:
    what = "one of " + ", ".join(choices)
    if (value is MISSING or value is None) and default is not None:
        return default
    text = read_text(h, key, value, what)
    if text is not None and text not in choices:
        h.problem(key, f"expected {what}, got {text!r}")
        return None
    return text


def read_lvm_name(h: HostView, key: KeyPath, value: Any) -> str | None:
    text = read_text(h, key, value, "a volume group name, e.g. vg")
    if text is not None and (not _LVM_NAME.fullmatch(text) or text in (".", "..")):
        h.problem(
            key,
            f"not a valid LVM name (letters, digits and + _ . -, not starting with '-', "
            f"not '.' or '..'): {text!r}",
        )
        return None
    return text


def read_url(h: HostView, key: KeyPath, value: Any) -> str | None:
    text = read_text(h, key, value, "a mirror URL, e.g. http://archive.ubuntu.com/ubuntu/")
    if text is None:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https", "ftp") or not parts.hostname or " " in text:
        h.problem(key, f"not an http, https or ftp URL: {text!r}")
        return None
    return text
