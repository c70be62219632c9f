"""Pid 1 of a lab node: mounts the node's own filesystem, "boots" it, reaps, reboots.

Started by the manager as
``ip netns exec LAB-NODE unshare --uts --mount --pid --fork --kill-child --propagation private
--mount-proc /usr/bin/python3 -I .../node_init.py --lab LAB --node NODE --dir NODE_DIR ...``.
Stdlib only and run as a script: after the mounts /root, /usr and /var are the node's, so
nothing may be imported lazily from the project.

Boot sequence (:func:`boot`, re-run on reboot): kernel selection hook, hostname from
/etc/hostname, lo up, ``ifup -a``, the node's /etc/rc2.d/S* scripts, boot id and counter in the
node state folder (inside the node: /usr/lib/runbook-lab/node), /proc/version and the kernel's
osrelease/version sysctls covered with the booted kernel's texts.
Signals: SIGUSR1 reboot, SIGUSR2 or SIGTERM power off (the whole pid namespace dies with us).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from typing import Any

MS_RDONLY = 1
MS_NOSUID = 2
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MNT_DETACH = 2
PR_SET_NAME = 15
LAB_DIR = "/usr/lib/runbook-lab"
PYTHON = "/usr/bin/python3"
STORAGE_BOOT = f"{LAB_DIR}/sim/storage_boot.py"
WATCHDOG = f"{LAB_DIR}/sim/watchdog_softdog.py"  # /dev/watchdog (softdog), from boot on
SYSLOGD = f"{LAB_DIR}/sim/sysklogd.py"  # /dev/log -> /var/log/syslog, messages, ...
MENU_LST = "/boot/grub/menu.lst"
TOTAL_MB = 2047  # the node's RAM (xm info total_memory)
BOOT_ID = "/proc/sys/kernel/random/boot_id"
MAX_LOOP = "/sys/module/loop/parameters/max_loop"
HYPERVISOR_SOCK = "xen.sock"
NODE: dict[str, str] = {}
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C",
    "TERM": "dumb",
}
SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)

_libc = ctypes.CDLL(None, use_errno=True)


def log(message: str) -> None:
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} init: {message}\n")
    sys.stdout.flush()


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target} ({fstype}): {os.strerror(err)}")


def umount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def set_title(title: str) -> None:
    _libc.prctl(PR_SET_NAME, title.encode()[:15], 0, 0, 0)


def fd_path(path: str) -> str:
    """A handle on ``path`` that survives it being covered by a later mount."""
    return f"/proc/self/fd/{os.open(path, os.O_PATH | os.O_DIRECTORY)}"


def setup_mounts(node_dir: str, sim_dir: str, cluster_dir: str) -> None:
    src = {
        "etc": fd_path("/etc"),
        "usr": fd_path("/usr"),
        "sim": fd_path(sim_dir),
        "cluster": fd_path(cluster_dir),
    }
    for sub in ("etc-upper", "etc-work", "usr-upper", "usr-work", "var", "root", "state",
                "boot"):
        if sub == "boot" and not (os.path.isdir("/boot") and os.path.isdir(f"{node_dir}/boot")):
            log("no /boot mount point on this machine: the node has no own /boot")
            continue
        src[sub] = fd_path(os.path.join(node_dir, sub))
    for layer in ("etc", "usr"):
        mount("overlay", f"/{layer}", "overlay", 0,
              f"lowerdir={src[layer]},upperdir={src[layer + '-upper']},"
              f"workdir={src[layer + '-work']}")
    binds = (("sim", f"{LAB_DIR}/sim", True), ("cluster", f"{LAB_DIR}/cluster", False),
             ("state", f"{LAB_DIR}/node", False), ("usr", f"{LAB_DIR}/host-usr", True),
             ("etc", f"{LAB_DIR}/host-etc", True), ("var", "/var", False),
             ("root", "/root", False), ("boot", "/boot", False))
    for key, target, readonly in binds:
        if key not in src:
            continue
        mount(src[key], target, None, MS_BIND)
        if readonly:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    fresh_tmpfs()
    setup_dev()


# The node's own /dev: character devices with the host's numbers (read once, before /dev is
# covered), a private devpts instance so sshd allocates PTYs, /dev/shm, the fd symlinks.
CHAR_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_HOST_RDEV: dict[str, int] = {}


def host_devices() -> dict[str, int]:
    if not _HOST_RDEV:
        for name in CHAR_DEVICES:
            with contextlib.suppress(OSError):
                _HOST_RDEV[name] = os.stat(f"/dev/{name}").st_rdev
    return _HOST_RDEV


def setup_dev() -> None:
    """Mount a fresh /dev (at every boot: udev rebuilds /dev on a real node too)."""
    devices = host_devices()
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755")
    old = os.umask(0)
    try:
        for name, rdev in devices.items():
            os.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, rdev)
        os.mkdir("/dev/pts", 0o755)
        mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=620,gid=5")
        os.symlink("pts/ptmx", "/dev/ptmx")
        os.mkdir("/dev/shm", 0o1777)
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID, "mode=1777")
    finally:
        os.umask(old)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                         ("core", "/proc/kcore")):
        os.symlink(target, f"/dev/{link}")


def fresh_tmpfs() -> None:
    for target, mode in (("/run", "0755"), ("/tmp", "1777")):
        mount("tmpfs", target, "tmpfs", 0, f"mode={mode}")
    for sub in ("network", "lock", "sshd", "shm"):
        os.makedirs(f"/run/{sub}", exist_ok=True)
    os.chmod("/run/lock", 0o1777)


def unblock_signals() -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def run(argv: list[str], timeout: float = 60) -> int:
    """Run a boot command with the console as its output; never raises."""
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stdout,
                                stderr=subprocess.STDOUT, env=ENV, cwd="/",
                                preexec_fn=unblock_signals)  # pid 1 has a single thread
    except OSError as exc:
        log(f"{argv[0]}: {exc}")
        return 127
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"{' '.join(argv)}: still running after {timeout:.0f}s, left in background")
        return 124


# The boot-time daemons standing in for kernel parts (syslog socket, softdog): started at boot,
# started again by the main loop if one dies, as a kernel's own never would.
DAEMONS: dict[str, subprocess.Popen[bytes]] = {}


def spawn(argv: list[str]) -> None:
    """Start a boot-time daemon of the node (reaped by the main loop); never raises."""
    sys.stdout.flush()
    try:
        DAEMONS[argv[-1]] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=subprocess.STDOUT,
            env=ENV, cwd="/", preexec_fn=unblock_signals, start_new_session=True)
    except OSError as exc:
        log(f"{argv[0]}: {exc}")


def respawn_daemons() -> None:
    for path, proc in list(DAEMONS.items()):
        if proc.poll() is not None:  # reaped by reap() or not: poll() says it is gone
            log(f"{os.path.basename(path)} died; started again")
            spawn([PYTHON, path])


def read_first_line(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip() or default
    except OSError:
        return default


def write_text(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)


def load_sim(name: str) -> Any:
    """A module of the node's sim folder (stdlib only), e.g. update_grub."""
    spec = importlib.util.spec_from_file_location(name, f"{LAB_DIR}/sim/{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def select_kernel() -> dict[str, Any]:
    """What grub boots: the ``default`` entry of /boot/grub/menu.lst (a Xen entry boots the
    hypervisor with the -xen kernel as dom0). ``kernel-next`` in the node state, if present,
    overrides the menu (a test hook); without a usable menu the node's install kernel boots.

    The choice is recorded in the node state (``kernel-running``, ``hypervisor``, ``dom0_mem``,
    ``boot.json``): the simulated ``uname -r``, ``xm`` and xend read it.
    """
    state = f"{LAB_DIR}/node"
    boot: dict[str, Any] = {"kernel": read_first_line(f"{state}/kernel", "2.6.24-19-server"),
                            "hypervisor": None, "dom0_mem": TOTAL_MB, "title": None,
                            "cmdline": "", "xen_cmdline": ""}
    override = read_first_line(f"{state}/kernel-next")
    if override:
        boot["kernel"] = override
    else:
        try:
            grub = load_sim("update_grub")
            with open(MENU_LST, encoding="utf-8") as fh:
                choice = grub.choose_entry(grub.parse_menu(fh.read()), "/", TOTAL_MB)
        except (OSError, ImportError, SyntaxError) as exc:
            log(f"grub: {exc}; booting the installed kernel")
            choice = None
        if choice is not None:
            if choice.problem:
                log(f"grub: {choice.problem}; booting {choice.title!r} instead")
            boot.update(kernel=choice.release, hypervisor=choice.hypervisor,
                        dom0_mem=choice.dom0_mem, title=choice.title, cmdline=choice.cmdline,
                        xen_cmdline=choice.xen_cmdline)
    write_text(f"{state}/kernel-running", boot["kernel"] + "\n")
    if boot["hypervisor"]:  # xend's init script looks here instead of /proc/xen/capabilities
        write_text(f"{state}/hypervisor", f"{boot['hypervisor']}\n")
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{state}/hypervisor")
    write_text(f"{state}/dom0_mem", f"{boot['dom0_mem']}\n")
    return boot


def max_loop() -> int:
    """``loop max_loop=N`` in /etc/modules (the loop module's parameter at boot), default 8."""
    value = 8
    try:
        with open("/etc/modules", encoding="utf-8") as fh:
            for line in fh:
                words = line.split("#", 1)[0].split()
                if words and words[0] == "loop":
                    for word in words[1:]:
                        if word.startswith("max_loop=") and word[9:].isdigit():
                            value = int(word[9:])
    except OSError:
        pass
    return value


def bind_file(source: str, target: str) -> None:
    """Cover ``target`` (a sysfs/procfs file) with ``source``; a previous cover goes first."""
    if not os.path.exists(target):
        log(f"{target} does not exist here; not simulated")
        return
    with contextlib.suppress(OSError):
        while True:  # drop every earlier cover (one per boot)
            umount(target)
    try:
        mount(source, target, None, MS_BIND)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    except OSError as exc:
        log(str(exc))


def cover_kernel_texts(kernel: str) -> None:
    """/proc/version and the kernel.osrelease/version sysctls of the booted kernel (the era's
    texts from sim/uname.py), so uname and procfs never show the control machine's kernel."""
    try:
        texts = load_sim("uname").proc_texts(kernel)
    except (OSError, ImportError, SyntaxError, AttributeError) as exc:
        log(f"kernel texts: {exc}")
        return
    for target, text in texts.items():
        source = f"{LAB_DIR}/node/proc{target.replace('/', '_')}"
        write_text(source, text)
        bind_file(source, target)


def notify_hypervisor(op: str) -> None:
    """Tell the lab's hypervisor (on the host) that this node's dom0 went away or booted: the
    DomUs of a rebooting node die with it."""
    path = f"{LAB_DIR}/cluster/{HYPERVISOR_SOCK}"
    if not os.path.exists(path):
        return
    request = {"op": op, "node": NODE["name"], "boot_id": NODE.get("boot_id", "")}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.recv(65536)
    except OSError as exc:
        log(f"hypervisor: {exc}")


def boot() -> None:
    state = f"{LAB_DIR}/node"
    count = int(read_first_line(f"{state}/boot_count", "0") or 0) + 1
    boot_id = str(uuid.uuid4())
    NODE["boot_id"] = boot_id
    write_text(f"{state}/boot_id", f"{boot_id}\n")
    bind_file(f"{state}/boot_id", BOOT_ID)
    choice = select_kernel()
    kernel = choice["kernel"]
    cover_kernel_texts(kernel)
    hostname = read_first_line("/etc/hostname", "localhost")
    socket.sethostname(hostname)
    xen = f", Xen {choice['hypervisor']}, dom0_mem {choice['dom0_mem']}M" \
        if choice["hypervisor"] else ""
    log(f"booting {hostname} (kernel {kernel}{xen})")
    loops = max_loop()
    write_text(f"{state}/max_loop", f"{loops}\n")
    bind_file(f"{state}/max_loop", MAX_LOOP)
    write_text(f"{state}/boot.json", json.dumps(
        {**choice, "node": NODE["name"], "boot_id": boot_id, "boot_count": count, "max_loop": loops,
         "booted_at": time.time()}, indent=1) + "\n")
    notify_hypervisor("node_boot")
    run(["ip", "link", "set", "lo", "up"])
    for daemon in (SYSLOGD, WATCHDOG):  # before any rc script logs or opens /dev/watchdog
        if os.path.exists(daemon):
            spawn([PYTHON, daemon])
    if os.path.exists(STORAGE_BOOT):  # disks, partitions, LVs of the node (storage sim)
        run([PYTHON, STORAGE_BOOT], timeout=60)
    run(["ifup", "-a"], timeout=90)
    rc = "/etc/rc2.d"
    for name in sorted(os.listdir(rc)) if os.path.isdir(rc) else []:
        path = os.path.join(rc, name)
        if name.startswith("S") and os.access(path, os.X_OK):
            run([path, "start"])
    write_text(f"{state}/boot_count", f"{count}\n")
    log(f"boot {count} done")


def reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return


def kill_all() -> None:
    """Kill every other process of the node (pid 1 survives kill(-1))."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


FUSE_SUPER_MAGIC = 0x65735546


def drop_fuse_proc() -> None:
    """The DRBD module's /proc view (sim/drbd_procfs.py, a FUSE mount over /proc) dies with the
    module: detach it, and its bind of the real procfs, so the real /proc shows again."""
    buf = ctypes.create_string_buffer(256)
    dead = _libc.statfs(b"/proc", buf) != 0  # ENOTCONN: its server was killed
    if dead or int.from_bytes(buf.raw[:8], sys.byteorder) == FUSE_SUPER_MAGIC:
        for target in ("/proc", f"{LAB_DIR}/proc"):
            with contextlib.suppress(OSError):
                umount(target)


def reset_node() -> None:
    """What a power cycle loses: volatile filesystems, addresses, routes."""
    drop_fuse_proc()
    for target in ("/tmp", "/run", "/dev"):
        with contextlib.suppress(OSError):
            umount(target)
    fresh_tmpfs()
    setup_dev()
    for iface in sorted(os.listdir("/sys/class/net")):
        run(["ip", "link", "set", iface, "down"])
        run(["ip", "addr", "flush", "dev", iface])
        if iface != "lo":  # the cable stays plugged in: link up, no address until ifup
            run(["ip", "link", "set", iface, "up"])
    run(["ip", "route", "flush", "table", "main"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--dir", required=True, help="the node's folder in the lab state dir")
    parser.add_argument("--sim", required=True)
    parser.add_argument("--cluster", required=True)
    args = parser.parse_args(argv)
    if os.getpid() != 1:
        log("must run as pid 1 of a new pid namespace")
        return 2
    set_title(f"{args.lab}-{args.node}")
    NODE["name"] = args.node
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    os.environ.clear()
    os.environ.update(ENV)
    host_devices()
    setup_mounts(args.dir, args.sim, args.cluster)
    os.chdir("/")
    boot()
    while True:
        info = signal.sigtimedwait(SIGNALS, 5.0)
        reap()
        respawn_daemons()
        if info is None or info.si_signo == signal.SIGCHLD:
            continue
        if info.si_signo == signal.SIGUSR1:
            log("reboot requested")
            DAEMONS.clear()
            kill_all()
            notify_hypervisor("node_down")
            time.sleep(2)
            reset_node()
            boot()
        else:
            log(f"power off ({signal.Signals(info.si_signo).name})")
            kill_all()
            notify_hypervisor("node_down")
            return 0


if __name__ == "__main__":
    sys.exit(main())
