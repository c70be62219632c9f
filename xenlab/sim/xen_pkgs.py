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
from xendomains_init import XENDOMAINS_DEFAULT, XENDOMAINS_INIT

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

