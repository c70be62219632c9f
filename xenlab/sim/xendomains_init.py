"""Xen 3.2.0's /etc/init.d/xendomains and /etc/default/xendomains, as xen-utils-common ships them
on the lab's Ubuntu 8.04 nodes (the guide copies the script into /etc/ha.d/resource.d).

Source: xen-unstable tools/examples/init.d/xendomains and sysconfig.xendomains, unchanged from
changeset 9848d66b4e (2007-07-03) to the 3.2.0 release (tag 3.2.0-rc6, 2008-01-13; the next
change, e8ca11f2f6, is of 2008-09-11). The text is upstream's, byte for byte, except for:

- ``XENDOM_CONFIG=/etc/default/xendomains``: upstream reads /etc/sysconfig/xendomains; Ubuntu's
  package keeps the settings in /etc/default/xendomains (the guide copies that file). The lock
  stays upstream's /var/lock/subsys/xendomains, which the auto-start path touches without
  creating its folder (heartbeat's init script creates /var/lock/subsys on start).
- the privileged-domain test looks at the lab's record of the booted hypervisor instead of
  /proc/xen/privcmd, which a lab node cannot have.
- ``shopt -s compat31``: parseln's ``[[ "$1" =~ "\\(domain" ]]`` is a regular expression on
  Ubuntu 8.04 (the real log shows ``hejsan(skip)``), a literal string on this bash.

So upstream's behaviour and bugs stay: XENDOMAINS_AUTO_ONLY builds ``NAMES="a|b"`` and
``case $name in ($NAMES)`` never matches two or more auto domains (nothing is migrated or shut
down: every domain prints ``(skip)``; fixed in e8ca11f2f6); a failed ``xm`` in start or stop
records ``rc_failed $?`` after ``test``, i.e. 0, so both exit 0 after a ``!``; with no lock file
``status`` says ``[unused]`` and exits 3; XENDOMAINS_MIGRATE is passed to ``xm migrate ID`` as
is; the output format comes from /lib/lsb/init-functions (log_success_msg/log_failure_msg).
"""

from __future__ import annotations

