"""The node's dpkg database (/var/lib/dpkg/status and info/*.list), written like real dpkg.

The REAL dpkg-query/dpkg on the node read what this writes, so stanzas must stay valid:
one blank line between stanzas, continuation lines start with a space.
"""

from __future__ import annotations

import contextlib
import hashlib
import os

STATUS = "var/lib/dpkg/status"
INFO = "var/lib/dpkg/info"

FIELD_ORDER = (
    "Package", "Status", "Priority", "Section", "Installed-Size", "Maintainer",
    "Architecture", "Source", "Version", "Replaces", "Provides", "Depends", "Recommends",
    "Suggests", "Conflicts", "Conffiles", "Description",
)


def parse_status(text):
    """Parse a status file into a list of ordered dicts (field -> raw value)."""
    stanzas = []
    current = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, None
            continue
        if line[0] in " \t" and last is not None:
            current[last] += "\n" + line
            continue
        key, _, value = line.partition(":")
        last = key.strip()
        current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def render_stanza(fields):
    """One stanza, fields in dpkg's usual order, unknown fields after them."""
    keys = [k for k in FIELD_ORDER if k in fields] + [k for k in fields if k not in FIELD_ORDER]
    lines = []
    for key in keys:
        value = fields[key]
        if value.startswith("\n"):
            lines.append(f"{key}:{value}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


def render_status(stanzas):
    return "\n".join(render_stanza(s) for s in stanzas)


def conffiles_field(conffiles):
    """Value of the Conffiles field: ' /path md5' per line."""
    return "".join(f"\n {path} {md5}" for path, md5 in conffiles)


def md5_of(data):
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()


class Database:
    """The dpkg database of the filesystem tree at ``root`` ("/" inside a node)."""

    def __init__(self, root="/"):
        self.root = root
        self.path = os.path.join(root, STATUS)
        self.info = os.path.join(root, INFO)

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as fh:
                return parse_status(fh.read())
        except FileNotFoundError:
            return []

    def save(self, stanzas):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + "-new"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(render_status(stanzas))
        if os.path.exists(self.path):
            os.replace(self.path, self.path + "-old")
        os.replace(tmp, self.path)

    def get(self, package):
        for stanza in self.load():
            if stanza.get("Package") == package:
                return stanza
        return None

    def status_of(self, package):
        """'installed', 'config-files' or None (unknown / purged)."""
        stanza = self.get(package)
        if stanza is None:
            return None
        return stanza.get("Status", "").split()[-1] or None

    def is_installed(self, package):
        return self.status_of(package) == "installed"

    def put(self, fields):
        stanzas = [s for s in self.load() if s.get("Package") != fields["Package"]]
        stanzas.append(fields)
        stanzas.sort(key=lambda s: s.get("Package", ""))
        self.save(stanzas)

    def drop(self, package):
        self.save([s for s in self.load() if s.get("Package") != package])
        for suffix in ("list", "conffiles", "md5sums"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.info, f"{package}.{suffix}"))

    def write_list(self, package, paths):
        os.makedirs(self.info, exist_ok=True)
        with open(os.path.join(self.info, f"{package}.list"), "w", encoding="utf-8") as fh:
            fh.write("".join(p + "\n" for p in paths))

    def read_list(self, package):
        try:
            with open(os.path.join(self.info, f"{package}.list"), encoding="utf-8") as fh:
                return [line.rstrip("\n") for line in fh if line.strip()]
        except FileNotFoundError:
            return []

    def file_count(self):
        total = 0
        try:
            names = os.listdir(self.info)
        except FileNotFoundError:
            return 0
        for name in names:
            if name.endswith(".list"):
                with open(os.path.join(self.info, name), encoding="utf-8") as fh:
                    total += sum(1 for _ in fh)
        return total
