"""Files on a node: compute the diff first, write only when something differs."""

from __future__ import annotations

import base64
import difflib
from dataclasses import dataclass

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from nornir.core.task import Task

from runbook import paths, remote

TEMPLATES = paths.TEMPLATES_DIR
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # configuration files, not HTML
)


def render(template: str, **values: object) -> str:
    """Render ``templates/<template>``; an undefined value is an error, never blank."""
    return _env.get_template(template).render(**values)


@dataclass(frozen=True)
class FileChange:
    path: str
    diff: str  # unified diff, empty when the file is already right

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def read_file(task: Task, path: str) -> str | None:
    """The file's content, or None when it does not exist."""
    result = remote.run(
        task, f"if [ -e {remote.quote(path)} ]; then cat -- {remote.quote(path)}; else exit 3; fi",
        ok_codes=(0, 3),
    )
    return None if result.exit_status == 3 else result.stdout


def unified_diff(path: str, old: str | None, new: str) -> str:
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    label = "/dev/null" if old is None else f"a{path}"
    lines = difflib.unified_diff(before, after, fromfile=label, tofile=f"b{path}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def ensure_file(task: Task, path: str, content: str, mode: str = "0644") -> FileChange:
    """Make ``path`` hold exactly ``content``: a no-op, or one atomic write (dry run: predicted)."""
    current = read_file(task, path)
    diff = unified_diff(path, current, content)
    if not diff:
        return FileChange(path, "")
    payload = base64.b64encode(content.encode()).decode()
    tmp = f"{path}.runbook-tmp"
    command = (
        f"printf %s {payload} | base64 -d > {remote.quote(tmp)} && "
        f"chmod {mode} {remote.quote(tmp)} && mv -f {remote.quote(tmp)} {remote.quote(path)}"
    )
    remote.run(task, command, changes=True,
               display=f"write {path} ({len(content.encode())} bytes, mode {mode})")
    return FileChange(path, diff)