XENDOMAINS_INIT = """\
#!/bin/bash
#
# /etc/init.d/xendomains
# Start / stop domains automatically when domain 0 boots / shuts down.
#
# chkconfig: 345 99 00
# description: Start / stop Xen domains.
#
# This script offers fairly basic functionality.  It should work on Redhat
# but also on LSB-compliant SuSE releases and on Debian with the LSB package
# installed.  (LSB is the Linux Standard Base)
#
# Based on the example in the "Designing High Quality Integrated Linux
# Applications HOWTO" by Avi Alkalay
# <http://www.tldp.org/HOWTO/HighQuality-Apps-HOWTO/>
#
### BEGIN INIT INFO
# Provides:          xendomains
# Required-Start:    $syslog $remote_fs xend
# Should-Start:
# Required-Stop:     $syslog $remote_fs xend
# Should-Stop:
# Default-Start:     3 4 5
# Default-Stop:      0 1 2 6
# Default-Enabled:   yes
# Short-Description: Start/stop secondary xen domains
# Description:       Start / stop domains automatically when domain 0\x20
#                    boots / shuts down.
### END INIT INFO

# Correct exit code would probably be 5, but it's enough\x20
# if xend complains if we're not running as privileged domain
# lab node: no /proc/xen in a lab node; the node's booted hypervisor is recorded here instead
if ! [ -s /usr/lib/runbook-lab/node/hypervisor ]; then
\texit 0
fi
# lab node: Ubuntu 8.04's bash 3.2 matched parseln's quoted =~ patterns as regular
# expressions (its xendomains prints "(skip)" for a running domain); this bash needs compat31
shopt -s compat31 2>/dev/null

LOCKFILE=/var/lock/subsys/xendomains
XENDOM_CONFIG=/etc/default/xendomains

test -r $XENDOM_CONFIG || { echo "$XENDOM_CONFIG not existing";
\tif [ "$1" = "stop" ]; then exit 0;
\telse exit 6; fi; }

. $XENDOM_CONFIG

# Use the SUSE rc_ init script functions;
# emulate them on LSB, RH and other systems
if test -e /etc/rc.status; then
    # SUSE rc script library
    . /etc/rc.status
else\x20\x20\x20\x20
    _cmd=$1
    declare -a _SMSG
    if test "${_cmd}" = "status"; then
\t_SMSG=(running dead dead unused unknown)
\t_RC_UNUSED=3
    else
\t_SMSG=(done failed failed missed failed skipped unused failed failed)
\t_RC_UNUSED=6
    fi
    if test -e /etc/init.d/functions; then
\t# REDHAT
\t. /etc/init.d/functions
\techo_rc()
\t{
\t    #echo -n "  [${_SMSG[${_RC_RV}]}] "
\t    if test ${_RC_RV} = 0; then
\t\tsuccess "  [${_SMSG[${_RC_RV}]}] "
\t    else
\t\tfailure "  [${_SMSG[${_RC_RV}]}] "
\t    fi
\t}
    elif test -e /lib/lsb/init-functions; then
\t# LSB\x20\x20\x20\x20
    \t. /lib/lsb/init-functions
        if alias log_success_msg >/dev/null 2>/dev/null; then
\t  echo_rc()
\t  {
\t       echo "  [${_SMSG[${_RC_RV}]}] "
\t  }
        else
\t  echo_rc()
\t  {
\t    if test ${_RC_RV} = 0; then
\t\tlog_success_msg "  [${_SMSG[${_RC_RV}]}] "
\t    else
\t\tlog_failure_msg "  [${_SMSG[${_RC_RV}]}] "
\t    fi
\t  }
        fi
    else\x20\x20\x20\x20
\t# emulate it
\techo_rc()
\t{
\t    echo "  [${_SMSG[${_RC_RV}]}] "
\t}
    fi
    rc_reset() { _RC_RV=0; }
    rc_failed()
    {
\tif test -z "$1"; then\x20
\t    _RC_RV=1;
\telif test "$1" != "0"; then\x20
\t    _RC_RV=$1;\x20
    \tfi
\treturn ${_RC_RV}
    }
    rc_check()
    {
\treturn rc_failed $?
    }\t
    rc_status()
    {
\trc_failed $?
\tif test "$1" = "-r"; then _RC_RV=0; shift; fi
\tif test "$1" = "-s"; then rc_failed 5; echo_rc; rc_failed 3; shift; fi
\tif test "$1" = "-u"; then rc_failed ${_RC_UNUSED}; echo_rc; rc_failed 3; shift; fi
\tif test "$1" = "-v"; then echo_rc; shift; fi
\tif test "$1" = "-r"; then _RC_RV=0; shift; fi
\treturn ${_RC_RV}
    }
    rc_exit() { exit ${_RC_RV}; }
    rc_active()\x20
    {
\tif test -z "$RUNLEVEL"; then read RUNLEVEL REST < <(/sbin/runlevel); fi
\tif test -e /etc/init.d/S[0-9][0-9]${1}; then return 0; fi
\treturn 1
    }
fi

if ! which usleep >&/dev/null
then
  usleep()
  {
    if [ -n "$1" ]
    then
      sleep $(( $1 / 1000000 ))
    fi
  }
fi

# Reset status of this service
rc_reset

##
# Returns 0 (success) if the given parameter names a directory, and that
# directory is not empty.
#
contains_something()
{
  if [ -d "$1" ] && [ `/bin/ls $1 | wc -l` -gt 0 ]
  then
    return 0
  else
    return 1
  fi
}

# read name from xen config file
rdname()
{
    NM=$(xm create --quiet --dryrun --defconfig "$1" |
         sed -n 's/^.*(name \\(.*\\))$/\\1/p')
}

rdnames()
{
    NAMES=
    if ! contains_something "$XENDOMAINS_AUTO"
    then\x20
\treturn
    fi
    for dom in $XENDOMAINS_AUTO/*; do
\trdname $dom
\tif test -z $NAMES; then\x20
\t    NAMES=$NM;\x20
\telse
\t    NAMES="$NAMES|$NM"
\tfi
    done
}

parseln()
{
    if [[ "$1" =~ "\\(domain" ]]; then
        name=;id=
    else if [[ "$1" =~ "\\(name" ]]; then
        name=$(echo $1 | sed -e 's/^.*(name \\(.*\\))$/\\1/')
    else if [[ "$1" =~ "\\(domid" ]]; then
        id=$(echo $1 | sed -e 's/^.*(domid \\(.*\\))$/\\1/')
    fi; fi; fi

    [ -n "$name" -a -n "$id" ] && return 0 || return 1
}

is_running()
{
    rdname $1
    RC=1
    name=;id=
    while read LN; do
\tparseln "$LN" || continue
\tif test $id = 0; then continue; fi
\tcase $name in\x20
\t    ($NM)
\t\tRC=0
\t\t;;
\tesac
    done < <(xm list -l | grep '(\\(domain\\|domid\\|name\\)')
    return $RC
}

start()\x20
{
    if [ -f $LOCKFILE ]; then\x20
\techo -n "xendomains already running (lockfile exists)"
\treturn;\x20
    fi

    saved_domains=" "
    if [ "$XENDOMAINS_RESTORE" = "true" ] &&
       contains_something "$XENDOMAINS_SAVE"
    then
\tmkdir -p $(dirname "$LOCKFILE")
\ttouch $LOCKFILE
\techo -n "Restoring Xen domains:"
\tsaved_domains=`ls $XENDOMAINS_SAVE`
        for dom in $XENDOMAINS_SAVE/*; do
            if [ -f $dom ] ; then
                HEADER=`head -c 16 $dom | head -n 1 2> /dev/null`
                if [ $HEADER = "LinuxGuestRecord" ]; then
                    echo -n " ${dom##*/}"
                    xm restore $dom
                    if [ $? -ne 0 ]; then
                        rc_failed $?
                        echo -n '!'
                    else
                        # mv $dom ${dom%/*}/.${dom##*/}
                        rm $dom
                    fi
                fi
            fi
        done
\techo .
    fi

    if contains_something "$XENDOMAINS_AUTO"
    then
\ttouch $LOCKFILE
\techo -n "Starting auto Xen domains:"
\t# We expect config scripts for auto starting domains to be in
\t# XENDOMAINS_AUTO - they could just be symlinks to files elsewhere

\t# Create all domains with config files in XENDOMAINS_AUTO.
\t# TODO: We should record which domain name belongs\x20
\t# so we have the option to selectively shut down / migrate later
\t# If a domain statefile from $XENDOMAINS_SAVE matches a domain name
\t# in $XENDOMAINS_AUTO, do not try to start that domain; if it didn't\x20
\t# restore correctly it requires administrative attention.
\tfor dom in $XENDOMAINS_AUTO/*; do
\t    echo -n " ${dom##*/}"
\t    shortdom=$(echo $dom | sed -n 's/^.*\\/\\(.*\\)$/\\1/p')
\t    echo $saved_domains | grep -w $shortdom > /dev/null
\t    if [ $? -eq 0 ] || is_running $dom; then
\t\techo -n "(skip)"
\t    else
\t\txm create --quiet --defconfig $dom
\t\tif [ $? -ne 0 ]; then
\t\t    rc_failed $?
\t\t    echo -n '!'
\t\telse
\t\t    usleep $XENDOMAINS_CREATE_USLEEP
\t\tfi
\t    fi
\tdone
    fi\t
}

all_zombies()
{
    name=;id=
    while read LN; do
\tparseln "$LN" || continue
\tif test $id = 0; then continue; fi
\tif test "$state" != "-b---d" -a "$state" != "-----d"; then
\t    return 1;
\tfi
    done < <(xm list -l | grep '(\\(domain\\|domid\\|name\\)')
    return 0
}

# Wait for max $XENDOMAINS_STOP_MAXWAIT for xm $1 to finish;
# if it has not exited by that time kill it, so the init script will
# succeed within a finite amount of time; if $2 is nonnull, it will
# kill the command as well as soon as no domain (except for zombies)
# are left (used for shutdown --all).
watchdog_xm()
{
    if test -z "$XENDOMAINS_STOP_MAXWAIT" -o "$XENDOMAINS_STOP_MAXWAIT" = "0"; then
\texit
    fi
    usleep 20000
    for no in `seq 0 $XENDOMAINS_STOP_MAXWAIT`; do
\t# exit if xm save/migrate/shutdown is finished
\tPSAX=`ps axlw | grep "xm $1" | grep -v grep`
\tif test -z "$PSAX"; then exit; fi
\techo -n "."; sleep 1
\t# go to kill immediately if there's only zombies left
\tif all_zombies && test -n "$2"; then break; fi
    done
    sleep 1
    read PSF PSUID PSPID PSPPID < <(echo "$PSAX")
    # kill xm $1
    kill $PSPID >/dev/null 2>&1
}

stop()
{
    # Collect list of domains to shut down
    if test "$XENDOMAINS_AUTO_ONLY" = "true"; then
\trdnames
    fi
    echo -n "Shutting down Xen domains:"
    name=;id=
    while read LN; do
\tparseln "$LN" || continue
\tif test $id = 0; then continue; fi
\techo -n " $name"
\tif test "$XENDOMAINS_AUTO_ONLY" = "true"; then
\t    case $name in
\t\t($NAMES)
\t\t    # nothing
\t\t    ;;
\t\t(*)
\t\t    echo -n "(skip)"
\t\t    continue
\t\t    ;;
\t    esac
\tfi
\t# XENDOMAINS_SYSRQ chould be something like just "s"\x20
\t# or "s e i u" or even "s e s i u o"
\t# for the latter, you should set XENDOMAINS_USLEEP to 1200000 or so
\tif test -n "$XENDOMAINS_SYSRQ"; then
\t    for sysrq in $XENDOMAINS_SYSRQ; do
\t\techo -n "(SR-$sysrq)"
\t\txm sysrq $id $sysrq
\t\tif test $? -ne 0; then
\t\t    rc_failed $?
\t\t    echo -n '!'
\t\tfi
\t\t# usleep just ignores empty arg
\t\tusleep $XENDOMAINS_USLEEP
\t    done
\tfi
\tif test "$state" = "-b---d" -o "$state" = "-----d"; then
\t    echo -n "(zomb)"
\t    continue
\tfi
\tif test -n "$XENDOMAINS_MIGRATE"; then
\t    echo -n "(migr)"
\t    watchdog_xm migrate &
\t    WDOG_PID=$!
\t    xm migrate $id $XENDOMAINS_MIGRATE
\t    if test $? -ne 0; then
\t\trc_failed $?
\t\techo -n '!'
\t\tkill $WDOG_PID >/dev/null 2>&1
\t    else
\t\tkill $WDOG_PID >/dev/null 2>&1
\t\tcontinue
\t    fi
\tfi
\tif test -n "$XENDOMAINS_SAVE"; then
\t    echo -n "(save)"
\t    watchdog_xm save &
\t    WDOG_PID=$!
\t    mkdir -p "$XENDOMAINS_SAVE"
\t    xm save $id $XENDOMAINS_SAVE/$name
\t    if test $? -ne 0; then
\t\trc_failed $?
\t\techo -n '!'
\t\tkill $WDOG_PID >/dev/null 2>&1
\t    else
\t\tkill $WDOG_PID >/dev/null 2>&1
\t\tcontinue
\t    fi
\tfi
\tif test -n "$XENDOMAINS_SHUTDOWN"; then
\t    # XENDOMAINS_SHUTDOWN should be "--halt --wait"
\t    echo -n "(shut)"
\t    watchdog_xm shutdown &
\t    WDOG_PID=$!
\t    xm shutdown $id $XENDOMAINS_SHUTDOWN
\t    if test $? -ne 0; then
\t\trc_failed $?
\t\techo -n '!'
\t    fi
\t    kill $WDOG_PID >/dev/null 2>&1
\tfi
    done < <(xm list -l | grep '(\\(domain\\|domid\\|name\\)')

    # NB. this shuts down ALL Xen domains (politely), not just the ones in
    # AUTODIR/*
    # This is because it's easier to do ;-) but arguably if this script is run
    # on system shutdown then it's also the right thing to do.
    if ! all_zombies && test -n "$XENDOMAINS_SHUTDOWN_ALL"; then
\t# XENDOMAINS_SHUTDOWN_ALL should be "--all --halt --wait"
\techo -n " SHUTDOWN_ALL "
\twatchdog_xm shutdown 1 &
\tWDOG_PID=$!
\txm shutdown $XENDOMAINS_SHUTDOWN_ALL
\tif test $? -ne 0; then
\t    rc_failed $?
\t    echo -n '!'
\tfi
\tkill $WDOG_PID >/dev/null 2>&1
    fi

    # Unconditionally delete lock file
    rm -f $LOCKFILE
}

check_domain_up()
{
    name=;id=
    while read LN; do
\tparseln "$LN" || continue
\tif test $id = 0; then continue; fi
\tcase $name in\x20
\t    ($1)
\t\treturn 0
\t\t;;
\tesac
    done < <(xm list -l | grep '(\\(domain\\|domid\\|name\\)')
    return 1
}

check_all_auto_domains_up()
{
    if ! contains_something "$XENDOMAINS_AUTO"
    then
      return 0
    fi
    missing=
    for nm in $XENDOMAINS_AUTO/*; do
\trdname $nm
\tfound=0
\tif check_domain_up "$NM"; then\x20
\t    echo -n " $name"
\telse\x20
\t    missing="$missing $NM"
\tfi
    done
    if test -n "$missing"; then
\techo -n " MISS AUTO:$missing"
\treturn 1
    fi
    return 0
}

check_all_saved_domains_up()
{
    if ! contains_something "$XENDOMAINS_SAVE"\x20
    then
      return 0
    fi
    missing=`/bin/ls $XENDOMAINS_SAVE`
    echo -n " MISS SAVED: " $missing
    return 1
}

# This does NOT necessarily restart all running domains: instead it
# stops all running domains and then boots all the domains specified in
# AUTODIR.  If other domains have been started manually then they will
# not get restarted.
# Commented out to avoid confusion!

restart()
{
    stop
    start
}

reload()
{
    restart
}


case "$1" in
    start)
\tstart
\trc_status
\tif test -f $LOCKFILE; then rc_status -v; fi
\t;;

    stop)
\tstop
\trc_status -v
\t;;

    restart)
\trestart
\t;;
    reload)
\treload
\t;;

    status)
\techo -n "Checking for xendomains:"\x20
\tif test ! -f $LOCKFILE; then\x20
\t    rc_failed 3
\telse
\t    check_all_auto_domains_up
\t    rc_status
\t    check_all_saved_domains_up
\t    rc_status
\tfi
\trc_status -v
\t;;

    *)
\techo "Usage: $0 {start|stop|restart|reload|status}"
\trc_failed 3
\trc_status -v
\t;;
esac

rc_exit
"""

