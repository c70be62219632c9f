"""A fake dom0 for task tests: files, hostname, packages and services in memory.

It answers the exact command lines the tasks send (through the remote helper's
real framing, see fakeshell.py); an unknown command exits 127, so a task that
starts sending something new fails its test until the fake learns it.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field

UBUNTU_INTERFACES = """auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
"""


@dataclass
class FakeNode:
    hostname: str
    files: dict[str, str] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)  # commands that changed something

    @classmethod
    def fresh(cls, short: str) -> FakeNode:
        return cls(
            hostname=short,
            files={
                "/etc/hostname": f"{short}\n",
                "/etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{short}\n",
                "/etc/network/interfaces": UBUNTU_INTERFACES,
            },
        )

    def __call__(self, command: str) -> tuple[str, str, int]:
        if m := re.fullmatch(r"if \[ -e (\S+) \]; then cat -- \S+; else exit 3; fi", command):
            path = shlex.split(m[1])[0]
            return (self.files[path], "", 0) if path in self.files else ("", "", 3)
        if m := re.fullmatch(
            r"printf %s (\S*) \| base64 -d > (\S+) && chmod \d+ \S+ && mv -f \S+ (\S+)", command
        ):
            self.files[shlex.split(m[3])[0]] = base64.b64decode(m[1]).decode()
            self.log.append(f"write {shlex.split(m[3])[0]}")
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
        if command.startswith("dpkg-query -W -f='${Package}\\t${Status}\\n' "):
            names = shlex.split(command)[3:]
            out = "".join(f"{n}\tinstall ok installed\n" for n in names if n in self.packages)
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
