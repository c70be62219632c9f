"""The simulated package catalogue of the lab's Ubuntu 8.04 ("hardy") nodes.

A catalogue entry is a :class:`Package`:

- ``version``, ``section``, ``priority``, ``installed_size``/``download_size`` (kB),
  ``description``, ``depends`` (names of other catalogue or base packages): what apt-get prints
  and what the dpkg status stanza records.
- ``files``: absolute path -> one of
    * :class:`File` (``content`` is a string or a callable ``f(ctx) -> str``; ``mode``;
      ``conffile=True`` for files dpkg keeps on ``remove`` and drops on ``purge``),
    * :class:`Symlink` (``target``),
    * :class:`HostCopy` (``source``: a path under /usr/lib/runbook-lab/host-usr, the read-only
      view of the host's real /usr; the way drbd8-utils will ship the REAL drbdadm binaries).
- ``dirs``: directories the package owns (created on install, removed on purge when empty).
- ``postinst`` / ``prerm`` / ``postrm_purge``: ordered actions, each a small object with a
  ``run(ctx)`` method: :class:`RcLinks` (update-rc.d NAME defaults NN), :class:`StartService`,
  :class:`StopService`, :class:`RemoveRcLinks`, and for kernels :class:`SetDefaultKernel` (writes
  the node's next-boot kernel; the node's init reads it at the next reboot).

Coming next (kept out for now, the format already carries them): ``linux-image-2.6.24-19-xen``
(SetDefaultKernel, so ``uname -r`` says -xen only after a reboot), ``xen-hypervisor-3.2`` /
``xen-utils-3.2`` (a simulated ``xm`` over the shared cluster state in
/usr/lib/runbook-lab/cluster), ``lvm2``, ``drbd8-utils`` (HostCopy of the host's drbd-utils
binaries), ``heartbeat`` (HostCopy of Debian's heartbeat 3.0.6 daemon).

Every path of every entry is hidden on a fresh node (overlay whiteout) when the host has it, so a
command appears on a node only after ``apt-get install``. ``HIDDEN_HOST_PACKAGES`` names host
Debian packages whose files a fresh node must not see either (the lab host needs them installed).
"""

from __future__ import annotations

import os
import subprocess
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


def _sim_wrapper(script):
    return f'#!/bin/sh\nexec /usr/bin/python3 {SIM}/{script} "$@"\n'


# --------------------------------------------------------------------------- ntp

NTP_CONF = """\
# /etc/ntp.conf, configuration for ntpd

driftfile /var/lib/ntp/ntp.drift

# Enable this if you want statistics to be logged.
#statsdir /var/log/ntpstats/

statistics loopstats peerstats clockstats
filegen loopstats file loopstats type day enable
filegen peerstats file peerstats type day enable
filegen clockstats file clockstats type day enable


# You do need to talk to an NTP server or two (or three).
server ntp.ubuntu.com

# By default, exchange time with everybody, but don't allow configuration.
# See /usr/share/doc/ntp-doc/html/accopt.html for details.
restrict -4 default kod notrap nomodify nopeer noquery
restrict -6 default kod notrap nomodify nopeer noquery

# Local users may interrogate the ntp server more closely.
restrict 127.0.0.1
restrict ::1

# Clients from this (example!) subnet have unlimited access, but only if
# cryptographically authenticated.
#restrict 192.168.123.0 mask 255.255.255.0 notrust

# If you want to provide time to your local subnet, change the next line.
# (Again, the address is an example only.)
#broadcast 192.168.123.255

# If you want to listen to time broadcasts on your local subnet, de-comment the
# next lines.  Please do this only if you trust everybody on the network!
#disable auth
#broadcastclient
"""

NTP_DEFAULT = "NTPD_OPTS='-g'\n"

NTP_INIT = """\
#!/bin/sh

### BEGIN INIT INFO
# Provides:        ntp
# Required-Start:  $network $remote_fs $syslog
# Required-Stop:   $network $remote_fs $syslog
# Default-Start:   2 3 4 5
# Default-Stop:    0 1 6
# Short-Description: Start NTP daemon
### END INIT INFO

PATH=/sbin:/bin:/usr/sbin:/usr/bin

NAME=ntp
DAEMON=/usr/sbin/ntpd
PIDFILE=/var/run/ntpd.pid

test -x $DAEMON || exit 5

if [ -r /etc/default/$NAME ]; then
\t. /etc/default/$NAME
fi

running() {
\t[ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null
}

case $1 in
\tstart)
\t\techo -n " * Starting NTP server ntpd"
\t\tif ! running; then
\t\t\t$DAEMON -p $PIDFILE $NTPD_OPTS
\t\tfi
\t\techo "        ...done."
\t\t;;
\tstop)
\t\techo -n " * Stopping NTP server ntpd"
\t\tif running; then
\t\t\tkill "$(cat $PIDFILE)"
\t\t\tfor i in 1 2 3 4 5 6 7 8 9 10; do running || break; sleep 0.2; done
\t\tfi
\t\trm -f $PIDFILE
\t\techo "        ...done."
\t\t;;
\trestart|force-reload)
\t\t$0 stop
\t\t$0 start
\t\t;;
\tstatus)
\t\tif running; then
\t\t\techo " * NTP server is running."
\t\t\texit 0
\t\tfi
\t\techo " * NTP server is not running."
\t\texit 3
\t\t;;
\t*)
\t\techo "Usage: /etc/init.d/ntp {start|stop|restart|force-reload|status}"
\t\texit 2
\t\t;;
esac
"""

