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

MISSING_DRIVER = ("Could not stat(\"/proc/drbd\"): No such file or directory\n"
                  "do you need to load the module?\ntry: modprobe drbd\n")
QUIET_WITHOUT_MODULE = ("down", "secondary", "disconnect", "detach")


def setup_fail(devname: str, reply: dict) -> int:
    """drbdsetup's report of a refused request (drbdsetup.c print_config_error): exit 10/11."""
    code, text = int(reply["code"]), str(reply["text"])
    if code < 0:
        sys.stderr.write(f"{devname}: State change failed: ({code}) {text}\n")
        return 11
    if code >= 100:  # some of drbdsetup's texts end in a newline of their own
        sys.stderr.write(f"{devname}: Failure: ({code}) {text}\n")
        return 10
    err(text)
    return 20


def setup_call(devname: str, minor: int, op: str, **fields: object) -> int:
    """One drbdsetup command ``devname op``; its exit status, its messages on stderr."""
    if not loaded():
        if op in QUIET_WITHOUT_MODULE:
            return 0  # "down" succeeds even if drbd is missing
        sys.stderr.write(MISSING_DRIVER)
        return 20
    reply = request(op, minor=minor, **fields)
    if reply is None:
        sys.stderr.write(MISSING_DRIVER)
        return 20
    if not reply.get("ok"):
        return setup_fail(devname, reply)
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


def minor_of(devname: str) -> int | None:
    """dt_minor_of_dev: "/dev/drbd1", "drbd1" or "1"."""
    text = devname.removeprefix("/dev/").removeprefix("drbd")
    return int(text) if text.isdigit() else None


def drbdsetup(args: list[str]) -> int:
    if len(args) < 2:
        err("USAGE: drbdsetup device command arguments options")
        return 20
    devname, cmd, rest = args[0], args[1], args[2:]
    minor = minor_of(devname)
    if minor is None:
        err(f"{devname}: not a drbd device")
        return 20
    if not loaded():
        if cmd in QUIET_WITHOUT_MODULE:
            return 0
        sys.stderr.write(MISSING_DRIVER)
        return 20
    if cmd == "primary":
        force = any(a in ("-o", "--overwrite-data-of-peer") for a in rest)
        return setup_call(devname, minor, "primary", force=force)
    if cmd in QUIET_WITHOUT_MODULE:
        return setup_call(devname, minor, cmd)
    if cmd in ("cstate", "dstate", "role", "state"):
        out(show_state(minor, cmd) + "\n")
        return 0
    err(f"{cmd}: the lab's drbdsetup knows primary, secondary, disconnect, detach, down, "
        "cstate, dstate, role, state (the rest goes through drbdadm)")
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


def local_ipv4() -> set[str]:
    """Addresses of the interfaces that are up (drbdadm's have_ip skips the down ones)."""
    result = subprocess.run(["ip", "-o", "-4", "addr", "show", "up"], capture_output=True,
                            text=True, check=False)
    found = set()
    for line in result.stdout.splitlines():
        words = line.split()
        if "inet" in words:
            found.add(words[words.index("inet") + 1].split("/")[0])
    return found


