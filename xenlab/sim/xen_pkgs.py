"""Package family ``xen``: ``ubuntu-xen-server`` 1.98 and what it pulls in (Xen 3.2.0).

The kernel and hypervisor packages put their images in the node's own /boot and run
``update-grub`` (:class:`packages.RunUpdateGrub`); the node's init boots the ``default`` entry of
/boot/grub/menu.lst at the next reboot, so ``uname -r`` says -xen only then. ``xen-utils-common``
ships the xend/xendomains init scripts, xend-config.sxp and the simulated ``xm``/``xend``
(sim/xm.py, sim/xend.py) that talk to the lab's hypervisor. xen-tools is in storage_pkgs.py.
"""

from __future__ import annotations

from packages import (
    File,
    Package,
    RcLinks,
    RemoveRcLinks,
    RunUpdateGrub,
    StartService,
    StopService,
    sim_wrapper,
)

XEN_VERSION = "3.2.0-0ubuntu10"
XEN_KERNEL = "2.6.24-19-xen"
XEN_KERNEL_VERSION = "2.6.24-19.41"
XEN_HYPERVISOR = "xen-3.2-1-amd64.gz"


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

PACKAGES = {
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
            "/usr/sbin/xm": File(sim_wrapper("xm.py"), mode=0o755),
            "/usr/sbin/xend": File(sim_wrapper("xend.py"), mode=0o755),
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
        files={"/usr/lib/xen-3.2-1/bin/xm": File(sim_wrapper("xm.py"), mode=0o755),
               "/usr/lib/xen-3.2-1/bin/xend": File(sim_wrapper("xend.py"), mode=0o755)},
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

