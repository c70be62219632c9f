"""drbdadm, drbdsetup and /etc/init.d/drbd of a lab node (drbd8-utils 8.3.7; stdlib only).

``drbd_cli.py drbdadm ARGS`` / ``drbd_cli.py drbdsetup ARGS`` / ``drbd_cli.py init ACTION``.
The configuration is checked by the real parser (drbd_conf.load); state changes go to the
node's DRBD module (drbd_module.py) over its unix socket; create-md writes the meta LV itself,
as drbdmeta does. Messages and exit codes follow drbdadm_main.c, drbdsetup.c, drbdmeta.c and
scripts/drbd of DRBD 8.3 (see the lab README for what differs).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import drbd_conf
import drbd_md
import drbd_module
import drbd_proc
import storage_state as ss

NODE = drbd_module.NODE
CONF = "/etc/drbd.conf"
E_USAGE = 3
E_CONFIG = 10
E_EXEC = 20
SIM = os.path.dirname(os.path.abspath(__file__))


class CliError(Exception):
    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.code = code


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# ----------------------------------------------------------------------------- the module


def request(op: str, **fields: object) -> dict | None:
    """One request to the module; None when it is not loaded."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(120)
            sock.connect(drbd_module.sock_path(NODE))
            sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    return json.loads(data.decode()) if data else None


def loaded() -> bool:
    return request("status") is not None


def devices() -> list[dict]:
    reply = request("status")
    return list(reply["devices"]) if reply else []


def device(minor: int) -> dict | None:
    return next((d for d in devices() if int(d["minor"]) == minor), None)


def load_module() -> None:
    """modprobe drbd: start the node's module process if it is not running."""
    if loaded():
        start_procfs()
        return
    os.makedirs(drbd_module.drbd_dir(NODE), exist_ok=True)
    with open(os.path.join(drbd_module.drbd_dir(NODE), "module.log"), "ab") as log:
        subprocess.Popen([sys.executable, os.path.join(SIM, "drbd_module.py")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         start_new_session=True, close_fds=True, cwd="/")
    deadline = time.monotonic() + 10
    while not loaded():
        if time.monotonic() > deadline:
            raise CliError("FATAL: Module drbd not found.", 1)
        time.sleep(0.05)
    start_procfs()


def start_procfs() -> None:
    """/proc/drbd appears with the module (drbd_procfs.py, a FUSE view of the node's /proc)."""
    if os.path.exists("/proc/drbd"):
        return
    with open(os.path.join(drbd_module.drbd_dir(NODE), "procfs.log"), "ab") as log:
        subprocess.Popen([sys.executable, os.path.join(SIM, "drbd_procfs.py")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         start_new_session=True, close_fds=True, cwd="/")
    deadline = time.monotonic() + 5
    while not os.path.exists("/proc/drbd") and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_procfs() -> None:
    path = os.path.join(drbd_module.drbd_dir(NODE), "procfs.pid")
    try:
        with open(path, encoding="utf-8") as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 15)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.unlink(path)


def unload_module() -> None:
    stop_procfs()
    path = os.path.join(drbd_module.drbd_dir(NODE), "module.pid")
    try:
        with open(path, encoding="utf-8") as fh:
            pid = int(fh.read().strip())
    except (OSError, ValueError):
        return
    if loaded():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        deadline = time.monotonic() + 5
        while loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
    for name in ("module.pid", "proc", "proc.json", "ctl.sock"):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(drbd_module.drbd_dir(NODE), name))


# ----------------------------------------------------------------------------- drbdsetup


def setup_fail(dev: str, reply: dict) -> int:
    """drbdsetup's report of a refused request: (N) TEXT, exit 10 or 11."""
    code, text = int(reply["code"]), str(reply["text"])
    if code < 0:
        err(f"{dev}: State change failed: ({code}) {text}")
        return 11
    if code >= 100:
        err(f"{dev}: Failure: ({code}) {text}")
        return 10
    err(text)
    return 20


def setup_call(dev: str, minor: int, op: str, **fields: object) -> int:
    reply = request(op, minor=minor, **fields)
    if reply is None:
        err(f"Could not connect to 'drbd' (is the module loaded?): {dev}")
        return 20
    if not reply.get("ok"):
        return setup_fail(dev, reply)
    return 0


