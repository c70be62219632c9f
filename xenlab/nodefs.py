"""The on-disk skeleton of a fresh node: overlay upper layers for /etc and /usr, /var, /root.

A fresh node looks like Ubuntu 8.04 server right after installation plus ``apt-get install
ssh``. The host's /etc and /usr are the lower layers; what the node must not inherit (packages
it does not have, the host's init scripts and host keys) is hidden with overlay whiteouts
(character device 0/0) and opaque directories (xattr ``trusted.overlay.opaque=y``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType

from xenlab.layout import SIM_DIR

HOSTS = """\
127.0.0.1\tlocalhost
127.0.1.1\t{node}

# The following lines are desirable for IPv6 capable hosts
::1     ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
"""

INTERFACES = """\
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
auto eth0
iface eth0 inet dhcp
"""

SSHD_CONFIG = """\
# sshd_config of a lab node (written by the lab at creation; the node owns it afterwards)
Port 22
ListenAddress 0.0.0.0
Protocol 2
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
PidFile /run/sshd.pid
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""

# Messages as Ubuntu 8.04's lsb-base prints them off a terminal: " * MESSAGE", "   ...done."
SSH_INIT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          sshd
# Required-Start:    $network
# Default-Start:     2 3 4 5
# Default-Stop:
# Short-Description: OpenBSD Secure Shell server
### END INIT INFO

PIDFILE=/var/run/sshd.pid
test -x /usr/sbin/sshd || exit 0

running() {
\t[ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null
}

case "$1" in
  start)
\techo " * Starting OpenBSD Secure Shell server sshd"
\tmkdir -p /var/run/sshd
\tif ! running; then
\t\t/usr/sbin/sshd -t || exit 1
\t\tsetsid /usr/sbin/sshd -D -e </dev/null >>/var/log/sshd.log 2>&1 &
\t\tfor i in 1 2 3 4 5 6 7 8 9 10; do running && break; sleep 0.1; done
\tfi
\techo "   ...done."
\t;;
  stop)
\techo " * Stopping OpenBSD Secure Shell server sshd"
\trunning && kill "$(cat $PIDFILE)"
\trm -f $PIDFILE
\techo "   ...done."
\t;;
  reload|force-reload|restart)
\techo " * Restarting OpenBSD Secure Shell server sshd"
\t/usr/sbin/sshd -t || exit 1
\tif running; then kill -HUP "$(cat $PIDFILE)"; else "$0" start >/dev/null; fi
\techo "   ...done."
\t;;
  status)
\tif running; then echo " * sshd is running"; exit 0; fi
\techo " * sshd is not running"; exit 3
\t;;
  *)
\techo "Usage: /etc/init.d/ssh {start|stop|reload|force-reload|restart|status}"
\texit 1
esac
exit 0
"""

# Power commands of the node: its init (pid 1 of the node) reboots on SIGUSR1, halts on SIGUSR2.
REBOOT = """\
#!/bin/sh
# lab node: ask the node's init to reboot (SIGUSR1) or power off (SIGUSR2)
case "$(basename "$0")" in
  halt|poweroff) sig=USR2 ;;
  shutdown) sig=USR2; for a in "$@"; do [ "$a" = "-r" ] && sig=USR1; done ;;
  *) sig=USR1 ;;
esac
echo
echo "Broadcast message from root@$(hostname)"
echo
echo "The system is going down for $( [ $sig = USR1 ] && echo reboot || echo halt ) NOW!"
sync
kill -$sig 1
"""

# /lib/lsb/init-functions of a node (on a merged-/usr machine /lib is /usr/lib): the control
# machine's LSB process functions (pidofproc, killproc, start_daemon: the same LSB 3.2 semantics)
# with Ubuntu 8.04's messages as lsb-base's /etc/lsb-base-logging.sh prints them off a terminal
# (init scripts run by a runbook have no terminal): " * MESSAGE", then "   ...done."/"...fail!".
LSB_INIT_FUNCTIONS = """\
# /lib/lsb/init-functions (lab node: Ubuntu 8.04 messages, the host's LSB process functions)
. /usr/lib/runbook-lab/host-usr/lib/lsb/init-functions

