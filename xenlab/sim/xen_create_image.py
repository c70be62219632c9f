"""Simulated xen-tools 3.8 (Ubuntu 8.04): xen-create-image, xen-list-images, xen-delete-image.

Run as ``python3 xen_create_image.py create|list|delete ARGS`` by the /usr/bin wrappers that the
``xen-tools`` package installs. xen-create-image reads /etc/xen-tools/xen-tools.conf like the
Perl original (``key = value``, ``#`` comments, trailing comments stripped, `command`
expansion; a key with nothing after ``=`` stays unset), lets the command line override it, and
then does what 3.8 does with LVM storage, through the node's own commands:

- ``lvcreate VG -L SIZE -n NAME-swap`` + the real ``mkswap``, ``lvcreate ... NAME-disk`` + the
  real ``mkfs.ext3`` on the LV's device file (an existing NAME-disk/NAME-swap aborts unless
  --force, which removes them with ``lvremove --force``). 3.8's runCommand pipes every command
  through ``tee`` and so never sees it fail: a failing command only shows in the log file, and
  only a missing LV after lvcreate aborts ("The LVM partition image creation failed ...");
- the debootstrap install (simulated: no network in the lab; recorded in the LV's contents),
  the hooks, /etc/xen/NAME.cfg from the 3.8 template, and with ``passwd = 1`` / --passwd the
  root password read twice from stdin (EOF or a mismatch fail: the password is never echoed,
  printed or logged; only a salted MD5-crypt hash is kept in the LV's recorded contents).

Exit status as 3.8's (bin/xen-create-image before 3.9's "exit with status 127 on error"): 1 for
a missing --hostname or IP (checkArguments' ``exit 1``), 0 for everything else, including "The
LVM disk image already exists.  Aborting.", a failed installation and a failed passwd (its
"passwd: password unchanged" is the only sign). A runbook judges the result by what it reads
back (the LVs, the cfg, passwd's own words), never by this exit status.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import random
import re
import shlex
import subprocess
import sys
import time
import warnings

import storage_state as ss

CONF = "/etc/xen-tools/xen-tools.conf"
LOG_DIR = "/var/log/xen-tools"
VERSION = "3.8"
DISTS = ("sid", "sarge", "etch", "lenny", "dapper", "edgy", "feisty", "gutsy", "hardy",
         "intrepid")
DEFAULTS = {"size": "4Gb", "memory": "128Mb", "swap": "128Mb", "fs": "ext3", "dist": "etch",
            "image": "sparse", "install-method": "debootstrap", "output": "/etc/xen",
            "extension": ".cfg", "kernel": "/boot/vmlinuz-`uname -r`",
            "initrd": "/boot/initrd.img-`uname -r`", "mirror": "http://ftp.us.debian.org/debian/"}
VALUE_OPTS = ("hostname", "ip", "dist", "size", "memory", "swap", "lvm", "dir", "fs", "image",
              "kernel", "initrd", "gateway", "netmask", "broadcast", "mirror", "mac", "arch",
              "role", "install-method", "install-source", "config", "output", "extension",
              "cache", "evms", "template", "partitions", "serial_device", "disk_device")
FLAG_OPTS = ("force", "passwd", "dhcp", "noswap", "verbose", "boot", "accounts", "ide",
             "debootstrap", "rpmstrap", "rinse", "copy", "tar", "help", "manual", "version")
SLEEP_SCALE = float(os.environ.get("RUNBOOK_LAB_XT_SPEED", "1") or 1)
ROOT = ss.NODE_ROOT


class XtError(Exception):
    """An abort: the message is printed, the exit status is ``code`` (0 for 3.8's plain exit)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------- configuration


def expand(value: str, run=None) -> str:
    """`command` substitution, as readConfigurationFile does (first backquoted part)."""
    m = re.match(r"(.*)`([^`]+)`(.*)", value)
    if not m:
        return value
    if run is None:
        def run(cmd: str) -> str:
            result = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                                    check=False)
            return result.stdout
    output = run(m.group(2)).rstrip("\n")
    return m.group(1) + output + m.group(3)