def show_state(minor: int, what: str) -> str:
    dev = device(minor)
    if dev is None or (dev["cstate"] == "StandAlone" and dev["disk"] == "Diskless"):
        return "Unconfigured"
    if what == "cstate":
        return str(dev["cstate"])
    if what == "dstate":
        return f"{dev['disk']}/{dev['peer_disk']}"
    return f"{dev['role']}/{dev['peer_role']}"


def drbdsetup(args: list[str]) -> int:
    if len(args) < 2:
        err("USAGE: drbdsetup device command arguments options")
        return 20
    dev, cmd, rest = args[0], args[1], args[2:]
    try:
        minor = int(dev.removeprefix("/dev/drbd"))
    except ValueError:
        err(f"{dev}: not a drbd device")
        return 20
    if not loaded():
        err(f"Could not stat(\"{dev}\"): No such file or directory")
        return 20
    if cmd == "primary":
        force = any(a in ("-o", "--overwrite-data-of-peer") for a in rest)
        return setup_call(dev, minor, "primary", force=force)
    if cmd in ("secondary", "disconnect", "detach", "down"):
        return setup_call(dev, minor, cmd)
    if cmd in ("cstate", "dstate", "role", "state"):
        out(show_state(minor, cmd) + "\n")
        return 0
    err(f"{cmd}: unknown command (the lab's drbdsetup knows primary, secondary, disconnect, "
        "detach, down, cstate, dstate, role, state)")
    return 20


# ----------------------------------------------------------------------------- drbdadm


def hostname() -> str:
    return socket.gethostname()


def for_host(res: drbd_conf.Resource) -> drbd_conf.Host:
    me = res.me(hostname())
    if me is None:
        raise CliError(f"'{res.name}' ignored, since this host ({hostname()}) is not mentioned "
                       "with an 'on' keyword.", E_USAGE)
    return me


def child_failed(cmdline: str, code: int, command: str, res: str) -> int:
    if code >= 10:  # drbdadm reports children that fail with 10 or more
        err(f"Command '{cmdline}' terminated with exit code {code}")
    if code >= 20:
        err(f"drbdadm {command} {res}: exited with code {code}")
    return code


def net_conf(res: drbd_conf.Resource, me: drbd_conf.Host, discard: bool) -> dict:
    peer = res.peer(me.name)
    if peer is None:
        raise CliError(f"{res.name}: no peer 'on' section", E_CONFIG)
    return {"local": me.address, "local_port": me.port, "peer": peer.address,
            "peer_port": peer.port, "protocol": res.protocol, "ping_int": res.ping_int,
            "ping_timeout": res.ping_timeout, "timeout": res.timeout,
            "connect_int": res.connect_int, "two_primaries": res.two_primaries,
            "after_sb_0pri": res.opt("after-sb-0pri"), "after_sb_1pri": res.opt("after-sb-1pri"),
            "after_sb_2pri": res.opt("after-sb-2pri"), "discard_my_data": discard}


def step_attach(res: drbd_conf.Resource, me: drbd_conf.Host, command: str) -> int:
    index = me.meta_index if me.meta_index is not None else 0
    cmdline = (f"drbdsetup {me.device} disk {me.disk} {me.meta_disk} {index} --set-defaults "
               f"--create-device --on-io-error={res.opt('on-io-error')}")
    code = setup_call(me.device, me.minor, "attach", name=res.name, disk=me.disk,
                      meta=me.meta_disk, index=index, on_io_error=res.opt("on-io-error"))
    return child_failed(cmdline, code, command, res.name) if code else 0


def step_syncer(res: drbd_conf.Resource, me: drbd_conf.Host, command: str) -> int:
    code = setup_call(me.device, me.minor, "syncer", name=res.name, rate=res.rate)
    cmdline = (f"drbdsetup {me.device} syncer --set-defaults --create-device "
               f"--rate={res.opt('resync-rate')}")
    return child_failed(cmdline, code, command, res.name) if code else 0


def step_net(res: drbd_conf.Resource, me: drbd_conf.Host, command: str, discard: bool) -> int:
    conf = net_conf(res, me, discard)
    code = setup_call(me.device, me.minor, "net", name=res.name, conf=conf)
    cmdline = (f"drbdsetup {me.device} net {conf['local']}:{conf['local_port']} "
               f"{conf['peer']}:{conf['peer_port']} {res.protocol} --set-defaults "
               "--create-device" + (" --discard-my-data" if discard else ""))
    return child_failed(cmdline, code, command, res.name) if code else 0


