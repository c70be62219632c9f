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

Xen (``ubuntu-xen-server`` and its dependencies): the kernel and hypervisor packages put their
images in the node's own /boot and run ``update-grub`` (:class:`RunUpdateGrub`); the node's init
boots the ``default`` entry of /boot/grub/menu.lst at the next reboot, so ``uname -r`` says -xen
only then. ``xen-utils-common`` ships xend/xendomains init scripts, xend-config.sxp and the
simulated ``xm``/``xend`` (sim/xm.py, sim/xend.py) that talk to the lab's hypervisor.
xen-tools and the disk tools come from sim/storage_pkgs.py when it exists.
Coming next: ``drbd8-utils`` (HostCopy of the host's drbd-utils binaries), ``heartbeat``.

Every path of every entry is hidden on a fresh node (overlay whiteout) when the host has it, so a
command appears on a node only after ``apt-get install``. ``HIDDEN_HOST_PACKAGES`` names host
Debian packages whose files a fresh node must not see either (the lab host needs them installed).
"""

from __future__ import annotations

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

# --------------------------------------------------------------------------- xen

XEN_VERSION = "3.2.0-0ubuntu10"
XEN_KERNEL = "2.6.24-19-xen"
XEN_KERNEL_VERSION = "2.6.24-19.41"
XEN_HYPERVISOR = "xen-3.2-1-amd64.gz"


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


def _dummy(what):
    return File(f"lab dummy {what}\n")


XEND_CONFIG = r"""# -*- sh -*-

#
# Xend configuration file.
#

# This example configuration is appropriate for an installation that
# utilizes a bridged network configuration. Access to xend via http
# is disabled.

# Commented out entries show the default for that entry, unless otherwise
# specified.

#(logfile /var/log/xen/xend.log)
#(loglevel DEBUG)

# The Xen-API server configuration.  (Please note that this server is
# available as an UNSUPPORTED PREVIEW in Xen 3.0.4, and should not be relied
# upon).
#
# Default:
#   (xen-api-server ((unix)))


#(xend-http-server no)
#(xend-unix-server no)
#(xend-tcp-xmlrpc-server no)
#(xend-unix-xmlrpc-server yes)
#(xend-relocation-server no)
(xend-relocation-server yes)

#(xend-unix-path /var/lib/xend/xend-socket)


# Address and port xend should use for the legacy TCP XMLRPC interface,
# if xend-tcp-xmlrpc-server is set.
#(xend-tcp-xmlrpc-server-address 'localhost')
#(xend-tcp-xmlrpc-server-port 8006)

# Port xend should use for the HTTP interface, if xend-http-server is set.
#(xend-port            8000)

# Port xend should use for the relocation interface, if xend-relocation-server
# is set.
#(xend-relocation-port 8002)

# Address xend should listen on for HTTP connections, if xend-http-server is
# set.
# Specifying 'localhost' prevents remote connections.
# Specifying the empty string '' (the default) allows all connections.
#(xend-address '')
#(xend-address localhost)

# Address xend should listen on for relocation-socket connections, if
# xend-relocation-server is set.
# Meaning and default as for xend-address above.
#(xend-relocation-address '')

# The hosts allowed to talk to the relocation port.  If this is empty (the
# default), then all connections are allowed (assuming that the connection
# arrives on a port and interface on which we are listening; see
# xend-relocation-port and xend-relocation-address above).  Otherwise, this
# should be a space-separated sequence of regular expressions.  Any host with
# a fully-qualified domain name or an IP address that matches one of these
# regular expressions will be accepted.
#
# For example:
#  (xend-relocation-hosts-allow '^localhost$ ^.*\\.example\\.org$')
#
#(xend-relocation-hosts-allow '')
(xend-relocation-hosts-allow '^localhost$ ^localhost\\.localdomain$')

# The limit (in kilobytes) on the size of the console buffer
#(console-limit 1024)

##
# To bridge network traffic, like this:
#
# dom0: ----------------- bridge -> real eth0 -> the network
#                            |
# domU: fake eth0 -> vifN.0 -+
#
# use
#
# (network-script network-bridge)
#
# Your default ethernet device is used as the outgoing interface, by default.
# To use a different one (e.g. eth1) use
#
# (network-script 'network-bridge netdev=eth1')
#
# The bridge is named xenbr0, by default.  To rename the bridge, use
#
# (network-script 'network-bridge bridge=<name>')
#
(network-script network-bridge)

# The script used to control virtual interfaces.  This can be overridden on a
# per-vif basis when creating a domain or a configuring a new vif.  The
# vif-bridge script is designed for use with the network-bridge script, or
# similar configurations.
#
(vif-script vif-bridge)


## Use the following if network traffic is routed, rather than bridged.
#(network-script network-route)
#(vif-script     vif-route)


## Use the following if network traffic is routed with NAT, rather than bridged.
#(network-script network-nat)
#(vif-script     vif-nat)

# dom0-min-mem is the lowest permissible memory level (in MB) for dom0.
# This is a minimum both for auto-ballooning (as enabled by
# enable-dom0-ballooning below) and for xm mem-set when applied to dom0.
(dom0-min-mem 196)

# In SMP system, dom0 will use dom0-cpus # of CPUS
# If dom0-cpus = 0, dom0 will take all cpus available
(dom0-cpus 0)

# Whether to enable core-dumps when domains crash.
#(enable-dump no)

# The tool used for initiating virtual TPM migration
#(external-migration-tool '')

# The interface for VNC servers to listen on. Defaults
# to 127.0.0.1  To restore old 'listen everywhere' behaviour
# set this to 0.0.0.0
#(vnc-listen '127.0.0.1')

# The default password for VNC console on HVM domain.
# Empty string is no authentication.
(vncpasswd '')

# The VNC server can be told to negotiate a TLS session
# to encryption all traffic, and provide x509 cert to
# clients enalbing them to verify server identity. The
# GTK-VNC widget, virt-viewer, virt-manager and VeNCrypt
# all support the VNC extension for TLS used in QEMU. The
# TightVNC/RealVNC/UltraVNC clients do not.
#
#(vnc-tls 1)

# The certificate dir can contain any of the files
#(vnc-x509-cert-dir /etc/xen/vnc)

# The server can be told to request & validate an x509
# certificate from the client.
#(vnc-x509-verify 1)

# The default keymap to use for the VM's virtual keyboard.
#(keymap 'en-us')
"""

XEND_INIT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          xend
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: XEN control daemon
# Description:       XEN control daemon
### END INIT INFO

PATH=/usr/lib/xen-common/bin:/sbin:/bin:/usr/sbin:/usr/bin
DAEMON=/usr/sbin/xend
NAME=xend
DESC="Xen daemon"
PIDFILE=/var/run/xend.pid
# lab node: the simulated hypervisor exposes its capabilities here instead of /proc/xen
XEN_CAPABILITIES=/usr/lib/runbook-lab/node/hypervisor

[ -x "$DAEMON" ] || exit 0

# Read default file if it exists
[ -r /etc/default/$NAME ] && . /etc/default/$NAME

# Not running under Xen (no /proc/xen/capabilities with control_d): nothing to do.
if [ ! -s "$XEN_CAPABILITIES" ]; then
\texit 0
fi

. /lib/lsb/init-functions 2>/dev/null || {
\tlog_daemon_msg() { echo -n " * $1"; }
\tlog_end_msg() {
\t\tif [ "$1" = 0 ]; then echo "        ...done."; else echo "        ...fail!"; fi
\t\treturn $1
\t}
}

running() {
\t[ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null
}

case "$1" in
  start)
\tlog_daemon_msg "Starting $DESC" "$NAME"
\trunning || $DAEMON start
\tlog_end_msg $?
\t;;
  stop)
\tlog_daemon_msg "Stopping $DESC" "$NAME"
\tif running; then $DAEMON stop; fi
\tlog_end_msg 0
\t;;
  reload)
\tlog_daemon_msg "Reloading $DESC" "$NAME"
\trunning && kill -HUP "$(cat $PIDFILE)"
\tlog_end_msg 0
\t;;
  restart|force-reload)
\tlog_daemon_msg "Restarting $DESC" "$NAME"
\tif running; then $DAEMON stop; fi
\t$DAEMON start
\tlog_end_msg $?
\t;;
  status)
\tif running; then echo "xend is running"; exit 0; fi
\techo "xend is not running"; exit 3
\t;;
  *)
\techo "Usage: /etc/init.d/$NAME {start|stop|restart|reload|force-reload|status}" >&2
\texit 1
\t;;
esac

exit 0
"""

XENDOMAINS_DEFAULT = """\
## Path: System/xen
## Description: xen domain start/stop on boot
## Type: string
## Default:
#
# The xendomains script can send SysRq requests to domains on shutdown.
# If you don't want to MIGRATE, SAVE, or SHUTDOWN, this may be a possibility
# to do a quick and dirty shutdown ("s e i u o") or at least sync the disks
# of the domains ("s").
#
XENDOMAINS_SYSRQ=""

## Type: integer
## Default: 100000
#
# If XENDOMAINS_SYSRQ is set, this variable determines how long to wait
# (in microseconds) after each SysRq, so the domain has a chance to react.
# If you want to a quick'n'dirty shutdown via SysRq, you may want to set
# it to a relatively high value (1200000).
#
XENDOMAINS_USLEEP=100000

## Type: integer
## Default: 5000000
#
# When creating a guest domain, it is sensible to allow a little time for it
# to get started before creating another domain or proceeding through the
# boot process.  Without this, the booting guests will thrash the disk as they
# start up.  This timeout (in microseconds) specifies the delay after guest
# domain creation.
#
XENDOMAINS_CREATE_USLEEP=5000000

## Type: string
## Default: ""
#
# Set this to a non-empty string if you want to migrate virtual machines
# on shutdown. The string will be passed to the xm migrate DOMID command
# as is: It should contain the target IP address of the physical machine
# to migrate to and optionally parameters like --live. Leave empty if
# you don't want to try virtual machine relocation on shutdown.
# If migration succeeds, neither SAVE nor SHUTDOWN will be executed for
# that domain.
#
XENDOMAINS_MIGRATE=""

## Type: string
## Default: /var/lib/xen/save
#
# Directory to save running domains to when the system (dom0) is
# shut down. Will also be used to restore domains from if # XENDOMAINS_RESTORE
# is set (see below). Leave empty to disable domain saving on shutdown
# (e.g. because you rather shut domains down).
# If domain saving does succeed, SHUTDOWN will not be executed.
#
XENDOMAINS_SAVE=/var/lib/xen/save

## Type: string
## Default: "--halt --wait"
#
# If neither MIGRATE nor SAVE were enabled or if they failed, you can
# try to shut down a domain by sending it a shutdown request. To do this,
# set this to "--halt --wait". Omit the "--wait" flag to avoid waiting
# for the domain to be really down. Leave empty to skip domain shutdown.
#
XENDOMAINS_SHUTDOWN="--halt --wait"

## Type: string
## Default: "--all --halt --wait"
#
# After we have gone over all virtual machines (resp. all automatically
# started ones, see XENDOMAINS_AUTO_ONLY below) in a loop and sent SysRq,
# migrated, saved and/or shutdown according to the settings above, we
# might want to shutdown the virtual machines that are still running
# for some reason or another. To do this, set this variable to
# "--all --halt --wait", it will be passed to xm shutdown.
# Leave it empty not to do anything special here.
# (Note: This will hit all virtual machines, even if XENDOMAINS_AUTO_ONLY
# is set.)
#
XENDOMAINS_SHUTDOWN_ALL="--all --halt --wait"

## Type: boolean
## Default: true
#
# This variable determines whether saved domains from XENDOMAINS_SAVE
# will be restored on system startup.
#
XENDOMAINS_RESTORE=true

## Type: string
## Default: /etc/xen/auto
#
# This variable sets the directory where domains configurations
# are stored that should be started on system startup automatically.
# Leave empty if you don't want to start domains automatically
# (or just don't place any xen domain config files in that dir).
# Note that the script tries to be clever if both RESTORE and AUTO are
# set: It will first restore saved domains and then only start domains
# in AUTO which are not running yet.
# Note that the name matching is somewhat fuzzy.
#
XENDOMAINS_AUTO=/etc/xen/auto

## Type: boolean
## Default: false
#
# If this variable is set to "true", only the domains started via config
# files in XENDOMAINS_AUTO will be treated according to XENDOMAINS_SYSRQ,
# XENDOMAINS_MIGRATE, XENDOMAINS_SAVE, XENDMAINS_SHUTDOWN; otherwise
# all running domains will be.
# Note that the name matching is somewhat fuzzy.
#
XENDOMAINS_AUTO_ONLY=false

## Type: integer
## Default: 300
#
# On xendomains stop, a number of xm commands (xm migrate, save, shutdown,
# shutdown --all) may be executed. In the worst case, these commands may
# stall forever, which will prevent a successful shutdown of the machine.
# If this variable is non-zero, the script will set up a watchdog timer
# for every of these xm commands and time it out after the number of seconds
# specified by this variable.
# Note that SHUTDOWN_ALL will not be called if no virtual machine or only
# zombies are still running, so you don't need to enable this timeout just
# for the zombie case.
# The setting should be large enough to make sure that migrate/save/shutdown
# can succeed. If you do live migrations, keep in mind that live migration
# of a 1GB machine over Gigabit ethernet may actually take something like
# 100s (assuming that live migration uses 10% of the network # bandwidth).
# Depending on the virtual machine, a shutdown may also require a significant
# amount of time. So better setup this variable to a huge number and hope the
# watchdog never fires.
#
XENDOMAINS_STOP_MAXWAIT=300
"""

XENDOMAINS_INIT = """\
#!/bin/bash
#
# /etc/init.d/xendomains
# Start / stop domains automatically when domain 0 boots / shuts down.
#
### BEGIN INIT INFO
# Provides:          xendomains
# Required-Start:    $syslog $remote_fs xend
# Should-Start:
# Required-Stop:     $syslog $remote_fs xend
# Should-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Start/stop secondary xen domains
# Description:       Start / stop domains automatically when domain 0
#                    boots / shuts down.
### END INIT INFO

# lab node: behaves like Xen 3.2's xendomains (the simulated hypervisor's capabilities are in
# the node state instead of /proc/xen)
if [ ! -s /usr/lib/runbook-lab/node/hypervisor ]; then
\texit 0
fi

LOCKFILE=/var/lock/xendomains
XENDOM_CONFIG=/etc/default/xendomains

test -r $XENDOM_CONFIG || { echo "$XENDOM_CONFIG not existing";
\tif [ "$1" = "stop" ]; then exit 0;
\telse exit 6; fi; }

. $XENDOM_CONFIG

_cmd=$1
declare -a _SMSG
if test "${_cmd}" = "status"; then
    _SMSG=(running dead dead unused unknown reserved)
    _RC_UNUSED=3
else
    _SMSG=(done failed failed missed failed skipped unused failed failed reserved)
    _RC_UNUSED=6
fi
_RC_RV=0
rc_reset() { _RC_RV=0; }
rc_failed() { if test -z "$1"; then _RC_RV=1; elif test "$1" != "0"; then _RC_RV=$1; fi; }
rc_status() {
    if test "$1" = "-v"; then echo " ${_SMSG[${_RC_RV}]}"; fi
}
rc_exit() { exit $_RC_RV; }

# Name of the domain a config file defines
rdname() {
    NM=$(xm create --quiet --dryrun --defconfig "$1" 2>/dev/null |
         sed -n 's/^.*(name \\(.*\\))$/\\1/p')
}

# Is the domain of config file $1 running? (sets NM)
is_running() {
    rdname "$1"
    [ -n "$NM" ] && xm list "$NM" >/dev/null 2>&1
}

# Running DomUs as "id name" lines
running_domains() {
    xm list 2>/dev/null | awk 'NR > 1 && $1 != "Domain-0" { print $2, $1 }'
}

# Is domain $1 started from a file of XENDOMAINS_AUTO?
is_auto() {
    local dom
    [ -n "$XENDOMAINS_AUTO" ] && [ -d "$XENDOMAINS_AUTO" ] || return 1
    for dom in $XENDOMAINS_AUTO/*; do
\t[ -e "$dom" ] || continue
\trdname "$dom"
\t[ "$NM" = "$1" ] && return 0
    done
    return 1
}

start() {
    if [ -f $LOCKFILE ]; then
\techo -e "xendomains already running (lockfile exists)"
\treturn
    fi
    rc_reset
    touch $LOCKFILE
    if [ "$XENDOMAINS_RESTORE" = "true" ] && [ -n "$XENDOMAINS_SAVE" ] &&
       [ -n "$(ls $XENDOMAINS_SAVE 2>/dev/null)" ]; then
\techo -n "Restoring Xen domains:"
\tfor dom in $XENDOMAINS_SAVE/*; do
\t    echo -n " ${dom##*/}"
\t    xm restore "$dom" >/dev/null
\t    if [ $? -ne 0 ]; then rc_failed $?; echo -n '!'; else rm -f "$dom"; fi
\tdone
\trc_status -v
    fi
    if [ -n "$XENDOMAINS_AUTO" ] && [ -d "$XENDOMAINS_AUTO" ]; then
\techo -n "Starting auto Xen domains:"
\tfor dom in $XENDOMAINS_AUTO/*; do
\t    [ -e "$dom" ] || continue
\t    echo -n " ${dom##*/}"
\t    if is_running "$dom"; then
\t\techo -n "(skip)"
\t    else
\t\txm create --quiet --defconfig "$dom"
\t\tif [ $? -ne 0 ]; then
\t\t    rc_failed $?
\t\t    echo -n '!'
\t\telse
\t\t    usleep $XENDOMAINS_CREATE_USLEEP 2>/dev/null || true
\t\tfi
\t    fi
\tdone
\trc_status -v
    fi
}

stop() {
    rc_reset
    echo -n "Shutting down Xen domains:"
    while read id name; do
\t[ -n "$name" ] || continue
\techo -n " $name"
\tif [ "$XENDOMAINS_AUTO_ONLY" = "true" ] && ! is_auto "$name"; then
\t    echo -n "(skip)"
\t    continue
\tfi
\tif [ -n "$XENDOMAINS_MIGRATE" ]; then
\t    echo -n "(migr)"
\t    if xm migrate $id $XENDOMAINS_MIGRATE; then
\t\tcontinue
\t    fi
\t    echo -n "(failed)"
\tfi
\tif [ -n "$XENDOMAINS_SAVE" ]; then
\t    echo -n "(save)"
\t    mkdir -p "$XENDOMAINS_SAVE"
\t    if xm save $id "$XENDOMAINS_SAVE/$name"; then
\t\tcontinue
\t    fi
\t    echo -n "(failed)"
\tfi
\tif [ -n "$XENDOMAINS_SHUTDOWN" ]; then
\t    echo -n "(shut)"
\t    xm shutdown $id $XENDOMAINS_SHUTDOWN || rc_failed $?
\tfi
    done < <(running_domains)
    if [ -n "$XENDOMAINS_SHUTDOWN_ALL" ] && [ -n "$(running_domains)" ]; then
\techo -n " SHUTDOWN_ALL "
\txm shutdown $XENDOMAINS_SHUTDOWN_ALL || rc_failed $?
    fi
    rc_status -v
    rm -f $LOCKFILE
}

check_domain_up() {
    local missing=""
    if [ -n "$XENDOMAINS_AUTO" ] && [ -d "$XENDOMAINS_AUTO" ]; then
\tfor dom in $XENDOMAINS_AUTO/*; do
\t    [ -e "$dom" ] || continue
\t    is_running "$dom" || missing="$missing ${dom##*/}"
\tdone
    fi
    if [ -n "$missing" ]; then
\techo -n " MISSING AUTO DOMAINS:$missing"
\trc_failed 1
    fi
}

case "$1" in
    start)
\tstart
\trc_status
\t;;
    stop)
\tstop
\trc_status
\t;;
    restart|reload|force-reload)
\tstop
\tstart
\trc_status
\t;;
    status)
\techo -n "Checking for xendomains:"
\tif test ! -f $LOCKFILE; then
\t    rc_failed 3
\telse
\t    check_domain_up
\tfi
\trc_status -v
\t;;
    *)
\techo "Usage: $0 {start|stop|restart|reload|force-reload|status}"
\trc_failed 3
\trc_status -v
\t;;
esac

rc_exit
"""

NETWORK_BRIDGE = """\
#!/bin/sh
# network-bridge (lab node): the lab's LAN switch already bridges eth0; nothing to do.
exit 0
"""

VIF_BRIDGE = """\
#!/bin/sh
# vif-bridge (lab node): the lab's hypervisor plugs each DomU's vif into the LAN switch.
exit 0
"""

BRCTL = """\
#!/bin/sh
# brctl (lab node): the lab's LAN switch lives outside the node
case "$1" in
  show) printf 'bridge name\\tbridge id\\t\\tSTP enabled\\tinterfaces\\n' ;;
  *) echo "brctl: lab node: bridges are managed by the lab" >&2; exit 1 ;;
esac
"""

XEN_CATALOGUE = {
    "linux-image-2.6.24-19-xen": Package(
        name="linux-image-2.6.24-19-xen", version=XEN_KERNEL_VERSION, source="linux",
        section="base", description="Linux kernel image for version 2.6.24 on This kernel is "
        "used for Xen dom0 and domU\n This package contains the Linux kernel image for "
        "version 2.6.24 on\n Xen dom0 and domU.",
        installed_size=41664, download_size=19562,
        depends=("module-init-tools",),
        files={
            f"/boot/vmlinuz-{XEN_KERNEL}": _dummy(f"kernel image {XEN_KERNEL}"),
            f"/boot/initrd.img-{XEN_KERNEL}": _dummy(f"initramfs {XEN_KERNEL}"),
            f"/boot/System.map-{XEN_KERNEL}": _dummy("System.map"),
            f"/boot/config-{XEN_KERNEL}": _dummy("kernel config"),
            f"/boot/abi-{XEN_KERNEL}": _dummy("kernel abi"),
        },
        dirs=(f"/lib/modules/{XEN_KERNEL}",),
        postinst=(RunUpdateGrub(),),
        postrm_purge=(RunUpdateGrub(),),
    ),
    "linux-image-xen": Package(
        name="linux-image-xen", version="2.6.24.19.21", source="linux-meta", section="base",
        description="Linux kernel image on This kernel is used for Xen dom0 and domU\n This "
        "package will always depend on the latest kernel image available for Xen.",
        installed_size=32, download_size=20, depends=(f"linux-image-{XEN_KERNEL}",),
    ),
    "xen-hypervisor-3.2": Package(
        name="xen-hypervisor-3.2", version=XEN_VERSION, source="xen-3.2", section="misc",
        description="The Xen Hypervisor on AMD64\n The hypervisor is the 'core' for XEN "
        "itself. It gets booted by the boot loader\n and controls cpu and memory, sharing "
        "them between your administrative\n domain (Domain 0) and the virtual guest systems.",
        installed_size=1228, download_size=433,
        files={f"/boot/{XEN_HYPERVISOR}": _dummy("Xen 3.2-1-amd64 hypervisor")},
        postinst=(RunUpdateGrub(),),
        postrm_purge=(RunUpdateGrub(),),
    ),
    "xen-utils-common": Package(
        name="xen-utils-common", version=XEN_VERSION, source="xen-3.2", section="misc",
        description="XEN administrative tools - common files\n The userspace tools to manage "
        "a system virtualized through the XEN virtual\n machine monitor.",
        installed_size=188, download_size=44,
        depends=("gawk", "lsb-base", "udev"),
        files={
            "/etc/xen/xend-config.sxp": File(XEND_CONFIG, conffile=True),
            "/etc/init.d/xend": File(XEND_INIT, mode=0o755, conffile=True),
            "/etc/init.d/xendomains": File(XENDOMAINS_INIT, mode=0o755, conffile=True),
            "/etc/default/xendomains": File(XENDOMAINS_DEFAULT, conffile=True),
            "/etc/xen/scripts/network-bridge": File(NETWORK_BRIDGE, mode=0o755),
            "/etc/xen/scripts/vif-bridge": File(VIF_BRIDGE, mode=0o755),
            "/etc/xen/scripts/block": File(VIF_BRIDGE.replace("vif-bridge", "block")
                                           .replace("plugs each DomU's vif into the LAN "
                                                    "switch", "attaches phy: disks"),
                                           mode=0o755),
            "/usr/sbin/xm": File(_sim_wrapper("xm.py"), mode=0o755),
            "/usr/sbin/xend": File(_sim_wrapper("xend.py"), mode=0o755),
            "/usr/share/doc/xen-utils-common/copyright": File("Xen is distributed under the "
                                                              "GNU GPL version 2.\n"),
        },
        dirs=("/etc/xen", "/etc/xen/auto", "/etc/xen/scripts", "/var/lib/xen",
              "/var/lib/xen/save", "/var/log/xen", "/usr/share/doc/xen-utils-common"),
        postinst=(RcLinks("xend", 20, 21), RcLinks("xendomains", 21, 20),
                  StartService("xend")),
        prerm=(StopService("xend"),),
        postrm_purge=(RemoveRcLinks("xend"), RemoveRcLinks("xendomains")),
    ),
    "xen-utils-3.2": Package(
        name="xen-utils-3.2", version=XEN_VERSION, source="xen-3.2", section="misc",
        description="XEN administrative tools\n The userspace tools to manage a system "
        "virtualized through the XEN virtual\n machine monitor.",
        installed_size=4352, download_size=1125,
        depends=("libc6", "python2.5", "xen-utils-common", "bridge-utils", "iproute"),
        files={"/usr/lib/xen-3.2-1/bin/xm": File(_sim_wrapper("xm.py"), mode=0o755),
               "/usr/lib/xen-3.2-1/bin/xend": File(_sim_wrapper("xend.py"), mode=0o755)},
        dirs=("/usr/lib/xen-3.2-1", "/usr/lib/xen-3.2-1/bin"),
    ),
    "bridge-utils": Package(
        name="bridge-utils", version="1.2-2", section="net",
        description="Utilities for configuring the Linux Ethernet bridge",
        installed_size=124, download_size=29, depends=("libc6",),
        files={"/usr/sbin/brctl": File(BRCTL, mode=0o755)},
    ),
    "libc6-xen": Package(
        name="libc6-xen", version="2.7-10ubuntu3", source="glibc", section="libs",
        description="GNU C Library: Shared libraries [Xen version]",
        installed_size=2604, download_size=1174, depends=("libc6",),
        files={"/etc/ld.so.conf.d/libc6-xen.conf": File("# libc6-xen (lab node)\n",
                                                        conffile=True)},
    ),
    "ubuntu-xen-server": Package(
        name="ubuntu-xen-server", version="1.98", source="ubuntu-meta", section="metapackages",
        description="Xen server (dom0 and domU) for Ubuntu",
        installed_size=32, download_size=2,
        depends=("linux-image-xen", "xen-hypervisor-3.2", "xen-utils-3.2",
                 "xen-utils-common", "bridge-utils", "libc6-xen", "xen-tools"),
    ),
}

CATALOGUE.update(XEN_CATALOGUE)

try:  # xen-tools and the disk tools (storage simulation, sim/storage_pkgs.py)
    from storage_pkgs import STORAGE_PACKAGES
except ImportError:
    STORAGE_PACKAGES = {}
CATALOGUE.update(STORAGE_PACKAGES)


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
    ("gawk", "1:3.1.6.dfsg-0ubuntu1", "interpreters", "optional", "GNU awk, a pattern scanning"
     " and processing language"),
    ("grub", "0.97-29ubuntu21", "admin", "optional", "GRand Unified Bootloader (Legacy"
     " version)"),
    ("ifupdown", "0.6.8ubuntu8", "admin", "important",
     "high level tools to configure network interfaces"),
    ("iproute", "20071016-2ubuntu1", "net", "important",
     "Professional tools to control the networking in Linux kernels"),
    ("iputils-ping", "3:20071127-1", "net", "important", "Tools to test the reachability of"
     " network hosts"),
    ("libc6", "2.7-10ubuntu3", "libs", "required", "GNU C Library: Shared libraries"),
    ("linux-image-2.6.24-19-server", "2.6.24-19.41", "base", "optional",
     "Linux kernel image for version 2.6.24 on x86/x86_64"),
    ("module-init-tools", "3.3-pre11-4ubuntu5", "admin", "important", "tools for managing"
     " Linux kernel modules"),
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
    ("udev", "117-8", "admin", "important", "rule-based device node and kernel event manager"),
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