def address_line(conf_path: str, me: drbd_conf.Host) -> str:
    """file:line of the address statement, as drbdadm's verify_ips names it."""
    try:
        with open(conf_path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if f"{me.address}:{me.port}" in line and "address" in line:
                    return f"{conf_path}:{number}"
    except OSError:
        pass
    return conf_path


def verify_ip(res: drbd_conf.Resource, conf_path: str) -> None:
    """drbdadm 8.3 refuses a resource whose own address is on no interface that is up."""
    me = res.me(hostname())
    if me is not None and me.address not in local_ipv4():
        raise CliError(f"{address_line(conf_path, me)}: in resource {res.name}, on {me.name}:"
                       f"\n\tIP {me.address} not found on this host.", E_CONFIG)


# the commands whose flags in drbdadm_main.c's table have verify_ips = 1
VERIFY_IPS = ("connect", "up", "adjust", "syncer", "dump", "wait-connect")


def child_failed(argv: list[str], code: int, command: str, res: str) -> int:
    """m_system's report of a child that exited with 10 or more, and call_cmd's for 20+."""
    if code >= 10:
        err(f"Command '{' '.join(argv)}' terminated with exit code {code}")
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
    argv = ["drbdsetup", str(me.minor), "disk", me.disk, me.meta_disk, str(index),
            "--set-defaults", "--create-device", *drbd_conf.options_83(res, "disk")]
    code = setup_call(str(me.minor), me.minor, "attach", name=res.name, disk=me.disk,
                      meta=me.meta_disk, index=index, on_io_error=res.opt("on-io-error"))
    return child_failed(argv, code, command, res.name) if code else 0


def step_syncer(res: drbd_conf.Resource, me: drbd_conf.Host, command: str) -> int:
    argv = ["drbdsetup", str(me.minor), "syncer", "--set-defaults", "--create-device",
            *drbd_conf.options_83(res, "syncer")]
    code = setup_call(str(me.minor), me.minor, "syncer", name=res.name, rate=res.rate)
    return child_failed(argv, code, command, res.name) if code else 0


def step_net(res: drbd_conf.Resource, me: drbd_conf.Host, command: str,
             setup_opts: list[str]) -> int:
    discard = "--discard-my-data" in setup_opts
    conf = net_conf(res, me, discard)
    argv = ["drbdsetup", str(me.minor), "net", f"{conf['local']}:{conf['local_port']}",
            f"{conf['peer']}:{conf['peer_port']}", res.protocol, "--set-defaults",
            "--create-device", *drbd_conf.options_83(res, "net"), *setup_opts]
    code = setup_call(str(me.minor), me.minor, "net", name=res.name, conf=conf)
    return child_failed(argv, code, command, res.name) if code else 0


def create_md(res: drbd_conf.Resource, me: drbd_conf.Host, setup_opts: list[str]) -> int:
    """drbdadm create-md: drbdmeta MINOR v08 META INDEX create-md (drbdmeta.c of 8.3.7)."""
    index = me.meta_index if me.meta_index is not None else 0
    argv = ["drbdmeta", str(me.minor), "v08", me.meta_disk, str(index), "create-md",
            *setup_opts]
    force = "--force" in setup_opts
    dev = device(me.minor)
    if dev is not None and dev["disk"] != "Diskless":
        err(f"Device '{me.device}' is configured!")
        return child_failed(argv, 20, "create-md", res.name)
    state = ss.load(NODE) or {"partitions": [], "vgs": {}}
    data = ss.lv_of_device(state, me.disk, NODE)
    meta = ss.resolve_device(state, me.meta_disk, NODE)
    for path, found in ((me.meta_disk, meta), (me.disk, data)):
        if found is None:
            err(f"open({path}) failed: No such file or directory")
            return child_failed(argv, 20, "create-md", res.name)
    assert data is not None and meta is not None
    size = os.path.getsize(ss.lv_file(NODE, data[0], data[1]))
    try:
        drbd_md.check_device(meta[1], index, me.meta_disk)
    except drbd_md.MetaError as exc:
        err(str(exc))
        return child_failed(argv, 10, "create-md", res.name)
    if drbd_md.read(meta[1], index) is not None:
        out("\nValid meta data seems to be in place.\nDo you really want to overwrite?\n")
        if force:
            out("*** confirmation forced via --force option ***\n")
        else:
            out("[need to type 'yes' to confirm] ")
            answer = sys.stdin.readline()
            out("\n")
            if answer != "yes\n":
                out("Operation cancelled.\n")
                return 1
    try:
        drbd_md.create(meta[1], index, size, me.meta_disk)
    except drbd_md.MetaError as exc:
        err(str(exc))
        return child_failed(argv, 10, "create-md", res.name)
    out("Writing meta data...\ninitializing activity log\n")
    err("NOT initialized bitmap")
    out("New drbd meta data block successfully created.\n")
    return 0


def adjust(res: drbd_conf.Resource, me: drbd_conf.Host, command: str = "adjust") -> str:
    """drbdadm adjust: the steps it takes (d, s, n) to bring the device to the config.

    Returns the letters of the steps that ran; a failing step raises CliError(code).
    """
    done = ""
    dev = device(me.minor)
    steps = []
    if dev is None or dev["disk"] == "Diskless":
        steps.append(("d", lambda: step_attach(res, me, command)))
    if dev is None or dev.get("rate") != res.rate or dev["disk"] == "Diskless":
        steps.append(("s", lambda: step_syncer(res, me, command)))
    wanted = {k: v for k, v in net_conf(res, me, False).items() if k != "discard_my_data"}
    if dev is not None and dev["cstate"] != "StandAlone" and dev.get("net_conf") != wanted:
        # changed net options: adjust disconnects and connects again with the new ones
        steps.append(("", lambda: setup_call(str(me.minor), me.minor, "disconnect")))
        dev = None
    if dev is None or dev["cstate"] == "StandAlone":
        steps.append(("n", lambda: step_net(res, me, command, [])))
    for letter, step in steps:
        code = step()
        if code:
            raise CliError("", code)
        done += letter
    return done


def run_command(command: str, res: drbd_conf.Resource, setup_opts: list[str],
                conf_path: str) -> int:
    me = for_host(res)
    if command == "create-md":
        return create_md(res, me, setup_opts)
    if command in VERIFY_IPS:
        verify_ip(res, conf_path)
    if command in ("cstate", "dstate", "role", "state"):
        if not loaded():
            sys.stderr.write(MISSING_DRIVER)
            return child_failed(["drbdsetup", str(me.minor), command], 20, command, res.name)
        out(show_state(me.minor, command) + "\n")
        return 0
    if command == "adjust":
        try:
            adjust(res, me)
        except CliError as exc:
            return exc.code
        return 0
    if command in ("up", "attach"):
        code = step_attach(res, me, command)
        if code or command == "attach":
            return code
    if command in ("up", "syncer"):
        code = step_syncer(res, me, command)
        if code or command == "syncer":
            return code
    if command in ("up", "connect"):
        return step_net(res, me, command, setup_opts)
    if command in ("down", "disconnect", "detach", "secondary", "primary"):
        force = "--overwrite-data-of-peer" in setup_opts or "-o" in setup_opts
        code = setup_call(str(me.minor), me.minor, command, force=force)
        argv = ["drbdsetup", str(me.minor), command, *setup_opts]
        return child_failed(argv, code, command, res.name) if code else 0
    raise CliError(f"Unknown command '{command}'.", E_USAGE)


def drbdadm(args: list[str]) -> int:
    conf_path = CONF
    setup_opts: list[str] = []
    words: list[str] = []
    it = iter(args)
    after_dashes = False
    for arg in it:
        if after_dashes and arg.startswith("-"):
            setup_opts.append(arg)  # drbdadm -- --overwrite-data-of-peer primary r0
        elif arg == "--":
            after_dashes = True
        elif arg == "-c":
            conf_path = next(it, CONF)
        elif arg.startswith("--config-file="):
            conf_path = arg.split("=", 1)[1]
        elif arg in ("-d", "--dry-run", "-v", "--verbose"):
            continue
        elif arg.startswith("-"):
            err(f"drbdadm: unrecognized option '{arg}'")
            return E_USAGE
        else:
            words.append(arg)
    if not words:
        err("USAGE: drbdadm [OPTION...] [-- DRBDSETUP-OPTION...] COMMAND {all|RESOURCE...}")
        return E_USAGE
    command, names = words[0], words[1:]
    known = ("create-md", "up", "down", "attach", "detach", "connect", "disconnect", "syncer",
             "primary", "secondary", "cstate", "dstate", "role", "state", "dump", "adjust")
    if command not in known:
        err(f"Unknown command '{command}'.")
        return E_USAGE
    try:
        resources = drbd_conf.load(conf_path)
    except drbd_conf.ConfError as exc:
        err(str(exc))
        return exc.code
    if command == "dump" and names in ([], ["all"]):
        for res in resources.values():  # "all": every address is verified, then it exits
            try:
                verify_ip(res, conf_path)
            except CliError as exc:
                err(str(exc))
                return exc.code
        out(drbd_conf.render_dump_83(resources, conf_path, hostname()))
        return 0
    if not names:
        err(f"USAGE: drbdadm {command} [OPTION...] {{all|RESOURCE...}}")
        return E_USAGE
    chosen: list[drbd_conf.Resource] = []
    rv = 0
    for name in names:
        if name == "all":
            chosen += [r for r in resources.values() if hostname() in r.hosts]
            continue
        res = resources.get(name) or next((r for r in resources.values() if any(
            str(h.minor) == name.removeprefix("minor-") for h in r.hosts.values())), None)
        if res is None:
            err(f"'{name}' not defined in your config.")
            return E_USAGE
        if command != "dump" and hostname() not in res.hosts:
            err(f"'{res.name}' ignored, since this host ({hostname()}) is not mentioned with "
                "an 'on' keyword.")
            rv = E_USAGE
            continue
        chosen.append(res)
    for res in chosen:
        if command == "dump":  # a named resource: the address warning, and the dump anyway
            try:
                verify_ip(res, conf_path)
            except CliError as exc:
                err(str(exc))
            out(drbd_conf.render_resource_83(res, hostname()))
            continue
        try:
            code = run_command(command, res, setup_opts, conf_path)
        except CliError as exc:
            err(str(exc))
            return exc.code
        if code >= 20:
            return code
        rv = max(rv, code)
    return rv


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


def init_start() -> int:
    try:
        resources = [r for r in drbd_conf.load(CONF).values() if hostname() in r.hosts]
    except drbd_conf.ConfError as exc:
        err(str(exc))  # drbdadm sh-nop shows the configuration's errors
        out("Starting DRBD resources:    ")
        load_module()
        return 20  # adjust_with_progress: `drbdadm -d -n res adjust all` || exit 20
    out("Starting DRBD resources:    ")
    load_module()
    out("[ ")
    for res in resources:
        me = for_host(res)
        try:  # "drbdadm -d -n res adjust all": a dry run, so no address verification
            for letter in adjust(res, me):
                out(f"{letter}({res.name}) ")
        except CliError:
            out(f"\n[{res.name}] cmd adjust failed - continuing!\n ")
    out("]")
    wait_connect(resources)
    out(".\n")
    return 0


def init_stop() -> int:
    """scripts/drbd stop: drbdsetup down for every device, then rmmod (refused while in use)."""
    out("Stopping all DRBD resources")
    if loaded():
        for dev in devices():
            name = f"/dev/drbd{dev['minor']}"
            reply = request("down", minor=int(dev["minor"]))
            if reply is not None and not reply.get("ok"):
                setup_fail(name, reply)
        if any(d["cstate"] != "Unconfigured" for d in devices()):
            err("ERROR: Module drbd is in use")
        else:
            unload_module()
    out(".\n")
    return 0


def init(args: list[str]) -> int:
    action = args[0] if args else ""
    if action == "start":
        return init_start()
    if action == "stop":
        return init_stop()
    if action == "status":
        if not loaded():
            err("drbd not loaded")
            return 3
        out(drbd_proc.status(devices(), time.time()))
        return 0
    if action in ("restart", "force-reload", "reload"):
        init_stop()
        return init_start()
    out("Usage: /etc/init.d/drbd {start|stop|status|reload|restart|force-reload}\n")
    return 1


def modprobe(args: list[str]) -> int:
    """``modprobe drbd`` / ``rmmod drbd`` of a lab node (for module-init-tools' wrappers)."""
    names = [a for a in args if not a.startswith("-")]
    if names[:1] != ["drbd"]:
        err(f"FATAL: Module {names[0] if names else ''} not found.")
        return 1
    load_module()
    return 0


def rmmod(args: list[str]) -> int:
    if [a for a in args if not a.startswith("-")][:1] != ["drbd"] or not loaded():
        err(f"ERROR: Module {args[0] if args else ''} does not exist in /proc/modules")
        return 1
    if devices():
        err("ERROR: Module drbd is in use")
        return 1
    unload_module()
    return 0


def main(argv: list[str]) -> int:
    tool, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if tool == "drbdadm":
            return drbdadm(args)
        if tool == "drbdsetup":
            return drbdsetup(args)
        if tool == "init":
            return init(args)
        if tool == "modprobe":
            return modprobe(args)
        if tool == "rmmod":
            return rmmod(args)
    except CliError as exc:
        err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    err("usage: drbd_cli.py drbdadm|drbdsetup|init ARGS")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
