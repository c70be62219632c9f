"""The lab's Xen hypervisor: one process per lab on the control machine (root namespaces).

Started by ``lab up`` (pid recorded, stopped by ``lab down``) as
``python3 -I hypervisor.py --lab LAB --state STATE_DIR``. It listens on the unix socket
``<state>/cluster/xen.sock`` (inside a node: /usr/lib/runbook-lab/cluster/xen.sock) and owns the
domain table ``<state>/cluster/xen.json`` (written under ``fcntl.flock`` of xen.lock).

For each running DomU instance it creates a network namespace ``<lab>-d-<domain>-<node>`` with a
veth into the lab's LAN switch (``br0`` of ``<lab>-lan``), the cfg's IP/24, its MAC and a default
route via the LAN gateway, so the DomU answers pings. It removes the namespace on shutdown (after
the domain lingered ~1 s in state ``s``), destroy, migration away, and when the node's dom0 goes
down (reboot, power off: a dying dom0 takes its DomUs with it).

Protocol: one JSON object per line in, one JSON object back: ``{"op": ..., "node": ...}`` ->
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Ops: ``list``, ``info``, ``create``,
``shutdown``, ``destroy``, ``migrating`` (the source's side of a relocation), ``migrate``,
``node_boot``, ``node_down``. The hypervisor only
accepts its own lab's node names, domain names of a safe alphabet and IPs of the lab's LAN.

Open LVs: a running domain holds every LV it uses as a ``phy:`` disk. The hypervisor records
that as the holder ``domain:<name>`` in the node's storage state (storage_state.add_holder)
when the domain starts or arrives by migration, and drops it when the domain is gone (shutdown
finished, destroy, migrated away, dom0 down or rebooted), so lvs shows ``-wi-ao`` and lvremove
refuses the disk of a running guest, as lvm2 does on a real dom0.

Stdlib only and standalone (run with ``-I``): the names it shares with layout.py are passed in.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TOTAL_MB = 2047
XEN_MB = 16  # what the hypervisor itself keeps (total - dom0 - domUs - XEN_MB = free)
DOM0_MIN_MB = 196
SHUTDOWN_SECONDS = 1.0
LAN_PREFIX = "192.168.1."
LAN_GATEWAY = "192.168.1.1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
SOCK = "xen.sock"


class XenError(Exception):
    """A request the hypervisor refuses; the message is what xm prints after ``Error: ``."""


def domain_netns(lab: str, domain: str, node: str) -> str:
    return f"{lab}-d-{domain}-{node}"


@dataclass
class NodeInfo:
    """What the node booted (read from its state folder)."""

    boot_id: str = ""
    hypervisor: str = ""
    dom0_mem: int = TOTAL_MB
    kernel: str = ""
    booted_at: float = 0.0


class Net:
    """Creates and removes the DomU namespaces (real ``ip`` commands)."""

    def __init__(self, lab: str) -> None:
        self.lab = lab

    def _ip(self, *argv: str) -> None:
        result = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise XenError(f"ip {' '.join(argv)}: {result.stderr.strip()}")

    def add(self, ns: str, peer: str, ip: str | None, mac: str | None, up: bool = True) -> None:
        self.remove(ns)
        lan = f"{self.lab}-lan"
        self._ip("netns", "add", ns)
        try:
            self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer,
                     "netns", lan)
            if mac:
                self._ip("-n", ns, "link", "set", "eth0", "address", mac.lower())
            self._ip("-n", lan, "link", "set", peer, "master", "br0", "up")
            if ip:
                self._ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            if up:
                self.set_up(ns, True)
        except XenError:
            self.remove(ns)
            raise

    def set_up(self, ns: str, up: bool) -> None:
        self._ip("-n", ns, "link", "set", "eth0", "up" if up else "down")
        if up:
            with contextlib.suppress(XenError):
                self._ip("-n", ns, "route", "replace", "default", "via", LAN_GATEWAY)

    def remove(self, ns: str) -> None:
        if os.path.exists(f"/run/netns/{ns}"):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)

    def existing(self) -> list[str]:
        try:
            names = os.listdir("/run/netns")
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.startswith(f"{self.lab}-d-"))


def _storage_state() -> Any:
    """The node-side storage_state module (sim/storage_state.py, stdlib only), loaded by path."""
    loaded = sys.modules.get("storage_state")
    if loaded is not None:
        return loaded
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim", "storage_state.py")
    spec = importlib.util.spec_from_file_location("storage_state", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["storage_state"] = module
    return module


class LvHolders:
    """Keeps the ``domain:<name>`` holders of the LVs a domain uses, in each node's storage."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir

    def _root(self, node: str) -> str:
        return os.path.join(self.state_dir, "nodes", node, "state")

    def hold(self, node: str, domain: str, disks: list[dict[str, Any]]) -> None:
        ss = _storage_state()
        root = self._root(node)
        state = ss.load(root)
        if state is None:
            return
        for disk in disks:
            uname = str(disk.get("uname", ""))
            kind, _, target = uname.partition(":")
            if kind != "phy":
                continue  # drbd: disks are held by the DRBD device, file: ones by no LV
            path = target if target.startswith("/") else f"/dev/{target}"
            found = ss.lv_of_device(state, path, root)
            if found is not None:
                with contextlib.suppress(ss.StorageError):
                    ss.add_holder(root, found[0], found[1], f"domain:{domain}")

    def release(self, node: str, domain: str) -> None:
        _storage_state().release_holder(self._root(node), f"domain:{domain}")

    def release_all(self, node: str) -> None:
        _storage_state().release_kind(self._root(node), "domain")