def create_md(res: drbd_conf.Resource, me: drbd_conf.Host, force: bool) -> int:
    index = me.meta_index if me.meta_index is not None else 0
    cmdline = f"drbdmeta {me.minor} v08 {me.meta_disk} {index} create-md"
    dev = device(me.minor)
    if dev is not None and dev["disk"] != "Diskless":
        err(f"Device '{me.device}' is configured!")
        return child_failed(cmdline, 20, "create-md", res.name)
    state = ss.load(NODE) or {"partitions": [], "vgs": {}}
    data = ss.lv_of_device(state, me.disk, NODE)
    meta = ss.resolve_device(state, me.meta_disk, NODE)
    for path, found in ((me.meta_disk, meta), (me.disk, data)):
        if found is None:
            err(f"open({path}) failed: No such file or directory")
            return child_failed(cmdline, 20, "create-md", res.name)
    assert data is not None and meta is not None
    size = os.path.getsize(ss.lv_file(NODE, data[0], data[1]))
    if drbd_md.read(meta[1], index) is not None:
        out("\nValid meta data seems to be in place.\n")
        if force:
            out("*** confirmation forced via --force option ***\n")
        else:
            out("Do you really want to overwrite?\n[need to type 'yes' to confirm] ")
            answer = sys.stdin.readline().strip()
            if answer != "yes":
                out("Operation cancelled.\n")
                return 1
    try:
        drbd_md.create(meta[1], index, size)
    except drbd_md.MetaError as exc:
        err(str(exc))
        return child_failed(cmdline, 10, "create-md", res.name)
    out("Writing meta data...\ninitializing activity log\n")
    err("NOT initialized bitmap")
    out("New drbd meta data block successfully created.\n")
    return 0


def adjust(res: drbd_conf.Resource, me: drbd_conf.Host) -> int:
    dev = device(me.minor)
    if dev is None or dev["disk"] == "Diskless":
        code = step_attach(res, me, "adjust")
        if code:
            return code
    code = step_syncer(res, me, "adjust")
    if code:
        return code
    dev = device(me.minor)
    if dev is not None and dev["cstate"] == "StandAlone":
        return step_net(res, me, "adjust", False)
    return 0


def run_command(command: str, res: drbd_conf.Resource, opts: list[str],
                resources: dict[str, drbd_conf.Resource]) -> int:
    me = for_host(res)
    discard = "--discard-my-data" in opts
    force = "--overwrite-data-of-peer" in opts or "-o" in opts
    if command == "create-md":
        return create_md(res, me, "--force" in opts)
    if command == "dump":
        out(drbd_conf.render_dump_83({res.name: res}, CONF, hostname()))
        return 0
    if command in ("cstate", "dstate", "role", "state"):
        if not loaded():
            err(f"Could not stat(\"{me.device}\"): No such file or directory")
            return child_failed(f"drbdsetup {me.device} {command}", 20, command, res.name)
        out(show_state(me.minor, command) + "\n")
        return 0
    if not loaded():
        load_module()
    if command in ("up", "attach", "connect", "adjust", "syncer"):
        if command == "adjust":
            return adjust(res, me)
        if command in ("up", "attach"):
            code = step_attach(res, me, command)
            if code:
                return code
        if command in ("up", "attach", "syncer"):
            code = step_syncer(res, me, command)
            if code or command != "up":
                return code
        return step_net(res, me, command, discard)
    simple = {"down": "down", "disconnect": "disconnect", "detach": "detach",
              "secondary": "secondary", "primary": "primary"}
    if command in simple:
        extra = " --overwrite-data-of-peer" if force and command == "primary" else ""
        code = setup_call(me.device, me.minor, simple[command], force=force)
        if code:
            return child_failed(f"drbdsetup {me.device} {command}{extra}", code, command,
                                res.name)
        return 0
    raise CliError(f"Unknown command '{command}'.", E_USAGE)