NTPDATE = """\
#!/bin/sh
# simulated ntpdate: the lab has no route to any time server
echo "$(date '+%e %b %H:%M:%S') ntpdate[$$]: no server suitable for synchronization found"
exit 1
"""

CATALOGUE = {
    "ntp": Package(
        name="ntp",
        version="1:4.2.4p4+dfsg-3ubuntu2",
        source="ntp",
        description="Network Time Protocol daemon and utility programs\n"
        " NTP, the Network Time Protocol, is used to keep computer clocks\n"
        " accurate by synchronizing them over the Internet or a local network,\n"
        " or by following an accurate hardware receiver that interprets GPS,\n"
        " DCF-77, NIST or similar time signals.",
        installed_size=1167,
        download_size=441,
        depends=("adduser", "libc6", "lsb-base", "netbase"),
        files={
            "/etc/ntp.conf": File(NTP_CONF, conffile=True),
            "/etc/default/ntp": File(NTP_DEFAULT, conffile=True),
            "/etc/init.d/ntp": File(NTP_INIT, mode=0o755, conffile=True),
            "/usr/sbin/ntpd": File(_sim_wrapper("ntpd.py"), mode=0o755),
            "/usr/bin/ntpq": File(_sim_wrapper("ntpq.py"), mode=0o755),
            "/usr/share/doc/ntp/copyright": File("NTP (ntp.org) is distributed under the NTP"
                                                 " license.\n"),
        },
        dirs=("/var/lib/ntp", "/var/log/ntpstats", "/usr/share/doc/ntp"),
        postinst=(RcLinks("ntp", 23), StartService("ntp")),
        prerm=(StopService("ntp"),),
        postrm_purge=(RemoveRcLinks("ntp"),),
    ),
    "ntpdate": Package(
        name="ntpdate",
        version="1:4.2.4p4+dfsg-3ubuntu2",
        source="ntp",
        description="client for setting system time from NTP servers",
        installed_size=168,
        download_size=63,
        depends=("libc6", "netbase"),
        files={"/usr/sbin/ntpdate": File(NTPDATE, mode=0o755)},
    ),
}

# The fresh node: Ubuntu 8.04 server right after install plus ``apt-get install ssh``.
# (name, version, section, priority, description)
BASE_PACKAGES = (
    ("adduser", "3.105ubuntu1", "admin", "important", "add and remove users and groups"),
    ("apt", "0.7.9ubuntu17", "admin", "important", "Advanced front-end for dpkg"),
    ("base-files", "4.0.1ubuntu5", "admin", "required", "Debian base system miscellaneous files"),
    ("bash", "3.2-0ubuntu18", "shells", "required", "The GNU Bourne Again SHell"),
    ("coreutils", "6.10-3ubuntu2", "utils", "required", "The GNU core utilities"),
    ("dhcp3-client", "3.0.6.dfsg-1ubuntu9", "net", "important", "DHCP client"),
    ("dpkg", "1.14.16.6ubuntu3", "admin", "required", "package maintenance system for Debian"),
    ("ifupdown", "0.6.8ubuntu8", "admin", "important",
     "high level tools to configure network interfaces"),
    ("iproute", "20071016-2ubuntu1", "net", "important",
     "Professional tools to control the networking in Linux kernels"),
    ("iputils-ping", "3:20071127-1", "net", "important", "Tools to test the reachability of"
     " network hosts"),
    ("libc6", "2.7-10ubuntu3", "libs", "required", "GNU C Library: Shared libraries"),
    ("linux-image-2.6.24-19-server", "2.6.24-19.41", "base", "optional",
     "Linux kernel image for version 2.6.24 on x86/x86_64"),
    ("lsb-base", "3.2-4ubuntu1", "misc", "required", "Linux Standard Base 3.2 init script"
     " functionality"),
    ("netbase", "4.30ubuntu1", "admin", "important", "Basic TCP/IP networking system"),
    ("openssh-client", "1:4.7p1-8ubuntu1", "net", "standard", "secure shell client, an"
     " rlogin/rsh/rcp replacement"),
    ("openssh-server", "1:4.7p1-8ubuntu1", "net", "optional", "secure shell server, an"
     " rshd replacement"),
    ("python2.5", "2.5.2-2ubuntu4", "python", "important", "An interactive high-level"
     " object-oriented language (version 2.5)"),
    ("ssh", "1:4.7p1-8ubuntu1", "net", "optional", "secure shell client and server"
     " (transitional package)"),
    ("sysvinit-utils", "2.86.ds1-14.1ubuntu45", "admin", "required", "System-V-like utilities"),
    ("ubuntu-minimal", "1.98", "metapackages", "important", "Minimal core of Ubuntu"),
)

BASE_KERNEL = "2.6.24-19-server"

# Host (Debian) packages whose files a fresh node must not see.
HIDDEN_HOST_PACKAGES = (
    "heartbeat", "heartbeat-dev", "cluster-glue", "libheartbeat2", "pacemaker",
    "pacemaker-cli-utils", "corosync", "resource-agents", "drbd-utils", "lvm2", "dmeventd",
    "ntp", "ntpsec", "ntpdate", "ntpsec-ntpdate", "sntp", "xen-utils-common", "xen-tools",
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
