"""Where the tool finds its own files and where it keeps what it writes.

The runbooks, checks, templates, task modules and the committed inventories sit at the top
of a checkout, where a reader looks for them; the package reaches them through symlinks
(``runbook/runbooks`` -> ``../runbooks`` ...), and a wheel carries them as real folders in
the same places. So ``RESOURCES / "runbooks"`` is right in a checkout, in an editable
install and in an installed wheel alike.

What the tool writes (reports, the lab's state) never goes inside the package: in a
checkout it stays in the checkout (``reports/``, ``.lab/``); an installed tool uses
``$RUNBOOK_HOME``, else ``$XDG_STATE_HOME/xen-ha-runbooks`` (``~/.local/state/...``), which
survives an upgrade.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES = Path(__file__).parent  # not resolved: the symlinks are the package's view

RUNBOOK_DIR = RESOURCES / "runbooks"
CHECKS_DIR = RESOURCES / "checks"
TEMPLATES_DIR = RESOURCES / "templates"
INVENTORIES_DIR = RESOURCES / "inventories"
LAB_INVENTORY = INVENTORIES_DIR / "lab"


def checkout_root() -> Path | None:
    """The source checkout this package runs from, or None for an installed wheel."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "runbooks").is_dir():
        return root
    return None


def state_home() -> Path:
    """Where reports and the lab's state live (created on first use by whoever writes)."""
    explicit = os.environ.get("RUNBOOK_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = checkout_root()
    if root is not None:
        return root
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "xen-ha-runbooks"


def report_dir() -> Path:
    return state_home() / "reports"
