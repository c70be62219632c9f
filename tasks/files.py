"""The files a runbook writes to a node, rendered from templates/ (Jinja2)."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from runbook import paths

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
