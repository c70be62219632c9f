"""Bring a lab up and down, report its status, inject faults.

A lab is two simulated Ubuntu 8.04 dom0 nodes (``ha1``, ``ha2``) on this machine, each a
network + UTS + mount + pid namespace with its own /etc, /usr (overlays on the host's), /var and
/root, a real OpenSSH server, and real ifupdown. The control side reaches each node's sshd on a
127.0.0.1 port through a small forwarder (``forwarder.py``); nothing is ever addressed or routed
in the root network namespace.

Everything a lab creates carries its name: namespaces ``<name>-ha1``, ``<name>-ha2``,
``<name>-lan``, the folder ``<project_root>/.lab/<name>/`` and process titles. ``down`` stops
only processes whose recorded pid and start time still match.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from xenlab import drbd, hypervisor, inventory, nodefs
from xenlab.layout import (
    DEFAULT_LAB,
    DEFAULT_PORT_BASE,
    LAN_GATEWAY,
    NODES,
    PROJECT_ROOT,
    SIM_DIR,
    Paths,
    all_netns,
    check_name,
    netns,
    node_ports,
    port_base_for,
)

__all__ = [
    "DEFAULT_LAB",
    "DEFAULT_PORT_BASE",
    "LabError",
    "LabInfo",
    "LabStatus",
    "NodeStatus",
    "cut_link",
    "disk_seq",
    "domains",
    "domu_last_write",
    "down",
    "fail_disk",
    "kill_heartbeat",
    "power_off",
    "power_on",
    "proc_drbd",
    "reboot",
    "repair_disk",
    "restore_link",
    "status",
    "up",
    "watchdog_events",
]

_T = TypeVar("_T")
REQUIRED_PACKAGES = ("openssh-server", "iproute2", "iputils-ping", "heartbeat", "drbd-utils",
                     "ifupdown")
NODE_PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent
BOOT_TIMEOUT = 60.0
LINKS = {"crossover": "x", "lan": ""}  # lan-namespace peer suffix of each node link

_children: dict[int, subprocess.Popen[bytes]] = {}


class LabError(Exception):
    """A lab operation failed; the message says what to do about it."""


@dataclass
class LabInfo:
    name: str
    state_dir: Path
    inventory_dir: Path
    nodes: dict[str, int]  # node -> ssh port on 127.0.0.1


@dataclass
class NodeStatus:
    node: str
    netns: bool
    init_pid: int | None
    init_alive: bool
    port: int | None
    ssh: bool
    hostname: str | None
    powered_off: bool = False

    @property
    def up(self) -> bool:
        return self.netns and self.init_alive and self.ssh


@dataclass
class LabStatus:
    name: str
    state_dir: Path
    exists: bool
    lan: bool
    nodes: list[NodeStatus] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return self.lan and bool(self.nodes) and all(n.up for n in self.nodes)

    @property
    def state(self) -> str:
        if self.up:
            return "up"
        if not self.exists and not self.lan and not any(n.netns or n.init_alive
                                                        for n in self.nodes):
            return "down"
        return "partial"

    def render(self) -> str:
        lines = [f"lab {self.name}: {self.state} ({self.state_dir})",
                 f"  lan     namespace {netns(self.name, 'lan')}: "
                 f"{'present' if self.lan else 'absent'}"]
        for n in self.nodes:
            init = (f"init pid {n.init_pid} {'alive' if n.init_alive else 'dead'}"
                    if n.init_pid else "init not running")
            if n.powered_off:
                init += " (powered off)"
            port = (f"ssh 127.0.0.1:{n.port} {'answering' if n.ssh else 'not answering'}"
                    if n.port else "ssh -")
            lines.append(f"  {n.node:<7} namespace {'present' if n.netns else 'absent'}, {init}, "
                         f"{port}, hostname {n.hostname or '-'}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- helpers


def _name(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise LabError(str(exc)) from None


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def _preflight() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root: run it with sudo")
    missing = []
    for package in REQUIRED_PACKAGES:
        result = _run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
        if result.returncode != 0 or not result.stdout.endswith(" installed"):
            missing.append(package)
    if missing:
        names = " ".join(missing)
        raise LabError(f"missing Debian packages: {names}; install them with: "
                       f"apt-get install -y {names}")
    for tool in ("ip", "unshare", "nsenter", "ssh-keygen", "/usr/sbin/sshd", NODE_PYTHON):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found; install util-linux, iproute2, openssh-server "
                           "and python3 with apt-get")


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    """Serialize up/down/status of this checkout's labs.

    The lock is taken on the .lab folder itself (flock works on a directory), so `down`
    leaves no lock file behind and no two callers can ever lock different files.
    """
    folder = paths.labs_dir
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _start_time(pid: int) -> str | None:
    """Start time (clock ticks since boot) of a live, non-zombie process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _record(path: Path, pid: int) -> None:
    start = _start_time(pid)
    path.write_text(f"{pid} {start}\n")


