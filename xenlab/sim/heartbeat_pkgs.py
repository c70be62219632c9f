"""Package family ``heartbeat``: Linux-HA Heartbeat for the lab nodes, the REAL daemon.

``apt-get install heartbeat`` on a node makes the control machine's Debian heartbeat 3.0.6
(package heartbeat, libheartbeat2, cluster-glue, resource-agents: the lab's required host
packages) appear on that node only, under the 8.04 package name and version:

- /usr: one symlink per file of the host's heartbeat trees into the node's read-only view of
  the host's /usr (/usr/lib/runbook-lab/host-usr), at the paths the 3.0.6 binaries were built
  with (/usr/libexec/heartbeat/heartbeat, /usr/share/heartbeat/ResourceManager,
  /usr/lib/heartbeat/plugins, /usr/lib/ocf, /usr/bin/cl_status, libhbclient...). The host hides
  all of them from a fresh node (packages.HIDDEN_HOST_PACKAGES and this family's paths).
- the 8.04 (2.1.3) paths as well: /usr/lib/heartbeat/heartbeat, ResourceManager, hb_standby,
  hb_takeover, mach_down, req_resource ... link to the 3.0.6 files.
- /etc: copies of the host's /etc/ha.d (shellfuncs, harc, rc.d, resource.d) and
  /etc/init.d/heartbeat (Debian's 3.0.6 init script, unchanged), read from the node's view of
  the host's /etc (/usr/lib/runbook-lab/host-etc); ha.cf, authkeys and haresources are the
  admin's, as on a real node.
- postinst: the state folders with the owners Debian's postinst gives them, update-rc.d
  heartbeat start 75 2 3 4 5 . stop 05 0 1 6 ., then ``/etc/init.d/heartbeat start`` (which
  says "Heartbeat not configured" until ha.cf exists).

The file lists come from walking the host trees (on the host when the lab hides them, in the
node through the read-only views when apt-get installs them), so they follow the host package.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from dataclasses import dataclass

from packages import (
    File,
    HostCopy,
    Package,
    RcLinks,
    RemoveRcLinks,
    StartService,
    StopService,
    Symlink,
)

HOST_USR_VIEW = "/usr/lib/runbook-lab/host-usr"
HOST_ETC_VIEW = "/usr/lib/runbook-lab/host-etc"
# Trees and files of the host's heartbeat, libheartbeat2, cluster-glue and resource-agents that
# the daemon, its scripts and cl_status need, relative to /usr and /etc.
USR_TREES = ("libexec/heartbeat", "share/heartbeat", "lib/heartbeat", "lib/ocf")
USR_FILES = ("bin/cl_status", "bin/cl_respawn")
USR_LIB_PREFIXES = ("libapphb.so", "libccmclient.so", "libclm.so", "libhbclient.so")
ETC_TREES = ("ha.d",)
ETC_FILES = ("init.d/heartbeat", "logrotate.d/heartbeat")
# drbd-utils' Heartbeat scripts: drbd8-utils ships them on 8.04, not heartbeat.
ETC_SKIP = ("ha.d/resource.d/drbddisk", "ha.d/resource.d/drbdupper")
# 8.04's heartbeat 2.1.3 kept the daemon and its helpers in /usr/lib/heartbeat.
COMPAT_FROM_SHARE = ("ResourceManager", "hb_standby", "hb_takeover", "mach_down",
                     "req_resource", "ha_config", "ha_propagate", "hb_addnode", "hb_delnode",
                     "hb_setsite", "hb_setweight", "BasicSanityCheck", "TestHeartbeatComm")
VERSION = "2.1.3-2"


def _root(view: str, real: str) -> str:
    """The host tree as this process sees it: the node's read-only view, or the host itself."""
    return view if os.path.isdir(view) else real


def _walk(root: str, rel: str) -> list[str]:
    """Files and symlinks under ``root/rel`` (relative paths, sorted)."""
    found: list[str] = []
    top = os.path.join(root, rel)
    if os.path.islink(top) or os.path.isfile(top):
        return [rel]
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return found


def usr_files() -> dict[str, object]:
    root = _root(HOST_USR_VIEW, "/usr")
    rels: list[str] = []
    for tree in USR_TREES:
        rels += _walk(root, tree)
    rels += [f for f in USR_FILES if os.path.lexists(os.path.join(root, f))]
    lib = os.path.join(root, "lib")
    if os.path.isdir(lib):
        rels += sorted(f"lib/{n}" for n in os.listdir(lib) if n.startswith(USR_LIB_PREFIXES))
    files: dict[str, object] = {f"/usr/{rel}": Symlink(f"{HOST_USR_VIEW}/{rel}")
                                for rel in rels}
    libexec = os.path.join(root, "libexec/heartbeat")
    compat = [(n, "libexec") for n in sorted(os.listdir(libexec))] if os.path.isdir(libexec) \
        else []
    compat += [(n, "share") for n in COMPAT_FROM_SHARE
               if os.path.lexists(os.path.join(root, "share/heartbeat", n))]
    for name, folder in compat:
        files.setdefault(f"/usr/lib/heartbeat/{name}", Symlink(f"/usr/{folder}/heartbeat/{name}"))
    return files


