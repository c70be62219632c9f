"""A fake dom0 for task tests: files, hostname, packages, services, Xen and LVM in memory.

It answers the exact command lines the tasks send (through the remote helper's
real framing, see fakeshell.py); an unknown command exits 127, so a task that
starts sending something new fails its test until the fake learns it. It reads
like Ubuntu 8.04: `xm` and the LVM tools exist only once their package is installed,
and `blkid -c /dev/null DEV` prints nothing and exits 2 for a blank partition.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field

from runbook import nodelock
from tests.unit import fakenode_heartbeat, fakenode_migration

UBUNTU_INTERFACES = """auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
"""
MENU_LST = """default 0
# kopt=root=/dev/sda1 ro
# xenhopt=

title Ubuntu 8.04, kernel 2.6.24-19-server
kernel /boot/vmlinuz-2.6.24-19-server root=/dev/sda1 ro
"""
XEN_ENTRY = """title Xen 3.2 / Ubuntu 8.04, kernel 2.6.24-19-xen
kernel /boot/xen-3.2-1-amd64.gz
module /boot/vmlinuz-2.6.24-19-xen root=/dev/sda1 ro
"""
XM_HEADING = "Name                                        ID   Mem VCPUs      State   Time(s)\n"
PARTITION = "/dev/sda3"
DRBD_RESOURCES = {"test-disk": 1, "test-swap": 2}  # resource -> minor (meta index minor - 1)
DRBD_FRESH = ("Connected", "Secondary/Secondary", "Inconsistent/Inconsistent")
DRBD_SYNCED = ("Connected", "Secondary/Secondary", "UpToDate/UpToDate")
DRBD_CFG = "name = 'test'\ndisk = ['drbd:test-swap,sda1,w', 'drbd:test-disk,sda2,w']\n"
LAB_META = b"DRBD-LAB-META v08\n".ljust(64, b"\0")
GIB40 = 40 * 2**30


@dataclass
class FakeNode:
    hostname: str
    files: dict[str, str] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)  # commands that changed something
    kernel: str = "2.6.24-19-server"
    pvs: dict[str, str] = field(default_factory=dict)  # PV -> its VG ("" for none)
    lvs: dict[str, float] = field(default_factory=dict)  # LV of "vg" -> MiB
    domains: set[str] = field(default_factory=set)  # running DomUs
    silent_pings: int = 0  # pings a running DomU leaves unanswered (still booting)
    # DRBD (06-drbd): meta data per index of /dev/vg/meta; minor -> (cs, ro, ds) while loaded
    meta: set[int] = field(default_factory=set)
    images: set[str] = field(default_factory=set)  # LVs holding a filesystem or swap
    drbd: dict[int, tuple[str, str, str]] | None = None
    peer: FakeNode | None = field(default=None, repr=False, compare=False)  # DRBD's other end
    signature: str = ""  # blkid's tags of the partition, e.g. 'TYPE="ext3"'
    broken_installer: bool = False  # xen-create-image fails, exiting 0 as xen-tools 3.8 does
    broken_passwd: bool = False  # passwd in the new image fails; xen-tools 3.8 still exits 0
    lock_owner: str | None = None  # the node lock's owner file (runbook.nodelock), if held
    ha: fakenode_heartbeat.HeartbeatState = field(  # Heartbeat (08-heartbeat)
        default_factory=fakenode_heartbeat.HeartbeatState)

    @classmethod
    def fresh(cls, short: str) -> FakeNode:
        return cls(
            hostname=short,
            files={
                "/etc/hostname": f"{short}\n",
                "/etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{short}\n",
                "/etc/network/interfaces": UBUNTU_INTERFACES,
                "/etc/modules": "# /etc/modules\nlp\n",
                "/boot/grub/menu.lst": MENU_LST,
                "/sys/module/loop/parameters/max_loop": "8\n",
            },
        )

    @classmethod
    def ready(cls, short: str) -> FakeNode:
        """A node 01-04 have run on: the Xen dom0 with its volume group, no DomU yet."""
        node = cls.fresh(short)
        node.hostname = f"{short}.domain.local"
        node.packages |= {"ntp", "ubuntu-xen-server", "lvm2", "xen-tools", "debootstrap"}
        node.kernel = "2.6.24-19-xen"
        node.pvs = {PARTITION: "vg"}
        node.files["/sys/module/loop/parameters/max_loop"] = "64\n"
        node.files["/etc/modules"] = "# /etc/modules\nlp\nloop max_loop=64\n"
        node.files["/boot/grub/menu.lst"] = "default 0\n# xenhopt=dom0_mem=512M\n" + XEN_ENTRY
        return node

    @classmethod
    def built(cls, short: str) -> FakeNode:
        """A node 01-05 have run on (the DomU image lives on ha1)."""
        node = cls.ready(short)
        node.lvs = {"test-disk": 5120.0, "test-swap": 384.0}
        node.files["/var/lib/runbook/first-boot-test"] = ""
        if short == "ha1":
            node.files["/etc/xen/test.cfg"] = "name = 'test'\n"
            node.images = {"test-disk", "test-swap"}
        return node

    @classmethod
    def replicated(cls, short: str) -> FakeNode:
        """A node 01-06 have run on: DRBD up and in sync, the cfg on DRBD on both nodes."""
        node = cls.built(short)
        node.packages.add("drbd8-utils")
        node.lvs["meta"] = 256.0
        node.meta = {0, 1}
        node.drbd = {1: DRBD_SYNCED, 2: DRBD_SYNCED}
        node.files["/etc/xen/test.cfg"] = DRBD_CFG
        for res in DRBD_RESOURCES:
            node.files[f"/var/lib/runbook/drbd-create-md-{res}"] = "2026-11-26\n"
            if short == "ha1":
                node.files[f"/var/lib/runbook/drbd-initial-sync-{res}"] = "2026-11-26\n"
        node.files["/var/lib/runbook/drbd-boot-test"] = "2026-11-26\n"
        return node

    def xm_list(self) -> str:
        rows = "".join(f"{n:<44}{i + 1:>3} 384     1     -b----     1.0\n"
                       for i, n in enumerate(sorted(self.domains)))
        return XM_HEADING + f"{'Domain-0':<44}  0 512     2     r-----    10.0\n" + rows

    def storage(self, command: str) -> tuple[str, str, int] | None:
        """The LVM and block device commands (None: not one of them)."""
        words = shlex.split(command)
        lvm_tools = ("pvs", "lvs", "vgs", "pvcreate", "vgcreate", "lvcreate")
        if words[0] in lvm_tools and "lvm2" not in self.packages:
            return "", f"bash: {words[0]}: command not found\n", 127
        if words[:2] == ["pvs", "--noheadings"]:
            return "".join(f"  {pv}|{vg}|40960.00\n" for pv, vg in self.pvs.items()), "", 0
        if words[:2] == ["lvs", "--noheadings"]:
            return "".join(f"  {lv}|vg|{size:.2f}\n" for lv, size in self.lvs.items()), "", 0
        if words[0] == "pvcreate":
            self.pvs[words[-1]] = ""
        elif words[0] == "vgcreate":
            self.pvs[words[2]] = words[1]
        elif words[0] == "lvcreate":
            self.lvs[words[4]] = float(words[2].rstrip("m"))
        elif words[:3] == ["blkid", "-c", "/dev/null"]:
            lv = words[3].removeprefix("/dev/vg/")
            found = self.signature or ('TYPE="lvm2pv"' if words[3] in self.pvs else "")
            if lv in self.images:  # xen-create-image's (or a sync's) mkfs.ext3 and mkswap
                found = 'TYPE="swap"' if lv.endswith("-swap") else 'TYPE="ext3"'
            return (f"{words[3]}: {found}\n", "", 0) if found else ("", "", 2)
        elif command.startswith(f"cmp -s -n 1048576 {PARTITION} "):
            return "", "", 1 if self.signature or PARTITION in self.pvs else 0
        elif command.startswith(f"if [ -e {PARTITION} ]; then blockdev --getsize64"):
            return f"{GIB40}\n", "", 0
        else:
            return None
        self.log.append(command)
        return "", "", 0

    def xen(self, command: str) -> tuple[str, str, int] | None:
        """`xm` (None: not an xm command)."""
        words = shlex.split(command)
        if words[0] != "xm":
            return None
        if "ubuntu-xen-server" not in self.packages:
            return "", "bash: xm: command not found\n", 127
        if not self.kernel.endswith("-xen"):
            return "", "Error: Unable to connect to xend: No such file or directory.\n", 1
        if words == ["xm", "list"]:
            return self.xm_list(), "", 0
        if words[:2] == ["xm", "create"]:
            self.domains.add(words[2].rsplit("/", 1)[-1].removesuffix(".cfg"))
        elif words[:3] == ["xm", "shutdown", "-w"]:
            self.domains.discard(words[3])
        elif words[:2] == ["xm", "list"]:
            if words[2] in self.domains:
                return "", "", 0
            return "", f"Error: Domain '{words[2]}' does not exist.\n", 1
        else:
            return None
        self.log.append(command)
        return "", "", 0

    def create_image(self, words: list[str]) -> tuple[str, str, int]:
        """xen-create-image 3.8: exit 0 even when it made nothing."""
        options = dict(w.removeprefix("--").split("=", 1) for w in words[1:])
        self.log.append(f"xen-create-image {options['hostname']}")
        if self.broken_installer:
            return "", "Failed to create the logical volume\n", 0
        name = options["hostname"]
        self.lvs |= {f"{name}-disk": 5120.0, f"{name}-swap": 384.0}
        self.images |= {f"{name}-disk", f"{name}-swap"}
        self.files[f"/etc/xen/{name}.cfg"] = f"name = '{name}'\n"
        if self.broken_passwd:
            said = ("passwd: Authentication token manipulation error\n"
                    "passwd: password unchanged\n")
        else:
            said = "passwd: password updated successfully\n"
        return f"Enter new UNIX password: Retype new UNIX password: {said}All done\n", "", 0

    def node_lock(self, command: str) -> tuple[str, str, int] | None:
        """The node lock's three commands, as runbook.nodelock writes them (None: not one)."""
        if command.startswith(f"mkdir -p /var/lib/runbook && if mkdir {nodelock.LOCK_DIR} "):
            if self.lock_owner is not None:
                return self.lock_owner, "", nodelock.HELD_STATUS
            m = re.search(r"printf '%s\\n' (.*?) > \S+; else", command)
            assert m, command
            self.lock_owner = "".join(line + "\n" for line in shlex.split(m[1]))
            return "", "", 0
        if m := re.fullmatch(r"if grep -qx (\S+) \S+ 2>/dev/null; then rm -rf \S+; fi", command):
            if self.lock_owner is not None and shlex.split(m[1])[0] in self.lock_owner.split("\n"):
                self.lock_owner = None
            return "", "", 0
        if command == nodelock.unlock_command():
            if self.lock_owner is None:
                return "", "", nodelock.NOT_LOCKED_STATUS
            owner, self.lock_owner = self.lock_owner, None
            return owner, "", 0
        return None

    def proc_drbd(self) -> str:
        rows = "".join(f" {minor}: cs:{cs} ro:{ro} ds:{ds} C r----\n    ns:0 nr:0 dw:0 dr:0\n"
                       for minor, (cs, ro, ds) in sorted((self.drbd or {}).items()))
        return "version: 8.3.7 (api:88/proto:86-91)\n" + rows

    def set_drbd(self, minor: int, role: str, peer_role: str) -> None:
        assert self.drbd is not None
        self.drbd[minor] = ("Connected", f"{role}/{peer_role}", "UpToDate/UpToDate")
        if self.peer is not None and self.peer.drbd is not None:
            self.peer.drbd[minor] = ("Connected", f"{peer_role}/{role}", "UpToDate/UpToDate")
            self.peer.images |= self.images

    def drbd_command(self, command: str) -> tuple[str, str, int] | None:
        """DRBD's commands as 06-drbd sends them (None: not one of them)."""
        if command == "if [ -e /proc/drbd ]; then cat -- /proc/drbd; else exit 3; fi":
            return (self.proc_drbd(), "", 0) if self.drbd is not None else ("", "", 3)
        if m := re.fullmatch(r"if \[ -e /dev/vg/meta \]; then dd if=/dev/vg/meta bs=4096 "
                             r"skip=(\d+) count=1 2>/dev/null \| od -An -tx1 -v -N 64; "
                             r"else exit 3; fi", command):
            if "meta" not in self.lvs:
                return "", "", 3
            head = LAB_META if int(m[1]) // 32768 in self.meta else bytes(64)
            return " ".join(f"{b:02x}" for b in head) + "\n", "", 0
        if m := re.fullmatch(r"mkdir -p /var/lib/runbook && printf '%s\\n' ('[^']*'|\S+) > (\S+)",
                             command):
            self.files[shlex.split(m[2])[0]] = shlex.split(m[1])[0] + "\n"
            self.log.append(command)
            return "", "", 0
        words = command.split()
        if not words or words[0] not in ("drbdadm", "drbdsetup", "/etc/init.d/drbd"):
            return None
        words = shlex.split(command)
        if words[0] in ("drbdadm", "drbdsetup", "/etc/init.d/drbd") and \
                "drbd8-utils" not in self.packages:
            return "", f"bash: {words[0]}: command not found\n", 127
        if words[0] == "drbdadm" and words[-2] == "create-md":
            self.meta.add(DRBD_RESOURCES[words[-1]] - 1)
        elif words == ["/etc/init.d/drbd", "start"]:
            self.drbd = {minor: (self.drbd or {}).get(minor, DRBD_FRESH)
                         for minor in DRBD_RESOURCES.values()}
        elif words[0] == "drbdsetup" and words[2:] == ["primary", "-o"]:
            # the fake's sync is over at once, on both ends when the peer is linked
            self.set_drbd(int(words[1].removeprefix("/dev/drbd")), "Primary", "Secondary")
        elif words[:2] == ["drbdadm", "secondary"]:
            self.set_drbd(DRBD_RESOURCES[words[2]], "Secondary", "Secondary")
        else:
            return None
        self.log.append(command)
        return "", "", 0

    def __call__(self, command: str) -> tuple[str, str, int]:
        if (drbd := self.drbd_command(command)) is not None:
            return drbd
        if (locked := self.node_lock(command)) is not None:
            return locked
        if (heartbeat := fakenode_heartbeat.answer(self, command)) is not None:
            return heartbeat
        if (migration := fakenode_migration.answer(self, command)) is not None:
            return migration
        if m := re.fullmatch(r"if \[ -e (\S+) \]; then cat -- \S+; else exit 3; fi", command):
            path = shlex.split(m[1])[0]
            return (self.files[path], "", 0) if path in self.files else ("", "", 3)
        if m := re.fullmatch(
            r"printf %s (\S*) \| base64 -d > (\S+) && chmod \d+ \S+ && mv -f \S+ (\S+)", command
        ):
            self.files[shlex.split(m[3])[0]] = base64.b64decode(m[1]).decode()
            self.log.append(f"write {shlex.split(m[3])[0]}")
            return "", "", 0
        if (answer := self.storage(command) or self.xen(command)) is not None:
            return answer
        if command.startswith("xen-create-image "):
            return self.create_image(shlex.split(command))
        if m := re.fullmatch(r"ping -c 2 -i 0\.2 -W 2 (\S+)", command):
            if not self.domains or self.silent_pings > 0:
                self.silent_pings -= bool(self.domains)
                return "2 packets transmitted, 0 received, 100% packet loss\n", "", 1
            return (f"64 bytes from {m[1]}: icmp_seq=1 ttl=64 time=0.1 ms\n"
                    "2 packets transmitted, 2 received, 0% packet loss\n", "", 0)
        if m := re.fullmatch(r"mkdir -p (\S+) && touch (\S+)", command):
            self.files[shlex.split(m[2])[0]] = ""
            self.log.append(command)
            return "", "", 0
        if m := re.fullmatch(r"test -e (\S+)", command):
            path = shlex.split(m[1])[0]
            return "", "", 0 if path in self.files else 1
        if command == "uname -r":
            return self.kernel + "\n", "", 0
        if command == "update-grub":
            self.log.append(command)
            return "", "", 0
        if command == "hostname":
            return self.hostname + "\n", "", 0
        if m := re.fullmatch(r"hostname (\S+)", command):
            self.hostname = shlex.split(m[1])[0]
            self.log.append(command)
            return "", "", 0
        if m := re.fullmatch(r"ifdown --force (\S+) 2>/dev/null; ifup (\S+)", command):
            self.log.append(f"restart {m[2]}")
            return "", "", 0
        if command.startswith("dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' "):
            names = shlex.split(command)[3:]
            out = "".join(f"{n}\tinstall ok installed\t1.0\n" for n in names if n in self.packages)
            missing = [n for n in names if n not in self.packages]
            err = "".join(f"dpkg-query: no packages found matching {n}\n" for n in missing)
            return out, err, 1 if missing else 0
        if command.startswith("DEBIAN_FRONTEND=noninteractive apt-get install -y -q "):
            for name in shlex.split(command)[5:]:
                self.packages.add(name)
                self.log.append(f"install {name}")
                if name == "ntp":
                    self.files["/etc/ntp.conf"] = "server ntp.ubuntu.com\n"
                    self.running.add("ntp")
            return "Setting up ...\n", "", 0
        if m := re.fullmatch(r"/etc/init\.d/ntp (status|start|restart)", command):
            if "ntp" not in self.packages:
                return "", "sh: /etc/init.d/ntp: not found\n", 127
            if m[1] == "status":
                return (" * NTP server is running.\n", "", 0) if "ntp" in self.running else (
                    " * NTP server is not running.\n", "", 3)
            self.running.add("ntp")
            self.log.append(f"ntp {m[1]}")
            return "", "", 0
        return "", f"fakenode: unknown command: {command}\n", 127