class NoHolders:
    """For a hypervisor without node storage (unit tests of the domain table)."""

    def hold(self, node: str, domain: str, disks: list[dict[str, Any]]) -> None:
        return None

    def release(self, node: str, domain: str) -> None:
        return None

    def release_all(self, node: str) -> None:
        return None


@dataclass
class Hypervisor:
    """The domain table of both nodes and its transitions (pure apart from ``net``)."""

    lab: str
    nodes: tuple[str, ...]
    node_info: Callable[[str], NodeInfo]
    net: Any  # Net or a test double with add/set_up/remove
    clock: Callable[[], float] = time.time
    state: dict[str, Any] = field(default_factory=dict)
    holders: Any = field(default_factory=NoHolders)  # LvHolders: the LVs a domain keeps open

    # ------------------------------------------------------------------ helpers
    def _node(self, node: object) -> dict[str, Any]:
        if not isinstance(node, str) or node not in self.nodes:
            raise XenError(f"unknown node {node!r}")
        nodes = self.state.setdefault("nodes", {})
        entry: dict[str, Any] = nodes.setdefault(node, {})
        entry.setdefault("boot_id", "")
        entry.setdefault("next_id", 1)
        entry.setdefault("domains", {})
        entry.setdefault("dom0_mem", None)
        return entry

    def _running_xen(self, node: str) -> NodeInfo:
        self._node(node)  # only this lab's nodes
        info = self.node_info(node)
        if not info.hypervisor:
            raise XenError("Unable to connect to xend: No such file or directory. "
                           "Is xend running?")
        entry = self._node(node)
        if entry["boot_id"] != info.boot_id:  # the node rebooted since: its domains are gone
            self._reset(node, info)
        return info

    def _reset(self, node: str, info: NodeInfo | None) -> list[str]:
        entry = self._node(node)
        gone = []
        for name, dom in list(entry["domains"].items()):
            self.net.remove(dom["netns"])
            gone.append(name)
        self.holders.release_all(node)  # dom0 down or rebooted: no domain holds an LV
        entry["domains"] = {}
        entry["next_id"] = 1
        entry["boot_id"] = info.boot_id if info else ""
        entry["dom0_mem"] = min(info.dom0_mem, TOTAL_MB - XEN_MB) if info else None
        return gone

    def _domain(self, node: str, ident: object) -> dict[str, Any]:
        domains: dict[str, dict[str, Any]] = self._node(node)["domains"]
        for dom in domains.values():
            if ident in (dom["name"], str(dom["id"])):
                return dom
        raise XenError(f"Domain '{ident}' does not exist.")

    def dom0_mem(self, node: str, info: NodeInfo) -> int:
        current = self._node(node)["dom0_mem"]
        return int(current) if current is not None else min(info.dom0_mem, TOTAL_MB - XEN_MB)

    def used(self, node: str) -> int:
        return sum(int(d["memory"]) for d in self._node(node)["domains"].values())

    def free(self, node: str, info: NodeInfo) -> int:
        return max(0, TOTAL_MB - XEN_MB - self.dom0_mem(node, info) - self.used(node))

    def _balloon(self, node: str, info: NodeInfo, need: int) -> None:
        """Make ``need`` MB free, ballooning dom0 down to dom0-min-mem like xend."""
        free = self.free(node, info)
        if free >= need:
            return
        dom0 = self.dom0_mem(node, info)
        shrink_to = max(DOM0_MIN_MB, dom0 - (need - free))
        if dom0 - shrink_to < need - free:
            left = free + dom0 - DOM0_MIN_MB
            raise XenError(f"I need {need * 1024} KiB, but dom0_min_mem is "
                           f"{DOM0_MIN_MB * 1024} and shrinking to {DOM0_MIN_MB * 1024} KiB "
                           f"would leave only {left * 1024} KiB free.")
        self._node(node)["dom0_mem"] = shrink_to

    def reap(self) -> list[str]:
        """Finish shutdowns whose time has come; returns the names that disappeared."""
        now = self.clock()
        gone = []
        for node in self.nodes:
            domains = self._node(node)["domains"]
            for name, dom in list(domains.items()):
                if dom["state"] == "s" and now >= dom["stop_at"]:
                    self.net.remove(dom["netns"])
                    del domains[name]
                    self.holders.release(node, name)
                    gone.append(f"{name}@{node}")
        return gone

    def _render(self, dom: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        cpu = float(dom["cpu_base"]) + max(0.0, now - float(dom["started"])) * 0.05
        state = {"s": "---s--", "p": "--p---"}.get(dom["state"], "-b----")
        # XendCheckpoint.save renames the domain while it is sent; its key stays the name
        shown = f"migrating-{dom['name']}" if dom.get("migrating") else dom["name"]
        return {"name": shown, "id": dom["id"], "memory": dom["memory"],
                "vcpus": dom["vcpus"], "state": state, "cpu_time": round(cpu, 1),
                "ip": dom.get("ip"), "mac": dom.get("mac"), "cfg": dom.get("cfg"),
                "disks": dom.get("disks", []), "uptime": round(now - float(dom["started"]), 1)}

    # ------------------------------------------------------------------ operations
    def op_list(self, req: dict[str, Any]) -> dict[str, Any]:
        node = req.get("node")
        info = self._running_xen(str(node))
        booted = info.booted_at or self.clock()
        dom0 = {"name": "Domain-0", "id": 0, "memory": self.dom0_mem(str(node), info),
                "vcpus": 2, "state": "r-----",
                "cpu_time": round(max(0.0, self.clock() - booted) * 0.3 + 2.5, 1)}
        domains = sorted(self._node(str(node))["domains"].values(), key=lambda d: d["id"])
        return {"domains": [dom0, *(self._render(d) for d in domains)]}

    def op_info(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        info = self._running_xen(node)
        return {"total_memory": TOTAL_MB, "free_memory": self.free(node, info),
                "dom0_mem": self.dom0_mem(node, info), "release": info.kernel,
                "hypervisor": info.hypervisor}

    def op_create(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        info = self._running_xen(node)
        name = req.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise XenError(f"Invalid domain name {name!r}")
        entry = self._node(node)
        if name in entry["domains"]:
            raise XenError(f"Domain '{name}' already exists with ID "
                           f"'{entry['domains'][name]['id']}'")
        memory = req.get("memory")
        vcpus = req.get("vcpus", 1)
        if not isinstance(memory, int) or not 16 <= memory <= TOTAL_MB:
            raise XenError(f"Invalid memory size {memory!r}")
        if not isinstance(vcpus, int) or not 1 <= vcpus <= 32:
            raise XenError(f"Invalid number of vcpus {vcpus!r}")
        ip, mac = req.get("ip"), req.get("mac")
        if ip is not None and (not isinstance(ip, str) or not ip.startswith(LAN_PREFIX)
                               or not ip[len(LAN_PREFIX):].isdigit()
                               or not 2 <= int(ip[len(LAN_PREFIX):]) <= 254):
            raise XenError(f"vif ip {ip!r} is not an address of the lab LAN "
                           f"({LAN_PREFIX}2-254)")
        if mac is not None and (not isinstance(mac, str) or not MAC_RE.match(mac)):
            raise XenError(f"Invalid MAC address {mac!r}")
        self._balloon(node, info, memory)
        dom_id = int(entry["next_id"])
        ns = domain_netns(self.lab, name, node)
        self.net.add(ns, f"{node}-d{dom_id}", ip, mac, up=bool(req.get("up", True)))
        entry["next_id"] = dom_id + 1
        dom = {"name": name, "id": dom_id, "memory": memory, "vcpus": vcpus, "ip": ip,
               "mac": mac, "cfg": req.get("cfg"), "disks": req.get("disks", []),
               "started": self.clock(), "cpu_base": float(req.get("cpu_base", 0.9)),
               "state": "r", "stop_at": None, "netns": ns}
        entry["domains"][name] = dom
        self.holders.hold(node, name, dom["disks"])
        return {"domain": self._render(dom)}

    def op_shutdown(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        self._running_xen(node)
        dom = self._domain(node, req.get("name"))
        if dom["state"] != "s":
            dom["state"] = "s"
            dom["stop_at"] = self.clock() + SHUTDOWN_SECONDS
        return {"name": dom["name"]}

    def op_destroy(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        self._running_xen(node)
        dom = self._domain(node, req.get("name"))
        self.net.remove(dom["netns"])
        del self._node(node)["domains"][dom["name"]]
        self.holders.release(node, dom["name"])
        return {"name": dom["name"]}

    def op_migrating(self, req: dict[str, Any]) -> dict[str, Any]:
        """The source side of a relocation: ``begin`` (shown as migrating-NAME while its
        memory is copied), ``suspend`` (a non-live migration stops the guest before the
        copy), ``abort`` (the save failed: the guest resumes under its own name)."""
        node = str(req.get("node"))
        self._running_xen(node)
        dom = self._domain(node, req.get("name"))
        action = req.get("action")
        if action == "begin":
            dom["migrating"] = True
        elif action == "suspend":
            dom["state"] = "p"
            self.net.set_up(dom["netns"], False)
        elif action == "abort":
            dom.pop("migrating", None)
            if dom["state"] == "p":
                dom["state"] = "r"
                self.net.set_up(dom["netns"], True)
        else:
            raise XenError(f"unknown migrating action {action!r}")
        return {"domain": self._render(dom)}

    def op_migrate(self, req: dict[str, Any]) -> dict[str, Any]:
        """Move a running domain to ``target`` (the relocation checks are xend's).

        ``pause_s``: the stop-and-copy pause, during which neither copy answers (the last
        dirty pages of a live migration); the caller waited out the pre-copy before."""
        node, target = str(req.get("node")), str(req.get("target"))
        pause = req.get("pause_s", 0.0)
        if not isinstance(pause, int | float) or not 0 <= pause <= 10:
            raise XenError(f"invalid pause {pause!r}")
        if target == node:
            raise XenError("cannot migrate a domain to the node it runs on")
        self._running_xen(node)
        tinfo = self._running_xen(target)
        dom = self._domain(node, req.get("name"))
        tentry = self._node(target)
        if dom["name"] in tentry["domains"]:
            raise XenError(f"Domain '{dom['name']}' already exists with ID "
                           f"'{tentry['domains'][dom['name']]['id']}'")
        self._balloon(target, tinfo, int(dom["memory"]))
        new_id = int(tentry["next_id"])
        ns = domain_netns(self.lab, dom["name"], target)
        self.net.add(ns, f"{target}-d{new_id}", dom.get("ip"), dom.get("mac"), up=False)
        # stop-and-copy: the source stops answering, the target takes over
        self.net.set_up(dom["netns"], False)
        if pause:
            time.sleep(float(pause))
        self.net.set_up(ns, True)
        self.net.remove(dom["netns"])
        del self._node(node)["domains"][dom["name"]]
        self.holders.release(node, dom["name"])
        tentry["next_id"] = new_id + 1
        moved = {**dom, "id": new_id, "netns": ns, "started": self.clock(), "cpu_base": 0.1,
                 "state": "r", "stop_at": None}
        moved.pop("migrating", None)
        tentry["domains"][dom["name"]] = moved
        self.holders.hold(target, dom["name"], moved.get("disks", []))
        return {"domain": self._render(moved)}

    def op_node_down(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        self._node(node)
        return {"removed": self._reset(node, None)}

    def op_node_boot(self, req: dict[str, Any]) -> dict[str, Any]:
        node = str(req.get("node"))
        self._node(node)
        return {"removed": self._reset(node, self.node_info(node))}

    def handle(self, req: object) -> dict[str, Any]:
        if not isinstance(req, dict):
            return {"ok": False, "error": "bad request"}
        op = req.get("op")
        method = getattr(self, f"op_{op}", None) if isinstance(op, str) and op.isidentifier() \
            else None
        if method is None:
            return {"ok": False, "error": f"unknown operation {op!r}"}
        try:
            self.reap()
            result: dict[str, Any] = method(req)
        except XenError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **result}


# ----------------------------------------------------------------------------- the daemon


def read_node_info(state_dir: str, node: str) -> NodeInfo:
    folder = os.path.join(state_dir, "nodes", node, "state")
    try:
        with open(os.path.join(folder, "boot.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return NodeInfo()
    if os.path.exists(os.path.join(state_dir, "nodes", node, "powered-off")):
        return NodeInfo()
    return NodeInfo(boot_id=str(data.get("boot_id", "")),
                    hypervisor=str(data.get("hypervisor") or ""),
                    dom0_mem=int(data.get("dom0_mem") or TOTAL_MB),
                    kernel=str(data.get("kernel", "")),
                    booted_at=float(data.get("booted_at", 0.0)))


class Store:
    """The domain table on disk, locked while a request changes it."""

    def __init__(self, cluster: str) -> None:
        self.path = os.path.join(cluster, "xen.json")
        self.lock_path = os.path.join(cluster, "xen.lock")

    @contextlib.contextmanager
    def locked(self, hv: Hypervisor) -> Iterator[None]:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self.path, encoding="utf-8") as fh:
                    hv.state = json.load(fh)
            except (OSError, ValueError):
                hv.state = {}
            try:
                yield
            finally:
                tmp = self.path + ".tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump(hv.state, fh, indent=1, sort_keys=True)
                os.replace(tmp, self.path)


def read_state(cluster: str) -> dict[str, Any]:
    """The domain table as last written (for ``manager.domains``), read under the lock."""
    store = Store(cluster)
    try:
        with open(store.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            with open(store.path, encoding="utf-8") as fh:
                data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def serve(lab: str, state_dir: str, nodes: tuple[str, ...]) -> int:
    cluster = os.path.join(state_dir, "cluster")
    store = Store(cluster)
    hv = Hypervisor(lab=lab, nodes=nodes, node_info=lambda n: read_node_info(state_dir, n),
                    net=Net(lab), holders=LvHolders(state_dir))
    path = os.path.join(cluster, SOCK)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(16)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def reaper() -> None:
        while not stop.wait(0.2):
            with store.locked(hv):
                hv.reap()

    def client(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            data = b""
            with contextlib.suppress(OSError):
                while not data.endswith(b"\n") and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            try:
                req = json.loads(data.decode() or "null")
            except ValueError:
                req = None
            with store.locked(hv):
                reply = hv.handle(req)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")

    threading.Thread(target=reaper, daemon=True).start()
    server.settimeout(0.5)
    sys.stdout.write(f"{time.strftime('%H:%M:%S')} hypervisor of lab {lab} on {path}\n")
    sys.stdout.flush()
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        threading.Thread(target=client, args=(conn,), daemon=True).start()
    server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab", required=True)
    parser.add_argument("--state", required=True, help="the lab's state folder")
    parser.add_argument("--nodes", default="ha1,ha2")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    if args.title:
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as fh:
            fh.write(args.title[:15])
    return serve(args.lab, args.state, tuple(args.nodes.split(",")))


if __name__ == "__main__":
    sys.exit(main())
