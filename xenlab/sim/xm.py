"""Simulated ``xm`` of Xen 3.2 on a lab node (/usr/sbin/xm, shipped by xen-utils-common).

Domains live in the lab's hypervisor (xenlab/hypervisor.py on the host), reached over the
unix socket /usr/lib/runbook-lab/cluster/xen.sock; xm checks on THIS node what the real xm/xend
check locally (the hypervisor booted, xend running, the cfg file, the kernel image, each phy:
disk in the node's /dev) and prints what Xen 3.2 prints.

Pure helpers (:func:`parse_cfg`, :func:`render_list`, :func:`render_info`, :func:`vbd_number`,
:func:`render_sxp`) are unit-tested on the host.

Hook for DRBD disks (``drbd:RESOURCE``): if a sim module ``xen_drbd`` exists with
``attach(resource, node, domain)`` (raise an exception whose text is the error to print) it is
called, as Xen's block-drbd script promotes the resource; otherwise, as on a node without a working
block-drbd, the disk cannot be connected.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import sys
import time

if __name__ == "__main__":  # xend.py imports "xm": one module, one XmError class
    sys.modules.setdefault("xm", sys.modules[__name__])

LAB = "/usr/lib/runbook-lab"
NODE_STATE = f"{LAB}/node"
SOCK = f"{LAB}/cluster/xen.sock"
XEND_PID = "/var/run/xend.pid"
XEN_CONFIG_PATH = (".", "/etc/xen")
RELOCATION_PORT = 8002
XEND_ERROR = "Unable to connect to xend: No such file or directory. Is xend running?"
DEVICE_CREATE_TIMEOUT = 100  # seconds xend 3.2 waits for a hotplug script (DevController.py)

INFO_STATIC = (
    ("machine", "x86_64"),
    ("nr_cpus", "2"),
    ("nr_nodes", "1"),
    ("cores_per_socket", "2"),
    ("threads_per_core", "1"),
    ("cpu_mhz", "2593"),
    ("hw_caps", "178bfbff:ebd3fbff:00000000:00000010:00002001:00000000:0000011f"),
)
INFO_XEN = (
    ("xen_major", "3"),
    ("xen_minor", "2"),
    ("xen_extra", ".0"),
    ("xen_caps", "xen-3.0-x86_64 xen-3.0-x86_32p"),
    ("xen_scheduler", "credit"),
    ("xen_pagesize", "4096"),
    ("platform_params", "virt_start=0xffff800000000000"),
    ("xen_changeset", "unavailable"),
    ("cc_compiler", "gcc version 4.2.3 (Ubuntu 4.2.3-2ubuntu7)"),
    ("cc_compile_by", "buildd"),
    ("cc_compile_domain", "buildd"),
    ("cc_compile_date", "Tue Jun 24 19:25:48 UTC 2008"),
    ("xend_config_format", "4"),
)
KERNEL_VERSION = "#1 SMP Thu Jun 26 01:57:44 UTC 2008"

USAGE = """\
Usage: xm <subcommand> [args]

Control, list, and manipulate Xen guest instances.

Common 'xm' commands:

 console              Attach to <Domain>'s console.
 create               Create a domain based on <ConfigFile>.
 destroy              Terminate a domain immediately.
 help                 Display this message.
 list                 List information about all/some domains.
 mem-set              Set the current memory usage for a domain.
 migrate              Migrate a domain to another machine.
 pause                Pause execution of a domain.
 reboot               Reboot a domain.
 restore              Restore a domain from a saved state.
 save                 Save a domain state to restore later.
 shutdown             Shutdown a domain.
 trigger              Send a trigger to a domain.
 top                  Monitor a host and the domains in real time.
 unpause              Unpause a paused domain.
 uptime               Print uptime for a domain.
 vcpu-set             Set the number of active VCPUs for allowed for the
                      domain.

