"""LVM and block devices: `lvs`/`pvs`/`vgs` reports, `vgdisplay`, `blkid -o export`."""

from __future__ import annotations

import re

SEPARATOR = "|"
_UNITS_MIB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def report_command(tool: str, fields: list[str], *args: str) -> str:
    """A machine-readable LVM report: no headings, sizes in MiB without suffix, | separated."""
    return " ".join(
        [tool, "--noheadings", "--units", "m", "--nosuffix", "--separator", f"'{SEPARATOR}'",
         "-o", ",".join(fields), *args]
    )


def parse_report(text: str, fields: list[str]) -> list[dict[str, str]]:
    """Rows of a :func:`report_command` report as dicts keyed by field name."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.strip().split(SEPARATOR)]
        if len(values) == len(fields):
            rows.append(dict(zip(fields, values, strict=True)))
    return rows


def mib(value: str) -> float:
    """A report size (already in MiB, maybe with a decimal comma) as a float."""
    return float(value.replace(",", "."))


def parse_size(text: str) -> float:
    """`vgdisplay`/`lvdisplay` sizes such as ``40.00 GB`` or ``384.00 MB``, in MiB."""
    match = re.match(r"^\s*([\d.,]+)\s*([KMGT])i?B\b", text.strip(), re.I)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return float(match[1].replace(",", ".")) * _UNITS_MIB[match[2].lower()]


def parse_display(text: str) -> dict[str, str]:
    """A `vgdisplay`/`lvdisplay`/`pvdisplay` block: label -> value (two or more spaces apart)."""
    values = {}
    for line in text.splitlines():
        # Greedy label: "Free  PE / Size" itself holds two spaces; values hold single ones.
        match = re.match(r"^\s+(\S.*\S)\s{2,}(\S(?:.*\S)?)\s*$", line)
        if match and not match[1].startswith("---"):
            values[match[1]] = match[2]
    return values


def parse_blkid_export(text: str) -> dict[str, str]:
    """`blkid -p -o export DEV`: KEY=value lines (TYPE, UUID, ...); empty when no signature."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().isupper():
            values[key.strip()] = value.strip().strip('"')
    return values
