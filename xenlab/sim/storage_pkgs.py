"""Catalogue entries of the storage side of a lab node: lvm2, xen-tools and what they pull in.

Package family ``storage`` (registered in packages.FAMILIES). Every command is a small wrapper
around a sim in /usr/lib/runbook-lab/sim:

- ``lvm2`` 2.02.26-1ubuntu9: /sbin/lvm and the LVM commands (one multi-call sim, lvm.py), the
  default /etc/lvm/lvm.conf (conffile). On the merged-/usr control machine /sbin is /usr/sbin.
- ``xen-tools`` 3.8-4ubuntu3: /usr/bin/xen-create-image, xen-list-images, xen-delete-image
  (xen_create_image.py) and /etc/xen-tools/xen-tools.conf (conffile, the 3.8 default text).
- ``debootstrap`` 1.0.8 (a dependency of xen-tools): a stub, the lab has no network; the
  installation itself is simulated by xen-create-image.
- libraries/perl modules named in the real Depends lines, so apt lists them as extra packages.

blkid and fdisk are base-system commands (e2fsprogs / util-linux): not here; storage_boot.py
makes them the lab's at boot.
"""

from __future__ import annotations

from packages import File, Package
from xen_tools_conf import DEFAULT_CONF

SIM = "/usr/lib/runbook-lab/sim"
LVM_COMMANDS = ("pvcreate", "pvremove", "pvdisplay", "pvs", "pvscan", "vgcreate", "vgremove",
                "vgdisplay", "vgs", "vgscan", "vgchange", "lvcreate", "lvremove", "lvdisplay",
                "lvs", "lvscan")


def _wrapper(script: str, *args: str) -> str:
    fixed = "".join(f" {a}" for a in args)
    return f'#!/bin/sh\nexec /usr/bin/python3 {SIM}/{script}{fixed} "$@"\n'


LVM_CONF = """\
# This is an example configuration file for the LVM2 system.
# It contains the default settings that would be used if there was no
# /etc/lvm/lvm.conf file.
#
# Refer to 'man lvm.conf' for further information including the file layout.
#
# To put this file in a different directory and override /etc/lvm set
# the environment variable LVM_SYSTEM_DIR before running the tools.


# This section allows you to configure which block devices should
# be used by the LVM system.
devices {

    # Where do you want your volume groups to appear ?
    dir = "/dev"

    # An array of directories that contain the device nodes you wish
    # to use with LVM2.
    scan = [ "/dev" ]

    # A filter that tells LVM2 to only use a restricted set of devices.
    # The filter consists of an array of regular expressions.  These
    # expressions can be delimited by a character of your choice, and
    # prefixed with either an 'a' (for accept) or 'r' (for reject).
    # The first expression found to match a device name determines if
    # the device will be accepted or rejected (ignored).  Devices that
    # don't match any patterns are accepted.

    # By default we accept every block device except udev names, floppy and cdrom drives:
    filter = [ "r|/dev/.*/by-path/.*|", "r|/dev/.*/by-id/.*|", "r|/dev/fd.*|", \
"r|/dev/cdrom|", "a/.*/" ]

    # The results of the filtering are cached on disk to avoid
    # rescanning dud devices (which can take a very long time).  By
    # default this cache file is hidden in the /etc/lvm directory.
    # It is safe to delete this file: the tools regenerate it.
    cache = "/etc/lvm/.cache"

    # You can turn off writing this cache file by setting this to 0.
    write_cache_state = 1

    # Should sysfs be used to identify partitions and the like?
    sysfs_scan = 1

    # By default, LVM2 will ignore devices used as components of
    # software RAID (md) devices by looking for md superblocks.
    md_component_detection = 1
}

# This section that allows you to configure the nature of the
# information that LVM2 reports.
log {
    verbose = 0
    syslog = 1
    overwrite = 0
    level = 0
    indent = 1
    command_names = 0
    prefix = "  "
}

# Configuration of metadata backups and archiving.  In LVM2 when we
# talk about a 'backup' we mean making a copy of the metadata for the
# *current* system.  The 'archive' contains old metadata configurations.
backup {
    backup = 1
    backup_dir = "/etc/lvm/backup"
    archive = 1
    archive_dir = "/etc/lvm/archive"
    retain_min = 10
    retain_days = 30
}

# Settings for the running LVM2 in shell (readline) mode.
shell {
    history_size = 100
}

# Miscellaneous global LVM2 settings
global {
    library_dir = "/lib/lvm2"
    umask = 077
    test = 0
    activation = 1
    proc = "/proc"
    locking_type = 1
    fallback_to_clustered_locking = 1
    fallback_to_local_locking = 1
    locking_dir = "/var/lock/lvm"
}

activation {
    missing_stripe_filler = "/dev/ioerror"
    reserved_stack = 256
    reserved_memory = 8192
    process_priority = -18
    mirror_region_size = 512
    mirror_log_fault_policy = "allocate"
    mirror_device_fault_policy = "remove"
}
"""