def drbdadm(args: list[str]) -> int:
    conf_path = CONF
    opts: list[str] = []
    words: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "-c":
            conf_path = next(it, CONF)
        elif arg.startswith("--config-file="):
            conf_path = arg.split("=", 1)[1]
        elif arg == "--":
            continue
        elif (arg.startswith("-") and not words) or arg.startswith("-"):
            opts.append(arg)
        else:
            words.append(arg)
    if not words:
        err("USAGE: drbdadm COMMAND [OPTION...] {all|RESOURCE...}")
        return E_USAGE
    command, names = words[0], words[1:]
    try:
        resources = drbd_conf.load(conf_path)
    except drbd_conf.ConfError as exc:
        err(str(exc))
        return exc.code
    if command == "dump" and not names:
        names = ["all"]
    if not names:
        err(f"USAGE: drbdadm {command} [OPTION...] {{all|RESOURCE...}}")
        return E_USAGE
    chosen: list[drbd_conf.Resource] = []
    for name in names:
        if name == "all":
            chosen += [r for r in resources.values() if hostname() in r.hosts]
            continue
        res = resources.get(name) or next((r for r in resources.values() if any(
            str(h.minor) == name.removeprefix("minor-") for h in r.hosts.values())), None)
        if res is None:
            err(f"'{name}' not defined in your config.")
            return E_USAGE
        chosen.append(res)
    if command == "dump" and names == ["all"]:
        out(drbd_conf.render_dump_83(resources, conf_path, hostname()))
        return 0
    worst = 0
    for res in chosen:
        try:
            code = run_command(command, res, opts, resources)
        except CliError as exc:
            err(str(exc))
            return exc.code
        if code >= 20:
            return code
        worst = worst or code
    return worst


# ----------------------------------------------------------------------------- init script


def wait_connect(resources: list[drbd_conf.Resource]) -> None:
    """wait-con-int: up to wfc-timeout (0: forever) for every resource to leave WFConnection."""
    timeout = max(int(r.opt("wfc-timeout") or 0) for r in resources) if resources else 0
    started = time.monotonic()
    banner = False
    while True:
        states = {int(d["minor"]): d["cstate"] for d in devices()}
        waiting = [r for r in resources if states.get(for_host(r).minor) in
                   ("WFConnection", "Unconnected", "WFReportParams", None)]
        if not waiting:
            return
        elapsed = time.monotonic() - started
        if elapsed > 5 and not banner:
            banner = True
            res = waiting[0]
            out("***************************************************************\n"
                " DRBD's startup script waits for the peer node(s) to appear.\n"
                " - In case this node was already a degraded cluster before the\n"
                f"   reboot the timeout is {res.opt('degr-wfc-timeout')} seconds. "
                "[degr-wfc-timeout]\n"
                " - If the peer was available before the reboot the timeout will\n"
                f"   expire after {res.opt('wfc-timeout')} seconds. [wfc-timeout]\n"
                f"   (These values are for resource '{res.name}'; 0 sec -> wait forever)\n"
                " To abort waiting enter 'yes' [ -- ]:")
        if timeout and elapsed > timeout:
            out("\n")
            return
        time.sleep(0.5)


def init(args: list[str]) -> int:
    action = args[0] if args else ""
    if action == "start":
        try:
            resources = [r for r in drbd_conf.load(CONF).values() if hostname() in r.hosts]
        except drbd_conf.ConfError as exc:
            err(str(exc))
            return 1
        load_module()
        out("Starting DRBD resources:    [ ")
        for res in resources:
            me = for_host(res)
            dev = device(me.minor)
            steps = []
            if dev is None or dev["disk"] == "Diskless":
                steps.append(("d", step_attach))
            steps.append(("s", step_syncer))
            if dev is None or dev["cstate"] == "StandAlone":
                steps.append(("n", None))
            for letter, step in steps:
                code = (step(res, me, "adjust") if step is not None
                        else step_net(res, me, "adjust", False))
                if code == 0:
                    out(f"{letter}({res.name}) ")
        out("].\n")
        wait_connect(resources)
        return 0
    if action == "stop":
        out("Stopping all DRBD resources")
        for dev in devices():
            reply = request("down", minor=int(dev["minor"]))
            if reply is not None and not reply.get("ok"):
                out("\n")
                return setup_fail(f"/dev/drbd{dev['minor']}", reply)
        unload_module()
        out(".\n")
        return 0
    if action == "status":
        if not loaded():
            out("drbd not loaded\n")
            return 3
        out(drbd_proc.status(devices()))
        return 0
    if action in ("restart", "force-reload", "reload"):
        code = init(["stop"])
        return code or init(["start"])
    err("Usage: /etc/init.d/drbd {start|stop|status|reload|restart|force-reload}")
    return 1


def main(argv: list[str]) -> int:
    tool, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if tool == "drbdadm":
            return drbdadm(args)
        if tool == "drbdsetup":
            return drbdsetup(args)
        if tool == "init":
            return init(args)
    except CliError as exc:
        err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    err("usage: drbd_cli.py drbdadm|drbdsetup|init ARGS")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
