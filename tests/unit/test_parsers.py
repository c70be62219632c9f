"""Pure parsers on captured output (tests/data/outputs)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from runbook import parsers
from runbook.tasks.files import render

OUT = Path(__file__).resolve().parent.parent / "data" / "outputs"


def sample(name: str) -> str:
    return (OUT / name).read_text()


def test_interfaces_installer_default_is_dhcp() -> None:
    stanzas = parsers.parse_interfaces(sample("interfaces-ubuntu-default.txt"))
    assert stanzas["lo"].method == "loopback" and stanzas["lo"].auto
    assert stanzas["eth0"].method == "dhcp"
    assert stanzas["eth0"].options == {}


def test_interfaces_rendered_template_round_trips() -> None:
    from runbook.inventory import Interface

    lan = Interface("eth0", IPv4Address("192.168.1.11"), IPv4Address("255.255.255.0"),
                    IPv4Address("192.168.1.1"))
    cross = Interface("eth1", IPv4Address("10.0.0.1"), IPv4Address("255.255.255.0"), None)
    stanzas = parsers.parse_interfaces(render("interfaces.j2", lan=lan, crossover=cross))
    assert stanzas["eth0"].options == {
        "address": "192.168.1.11", "netmask": "255.255.255.0", "network": "192.168.1.0",
        "broadcast": "192.168.1.255", "gateway": "192.168.1.1",
    }
    assert stanzas["eth1"].auto and stanzas["eth1"].method == "static"
    assert "gateway" not in stanzas["eth1"].options


def test_getent_maps_every_name() -> None:
    resolved = parsers.parse_getent_hosts(sample("getent-hosts-ha1.txt"))
    assert resolved["ha1.domain.local"] == "127.0.1.1"
    assert resolved["ha2"] == "192.168.1.12"
    assert resolved["ha1x"] == "10.0.0.1"
    assert "ha3" not in resolved


def test_ip_addr_one_line_format() -> None:
    found = parsers.parse_ip_addr(sample("ip-o-4-addr.txt"))
    assert found["lo"] == [IPv4Interface("127.0.0.1/8")]
    assert found["eth0"] == [IPv4Interface("192.0.2.2/24")]


@pytest.mark.parametrize(
    ("name", "sent", "received", "reply"),
    [
        ("ping-ok.txt", 2, 2, "127.0.0.1"),
        ("ping-crossover-ok.txt", 2, 2, "10.0.0.2"),
        ("ping-loss.txt", 2, 0, None),
        ("ping-unreachable.txt", 0, 0, None),
    ],
)
def test_ping_summary(name: str, sent: int, received: int, reply: str | None) -> None:
    summary = parsers.parse_ping(sample(name))
    assert (summary.transmitted, summary.received) == (sent, received)
    assert summary.reply_from == (IPv4Address(reply) if reply else None)
    assert summary.loss_percent == (0.0 if received else 100.0)


def test_dpkg_packages_one_format() -> None:
    states = parsers.parse_dpkg_packages(sample("dpkg-query-packages.txt"))
    assert states == {
        "ntp": parsers.PackageState("install ok installed", "1:4.2.4p4+dfsg-3ubuntu2"),
        "lvm2": parsers.PackageState("deinstall ok config-files", "2.02.26-1ubuntu9")}
    assert states["ntp"].installed and not states["lvm2"].installed
    assert parsers.parse_dpkg_packages("") == {}
    with pytest.raises(ValueError, match="not a dpkg-query line"):
        parsers.parse_dpkg_packages("dpkg-query: no packages found matching ntp\n")


def test_ntp_conf_servers_in_order() -> None:
    conf = "driftfile x\nserver a.example iburst\n# server commented\npool b.example\nserverx c\n"
    assert parsers.parse_ntp_servers(conf) == ["a.example", "b.example"]


def test_ntpq_peers() -> None:
    peers = parsers.parse_ntpq_peers(sample("ntpq-p.txt"))
    assert [p.remote for p in peers] == ["ntp.ubuntu.com", "192.168.1.1"]
    assert peers[0].tally == "*" and peers[0].stratum == 2 and peers[0].reach == "377"
    assert peers[1].refid == ".INIT." and peers[1].stratum == 16
    assert parsers.parse_ntpq_peers("No association ID's returned\n") == []