<Domain> can either be the Domain Name or Id.
For more help on 'xm' see the xm(1) man page.
For more help on 'xm create' see the xmdomain.cfg(5)  man page.
"""

SUBCOMMAND_USAGE = {
    "create": "xm create <ConfigFile> [options] [vars]\n\nCreate a domain based on "
              "<ConfigFile>.",
    "shutdown": "xm shutdown <Domain> [-waRH]\n\nShutdown a domain.",
    "destroy": "xm destroy <Domain>\n\nTerminate a domain immediately.",
    "migrate": "xm migrate <Domain> <Host>\n\nMigrate a domain to another machine.",
    "console": "xm console [-q|--quiet] <Domain>\n\nAttach to <Domain>'s console.",
    "save": "xm save <Domain> <CheckpointFile>\n\nSave a domain state to restore later.",
    "restore": "xm restore <CheckpointFile>\n\nRestore a domain from a saved state.",
}


# What xm 3.2's cmdHelp prints on stdout after a failed xm migrate: the subcommand's help and
# the Options of xen/xm/migrate.py (an imported command, so str(gopts) follows).
MIGRATE_HELP = """\
Usage: xm migrate <Domain> <Host>

Migrate a domain to another machine.

Options:

-h, --help           Print this help.
-l, --live           Use live migration.
-p=portnum, --port=portnum
                     Use specified port for migration.
-r=MBIT, --resource=MBIT
                     Set level of resource usage for migration.

