"""Section "xen_tools": /etc/xen-tools/xen-tools.conf ("Configure XEN-tools")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, Final

from runbook.inventory.base import Interface
from runbook.inventory.errors import KeyPath
from runbook.inventory.hosts import HostView, Section
from runbook.inventory.lvm import LvmSettings
from runbook.inventory.values import (
    DIST,
    MISSING,
    kind,
    read_boolean,
    read_choice,
    read_ipv4,
    read_lvm_name,
    read_netmask,
    read_settings,
    read_size,
    read_text,
    read_url,
)

_KEYS: Final = (
    "lvm",
    "size",
    "memory",
    "swap",
    "fs",
    "dist",
    "image",
    "gateway",
    "netmask",
    "broadcast",
    "passwd",
    "arch",
    "mirror",
    "mirrors",
    "install_method",
)
_MIRROR_KEY: Final = re.compile(r"mirror_[a-z][a-z0-9.-]*")


@dataclass(frozen=True)
class XenToolsSettings:
    """The values the guide sets in /etc/xen-tools/xen-tools.conf (``data.xen_tools``).

    Sizes are xen-tools' strings ("5Gb", "384Mb"); :func:`size_to_mib` converts them.
    """

    lvm: str  # the volume group xen-create-image makes the DomUs' LVs in
    size: str  # the DomU's disk ("5Gb")
    memory: str  # its memory ("384Mb")
    swap: str  # its swap LV ("384Mb")
    fs: str  # ext2, ext3, ext4, xfs or reiserfs
    dist: str  # default distribution ("hardy")
    image: str  # "sparse" or "full"
    gateway: IPv4Address
    netmask: IPv4Address
    broadcast: IPv4Address
    passwd: bool  # `passwd = 1`: xen-create-image asks for the DomU's root password
    arch: str  # "amd64" or "i386"
    mirror: str  # the default mirror (http, https or ftp URL)
    mirrors: dict[str, str]  # per-distribution mirrors: {"mirror_etch": URL}, maybe empty
    install_method: str = "debootstrap"  # or "rinse" (Fedora, CentOS)

    def __hash__(self) -> int:  # mirrors is a dict: hash its items (equal objects, equal hash)
        return hash((self.lvm, self.size, self.dist, self.mirror, tuple(self.mirrors.items())))

    @property
    def network(self) -> IPv4Network:
        """The DomUs' network: gateway/netmask, e.g. 192.168.1.0/24."""
        return IPv4Network(f"{self.gateway}/{self.netmask}", strict=False)


def _network(
    h: HostView,
    key: KeyPath,
    gateway: IPv4Address,
    netmask: IPv4Address,
    broadcast: IPv4Address | None,
) -> None:
    """The DomUs' gateway, netmask and broadcast agree, and sit on the node's LAN."""
    network = IPv4Network(f"{gateway}/{netmask}", strict=False)
    if gateway in (network.network_address, network.broadcast_address):
        h.problem((*key, "gateway"), f"'{gateway}' cannot be the gateway of {network}")
    elif broadcast is not None and broadcast != network.broadcast_address:
        h.problem(
            (*key, "broadcast"),
            f"'{broadcast}' is not the broadcast address of {network} "
            f"(gateway/netmask): expected '{network.broadcast_address}'",
        )
    lan: Interface | None = h.fields.get("lan")
    if lan is not None and gateway not in lan.network:
        h.problem(
            (*key, "gateway"),
            f"'{gateway}' is outside the node's LAN network {lan.network}: the DomUs are "
            "bridged onto the LAN",
        )
    elif lan is not None and netmask != lan.netmask:
        h.problem(
            (*key, "netmask"),
            f"'{netmask}' differs from the LAN netmask '{lan.netmask}': the DomUs are "
            "bridged onto the LAN",
        )


def _passwd(h: HostView, key: KeyPath, passwd: Any) -> bool | None:
    if isinstance(passwd, str) and passwd.strip():  # never echo what may be a password
        h.problem(
            key,
            "expected true or false (true: xen-create-image asks for the root password); "
            "passwords never go in the inventory",
        )
        return None
    return read_boolean(h, key, passwd)