XENDOMAINS_DEFAULT = """\
## Path: System/xen
## Description: xen domain start/stop on boot
## Type: string
## Default:\x20
#
# The xendomains script can send SysRq requests to domains on shutdown.
# If you don't want to MIGRATE, SAVE, or SHUTDOWN, this may be a possibility
# to do a quick and dirty shutdown ("s e i u o") or at least sync the disks
# of the domains ("s").
#
XENDOMAINS_SYSRQ=""

## Type: integer\x20
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
# is set (see below). Leave empty to disable domain saving on shutdown\x20
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
#\x20
XENDOMAINS_SHUTDOWN_ALL="--all --halt --wait"

## Type: boolean
## Default: true
#
# This variable determines whether saved domains from XENDOMAINS_SAVE
# will be restored on system startup.\x20
#
XENDOMAINS_RESTORE=true

## Type: string
## Default: /etc/xen/auto
#
# This variable sets the directory where domains configurations
# are stored that should be started on system startup automatically.
# Leave empty if you don't want to start domains automatically
# (or just don't place any xen domain config files in that dir).
# Note that the script tries to be clever if both RESTORE and AUTO are\x20
# set: It will first restore saved domains and then only start domains
# in AUTO which are not running yet.\x20
# Note that the name matching is somewhat fuzzy.
#
XENDOMAINS_AUTO=/etc/xen/auto

## Type: boolean
## Default: false
#\x20
# If this variable is set to "true", only the domains started via config\x20
# files in XENDOMAINS_AUTO will be treated according to XENDOMAINS_SYSRQ,
# XENDOMAINS_MIGRATE, XENDOMAINS_SAVE, XENDMAINS_SHUTDOWN; otherwise
# all running domains will be.\x20
# Note that the name matching is somewhat fuzzy.
#\x20
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
# Note that SHUTDOWN_ALL will not be called if no virtual machines or only
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
