"""LVM and block devices: `lvs`/`pvs`/`vgs` reports, `vgdisplay`, `blkid`."""

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
    """Rows of a :func:`report_command` report as dicts keyed by field name.

    A row with another number of fields is not this report: ValueError, never a silent skip
    (lvm2's messages such as "No volume groups found" go to stderr, not here).
    """
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.strip().split(SEPARATOR)]
        if len(values) != len(fields):
            raise ValueError(f"expected {len(fields)} fields ({','.join(fields)}): {line!r}")
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


_TAG = re.compile(r'(?P<key>[A-Z_]+)="(?P<value>(?:[^"\\]|\\.)*)"')


def parse_blkid(text: str, device: str) -> dict[str, str]:
    """``blkid -c /dev/null DEVICE`` (e2fsprogs 1.40.8 and util-linux alike): its tags.

    The one line reads ``DEVICE: UUID="..." TYPE="ext3"``; blkid prints nothing (exit 2)
    when the device holds no signature it knows, which is an empty dict here.
    """
    tags: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, rest = line.partition(": ")
        if not sep or name.strip() != device:
            raise ValueError(f"not a blkid line for {device}: {line!r}")
        for match in _TAG.finditer(rest):
            tags[match["key"]] = match["value"]
    return tags