def _mirrors(h: HostView, key: KeyPath, value: Any) -> dict[str, str]:
    mirrors: dict[str, str] = {}
    if value is MISSING or value is None:
        return mirrors
    if not isinstance(value, dict):
        h.problem(
            key,
            f"expected a mapping of per-distribution mirrors (mirror_etch: URL), got {kind(value)}",
        )
        return mirrors
    for name, url in value.items():
        if not isinstance(name, str) or not _MIRROR_KEY.fullmatch(name):
            h.problem(
                (*key, name),
                f"not a per-distribution mirror setting such as mirror_etch: {name!r}",
            )
        else:
            checked = read_url(h, (*key, name), url)
            if checked is not None:
                mirrors[name] = checked
    return mirrors


def parse_host(h: HostView) -> dict[str, Any]:
    key: KeyPath = ("data", "xen_tools")
    conf = read_settings(
        h, key, _KEYS, "a mapping of the settings of /etc/xen-tools/xen-tools.conf"
    )
    if conf is None:
        return {"xen_tools": None}
    start = h.problem_count()

    def get(name: str) -> Any:
        return conf.get(name, MISSING)

    lvm = read_lvm_name(h, (*key, "lvm"), get("lvm"))
    lvm_settings: LvmSettings | None = h.fields.get("lvm")
    if lvm is not None and lvm_settings is not None and lvm != lvm_settings.vg:
        h.problem(
            (*key, "lvm"),
            f"{lvm!r} is not the node's volume group {lvm_settings.vg!r} (data.lvm.vg): "
            "xen-create-image would make the DomUs' LVs in another volume group",
        )
    sizes = {name: read_size(h, (*key, name), get(name)) for name in ("size", "memory", "swap")}
    fs = read_choice(h, (*key, "fs"), get("fs"), ("ext2", "ext3", "ext4", "xfs", "reiserfs"))
    dist = read_text(h, (*key, "dist"), get("dist"), "a distribution, e.g. hardy")
    if dist is not None and not DIST.fullmatch(dist):
        h.problem((*key, "dist"), f"not a distribution name: {dist!r}")
    image = read_choice(h, (*key, "image"), get("image"), ("sparse", "full"))
    gateway = read_ipv4(h, (*key, "gateway"), get("gateway"), "the DomUs' gateway, an IPv4 address")
    netmask = read_netmask(h, (*key, "netmask"), get("netmask"), "DomUs")
    broadcast = read_ipv4(h, (*key, "broadcast"), get("broadcast"), "the DomUs' broadcast address")
    if gateway is not None and netmask is not None:
        _network(h, key, gateway, netmask, broadcast)
    passwd = _passwd(h, (*key, "passwd"), get("passwd"))
    arch = read_choice(h, (*key, "arch"), get("arch"), ("amd64", "i386"))
    mirror = read_url(h, (*key, "mirror"), get("mirror"))
    mirrors = _mirrors(h, (*key, "mirrors"), get("mirrors"))
    method = read_choice(
        h,
        (*key, "install_method"),
        get("install_method"),
        ("debootstrap", "rinse"),
        default="debootstrap",
    )
    if h.problem_count() > start:
        return {"xen_tools": None}
    assert lvm is not None and fs is not None and dist is not None and image is not None
    assert gateway is not None and netmask is not None and broadcast is not None
    assert passwd is not None and arch is not None and mirror is not None and method is not None
    return {
        "xen_tools": XenToolsSettings(
            lvm=lvm,
            size=str(sizes["size"]),
            memory=str(sizes["memory"]),
            swap=str(sizes["swap"]),
            fs=fs,
            dist=dist,
            image=image,
            gateway=gateway,
            netmask=netmask,
            broadcast=broadcast,
            passwd=passwd,
            arch=arch,
            mirror=mirror,
            mirrors=mirrors,
            install_method=method,
        )
    }


SECTION: Final = Section("data.xen_tools: the settings of xen-tools.conf", parse_host)