"""


class XmError(Exception):
    """Printed as ``Error: <message>`` on stderr, exit status 1; ``usage`` follows on stderr,
    ``stdout_help`` (what xm's cmdHelp prints after a failed request) on stdout."""

    def __init__(self, message: str, usage: str | None = None,
                 stdout_help: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage
        self.stdout_help = stdout_help


# ----------------------------------------------------------------------------- pure helpers


def parse_cfg(text: str, filename: str = "cfg") -> dict:
    """Execute a domain config (python syntax, as xm does) and return its variables."""
    namespace: dict = {}
    try:
        code = compile(text, filename, "exec")
        exec(code, {"__builtins__": {"True": True, "False": False, "None": None,
                                     "range": range, "str": str, "int": int}}, namespace)
    except SyntaxError as exc:
        raise XmError(f"invalid syntax ({os.path.basename(filename)}, line {exc.lineno})") \
            from None
    except Exception as exc:  # xm reports any error of the cfg
        raise XmError(f"{exc}") from None
    return {k: v for k, v in namespace.items() if not k.startswith("_")}


def parse_vif(spec: str) -> dict:
    out = {}
    for part in spec.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip()] = value.strip()
    return out


def vbd_number(vdev: str) -> int:
    """Xen's device number of a virtual disk name: xvda2 -> 51714, sda1 -> 2049, hda -> 768."""
    vdev = vdev.split(":")[0]
    match = re.fullmatch(r"(xvd|sd|hd)([a-z])(\d*)", vdev)
    if not match:
        return int(vdev) if vdev.isdigit() else 0
    kind, letter, part = match.groups()
    index, number = ord(letter) - ord("a"), int(part or 0)
    if kind == "xvd":
        return (202 << 8) | (index << 4) | number
    if kind == "sd":
        return (8 << 8) | (index << 4) | number
    major = (3, 22, 33, 34, 56, 57, 88, 89)[index // 2]
    return (major << 8) | ((index % 2) << 6) | number


def domain_spec(cfg: dict, path: str) -> dict:
    """The parts of a cfg the lab uses: name, memory, vcpus, disks, first vif's ip/mac."""
    name = cfg.get("name")
    if not name:
        raise XmError("Missing required option: name")
    try:
        memory = int(str(cfg.get("memory", 128)))
        vcpus = int(str(cfg.get("vcpus", 1)))
    except ValueError as exc:
        raise XmError(f"Invalid value: {exc}") from None
    disks = []
    for spec in cfg.get("disk", []) or []:
        parts = [p.strip() for p in str(spec).split(",")]
        uname = parts[0]
        kind, _, target = uname.partition(":")
        disks.append({"uname": uname, "kind": kind, "target": target,
                      "dev": parts[1] if len(parts) > 1 else "",
                      "mode": parts[2] if len(parts) > 2 else "r"})
    vifs = [parse_vif(str(v)) for v in (cfg.get("vif", []) or [])]
    first = vifs[0] if vifs else {}
    return {"name": str(name), "memory": memory, "vcpus": vcpus, "disks": disks,
            "ip": first.get("ip"), "mac": first.get("mac"), "cfg": path,
            "kernel": cfg.get("kernel"), "ramdisk": cfg.get("ramdisk"),
            "root": cfg.get("root"), "vifs": vifs,
            "on_poweroff": cfg.get("on_poweroff", "destroy"),
            "on_reboot": cfg.get("on_reboot", "restart"),
            "on_crash": cfg.get("on_crash", "restart")}


def render_list(domains: list[dict]) -> str:
    # Xen 3.2: '%-40s %5s %5s %5s %10s %9s' header, '%-40s %5d %5d %5d %10s %8.1f' rows
    lines = [f"{'Name':<40} {'ID':>5} {'Mem':>5} {'VCPUs':>5} {'State':>10} {'Time(s)':>9}"]
    for d in domains:
        lines.append(f"{d['name']:<40} {d['id']:>5d} {d['memory']:>5d} {d['vcpus']:>5d} "
                     f"{d['state']:>10} {d['cpu_time']:>8.1f}")
    return "\n".join(lines) + "\n"


def render_sxp_domain(d: dict) -> str:
    """``xm list --long`` of one domain (abridged)."""
    lines = ["(domain", f"    (domid {d['id']})", "    (on_crash restart)",
             f"    (uuid {d.get('uuid', '00000000-0000-0000-0000-000000000000')})",
             "    (bootloader_args )", f"    (vcpus {d['vcpus']})", f"    (name {d['name']})",
             "    (on_poweroff destroy)", "    (on_reboot restart)", "    (bootloader )",
             f"    (maxmem {d['memory']})", f"    (memory {d['memory']})",
             "    (shadow_memory 0)", f"    (cpu_time {d['cpu_time']})",
             f"    (online_vcpus {d['vcpus']})", f"    (state {d['state']})"]
    for disk in d.get("disks", []) or []:
        lines.append(f"    (device (vbd (uname {disk['uname']}) (dev {disk['dev']}) "
                     f"(mode {disk['mode']})))")
    if d.get("ip") or d.get("mac"):
        vif = "".join(f" ({k} {d[k]})" for k in ("ip", "mac") if d.get(k))
        lines.append(f"    (device (vif (bridge eth0){vif}))")
    lines.append(")")
    return "\n".join(lines) + "\n"


def render_sxp(spec: dict) -> str:
    """What ``xm create --dryrun`` prints: the domain's config as an S-expression."""
    lines = ["(vm", f"    (name {spec['name']})", f"    (memory {spec['memory']})",
             f"    (vcpus {spec['vcpus']})", f"    (on_poweroff {spec['on_poweroff']})",
             f"    (on_reboot {spec['on_reboot']})", f"    (on_crash {spec['on_crash']})"]
    image = [f"(kernel {spec['kernel']})"] if spec.get("kernel") else []
    if spec.get("ramdisk"):
        image.append(f"(ramdisk {spec['ramdisk']})")
    if spec.get("root"):
        image.append(f"(root '{spec['root']}')")
    lines.append(f"    (image (linux {' '.join(image)}))")
    for disk in spec["disks"]:
        lines.append(f"    (device (vbd (uname {disk['uname']}) (dev {disk['dev']}) "
                     f"(mode {disk['mode']})))")
    for vif in spec["vifs"]:
        inner = " ".join(f"({k} {v})" for k, v in vif.items())
        lines.append(f"    (device (vif {inner}))")
    lines.append(")")
    return "\n".join(lines) + "\n"


def render_info(host: str, release: str, total: int, free: int) -> str:
    rows = [("host", host), ("release", release), ("version", KERNEL_VERSION),
            *INFO_STATIC, ("total_memory", str(total)), ("free_memory", str(free)),
            ("node_to_cpu", "node0:0-1"), *INFO_XEN]
    return "".join(f"{key:<23}: {value}\n" for key, value in rows)


def parse_sxp_config(text: str) -> dict:
    """The ``(key value)`` top-level settings of xend-config.sxp (comments skipped)."""
    settings = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("(") \
            else raw.strip()
        if not line.startswith("("):
            continue
        match = re.fullmatch(r"\(\s*([\w-]+)\s+(.*?)\s*\)", line)
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            settings[match.group(1)] = value
    return settings


# ----------------------------------------------------------------------------- node side


def node_boot() -> dict:
    try:
        with open(f"{NODE_STATE}/boot.json", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def xend_running() -> bool:
    try:
        with open(XEND_PID, encoding="utf-8") as fh:
            pid = int(fh.read().strip() or 0)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid > 0


def read_line(sock) -> bytes:
    """One message of the lab's JSON-line sockets: everything up to the first newline."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def request(op: str, **fields) -> dict:
    """One request to the lab's hypervisor; XmError on a refusal."""
    boot = node_boot()
    if not boot.get("hypervisor") or not xend_running():
        raise XmError(XEND_ERROR)
    payload = {"op": op, "node": boot.get("node"), **fields}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(SOCK)
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = read_line(sock)
        reply = json.loads(data.decode())
    except (OSError, ValueError):
        raise XmError(XEND_ERROR) from None
    if not reply.get("ok"):
        raise XmError(str(reply.get("error", "unknown error")))
    return reply


def find_cfg(name: str) -> str:
    if os.path.isabs(name):
        if os.path.isfile(name):
            return name
    else:
        for folder in XEN_CONFIG_PATH:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    raise XmError(f"Unable to open config file: {name}", SUBCOMMAND_USAGE["create"])


def check_disks(spec: dict, running: list[dict], node: str) -> None:
    for disk in spec["disks"]:
        number = vbd_number(disk["dev"])
        prefix = f"Device {number} (vbd) could not be connected. "
        if disk["kind"] in ("phy", "file", "tap"):
            path = disk["target"]
            if disk["kind"] == "phy" and not path.startswith("/"):
                path = "/dev/" + path
            if disk["kind"] == "tap":
                path = path.partition(":")[2] or path
            if not os.path.exists(path):
                # Xen 3.2: the block script never answers; xend waits DEVICE_CREATE_TIMEOUT,
                # then gives up (the immediate "does not exist" message came with 3.3)
                import labtime

                labtime.wait(DEVICE_CREATE_TIMEOUT)
                raise XmError(prefix + "Hotplug scripts not working.")
            for dom in running:
                for other in dom.get("disks", []) or []:
                    if other.get("target") == disk["target"] and (
                            "w" in disk["mode"] or "w" in other.get("mode", "")):
                        raise XmError(prefix + f"Device {path} is mounted in a guest domain,"
                                      "\nand so cannot be mounted now.")
        elif disk["kind"] == "drbd":
            try:
                import xen_drbd  # provided by the DRBD simulation when it exists
            except ImportError:
                raise XmError(prefix + "Hotplug scripts not working.") from None
            try:
                xen_drbd.attach(disk["target"], node, spec.get("name"))
            except Exception as exc:  # the hook's message is the error
                raise XmError(prefix + str(exc)) from None
        else:
            raise XmError(prefix + "Hotplug scripts not working.")


CONSOLE_BANNER = """\
[    0.000000] Linux version {release} (buildd@king) (gcc version 4.2.3 (Ubuntu 4.2.3-2ubuntu7)) {version}
[    0.000000] Command line: root={root}
[    0.000000] Xen reported: 2593.000 MHz processor.
[    0.412000] Freeing unused kernel memory: 268k freed
 * Setting the system clock                                              [ OK ]
 * Configuring network interfaces...                                     [ OK ]
 * Starting OpenBSD Secure Shell server sshd                             [ OK ]

Ubuntu 8.04.4 LTS {name} xvc0

{name} login: """  # noqa: E501


def console_session(name: str, spec: dict | None = None) -> int:
    release = (spec or {}).get("kernel") or "/boot/vmlinuz-2.6.24-19-xen"
    root = ((spec or {}).get("root") or "/dev/xvda2 ro").split()[0]
    sys.stdout.write(CONSOLE_BANNER.format(release=os.path.basename(release)[8:] or release,
                                           version=KERNEL_VERSION, root=root, name=name))
    sys.stdout.flush()
    if not sys.stdin.isatty():
        sys.stdout.write("\n")
        return 0
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        while True:
            data = os.read(fd, 1024)
            if not data or b"\x1d" in data:
                break
            os.write(sys.stdout.fileno(), data.replace(b"\r", b"\r\n"))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stdout.write("\n")
    return 0


# ----------------------------------------------------------------------------- commands


def cmd_list(args: list[str]) -> int:
    long = any(a in ("-l", "--long") for a in args)
    names = [a for a in args if not a.startswith("-")]
    domains = request("list")["domains"]
    if names:
        chosen = []
        for name in names:
            match = [d for d in domains if name in (d["name"], str(d["id"]))]
            if not match:
                raise XmError(f"Domain '{name}' does not exist.")
            chosen += match
        domains = chosen
    if long:
        sys.stdout.write("".join(render_sxp_domain(d) for d in domains))
    else:
        sys.stdout.write(render_list(domains))
    return 0


def cmd_info(args: list[str]) -> int:
    info = request("info")
    sys.stdout.write(render_info(socket.gethostname(), info.get("release") or "",
                                 int(info["total_memory"]), int(info["free_memory"])))
    return 0


def cmd_create(args: list[str]) -> int:
    console = quiet = dryrun = False
    cfg_name = None
    it = iter(args)
    for arg in it:
        if arg in ("-c", "--console_autoconnect"):
            console = True
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg in ("-n", "--dryrun"):
            dryrun = True
        elif arg in ("-f", "--defconfig"):
            cfg_name = next(it, None)
        elif arg.startswith("--defconfig="):
            cfg_name = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            raise XmError(f"option {arg} not recognized", SUBCOMMAND_USAGE["create"])
        elif "=" in arg:
            continue  # var=value overrides: accepted, ignored
        elif cfg_name is None:
            cfg_name = arg
    if cfg_name is None:
        raise XmError("'xm create' requires 1 argument.", SUBCOMMAND_USAGE["create"])
    path = find_cfg(cfg_name)
    if not quiet:
        sys.stdout.write(f'Using config file "{path}".\n')
        sys.stdout.flush()
    with open(path, encoding="utf-8") as fh:
        spec = domain_spec(parse_cfg(fh.read(), path), os.path.abspath(path))
    if dryrun:
        sys.stdout.write(render_sxp(spec))
        return 0
    running = request("list")["domains"]
    for image in ("kernel", "ramdisk"):
        if spec.get(image) and not os.path.exists(spec[image]):
            label = "Kernel image" if image == "kernel" else "Kernel ramdisk"
            raise XmError(f"{label} does not exist: {spec[image]}")
    existing = [d for d in running if d["name"] == spec["name"]]
    if existing:
        raise XmError(f"Domain '{spec['name']}' already exists with ID '{existing[0]['id']}'")
    check_disks(spec, [d for d in running if d["name"] != "Domain-0"], node_boot().get("node"))
    mac = spec["mac"] or "00:16:3e:" + ":".join(f"{random.randrange(256):02x}"
                                                for _ in range(3))
    request("create", name=spec["name"], memory=spec["memory"], vcpus=spec["vcpus"],
            ip=spec["ip"], mac=mac, cfg=spec["cfg"],
            disks=[{k: d[k] for k in ("uname", "target", "dev", "mode")}
                   for d in spec["disks"]])
    if not quiet:
        sys.stdout.write(f"Started domain {spec['name']}\n")
        sys.stdout.flush()
    if console:
        return console_session(spec["name"], spec)
    return 0


def _one_domain(args: list[str], command: str) -> str:
    names = [a for a in args if not a.startswith("-")]
    if len(names) != 1:
        raise XmError(f"'xm {command}' requires 1 argument.", SUBCOMMAND_USAGE[command])
    return names[0]


def _wait_gone(names: list[str], quiet: bool = False) -> None:
    left = list(names)
    while left:
        alive = {d["name"] for d in request("list")["domains"]}
        for name in [n for n in left if n not in alive]:
            left.remove(name)
            if not quiet:
                sys.stdout.write(f"Domain {name} terminated\n")
                sys.stdout.flush()
        if left:
            time.sleep(0.3)
    if not quiet:
        sys.stdout.write("All domains terminated\n")


def cmd_shutdown(args: list[str]) -> int:
    wait = all_ = False
    for arg in args:
        if arg.startswith("--"):
            wait = wait or arg == "--wait"
            all_ = all_ or arg == "--all"
            if arg not in ("--wait", "--all", "--halt", "--reboot"):
                raise XmError(f"option {arg} not recognized", SUBCOMMAND_USAGE["shutdown"])
        elif arg.startswith("-"):
            for letter in arg[1:]:
                if letter not in "waRH":
                    raise XmError(f"option -{letter} not recognized",
                                  SUBCOMMAND_USAGE["shutdown"])
            wait = wait or "w" in arg
            all_ = all_ or "a" in arg
    domains = request("list")["domains"]
    if all_:
        targets = [d["name"] for d in domains if d["name"] != "Domain-0"]
    else:
        ident = _one_domain(args, "shutdown")
        if ident in ("Domain-0", "0"):
            raise XmError("Can't specify Domain-0")
        match = [d for d in domains if ident in (d["name"], str(d["id"]))]
        if not match:
            raise XmError(f"Domain '{ident}' does not exist.")
        targets = [match[0]["name"]]
    for name in targets:
        request("shutdown", name=name)
    if wait:
        _wait_gone(targets)
    return 0


def cmd_destroy(args: list[str]) -> int:
    ident = _one_domain(args, "destroy")
    if ident in ("Domain-0", "0"):
        raise XmError("Cannot destroy privileged domain 0")
    request("destroy", name=ident)
    return 0


def cmd_console(args: list[str]) -> int:
    ident = _one_domain(args, "console")
    domains = request("list")["domains"]
    match = [d for d in domains if ident in (d["name"], str(d["id"]))]
    if not match:
        raise XmError(f"Domain '{ident}' does not exist.")
    if not sys.stdin.isatty():
        raise XmError("xm console needs a terminal (stdin is not a tty): log in with "
                      "ssh -t, or use xm create -c")
    return console_session(match[0]["name"])


def cmd_migrate(args: list[str]) -> int:
    port = None
    live = False
    words = []
    it = iter(args)
    for arg in it:
        if arg in ("-l", "--live", "-r", "--resource"):
            live = live or arg in ("-l", "--live")
            if arg in ("-r", "--resource"):
                next(it, None)
        elif arg in ("-p", "--port"):
            port = next(it, None)
        elif arg.startswith("--port="):
            port = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            raise XmError(f"option {arg} not recognized", SUBCOMMAND_USAGE["migrate"])
        else:
            words.append(arg)
    if len(words) != 2:
        raise XmError("'xm migrate' requires 2 arguments.", SUBCOMMAND_USAGE["migrate"])
    ident, host = words
    domains = request("list")["domains"]
    match = [d for d in domains if ident in (d["name"], str(d["id"]))]
    if not match:
        raise XmError(f"Domain '{ident}' does not exist.")
    if match[0]["name"] == "Domain-0":
        raise XmError("Cannot migrate privileged domain 0")
    import relocation  # both ends of a relocation (xend's server, this sender)

    relocation.migrate_to(match[0], host, int(port) if port else RELOCATION_PORT,
                          node_boot().get("node"), live)
    return 0


def cmd_save(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if len(words) != 2:
        raise XmError("'xm save' requires 2 arguments.", SUBCOMMAND_USAGE["save"])
    ident, path = words
    domains = request("list")["domains"]
    match = [d for d in domains if ident in (d["name"], str(d["id"]))]
    if not match:
        raise XmError(f"Domain '{ident}' does not exist.")
    dom = match[0]
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"lab-xen-save": 1, **dom}, fh)
    except OSError as exc:
        raise XmError(f"[Errno {exc.errno}] {exc.strerror}: '{path}'") from None
    request("destroy", name=dom["name"])
    return 0


def cmd_restore(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if len(words) != 1:
        raise XmError("'xm restore' requires 1 argument.", SUBCOMMAND_USAGE["restore"])
    try:
        with open(words[0], encoding="utf-8") as fh:
            dom = json.load(fh)
    except (OSError, ValueError):
        raise XmError(f"can't open checkpoint file {words[0]}") from None
    request("create", name=dom["name"], memory=dom["memory"], vcpus=dom["vcpus"],
            ip=dom.get("ip"), mac=dom.get("mac"), cfg=dom.get("cfg"),
            disks=dom.get("disks", []))
    return 0


def cmd_uptime(args: list[str]) -> int:
    domains = request("list")["domains"]
    sys.stdout.write(f"{'Name':<32} {'ID':>3} Uptime\n")
    for d in domains:
        seconds = int(d.get("uptime", d["cpu_time"]))
        sys.stdout.write(f"{d['name']:<32} {d['id']:>3d} "
                         f"{time.strftime('%H:%M:%S', time.gmtime(seconds))}\n")
    return 0


COMMANDS = {"list": cmd_list, "info": cmd_info, "create": cmd_create, "shutdown": cmd_shutdown,
            "destroy": cmd_destroy, "console": cmd_console, "migrate": cmd_migrate,
            "save": cmd_save, "restore": cmd_restore, "uptime": cmd_uptime}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("help", "-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    command = COMMANDS.get(argv[0])
    if command is None:
        sys.stderr.write(f"Error: Subcommand {argv[0]} not found!\n")
        return 1
    if os.geteuid() != 0:
        sys.stderr.write("Error: Most commands need root access. Please try again as root.\n")
        return 1
    try:
        return command(argv[1:])
    except XmError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        if exc.usage:
            sys.stderr.write(f"\nUsage: {exc.usage}\n")
        if exc.stdout_help:
            sys.stderr.flush()
            sys.stdout.write(exc.stdout_help)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