def _recorded(path: Path) -> int | None:
    """The recorded pid if that very process (same start time) is still alive."""
    try:
        pid_text, start = path.read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_time(pid) == start else None


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=0.1)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _kill(path: Path) -> int | None:
    """SIGKILL the process recorded in ``path``; returns its pid if it was alive."""
    pid = _recorded(path)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _start_time(pid) is not None and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        _reap(pid)
    path.unlink(missing_ok=True)
    return pid


def _spawn(argv: list[str], log: Path) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
                                close_fds=True)
    _children[proc.pid] = proc
    return proc.pid


def _ns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _ssh_answers(port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _read_meta(paths: Paths) -> dict[str, object]:
    try:
        data = json.loads(paths.meta.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ports_of(paths: Paths) -> dict[str, int]:
    nodes = _read_meta(paths).get("nodes")
    if isinstance(nodes, dict):
        return {str(k): int(v) for k, v in nodes.items()}
    return {}


def _hostname(pid1: int) -> str | None:
    result = _run(["nsenter", "--target", str(pid1), "--uts", "hostname"], check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


def _inventory_dir(paths: Paths) -> Path:
    own = paths.own_inventory
    return own if own.is_dir() else paths.default_inventory


# ----------------------------------------------------------------------------- building


def _keygen(path: Path, comment: str) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _build_network(name: str) -> None:
    lan = netns(name, "lan")
    for ns in all_netns(name):
        _run(["ip", "netns", "add", ns])
    _run(["ip", "-n", lan, "link", "set", "lo", "up"])
    for bridge in ("br0", "br1"):
        _run(["ip", "-n", lan, "link", "add", bridge, "type", "bridge"])
        _run(["ip", "-n", lan, "link", "set", bridge, "up"])
    _run(["ip", "-n", lan, "addr", "add", LAN_GATEWAY, "dev", "br0"])
    for node in NODES:
        ns = netns(name, node)
        # eth0 -> the LAN switch (br0); eth1 -> the crossover cable (br1, two ports only)
        for iface, peer, bridge in (("eth0", node, "br0"), ("eth1", f"{node}-x", "br1")):
            _run(["ip", "-n", ns, "link", "add", iface, "type", "veth", "peer", "name", peer,
                  "netns", lan])
            _run(["ip", "-n", lan, "link", "set", peer, "master", bridge, "up"])
            _run(["ip", "-n", ns, "link", "set", iface, "up"])


def _start_node(paths: Paths, name: str, node: str) -> None:
    node_dir = paths.node(node)
    argv = ["ip", "netns", "exec", netns(name, node), "unshare", "--uts", "--mount", "--pid",
            "--fork", "--kill-child", "--propagation", "private", "--mount-proc", NODE_PYTHON,
            "-I", str(HERE / "node_init.py"), "--lab", name, "--node", node, "--dir",
            str(node_dir), "--sim", str(SIM_DIR), "--cluster", str(paths.cluster)]
    pid = _spawn(argv, node_dir / "console.log")
    _record(paths.pidfile(node, "init"), pid)
    deadline = time.monotonic() + 10
    children = Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            kids = children.read_text().split()
            if kids:
                _record(paths.pidfile(node, "pid1"), int(kids[0]))
                return
        if _start_time(pid) is None:
            break
        time.sleep(0.05)
    raise LabError(f"node {node} of lab {name} did not start; see {node_dir / 'console.log'}")


def _start_forwarder(paths: Paths, name: str, node: str, port: int) -> None:
    argv = [NODE_PYTHON, "-I", str(HERE / "forwarder.py"), "--listen", f"127.0.0.1:{port}",
            "--netns", netns(name, node), "--target", "127.0.0.1:22", "--title",
            f"{name}-{node}-fwd"]
    pid = _spawn(argv, paths.node(node) / "forwarder.log")
    _record(paths.pidfile(node, "fwd"), pid)


def _start_hypervisor(paths: Paths, name: str) -> None:
    argv = [NODE_PYTHON, "-I", str(HERE / "hypervisor.py"), "--lab", name, "--state",
            str(paths.state_dir), "--nodes", ",".join(NODES), "--title", f"{name}-xen"]
    pid = _spawn(argv, paths.state_dir / "hypervisor.log")
    _record(paths.pids / "hypervisor", pid)
    sock = paths.cluster / hypervisor.SOCK
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline or _start_time(pid) is None:
            raise LabError(f"the hypervisor of lab {name} did not start; see "
                           f"{paths.state_dir / 'hypervisor.log'}")
        time.sleep(0.05)


def _hypervisor_request(paths: Paths, request: dict[str, object]) -> dict[str, object] | None:
    """Send one request to the lab's hypervisor; None if it is not there."""
    sock_path = paths.cluster / hypervisor.SOCK
    if not sock_path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(15)
            sock.connect(str(sock_path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data.decode())
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


def _domain_namespaces(name: str, node: str | None = None) -> list[str]:
    try:
        entries = os.listdir("/run/netns")
    except FileNotFoundError:
        return []
    prefix = f"{name}-d-"
    return sorted(e for e in entries if e.startswith(prefix)
                  and (node is None or e.endswith(f"-{node}")))


def _kill_domains(paths: Paths, node: str) -> list[str]:
    """A dom0 that dies takes its DomUs with it (the hypervisor forgets them)."""
    reply = _hypervisor_request(paths, {"op": "node_down", "node": node})
    names = reply.get("removed") if reply and reply.get("ok") else None
    removed = [str(d) for d in names] if isinstance(names, list) else []
    for ns in _domain_namespaces(paths.name, node):  # the hypervisor is gone or missed one
        _run(["ip", "netns", "del", ns], check=False)
    return [f"domain {d} of {node} died with its dom0" for d in removed]


def _wait_ssh(paths: Paths, nodes: dict[str, int], timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(nodes)
    while waiting and time.monotonic() < deadline:
        for node, port in list(waiting.items()):
            if _ssh_answers(port, timeout=2):
                del waiting[node]
            elif _recorded(paths.pidfile(node, "init")) is None:
                break
        if waiting:
            time.sleep(0.3)
    if waiting:
        node = next(iter(waiting))
        log = paths.node(node) / "console.log"
        tail = log.read_text(errors="replace").splitlines()[-8:] if log.exists() else []
        raise LabError(f"node {node} of lab {paths.name} did not answer on ssh port "
                       f"{waiting[node]} within {timeout:.0f}s; console log {log}:\n"
                       + "\n".join(tail))


def _build(paths: Paths, name: str, ports: dict[str, int]) -> None:
    state = paths.state_dir
    state.mkdir(parents=True)
    os.chmod(state, 0o700)
    paths.pids.mkdir()
    paths.cluster.mkdir()
    (paths.cluster / "lock").touch()
    paths.meta.write_text(json.dumps({"name": name, "nodes": ports,
                                      "created": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    _keygen(paths.key, f"{name}-client")
    pubkey = paths.key.with_suffix(".pub").read_text()
    hidden = nodefs.hidden_host_paths()
    kernel = str(nodefs.sim_module("packages").BASE_KERNEL)
    known = []
    for node, port in ports.items():
        node_dir = paths.node(node)
        node_dir.mkdir(parents=True)
        host_key = node_dir / "ssh_host_ed25519_key"
        _keygen(host_key, f"root@{node}")
        key_type, key_b64 = host_key.with_suffix(".pub").read_text().split()[:2]
        known.append(f"[127.0.0.1]:{port} {key_type} {key_b64}\n")
        nodefs.build_node(node_dir, node, host_key, pubkey, hidden, kernel)
    paths.known_hosts.write_text("".join(known))
    _build_network(name)
    _start_hypervisor(paths, name)
    for node, port in ports.items():
        _start_node(paths, name, node)
        _start_forwarder(paths, name, node, port)


# ----------------------------------------------------------------------------- public API


def status(name: str = DEFAULT_LAB, project_root: Path = PROJECT_ROOT) -> LabStatus:
    """What of the lab exists and runs, per node."""
    paths = Paths(Path(project_root), _name(name))
    ports = _ports_of(paths)
    result = LabStatus(name=name, state_dir=paths.state_dir, exists=paths.state_dir.exists(),
                       lan=_ns_exists(netns(name, "lan")))
    for node in NODES:
        init = _recorded(paths.pidfile(node, "init"))
        pid1 = _recorded(paths.pidfile(node, "pid1"))
        alive = init is not None and pid1 is not None
        port = ports.get(node)
        fwd = _recorded(paths.pidfile(node, "fwd"))
        result.nodes.append(NodeStatus(
            node=node,
            netns=_ns_exists(netns(name, node)),
            init_pid=init,
            init_alive=alive,
            port=port,
            ssh=bool(port and fwd and _ssh_answers(port)),
            hostname=_hostname(pid1) if alive and pid1 else None,
            powered_off=(paths.node(node) / "powered-off").exists(),
        ))
    return result


def up(name: str = DEFAULT_LAB, port_base: int | None = None,
       project_root: Path = PROJECT_ROOT, inventory_source: Path | None = None) -> LabInfo:
    """Bring the lab up (idempotent); a stale lab of the same name is cleaned first.

    ``inventory_source`` is the inventory folder the lab's own is made from (default: the
    checkout's ``inventory/lab``). The default lab of a checkout uses that folder as it is;
    any other lab, or an installed tool, gets a copy in its state folder with its own ports
    and absolute key paths.
    """
    _name(name)
    try:
        base = port_base_for(name, port_base)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    ports = node_ports(base)
    _preflight()
    paths = Paths(Path(project_root), name)
    with _locked(paths):
        current = status(name, project_root)
        if current.up and _ports_of(paths) == ports:
            return LabInfo(name, paths.state_dir, _inventory_dir(paths), ports)
        if current.state != "down":
            _down(paths)
        for node, port in ports.items():
            if not _port_free(port):
                raise LabError(f"port 127.0.0.1:{port} (for {node} of lab {name}) is already in "
                               "use; pick another port base (lab up --port-base N) or free it")
        try:
            _build(paths, name, ports)
            _wait_ssh(paths, ports)
        except BaseException:
            _down(paths)
            raise
        source = inventory_source or paths.default_inventory
        if (name == DEFAULT_LAB and base == DEFAULT_PORT_BASE
                and source.resolve() == paths.default_inventory.resolve() and source.is_dir()):
            inventory_dir = paths.default_inventory
        else:
            inventory_dir = inventory.write_inventory(source,
                                                      paths.own_inventory, ports,
                                                      paths.state_dir)
        return LabInfo(name, paths.state_dir, inventory_dir, ports)


def _down(paths: Paths) -> list[str]:
    name = paths.name
    removed: list[str] = []
    for node in NODES:
        for role, what in (("fwd", "ssh forwarder"), ("init", "node"), ("pid1", "node init")):
            pid = _kill(paths.pidfile(node, role))
            if pid is not None:
                removed.append(f"stopped {what} {node} (pid {pid})")
    pid = _kill(paths.pids / "hypervisor")
    if pid is not None:
        removed.append(f"stopped hypervisor (pid {pid})")
    for ns in [*_domain_namespaces(name), *all_netns(name)]:
        if _ns_exists(ns):
            _run(["ip", "netns", "del", ns], check=False)
            removed.append(f"removed network namespace {ns}")
    if paths.state_dir.exists():
        shutil.rmtree(paths.state_dir)
        removed.append(f"removed {paths.state_dir}")
    return removed


def down(name: str = DEFAULT_LAB, project_root: Path = PROJECT_ROOT) -> list[str]:
    """Remove everything the lab created; returns what was removed (empty when nothing was up)."""
    _name(name)
    if os.geteuid() != 0:
        raise LabError("the lab needs root: run it with sudo")
    paths = Paths(Path(project_root), name)
    with _locked(paths):
        return _down(paths)


def _check_node(paths: Paths, node: str) -> None:
    if node not in NODES:
        raise LabError(f"unknown node {node!r}: the lab has {', '.join(NODES)}")
    if not paths.meta.exists():
        raise LabError(f"lab {paths.name} is not up: run `runbook lab up` first")


def power_off(name: str, node: str, project_root: Path = PROJECT_ROOT) -> list[str]:
    """Pull the plug of ``node``: every process of it dies at once, its ssh port refuses."""
    paths = Paths(Path(project_root), _name(name))
    _check_node(paths, node)
    with _locked(paths):
        done = []
        for role in ("fwd", "init", "pid1"):
            pid = _kill(paths.pidfile(node, role))
            if pid is not None:
                done.append(f"killed {role} of {node} (pid {pid})")
        (paths.node(node) / "powered-off").touch()
        done += _kill_domains(paths, node)
        ns = netns(name, node)
        for iface in ("eth0", "eth1", "lo"):
            _run(["ip", "-n", ns, "addr", "flush", "dev", iface], check=False)
            _run(["ip", "-n", ns, "link", "set", iface, "down"], check=False)
        return done


def power_on(name: str, node: str, project_root: Path = PROJECT_ROOT) -> None:
    """Boot a powered-off (or crashed) node again; returns once its sshd answers."""
    paths = Paths(Path(project_root), _name(name))
    _check_node(paths, node)
    port = _ports_of(paths)[node]
    with _locked(paths):
        if _recorded(paths.pidfile(node, "pid1")) is not None:
            return
        for role in ("fwd", "init"):
            _kill(paths.pidfile(node, role))
        _kill_domains(paths, node)  # a crashed node's DomUs are gone for good
        ns = netns(name, node)
        for iface in ("eth0", "eth1"):
            _run(["ip", "-n", ns, "link", "set", iface, "up"])
        (paths.node(node) / "powered-off").unlink(missing_ok=True)
        _start_node(paths, name, node)
        _start_forwarder(paths, name, node, port)
        _wait_ssh(paths, {node: port})


def reboot(name: str, node: str, project_root: Path = PROJECT_ROOT) -> list[str]:
    """Reboot ``node`` as ``reboot`` inside it would (its DomUs die with its dom0)."""
    paths = Paths(Path(project_root), _name(name))
    _check_node(paths, node)
    with _locked(paths):
        pid1 = _recorded(paths.pidfile(node, "pid1"))
        if pid1 is None:
            raise LabError(f"node {node} of lab {name} is not running: use power_on")
        done = _kill_domains(paths, node)
        os.kill(pid1, signal.SIGUSR1)
        return [*done, f"rebooting {node}"]


def domains(name: str = DEFAULT_LAB, project_root: Path = PROJECT_ROOT) -> dict[str, list[str]]:
    """Node -> names of the DomUs running on it (shutting-down ones included), by domain id."""
    paths = Paths(Path(project_root), _name(name))
    state = hypervisor.read_state(str(paths.cluster))
    result: dict[str, list[str]] = {node: [] for node in NODES}
    nodes = state.get("nodes")
    if isinstance(nodes, dict):
        for node, entry in nodes.items():
            table = entry.get("domains") if isinstance(entry, dict) else None
            if node in result and isinstance(table, dict):
                result[node] = [d["name"] for d in sorted(table.values(),
                                                          key=lambda d: int(d["id"]))]
    return result


def _set_link(name: str, link: str, state: str, project_root: Path) -> None:
    paths = Paths(Path(project_root), _name(name))
    if link not in LINKS:
        raise LabError(f"unknown link {link!r}: use one of {', '.join(LINKS)}")
    if not _ns_exists(netns(name, "lan")):
        raise LabError(f"lab {name} is not up: run `runbook lab up` first")
    with _locked(paths):
        for node in NODES:
            peer = f"{node}-{LINKS[link]}" if LINKS[link] else node
            _run(["ip", "-n", netns(name, "lan"), "link", "set", peer, state])


def cut_link(name: str = DEFAULT_LAB, link: str = "crossover",
             project_root: Path = PROJECT_ROOT) -> None:
    """Unplug the crossover cable (or the LAN) of both nodes; the nodes cannot undo it."""
    _set_link(name, link, "down", project_root)


def restore_link(name: str = DEFAULT_LAB, link: str = "crossover",
                 project_root: Path = PROJECT_ROOT) -> None:
    _set_link(name, link, "up", project_root)


# ----------------------------------------------------------------------------- heartbeat faults

HEARTBEAT_PIDFILE = "run/heartbeat.pid"  # in the node's root: heartbeat 3.0.6's pid file
WATCHDOG_LOG = "watchdog.log"  # the node softdog's events, in the node's state folder


def _host_pid(pid1: int, node_pid: int) -> int | None:
    """The host pid of the process ``node_pid`` of the node whose init is ``pid1``."""
    try:
        ns = os.readlink(f"/proc/{pid1}/ns/pid")
    except OSError:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                continue
            status_text = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status_text.splitlines():
            if line.startswith("NSpid:") and line.split()[-1] == str(node_pid):
                return int(entry)
    return None


def kill_heartbeat(name: str, node: str, project_root: Path = PROJECT_ROOT) -> int:
    """Fault: ``node``'s heartbeat dies at once (``kill -9`` of its master control process, the
    pid in the node's /var/run/heartbeat.pid), as a crashed or hung daemon would. It stops
    feeding /dev/watchdog without the magic 'V', so the node's softdog resets the node one
    margin later (deadtime + 10 ms, rounded up to seconds); the peer declares it dead after
    deadtime. Returns the killed process's pid on the host."""
    paths = Paths(Path(project_root), _name(name))
    _check_node(paths, node)
    pid1 = _recorded(paths.pidfile(node, "pid1"))
    if pid1 is None:
        raise LabError(f"node {node} of lab {name} is not running")
    try:
        node_pid = int(Path(f"/proc/{pid1}/root/{HEARTBEAT_PIDFILE}").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise LabError(f"heartbeat is not running on {node} of lab {name} (no "
                       f"/{HEARTBEAT_PIDFILE})") from None
    host_pid = _host_pid(pid1, node_pid)
    comm = ""
    if host_pid is not None:
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{host_pid}/comm").read_text().strip()
    if host_pid is None or comm != "heartbeat":  # a stale pid file: kill nothing else
        raise LabError(f"heartbeat is not running on {node} of lab {name} (stale "
                       f"/{HEARTBEAT_PIDFILE}: pid {node_pid})")
    os.kill(host_pid, signal.SIGKILL)
    return host_pid


def watchdog_events(name: str, node: str, project_root: Path = PROJECT_ROOT) -> list[str]:
    """What ``node``'s /dev/watchdog saw, oldest first: ``EPOCH open margin Ns``, ``EPOCH close
    (magic|unexpected)``, ``EPOCH printk SOFTDOG: ...``, ``EPOCH reset``."""
    paths = Paths(Path(project_root), _name(name))
    _check_node(paths, node)
    try:
        text = (paths.node(node) / "state" / WATCHDOG_LOG).read_text()
    except OSError:
        return []
    return text.splitlines()


# ----------------------------------------------------------------------- DRBD (xenlab/drbd.py)


def _drbd_call(func: Callable[[], _T]) -> _T:
    try:
        return func()
    except drbd.DrbdLabError as exc:
        raise LabError(str(exc)) from None


def proc_drbd(name: str, node: str, project_root: Path = PROJECT_ROOT) -> str:
    """``node``'s /proc/drbd ("" while its DRBD module is not loaded)."""
    return _drbd_call(lambda: drbd.proc_drbd(name, node, project_root))


def domu_last_write(name: str, domu: str, project_root: Path = PROJECT_ROOT) -> int | None:
    """The last sequence number lab DomU ``domu`` wrote to its DRBD disk and had acknowledged."""
    return _drbd_call(lambda: drbd.domu_last_write(name, domu, project_root))


def disk_seq(name: str, node: str, vg: str, lv: str,
             project_root: Path = PROJECT_ROOT) -> int | None:
    """The DomU sequence number on ``node``'s LV vg/lv (compare with domu_last_write)."""
    return _drbd_call(lambda: drbd.disk_seq(name, node, vg, lv, project_root))


def fail_disk(name: str, node: str, vg: str, lv: str, project_root: Path = PROJECT_ROOT) -> None:
    """``node``'s LV vg/lv fails all I/O: DRBD applies on-io-error (detach: Diskless)."""
    _drbd_call(lambda: drbd.fail_disk(name, node, vg, lv, project_root))


def repair_disk(name: str, node: str, vg: str, lv: str,
                project_root: Path = PROJECT_ROOT) -> None:
    """The LV works again; ``drbdadm attach RES`` on the node resyncs it from the peer."""
    _drbd_call(lambda: drbd.repair_disk(name, node, vg, lv, project_root))