def etc_files() -> dict[str, object]:
    root = _root(HOST_ETC_VIEW, "/etc")
    rels: list[str] = []
    for tree in ETC_TREES:
        rels += _walk(root, tree)
    rels += [f for f in ETC_FILES if os.path.lexists(os.path.join(root, f))]
    files: dict[str, object] = {}
    for rel in (r for r in rels if r not in ETC_SKIP):
        try:
            mode = os.stat(os.path.join(root, rel)).st_mode & 0o7777
        except OSError:
            continue
        files[f"/etc/{rel}"] = HostCopy(f"{HOST_ETC_VIEW}/{rel}", mode=mode)
    return files


@dataclass
class StateDirs:
    """Debian's heartbeat postinst: /var/lib/heartbeat and /var/run/heartbeat with their owners
    (hacluster:haclient comes with the node's /etc/passwd and /etc/group)."""

    entries: tuple[tuple[str, str, str, int], ...]

    def run(self, ctx):
        for path, user, group, mode in self.entries:
            full = ctx.path(path)
            os.makedirs(full, exist_ok=True)
            os.chmod(full, mode)
            # a missing user leaves root as the owner, as a failed adduser would
            with contextlib.suppress(KeyError, OSError):
                os.chown(full, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)


STATE_DIRS = (
    ("/var/lib/heartbeat", "root", "root", 0o755),
    ("/var/lib/heartbeat/api", "root", "root", 0o755),
    ("/var/lib/heartbeat/casual", "root", "root", 0o755),
    ("/var/lib/heartbeat/ccm", "hacluster", "haclient", 0o750),
    ("/var/lib/heartbeat/ckpt", "root", "root", 0o755),
    ("/var/lib/heartbeat/crm", "hacluster", "haclient", 0o750),
    ("/var/lib/heartbeat/cores", "root", "root", 0o755),
    ("/var/lib/heartbeat/cores/hacluster", "hacluster", "root", 0o700),
    ("/var/lib/heartbeat/cores/nobody", "nobody", "root", 0o700),
    ("/var/lib/heartbeat/cores/root", "root", "root", 0o700),
    ("/var/lib/heartbeat/pengine", "hacluster", "haclient", 0o750),
)


def _files() -> dict[str, object]:
    files: dict[str, object] = {}
    files.update(usr_files())
    files.update(etc_files())
    files["/usr/share/doc/heartbeat/copyright"] = File(
        "heartbeat: Copyright (C) 1999-2007 Alan Robertson and others (GPL-2, LGPL-2.1).\n"
        "The lab runs the control machine's Debian heartbeat 3.0.6 under this 8.04 package.\n")
    return files


PACKAGES = {
    "heartbeat": Package(
        name="heartbeat",
        version=VERSION,
        section="admin",
        description="Subsystem for High-Availability Linux\n"
        " heartbeat is a basic high-availability subsystem for Linux-HA.\n"
        " It will run scripts at initialisation, and when machines go up or down.\n"
        " This version will also perform IP address takeover using gratuitous ARPs.\n"
        " .\n"
        " Heartbeat contains a cluster membership layer, fencing, and local and\n"
        " cluster-wide resource management functionality.",
        installed_size=4700,
        download_size=1551,
        depends=("libc6", "libpils1", "libstonith1", "adduser", "iproute", "iputils-ping",
                 "gawk"),
        files=_files(),
        dirs=("/etc/ha.d", "/etc/ha.d/rc.d", "/etc/ha.d/resource.d", "/var/lib/heartbeat",
              "/usr/lib/heartbeat", "/usr/share/doc/heartbeat"),
        postinst=(StateDirs(STATE_DIRS), RcLinks("heartbeat", 75, 5),
                  StartService("heartbeat")),
        prerm=(StopService("heartbeat"),),
        postrm_purge=(RemoveRcLinks("heartbeat"),),
    ),
    "libpils1": Package(
        name="libpils1", version=VERSION, source="heartbeat", section="libs",
        description="Plugin and Interface Loading System\n"
        " PILS is a generalized and portable open source Plugin and Interface Loading\n"
        " System, used by heartbeat.",
        installed_size=124, download_size=46, depends=("libc6",),
        files={"/usr/share/doc/libpils1/copyright": File("libpils1: part of heartbeat "
                                                         "(LGPL-2.1).\n")},
    ),
    "libstonith1": Package(
        name="libstonith1", version=VERSION, source="heartbeat", section="libs",
        description="Interface for remotely powering down a node in the cluster\n"
        " The STONITH (Shoot The Other Node In The Head) library of heartbeat.",
        installed_size=540, download_size=180, depends=("libc6", "libpils1"),
        files={"/usr/share/doc/libstonith1/copyright": File("libstonith1: part of heartbeat "
                                                            "(LGPL-2.1).\n")},
    ),
}
