"""The package registry of the lab's Ubuntu 8.04 ("hardy") nodes: the mechanics of a package
and the catalogue of every package ``apt-get`` can install.

The packages themselves live in one module per family, listed in :data:`FAMILIES`
(base_pkgs.py: the fresh node's base system and ntp; xen_pkgs.py: ubuntu-xen-server, the -xen
kernel and the hypervisor; storage_pkgs.py: lvm2, xen-tools). A family module exports
``PACKAGES`` (name -> :class:`Package`) and may export ``INSTALLED``, the
``(name, version, section, priority, description)`` entries a fresh node has installed. A new
family is one module plus one line in :data:`FAMILIES`; the registry refuses a package name two
families define. Import ``packages`` (never a family module first: the families import their
mechanics from here).

A catalogue entry is a :class:`Package`:

- ``version``, ``section``, ``priority``, ``installed_size``/``download_size`` (kB),
  ``description``, ``depends`` (names of other catalogue or base packages): what apt-get prints
  and what the dpkg status stanza records.
- ``files``: absolute path -> one of
    * :class:`File` (``content`` is a string or a callable ``f(ctx) -> str``; ``mode``;
      ``conffile=True`` for files dpkg keeps on ``remove`` and drops on ``purge``),
    * :class:`Symlink` (``target``),
    * :class:`HostCopy` (``source``: a path under /usr/lib/runbook-lab/host-usr, the read-only
      view of the host's real /usr; the way drbd8-utils ships the REAL drbdadm binaries).
- ``dirs``: directories the package owns (created on install, removed on purge when empty).
- ``postinst`` / ``prerm`` / ``postrm_purge``: ordered actions, each a small object with a
  ``run(ctx)`` method: :class:`RcLinks` (update-rc.d NAME defaults NN), :class:`StartService`,
  :class:`StopService`, :class:`RemoveRcLinks`, :class:`SystemUser` (a daemon's system user),
  and for kernels :class:`SetDefaultKernel` (writes
  the node's next-boot kernel) and :class:`RunUpdateGrub` (regenerates /boot/grub/menu.lst; the
  node's init boots its ``default`` entry at the next reboot).

Every path of every entry is hidden on a fresh node (overlay whiteout) when the host has it, so a
command appears on a node only after ``apt-get install``. ``HIDDEN_HOST_PACKAGES`` names host
Debian packages whose files a fresh node must not see either (the lab host needs them installed).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass, field

ARCH = "amd64"
MAINTAINER = "Ubuntu Core Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
SIM = "/usr/lib/runbook-lab/sim"
NODE_STATE = "/usr/lib/runbook-lab/node"


@dataclass
class File:
    content: object  # str or callable(ctx) -> str
    mode: int = 0o644
    conffile: bool = False

    def text(self, ctx):
        return self.content(ctx) if callable(self.content) else self.content


@dataclass
class Symlink:
    target: str


@dataclass
class HostCopy:
    source: str
    mode: int = 0o755


@dataclass
class Context:
    """What actions and file generators see: the root of the tree and a runner."""

    root: str = "/"
    run_scripts: bool = True
    out: object = None  # a text stream for the scripts' output

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))


@dataclass
class RcLinks:
    """update-rc.d NAME defaults START [KILL]."""

    name: str
    start: int = 20
    kill: int | None = None

    def run(self, ctx):
        kill = self.start if self.kill is None else self.kill
        for level in "2345":
            _link(ctx, f"/etc/rc{level}.d/S{self.start:02d}{self.name}", self.name)
        for level in "016":
            _link(ctx, f"/etc/rc{level}.d/K{kill:02d}{self.name}", self.name)


@dataclass
class RemoveRcLinks:
    name: str

    def run(self, ctx):
        for level in "0123456S":
            folder = ctx.path(f"/etc/rc{level}.d")
            if not os.path.isdir(folder):
                continue
            for entry in os.listdir(folder):
                if entry[:1] in "SK" and entry[3:] == self.name:
                    os.unlink(os.path.join(folder, entry))


@dataclass
class StartService:
    name: str

    def run(self, ctx):
        _script(ctx, self.name, "start")


@dataclass
class StopService:
    name: str

    def run(self, ctx):
        _script(ctx, self.name, "stop")


@dataclass
class SystemUser:
    """A postinst's ``adduser --system --quiet --group --no-create-home NAME`` when the user is
    missing: the node's real adduser writes the node's own /etc/passwd and /etc/group."""

    name: str

    def run(self, ctx):
        if not ctx.run_scripts:
            return
        known = subprocess.run(["getent", "passwd", self.name], capture_output=True,
                               check=False)
        if known.returncode != 0:
            # hardy's adduser 3.105 gives a system user /home/NAME and /bin/false
            subprocess.run(["adduser", "--system", "--quiet", "--group", "--no-create-home",
                            "--home", f"/home/{self.name}", "--shell", "/bin/false",
                            self.name], check=False, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class SetDefaultKernel:
    """Hook for kernel packages: the kernel the node boots next (``uname -r`` after reboot)."""

    release: str

    def run(self, ctx):
        path = ctx.path(f"{NODE_STATE}/kernel-next")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.release + "\n")


def _link(ctx, path, name):
    full = ctx.path(path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if not os.path.lexists(full):
        os.symlink(f"../init.d/{name}", full)


def _script(ctx, name, action):
    if not ctx.run_scripts:
        return
    out = ctx.out
    if out is not None:
        out.flush()
    subprocess.run([f"/etc/init.d/{name}", action], check=False, stdin=subprocess.DEVNULL,
                   stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Package:
    name: str
    version: str
    description: str
    section: str = "net"
    priority: str = "optional"
    installed_size: int = 100
    download_size: int = 50
    source: str = ""
    depends: tuple = ()
    files: dict = field(default_factory=dict)
    dirs: tuple = ()
    postinst: tuple = ()
    prerm: tuple = ()
    postrm_purge: tuple = ()

    def conffiles(self):
        return [p for p, f in self.files.items() if isinstance(f, File) and f.conffile]


def sim_wrapper(script):
    return f'#!/bin/sh\nexec /usr/bin/python3 {SIM}/{script} "$@"\n'


@dataclass
class RunUpdateGrub:
    """The kernel and hypervisor postinst: ``update-grub`` regenerates /boot/grub/menu.lst."""

    def run(self, ctx):
        import update_grub  # the sim folder is on sys.path (script dir / nodefs.sim_module)

        out = ctx.out
        if out is not None:
            out.flush()
        if not os.path.isdir(ctx.path("/boot/grub")):
            return
        saved = sys.stdout
        sys.stdout = out if out is not None else saved
        try:
            update_grub.main([], root=ctx.root)
        finally:
            sys.stdout = saved


# Host (Debian) packages whose files a fresh node must not see.
HIDDEN_HOST_PACKAGES = (
    "heartbeat", "heartbeat-dev", "cluster-glue", "libheartbeat2", "pacemaker",
    "pacemaker-cli-utils", "corosync", "resource-agents", "drbd-utils", "lvm2", "dmeventd",
    "ntp", "ntpsec", "ntpdate", "ntpsec-ntpdate", "sntp", "xen-utils-common", "xen-tools",
    # the host's modprobe would load modules into the host's kernel (heartbeat's init script
    # runs `modprobe softdog` when /sbin/modprobe exists): nodes have none
    "kmod",
)


def base_stanza(name, version, section, priority, description):
    return {
        "Package": name,
        "Status": "install ok installed",
        "Priority": priority,
        "Section": section,
        "Installed-Size": "100",
        "Maintainer": MAINTAINER,
        "Architecture": ARCH,
        "Version": version,
        "Description": description,
    }


def installed_stanza(pkg, conffile_md5s):
    """The status stanza dpkg writes for an installed catalogue package."""
    fields = {
        "Package": pkg.name,
        "Status": "install ok installed",
        "Priority": pkg.priority,
        "Section": pkg.section,
        "Installed-Size": str(pkg.installed_size),
        "Maintainer": MAINTAINER,
        "Architecture": ARCH,
    }
    if pkg.source and pkg.source != pkg.name:
        fields["Source"] = pkg.source
    fields["Version"] = pkg.version
    if pkg.depends:
        fields["Depends"] = ", ".join(pkg.depends)
    if conffile_md5s:
        fields["Conffiles"] = "".join(f"\n {p} {m}" for p, m in conffile_md5s)
    fields["Description"] = pkg.description
    return fields


def all_paths():
    """Every path some catalogue package ships (what a fresh node must not inherit)."""
    paths = set()
    for pkg in CATALOGUE.values():
        paths.update(pkg.files)
        paths.update(pkg.dirs)
    return sorted(paths)


# --------------------------------------------------------------------------- the registry

# One line per package family (module name in the sim folder), in the order apt lists them.
FAMILIES = (
    "base_pkgs",
    "xen_pkgs",
    "storage_pkgs",
    "drbd_pkgs",
    "heartbeat_pkgs",
)


def load_families(names):
    """The catalogue and the fresh node's installed entries of the family modules ``names``."""
    catalogue, installed = {}, []
    for name in names:
        family = importlib.import_module(name)
        clash = sorted(set(catalogue) & set(family.PACKAGES))
        if clash:
            raise ValueError(f"{name}: packages already defined by another family: {clash}")
        catalogue.update(family.PACKAGES)
        installed.extend(getattr(family, "INSTALLED", ()))
    return catalogue, tuple(installed)


CATALOGUE, BASE_PACKAGES = load_families(FAMILIES)
BASE_KERNEL = sys.modules["base_pkgs"].BASE_KERNEL