log_use_fancy_output() { return 1; }
log_success_msg() { echo " * $@"; }
log_failure_msg() { echo " * $@"; }
log_warning_msg() { echo " * $@"; }
log_begin_msg() {
    if [ -z "${1:-}" ]; then return 1; fi
    echo " * $@"
}
log_daemon_msg() {
    if [ -z "${1:-}" ]; then return 1; fi
    if [ -z "${2:-}" ]; then log_begin_msg "$1"; return; fi
    log_begin_msg "$1 $2"
}
log_progress_msg() { :; }
log_end_msg() {
    if [ -z "${1:-}" ]; then return 1; fi
    if [ "$1" -eq 0 ]; then echo "   ...done."; else echo "   ...fail!"; fi
    return $1
}
log_action_msg() { echo " * $@"; }
log_action_begin_msg() { log_begin_msg "$@"; }
log_action_end_msg() { log_end_msg "$@"; }
"""

# `ip address ...` goes through sim/ip_era.py (no IPv4 lifetimes, as on 2.6.24); every other
# ip command is the host's iproute2 itself. Options before the object are skipped (-f takes one).
IP_WRAPPER = """\
#!/bin/sh
real=/usr/lib/runbook-lab/host-usr/bin/ip
skip=
for arg in "$@"; do
	if [ -n "$skip" ]; then skip=; continue; fi
	case "$arg" in
		-f|-family|-n|-netns|-b|-batch|-rc|-rcvbuf) skip=1 ;;
		-*) ;;
		a|ad|add|addr|addre|addres|address)
			exec /usr/bin/python3 /usr/lib/runbook-lab/sim/ip_era.py "$@" ;;
		*) break ;;
	esac
done
exec $real "$@"
"""

MODULES = """\
# /etc/modules: kernel modules to load at boot time.
#
# This file contains the names of kernel modules that should be loaded
# at boot time, one per line. Lines beginning with "#" are ignored.