DEBOOTSTRAP = """\
#!/bin/sh
# debootstrap of a lab node: the lab has no network, so a standalone run cannot download a
# system. xen-create-image simulates the installation it would have done.
case "$1" in
  --version) echo "debootstrap 1.0.8"; exit 0 ;;
esac
echo "E: Failed getting release file (the lab has no network; xen-create-image simulates" \\
     "debootstrap installs)" >&2
exit 1
"""


def _lib(name: str, version: str, description: str, section: str = "libs") -> Package:
    return Package(name=name, version=version, description=description, section=section,
                   installed_size=200, download_size=80, depends=("libc6",),
                   files={f"/usr/share/doc/{name}/copyright": File(f"{name}: see the Debian "
                                                                    "copyright file.\n")})


PACKAGES = {
    "lvm2": Package(
        name="lvm2",
        version="2.02.26-1ubuntu9",
        section="admin",
        description="The Linux Logical Volume Manager\n"
        " This is LVM2, the rewrite of The Linux Logical Volume Manager.  LVM\n"
        " supports enterprise level volume management of disk and disk subsystems\n"
        " by grouping arbitrary disks into volume groups. The total capacity of\n"
        " volume groups can be allocated to logical volumes, which are accessed as\n"
        " regular block devices.",
        installed_size=1476,
        download_size=391,
        depends=("libc6", "libdevmapper1.02.1", "libreadline5", "lsb-base"),
        files={
            "/etc/lvm/lvm.conf": File(LVM_CONF, conffile=True),
            "/sbin/lvm": File(_wrapper("lvm.py"), mode=0o755),
            **{f"/sbin/{cmd}": File(_wrapper("lvm.py", cmd), mode=0o755)
               for cmd in LVM_COMMANDS},
            "/usr/share/doc/lvm2/copyright": File("LVM2 is Copyright (C) 2001-2007 Sistina "
                                                  "Software / Red Hat, Inc. (GPL-2).\n"),
        },
        dirs=("/etc/lvm", "/etc/lvm/backup", "/etc/lvm/archive", "/usr/share/doc/lvm2"),
    ),
    "libdevmapper1.02.1": _lib("libdevmapper1.02.1", "2:1.02.20-1ubuntu4",
                               "The Linux Kernel Device Mapper userspace library"),
    "libreadline5": _lib("libreadline5", "5.2-3build1", "GNU readline and history libraries, "
                         "run-time libraries"),
    "xen-tools": Package(
        name="xen-tools",
        version="3.8-4ubuntu3",
        section="misc",
        description="Tools to manage Debian XEN virtual servers\n"
        " This package contains tools to manage Debian based XEN virtual servers.\n"
        " Using the scripts contained within this package you may easily create\n"
        " new Xen guests configured with networking, OpenSSH, etc.",
        installed_size=1016,
        download_size=142,
        depends=("debootstrap", "libtext-template-perl", "perl-modules"),
        files={
            "/etc/xen-tools/xen-tools.conf": File(DEFAULT_CONF, conffile=True),
            "/usr/bin/xen-create-image": File(_wrapper("xen_create_image.py", "create"),
                                              mode=0o755),
            "/usr/bin/xen-list-images": File(_wrapper("xen_create_image.py", "list"),
                                             mode=0o755),
            "/usr/bin/xen-delete-image": File(_wrapper("xen_create_image.py", "delete"),
                                              mode=0o755),
            "/usr/share/doc/xen-tools/copyright": File("xen-tools is Copyright (c) 2005-2007 "
                                                       "Steve Kemp (GPL-2 or Artistic).\n"),
        },
        dirs=("/etc/xen-tools", "/var/log/xen-tools", "/usr/share/doc/xen-tools"),
    ),
    "debootstrap": Package(
        name="debootstrap",
        version="1.0.8",
        section="admin",
        description="Bootstrap a basic Debian system",
        installed_size=284,
        download_size=63,
        depends=(),
        files={"/usr/sbin/debootstrap": File(DEBOOTSTRAP, mode=0o755)},
        dirs=("/usr/lib/debootstrap",),
    ),
    "libtext-template-perl": _lib("libtext-template-perl", "1.44-1.1",
                                  "Text::Template perl module", section="perl"),
    "perl-modules": _lib("perl-modules", "5.8.8-12ubuntu0.5", "Core Perl modules",
                         section="perl"),
}