def parse_conf(text: str, run=None) -> dict[str, str]:
    """xen-tools' readConfigurationFile on ``text``."""
    config: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if re.match(r"^[ \t]*#", line) or not line:
            continue
        m = re.match(r"(.*)#(.*)", line)
        if m:
            line = m.group(1)
        m = re.match(r"([^=]+)=([^\n]+)", line)
        if not m:
            continue
        key, value = m.group(1).strip(), m.group(2).strip()
        config[key] = expand(value, run)
    return config


def parse_args(argv: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Getopt::Long-like: --opt=value, --opt value, --flag; returns (options, ips, words)."""
    opts: dict[str, str] = {}
    ips: list[str] = []
    words: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name in VALUE_OPTS:
            if not eq:
                if i >= len(argv):
                    raise XtError(f"Option {name} requires an argument")
                value = argv[i]
                i += 1
            if name == "ip":
                ips.append(value)
            else:
                opts[name] = value
        elif name in FLAG_OPTS or (name.startswith("no") and name[2:] in FLAG_OPTS):
            opts[name] = value if eq else "1"
        else:
            raise XtError(f"Unknown option: {name}")
    return opts, ips, words


def size_mb(text: str) -> int:
    """'5Gb', '384Mb', '5G', '512M', '1024' (Mb) -> megabytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[bB]?\s*", text or "")
    if not m:
        raise XtError(f"Invalid size '{text}'")
    number = float(m.group(1))
    factor = {"k": 1 / 1024, "m": 1, "": 1, "g": 1024, "t": 1024 * 1024}[m.group(2).lower()]
    return int(number * factor)


def random_mac(rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    return "00:16:3E:" + ":".join(f"{rng.randrange(256):02X}" for _ in range(3))


def render_cfg(cfg: dict) -> str:
    """/etc/xen/NAME.cfg as the 3.8 xm.tmpl renders it for an LVM-backed guest."""
    disks = []
    if cfg.get("swap_dev"):
        disks.append(f"phy:{cfg['swap_dev']},{cfg['disk_device']}1,w")
        root_dev = f"/dev/{cfg['disk_device']}2"
        disks.append(f"phy:{cfg['disk_dev']},{cfg['disk_device']}2,w")
    else:
        root_dev = f"/dev/{cfg['disk_device']}1"
        disks.append(f"phy:{cfg['disk_dev']},{cfg['disk_device']}1,w")
    lines = [
        "#",
        f"# Configuration file for the Xen instance {cfg['hostname']}, created",
        f"# by xen-tools {VERSION} on {cfg['date']}.",
        "#",
        "",
        "#",
        "#  Kernel + memory size",
        "#",
        f"kernel      = '{cfg['kernel']}'",
    ]
    if cfg.get("initrd"):
        lines.append(f"ramdisk     = '{cfg['initrd']}'")
    lines += [
        f"memory      = '{cfg['memory']}'",
        "",
        "#",
        "#  Disk device(s).",
        "#",
        f"root        = '{root_dev} ro'",
        "disk        = [",
        *(f"                  '{d}'," for d in disks),
        "              ]",
        "",
        "",
        "#",
        "#  Hostname",
        "#",
        f"name        = '{cfg['hostname']}'",
        "",
        "#",
        "#  Networking",
        "#",
    ]
    if cfg.get("ips"):
        lines.append(f"vif         = [ 'ip={' '.join(cfg['ips'])},mac={cfg['mac']}' ]")
    else:
        lines.append("dhcp        = 'dhcp'")
        lines.append(f"vif         = [ 'mac={cfg['mac']}' ]")
    lines += [
        "",
        "#",
        "#  Behaviour",
        "#",
        "on_poweroff = 'destroy'",
        "on_reboot   = 'restart'",
        "on_crash    = 'restart'",
        "",
        "",
        "",
    ]
    return "\n".join(lines)


def parse_cfg(text: str) -> dict[str, object]:
    """The simple ``key = value`` / list assignments of an xm cfg file (for xen-list-images)."""
    values: dict[str, object] = {}
    for m in re.finditer(r"(?ms)^(\w+)\s*=\s*(\[.*?\]|'[^']*'|\"[^\"]*\"|\S+)", text):
        raw = m.group(2)
        if raw.startswith("["):
            values[m.group(1)] = re.findall(r"'([^']*)'|\"([^\"]*)\"", raw)
            values[m.group(1)] = [a or b for a, b in values[m.group(1)]]
        else:
            values[m.group(1)] = raw.strip("'\"")
    return values


def shadow_line(password: str, days: int | None = None) -> str:
    """root's /etc/shadow line with a salted MD5-crypt hash (what hardy's passwd wrote)."""
    days = int(time.time() // 86400) if days is None else days
    hashed = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(ImportError):
            import crypt

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_MD5))
    if not hashed:
        import hashlib

        salt = os.urandom(8).hex()
        hashed = "$pbkdf2-sha256$" + salt + "$" + hashlib.pbkdf2_hmac(
            "sha256", password.encode(), salt.encode(), 100000).hex()
    return f"root:{hashed}:{days}:0:99999:7:::"


# ----------------------------------------------------------------------------- the tool


class Creator:
    def __init__(self, config: dict[str, str], ips: list[str]) -> None:
        self.c = config
        self.ips = ips
        self.log_fh = None
        self.hostname = config.get("hostname", "")

    # -- output: to the terminal (flushed at once) and to the log file
    def out(self, text: str = "", end: str = "\n") -> None:
        sys.stdout.write(text + end)
        sys.stdout.flush()
        self.log(text + end)

    def log(self, text: str) -> None:
        if self.log_fh is not None:
            self.log_fh.write(text)
            self.log_fh.flush()

    def pause(self, seconds: float) -> None:
        time.sleep(seconds * SLEEP_SCALE)

    def run(self, argv: list[str]) -> str:
        """runCommand: output to the log only; a failure aborts the whole run."""
        cmd = " ".join(shlex.quote(a) for a in argv)
        self.log(f"Executing : {cmd}\n")
        try:
            result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                    stdin=subprocess.DEVNULL)
            output, status = result.stdout + result.stderr, result.returncode
        except OSError as exc:
            output, status = f"{argv[0]}: {exc.strerror}\n", 127
        self.log(output)
        self.log(f"Finished : {cmd}\n")
        if status != 0:  # 3.8 tests tee's status: the failure goes unnoticed
            self.log(f"(exit status {status})\n")
        return output

    # -- checks
    def check(self) -> None:
        c = self.c
        if not self.hostname:
            raise XtError("The '--hostname' argument is mandatory.", 1)
        if not self.ips and not c.get("dhcp"):
            raise XtError("Please choose one of:\n --dhcp\n --ip xx.xx.xx.xx", 1)
        if c.get("dir") and c.get("lvm"):
            raise XtError("Please only specify one of '--dir', or '--lvm'.")
        if not c.get("lvm"):
            if c.get("dir"):
                raise XtError("Loopback images (--dir / dir =) are not available in the lab: "
                              "it has no loop devices. Use LVM storage (--lvm / lvm =).")
            # 3.8 passes two strings to logprint, which prints only the first
            raise XtError("Error:  No recognised installation type.")
        if c.get("fs", "ext3") not in ("ext3", "ext2"):
            raise XtError(f"The filesystem '{c.get('fs')}' is not available in the lab "
                          "(ext3 and ext2 are).")
        if c.get("install-method", "debootstrap") != "debootstrap":
            raise XtError(f"The installation method '{c.get('install-method')}' is not "
                          "simulated in the lab (debootstrap is).")
        for key in ("size", "memory", "swap"):
            if key != "swap" or not self.noswap:
                size_mb(c.get(key, DEFAULTS[key]))

    @property
    def noswap(self) -> bool:
        return bool(self.c.get("noswap"))

    def lv_dev(self, suffix: str) -> str:
        return f"/dev/{self.c['lvm']}/{self.hostname}-{suffix}"

    # -- steps
    def summary(self) -> None:
        c = self.c
        self.out()
        self.out("General Information")
        self.out("--------------------")
        self.out(f"Hostname       :  {self.hostname}")
        self.out(f"Distribution   :  {c['dist']}")
        parts = []
        if not self.noswap:
            parts.append(("swap", c["swap"], "swap"))
        parts.append(("/", c["size"], c["fs"]))
        for i, (mount, size, fs) in enumerate(parts):
            head = "Partitions     :  " if i == 0 else " " * 18
            self.out(f"{head}{mount:<16}{size:<5} ({fs})")
        self.out(f"Image type     :  {c['image']}")
        self.out(f"Memory size    :  {c['memory']}")
        self.out(f"Kernel path    :  {c['kernel']}")
        if c.get("initrd"):
            self.out(f"Initrd path    :  {c['initrd']}")
        self.out()
        self.out("Networking Information")
        self.out("----------------------")
        for n, ip in enumerate(self.ips, 1):
            mac = f" [MAC: {self.mac}]" if n == 1 else ""
            self.out(f"IP Address {n:<4}: {ip}{mac}")
        if c.get("dhcp") and not self.ips:
            self.out(f"IP Address     : DHCP [MAC: {self.mac}]")
        for key, label in (("netmask", "Netmask"), ("broadcast", "Broadcast"),
                           ("gateway", "Gateway")):
            if c.get(key):
                self.out(f"{label:<15}: {c[key]}")
        self.out()

    def existing(self) -> None:
        for suffix in (("swap",) if not self.noswap else ()) + ("disk",):
            dev = self.lv_dev(suffix)
            if not self.lv_exists(suffix):
                continue
            if self.c.get("force"):
                self.out(f"Removing {dev} - since we're forcing the install")
                self.run(["lvremove", "--force", dev])
            else:  # 3.8 says "disk" for every partition, and exits 0
                raise XtError("The LVM disk image already exists.  Aborting.\n"
                              "Specify '--force' to delete and recreate")

    def lv_exists(self, suffix: str) -> bool:
        if os.path.exists(self.lv_dev(suffix)):
            return True
        state = ss.load(ROOT) or {}
        vg = state.get("vgs", {}).get(self.c["lvm"], {})
        return f"{self.hostname}-{suffix}" in vg.get("lvs", {})

    def create_lv(self, suffix: str, size: str) -> None:
        self.run(["lvcreate", self.c["lvm"], "-L", size, "-n",  # 3.8 passes "384Mb" as is
                  f"{self.hostname}-{suffix}"])
        if not self.lv_exists(suffix):  # 3.8's only check after a command: is the LV there?
            raise XtError("The LVM partition image creation failed to create "
                          f"{self.lv_dev(suffix)}.\naborting")

    def backing(self, suffix: str) -> str:
        """The LV's device: /dev/VG/NAME-x, or its file when /dev is not the node's own."""
        dev = self.lv_dev(suffix)
        if os.path.exists(dev):
            return dev
        return ss.lv_file(ROOT, self.c["lvm"], f"{self.hostname}-{suffix}")

    def record(self, suffix: str, **contents: object) -> None:
        name = f"{self.hostname}-{suffix}"
        with ss.locked(ROOT):
            state = ss.load(ROOT)
            if state is None:
                return
            lv = state["vgs"].get(self.c["lvm"], {}).get("lvs", {}).get(name)
            if lv is None:
                return
            current = lv.get("contents") if isinstance(lv.get("contents"), dict) else {}
            current.update(contents)
            lv["contents"] = current
            ss.save(state, ROOT)

    def make_swap(self) -> None:
        self.create_lv("swap", self.c["swap"])
        dev = self.lv_dev("swap")
        self.out(f"\nCreating swap on {dev}")
        self.pause(0.4)
        self.run(["mkswap", self.backing("swap")])
        self.record("swap", type="swap")
        self.out("Done")

    def make_disk(self) -> None:
        self.create_lv("disk", self.c["size"])
        dev = self.lv_dev("disk")
        fs = self.c["fs"]
        self.out(f"\nCreating {fs} filesystem on {dev}")
        self.pause(0.8)
        self.run([f"mkfs.{fs}", "-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                  "-J", "size=4", self.backing("disk")] if fs == "ext3" else
                 [f"mkfs.{fs}", "-F", "-q", self.backing("disk")])
        self.record("disk", type=fs)
        self.out("Done")

    def install(self) -> None:
        dist = self.c["dist"]
        self.out("Installation method: debootstrap")
        mirror = self.c.get(f"mirror_{dist}") or self.c.get("mirror") or DEFAULTS["mirror"]
        self.log(f"Executing : /usr/sbin/debootstrap --arch amd64 {dist} /tmp/{self.hostname}."
                 f"mnt {mirror}\n")
        if dist not in DISTS:
            self.log(f"E: No such script: /usr/lib/debootstrap/scripts/{dist}\n")
            raise XtError("System installation failed.  Aborting")
        for line in ("I: Retrieving Release", "I: Retrieving Packages",
                     "I: Validating Packages", "I: Resolving dependencies of required packages...",
                     "I: Resolving dependencies of base packages...",
                     "I: Checking component main on " + mirror + "...",
                     "I: Retrieving adduser", "I: Validating adduser",
                     "I: Extracting base-files...", "I: Installing core packages...",
                     "I: Unpacking required packages...", "I: Configuring required packages...",
                     "I: Unpacking the base system...", "I: Configuring the base system...",
                     "I: Base system installed successfully."):
            self.log(line + "\n")
            self.pause(0.22)
        self.record("disk", distribution=dist, hostname=self.hostname, mirror=mirror,
                    ips=self.ips, installed=datetime.datetime.now().isoformat(" ", "seconds"))
        self.out("Done")

    def hooks(self) -> None:
        self.out("\nRunning hooks")
        self.pause(1.0)
        for hook in ("01-disable-daemons", "05-shadowconfig-on", "15-disable-hwclock",
                     "20-setup-apt", "30-disable-gettys", "40-setup-networking",
                     "50-setup-hostname", "60-copy-host-files", "70-install-ssh",
                     "80-install-kernel-modules", "90-make-fstab", "99-clean-image"):
            self.log(f"Running hook {hook}\nhook {hook}: done.\n")
        self.out("Done")
        self.out("\nNo role scripts were specified.  Skipping")

    def xen_config(self) -> str:
        self.out("\nCreating Xen configuration file")
        output = self.c.get("output", "/etc/xen")
        os.makedirs(output, exist_ok=True)
        path = os.path.join(output, self.hostname + self.c.get("extension", ".cfg"))
        text = render_cfg({
            "hostname": self.hostname, "kernel": self.c["kernel"],
            "initrd": self.c.get("initrd", ""), "memory": size_mb(self.c["memory"]),
            "swap_dev": None if self.noswap else self.lv_dev("swap"),
            "disk_dev": self.lv_dev("disk"), "ips": self.ips, "mac": self.mac,
            "disk_device": self.c.get("disk_device", "sda").rsplit("/", 1)[-1],
            "date": time.strftime("%a %b %e %H:%M:%S %Y"),
        })
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        self.pause(0.3)
        self.out("Done")
        return path

    def password(self) -> bool:
        """passwd in the new system, reading stdin (no tty needed; EOF fails, never hangs)."""
        self.out("Setting up root password")
        sys.stdout.write("Enter new UNIX password: ")
        sys.stdout.flush()
        first = sys.stdin.readline()
        sys.stdout.write("\n")
        self.log("Enter new UNIX password: \n")
        if first:
            sys.stdout.write("Retype new UNIX password: ")
            sys.stdout.flush()
            second = sys.stdin.readline()
            sys.stdout.write("\n")
            self.log("Retype new UNIX password: \n")
        else:
            second = ""
        sys.stdout.flush()
        pw1, pw2 = first.rstrip("\n"), second.rstrip("\n")
        if not first or not second:
            self.out("passwd: Authentication token manipulation error")
            self.out("passwd: password unchanged")
            return False
        if pw1 != pw2:
            self.out("Sorry, passwords do not match")
            self.out("passwd: Authentication token manipulation error")
            self.out("passwd: password unchanged")
            return False
        if not pw1:
            self.out("No password supplied")
            self.out("passwd: Authentication token manipulation error")
            self.out("passwd: password unchanged")
            return False
        self.record("disk", root_shadow=shadow_line(pw1))
        self.out("passwd: password updated successfully")
        return True

    def create(self) -> int:
        c = self.c
        self.check()
        if self.ips:  # 3.8's checkArguments warns about a static IP without these
            for key in ("gateway", "netmask"):
                if c.get(key) is None:
                    self.out(f"WARNING:  No {key} address specified!")
        self.mac = c.get("mac") or random_mac()
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_fh = open(os.path.join(LOG_DIR, f"{self.hostname}.log"), "w",  # noqa: SIM115
                           encoding="utf-8")
        try:
            self.summary()
            self.existing()
            if not self.noswap:
                self.make_swap()
            self.make_disk()
            self.install()
            self.hooks()
            self.xen_config()
            if c.get("passwd"):
                self.password()  # 3.8 ignores passwd's status
            self.out("All done")
            return 0
        except XtError as exc:
            self.out(str(exc))
            return exc.code
        finally:
            self.log_fh.close()
            # the END block: where the log is, after success and after an abort alike
            sys.stdout.write(f"\n\nLogfile produced at:\n\t {LOG_DIR}/{self.hostname}.log\n")
            sys.stdout.flush()


def load_config(opts: dict[str, str]) -> dict[str, str]:
    config = dict(DEFAULTS)
    for path in (CONF, opts.get("config")):
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                config.update(parse_conf(fh.read()))
        elif path and path != CONF:
            raise XtError(f"The specified configuration file does not exist: '{path}'")
    for key in ("kernel", "initrd"):
        config[key] = expand(config[key])
    for key, value in opts.items():
        if key.startswith("no") and key[2:] in FLAG_OPTS and key != "noswap":
            config.pop(key[2:], None)
        else:
            config[key] = expand(value)
    for key in ("passwd", "force", "dhcp", "noswap", "boot"):
        if config.get(key) in ("0", ""):
            config.pop(key)
    return config


def create_main(argv: list[str]) -> int:
    opts, ips, _ = parse_args(argv)
    if "version" in opts:
        print(f"xen-create-image release {VERSION}")
        return 0
    if "help" in opts or "manual" in opts:
        print("Usage: xen-create-image --hostname=NAME [--ip=IP | --dhcp] [--lvm=VG] "
              "[--dist=DIST] [--size=SIZE] [--swap=SIZE] [--memory=SIZE] [--passwd] [--force]")
        return 0
    if os.geteuid() != 0:
        raise XtError("\n  In order to use this script you must be running with root privileges.\n"
                      "\n  (This is necessary to mount the disk images which are created.)\n")
    config = load_config(opts)
    if "ip" in config and not ips:
        ips = [config.pop("ip")]
    return Creator(config, ips).create()


def list_main(argv: list[str]) -> int:
    opts, _, _ = parse_args(argv)
    config = load_config(opts)
    output = config.get("output", "/etc/xen")
    ext = config.get("extension", ".cfg")
    names = sorted(f for f in os.listdir(output) if f.endswith(ext)) if os.path.isdir(
        output) else []
    first = True
    for name in names:
        with open(os.path.join(output, name), encoding="utf-8") as fh:
            values = parse_cfg(fh.read())
        if "name" not in values or "disk" not in values:
            continue
        if not first:
            print()
        first = False
        print(f"Name: {values['name']}")
        print(f"Memory: {values.get('memory', '')}")
        vif = values.get("vif") or []
        ip = next((m.group(1) for v in vif
                   if (m := re.search(r"ip=([\d.]+)", v))), None)
        print(f"IP: {ip}" if ip else "DHCP")
    return 0


def delete_main(argv: list[str]) -> int:
    opts, _, words = parse_args(argv)
    config = load_config(opts)
    if os.geteuid() != 0:
        raise XtError("This script is not running with root privileges.")
    names = words or ([opts["hostname"]] if "hostname" in opts else [])
    if not names:
        raise XtError("Please specify the hostname of the image(s) to delete.")
    vg = config.get("lvm")
    if not vg:
        raise XtError("Please specify the volume group with --lvm=VG (or 'lvm' in the "
                      "configuration).")
    rc = 0
    for name in names:
        for suffix in ("swap", "disk"):
            dev = f"/dev/{vg}/{name}-{suffix}"
            state = ss.load(ROOT) or {}
            if f"{name}-{suffix}" in state.get("vgs", {}).get(vg, {}).get("lvs", {}):
                result = subprocess.run(["lvremove", "--force", dev], capture_output=True,
                                        text=True, check=False)
                if result.returncode != 0:
                    sys.stderr.write(result.stderr)
                    rc = 1
        cfg = os.path.join(config.get("output", "/etc/xen"),
                           name + config.get("extension", ".cfg"))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cfg)
    return rc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("create", "list", "delete"):
        sys.stderr.write("usage: xen_create_image.py create|list|delete ARGS\n")
        return 2
    handler = {"create": create_main, "list": list_main, "delete": delete_main}[argv[0]]
    try:
        return handler(argv[1:])
    except XtError as exc:
        sys.stdout.flush()
        print(str(exc))
        return exc.code
    except ss.StorageError as exc:
        print(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
