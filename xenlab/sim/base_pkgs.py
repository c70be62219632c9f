"""Package family ``base``: the fresh node's base system (Ubuntu 8.04 server right after the
install plus ``apt-get install ssh``) and the NTP packages 01-base installs.

- ``INSTALLED``: what dpkg lists on a fresh node (the base system and ssh), with the hardy
  versions; the files are the control machine's (the node's /usr is an overlay of it).
- ``ntp`` 1:4.2.4p4+dfsg-3ubuntu2: ntp.conf, /etc/default/ntp and the init script (conffiles),
  the simulated ntpd and ntpq (sim/ntpd.py, sim/ntpq.py: no NTP traffic ever leaves a node).
- ``ntpdate``: a stub that finds no server (the lab has no route to one).
"""

from __future__ import annotations

from packages import (
    File,
    Package,
    RcLinks,
    RemoveRcLinks,
    StartService,
    StopService,
    SystemUser,
    sim_wrapper,
)

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

# debian/ntp.init of ntp 1:4.2.4p4+dfsg (status, try-restart and the ntp user check are in it
# since 4.2.2) with the real start-stop-daemon; /lib/lsb/init-functions is the node's
# (nodefs.LSB_INIT_FUNCTIONS: Ubuntu 8.04's messages off a terminal).
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

. /lib/lsb/init-functions

NAME=ntp
DAEMON=/usr/sbin/ntpd
PIDFILE=/var/run/ntpd.pid

test -x $DAEMON || exit 5

if [ -r /etc/default/$NAME ]; then
\t. /etc/default/$NAME
fi

RUNASUSER=ntp
UGID=$(getent passwd $RUNASUSER | cut -f 3,4 -d:) || true

case $1 in
\tstart)
\t\tlog_daemon_msg "Starting NTP server" "ntpd"
\t\tif [ -z "$UGID" ]; then
\t\t\tlog_failure_msg "user \\"$RUNASUSER\\" does not exist"
\t\t\texit 1
\t\tfi
\t\tstart-stop-daemon --start --quiet --oknodo --pidfile $PIDFILE --startas $DAEMON \\
\t\t\t-- -p $PIDFILE -u $UGID $NTPD_OPTS
\t\tlog_end_msg $?
\t\t;;
\tstop)
\t\tlog_daemon_msg "Stopping NTP server" "ntpd"
\t\tstart-stop-daemon --stop --quiet --oknodo --pidfile $PIDFILE
\t\tlog_end_msg $?
\t\trm -f $PIDFILE
\t\t;;
\trestart|force-reload)
\t\t$0 stop && sleep 2 && $0 start
\t\t;;
\ttry-restart)
\t\tif $0 status >/dev/null; then
\t\t\t$0 restart
\t\telse
\t\t\texit 0
\t\tfi
\t\t;;
\treload)
\t\texit 3
\t\t;;
\tstatus)
\t\tpidofproc -p $PIDFILE $DAEMON >/dev/null
\t\tstatus=$?
\t\tif [ $status -eq 0 ]; then
\t\t\tlog_success_msg "NTP server is running."
\t\telse
\t\t\tlog_failure_msg "NTP server is not running."
\t\tfi
\t\texit $status
\t\t;;
\t*)
\t\techo "Usage: $0 {start|stop|restart|try-restart|force-reload|status}"
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

PACKAGES = {
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
            "/usr/sbin/ntpd": File(sim_wrapper("ntpd.py"), mode=0o755),
            "/usr/bin/ntpq": File(sim_wrapper("ntpq.py"), mode=0o755),
            "/usr/share/doc/ntp/copyright": File("NTP (ntp.org) is distributed under the NTP"
                                                 " license.\n"),
        },
        dirs=("/var/lib/ntp", "/var/log/ntpstats", "/usr/share/doc/ntp"),
        postinst=(SystemUser("ntp"), RcLinks("ntp", 23), StartService("ntp")),
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
INSTALLED = (
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