lp
loop
"""

LSB_RELEASE = """\
DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=8.04
DISTRIB_CODENAME=hardy
DISTRIB_DESCRIPTION="Ubuntu 8.04.4 LTS"
"""

RC_DIRS = ("rc0.d", "rc1.d", "rc2.d", "rc3.d", "rc4.d", "rc5.d", "rc6.d", "rcS.d")
OPAQUE_ETC = ("init.d", *RC_DIRS, "network/if-up.d", "network/if-down.d",
              "network/if-pre-up.d", "network/if-post-down.d", "network/interfaces.d")
HIDDEN_ETC = ("ssh/ssh_host_rsa_key", "ssh/ssh_host_rsa_key.pub", "ssh/ssh_host_ecdsa_key",
              "ssh/ssh_host_ecdsa_key.pub", "ssh/sshd_config.d", "motd")
HIDDEN_USR = ("bin/apt", "bin/apt-cache", "bin/apt-mark", "bin/aptitude")
NODE_USR_DIRS = ("lib/runbook-lab/sim", "lib/runbook-lab/cluster", "lib/runbook-lab/node",
                 "lib/runbook-lab/host-usr", "lib/runbook-lab/host-etc")


@cache
def sim_module(name: str) -> ModuleType:
    """Load one of the in-node sim modules (stdlib only) by path."""
    if str(SIM_DIR) not in sys.path:
        sys.path.append(str(SIM_DIR))
    spec = importlib.util.spec_from_file_location(name, SIM_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def resolve_host_path(path: str) -> str:
    """A dpkg path on the host with merged-/usr symlinks resolved (/sbin/x -> /usr/sbin/x)."""
    parent, base = os.path.split(path.rstrip("/") or "/")
    return os.path.join(os.path.realpath(parent), base)


def host_package_files(names: Iterable[str]) -> set[str]:
    """Paths (resolved) of the host's installed Debian packages among ``names``."""
    found: set[str] = set()
    for name in names:
        result = subprocess.run(["dpkg-query", "-L", name], capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            continue
        for line in result.stdout.splitlines():
            if line.startswith("/") and line not in ("/.", "/"):
                found.add(resolve_host_path(line))
    return found


def hidden_host_paths(extra: Iterable[str] = ()) -> list[str]:
    """Host paths a fresh node must not see, minimal: a covered folder hides its content."""
    packages = sim_module("packages")
    wanted = host_package_files(packages.HIDDEN_HOST_PACKAGES)
    wanted.update(resolve_host_path(p) for p in packages.all_paths())
    wanted.update(extra)
    wanted = {p for p in wanted if os.path.lexists(p)}
    memo: dict[str, bool] = {}

    def covered(path: str) -> bool:
        if path in memo:
            return memo[path]
        ok = path in wanted
        if ok and os.path.isdir(path) and not os.path.islink(path):
            ok = all(covered(os.path.join(path, e)) for e in os.listdir(path))
        memo[path] = ok
        return ok

    result: list[str] = []
    for path in sorted(wanted):
        if not covered(path):
            continue
        if _under(path, result):
            continue
        result.append(path)
    return [p for p in result if p.startswith(("/etc/", "/usr/"))]


def _under(path: str, chosen: list[str]) -> bool:
    parent = os.path.dirname(path)
    while parent not in ("/", ""):
        if parent in chosen:
            return True
        parent = os.path.dirname(parent)
    return False


def upper_dir(upper: Path, lower: Path, rel: str) -> Path:
    """Create ``upper/rel`` (and its parents) with the owner and mode of ``lower/rel``."""
    target = upper
    source = lower
    for part in Path(rel).parts:
        target = target / part
        source = source / part
        if not target.exists():
            target.mkdir()
            try:
                st = source.stat()
                os.chmod(target, stat.S_IMODE(st.st_mode))
                os.chown(target, st.st_uid, st.st_gid)
            except FileNotFoundError:
                os.chmod(target, 0o755)
    return target


def whiteout(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def opaque(path: Path) -> None:
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def dpkg_status() -> str:
    """The fresh node's /var/lib/dpkg/status: the base system plus ssh."""
    packages = sim_module("packages")
    dpkgdb = sim_module("dpkgdb")
    stanzas = [packages.base_stanza(*entry) for entry in packages.BASE_PACKAGES]
    return str(dpkgdb.render_status(stanzas))


def build_etc(upper: Path, node: str, host_key: Path, hidden: list[str]) -> None:
    etc = Path("/etc")
    for rel in OPAQUE_ETC:
        opaque(upper_dir(upper, etc, rel))
    write(upper / "hostname", f"{node}\n")
    write(upper / "hosts", HOSTS.format(node=node))
    write(upper / "network/interfaces", INTERFACES)
    # No DNS server in the lab: point the resolver at the node's own loopback, where nothing
    # listens, so lookups of unknown names fail at once instead of timing out (and no query
    # ever leaves the lab for the control machine's resolver).
    write(upper / "resolv.conf", "# lab node: no DNS server on the lab LAN\nnameserver 127.0.0.1\n")
    write(upper / "lsb-release", LSB_RELEASE)
    write(upper / "issue", "Ubuntu 8.04.4 LTS \\n \\l\n\n")
    write(upper / "issue.net", "Ubuntu 8.04.4 LTS\n")
    write(upper / "debian_version", "lenny/sid\n")
    write(upper / "modules", MODULES)
    upper_dir(upper, etc, "ssh")
    write(upper / "ssh/sshd_config", SSHD_CONFIG)
    shutil.copy2(host_key, upper / "ssh/ssh_host_ed25519_key")
    shutil.copy2(host_key.with_suffix(".pub"), upper / "ssh/ssh_host_ed25519_key.pub")
    os.chmod(upper / "ssh/ssh_host_ed25519_key", 0o600)
    dhclient = Path("/etc/dhcp/dhclient.conf")
    if dhclient.exists():
        upper_dir(upper, etc, "dhcp")
        write(upper / "dhcp/dhclient.conf",
              "# lab node: the lab LAN has no DHCP server, give up quickly\ntimeout 3;\n"
              + dhclient.read_text(encoding="utf-8"))
    write(upper / "init.d/ssh", SSH_INIT, 0o755)
    for level in "2345":
        (upper / f"rc{level}.d" / "S16ssh").symlink_to("../init.d/ssh")
    for rel in HIDDEN_ETC:
        if (etc / rel).exists():
            upper_dir(upper, etc, str(Path(rel).parent))
            whiteout(upper / rel)
    for path in hidden:
        if path.startswith("/etc/"):
            rel = path[len("/etc/"):]
            if any(rel == d or rel.startswith(d + "/") for d in OPAQUE_ETC):
                continue
            upper_dir(upper, etc, str(Path(rel).parent))
            whiteout(upper / rel)


def sim_wrapper(script: str, *args: str) -> str:
    """A node command that runs one of the sims on the node's python."""
    fixed = "".join(f" {a}" for a in args)
    return f'#!/bin/sh\nexec /usr/bin/python3 /usr/lib/runbook-lab/sim/{script}{fixed} "$@"\n'


def build_usr(upper: Path, hidden: list[str]) -> None:
    usr = Path("/usr")
    for rel in NODE_USR_DIRS:
        upper_dir(upper, usr, rel)
    upper_dir(upper, usr, "bin")
    upper_dir(upper, usr, "sbin")
    write(upper / "bin/apt-get", sim_wrapper("apt_get.py"), 0o755)
    write(upper / "bin/ip", IP_WRAPPER, 0o755)
    upper_dir(upper, usr, "lib/lsb")
    write(upper / "lib/lsb/init-functions", LSB_INIT_FUNCTIONS)
    # uname reads the booted kernel from the procfs files the node's init covers (sim/uname.py)
    write(upper / "bin/uname", sim_wrapper("uname.py"), 0o755)
    write(upper / "sbin/update-grub", sim_wrapper("update_grub.py"), 0o755)
    for prog in ("dpkg", "dpkg-query"):  # the host's dpkg, 1.14's version and messages
        write(upper / "bin" / prog, sim_wrapper("dpkg_era.py", prog), 0o755)
    for cmd in ("reboot", "halt", "poweroff", "shutdown"):
        target = upper / "sbin" / cmd
        write(target, REBOOT, 0o755)
    for rel in HIDDEN_USR:
        if (usr / rel).exists():
            whiteout(upper / rel)
    for path in hidden:
        if path.startswith("/usr/"):
            rel = path[len("/usr/"):]
            if rel.startswith("lib/runbook-lab"):
                continue
            upper_dir(upper, usr, str(Path(rel).parent))
            whiteout(upper / rel)


def build_var(var: Path) -> None:
    for rel in ("log", "lib/dpkg/info", "lib/dpkg/updates", "lib/dpkg/triggers", "lib/dhcp",
                "lib/misc", "lib/apt/lists/partial", "cache/apt/archives/partial", "spool",
                "backups", "mail", "local", "opt", "lib/ntp"):
        (var / rel).mkdir(parents=True, exist_ok=True)
    (var / "tmp").mkdir(exist_ok=True)
    os.chmod(var / "tmp", 0o1777)
    (var / "run").symlink_to("/run")
    (var / "lock").symlink_to("/run/lock")
    write(var / "lib/dpkg/status", dpkg_status())
    write(var / "lib/dpkg/available", "")
    for log in ("syslog", "messages", "dmesg", "auth.log"):
        write(var / "log" / log, "", 0o640)
    for log in ("lastlog", "wtmp"):  # sshd records logins on a PTY here
        write(var / "log" / log, "", 0o664)
    write(var / "log/btmp", "", 0o600)


def build_root(root: Path, client_pubkey: str) -> None:
    root.mkdir(mode=0o700, exist_ok=True)
    for name in (".bashrc", ".profile"):
        skel = Path("/etc/skel") / name
        if skel.exists():
            shutil.copy2(skel, root / name)
    ssh = root / ".ssh"
    ssh.mkdir(mode=0o700)
    write(ssh / "authorized_keys", client_pubkey if client_pubkey.endswith("\n")
          else client_pubkey + "\n", 0o600)


def build_boot(boot: Path, kernel: str) -> None:
    """/boot of a fresh node: the install kernel, memtest86+ and grub's menu.lst."""
    (boot / "grub").mkdir(parents=True, exist_ok=True)
    for name, text in ((f"vmlinuz-{kernel}", f"lab kernel image {kernel}\n"),
                       (f"initrd.img-{kernel}", f"lab initramfs {kernel}\n"),
                       (f"System.map-{kernel}", ""), (f"config-{kernel}", ""),
                       (f"abi-{kernel}", ""), ("memtest86+.bin", "lab memtest86+\n")):
        write(boot / name, text)
    for name in ("stage1", "stage2", "e2fs_stage1_5"):
        write(boot / "grub" / name, "")
    write(boot / "grub/default", "0\n#\n" + "#\n" * 8)
    grub = sim_module("update_grub")
    write(boot / "grub/menu.lst", str(grub.fresh_menu(str(boot))))


def build_node(node_dir: Path, node: str, host_key: Path, client_pubkey: str,
               hidden: list[str], kernel: str) -> None:
    """Create every folder of a fresh node under ``node_dir``."""
    for sub in ("etc-upper", "etc-work", "usr-upper", "usr-work", "var", "state", "boot"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    build_boot(node_dir / "boot", kernel)
    build_etc(node_dir / "etc-upper", node, host_key, hidden)
    build_usr(node_dir / "usr-upper", hidden)
    build_var(node_dir / "var")
    build_root(node_dir / "root", client_pubkey)
    write(node_dir / "state/kernel", kernel + "\n")
