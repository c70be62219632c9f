"""The guide's "Ubuntu - Base configuration": network, names, hostname, NTP."""

from __future__ import annotations

from nornir.core.task import Result, Task

from runbook import remote
from runbook.inventory import NodeSettings
from runbook.parsers import parse_interfaces
from runbook.tasks.files import ensure_file, read_file, render
from runbook.tasks.packages import ensure_packages

INTERFACES = "/etc/network/interfaces"
HOSTS = "/etc/hosts"
HOSTNAME = "/etc/hostname"
NTP_CONF = "/etc/ntp.conf"


def settings(task: Task) -> NodeSettings:
    node: NodeSettings = task.host.data["settings"]
    return node


def cluster_nodes(task: Task) -> list[NodeSettings]:
    """Both nodes' settings, in inventory order (for files identical on both nodes)."""
    nodes: list[NodeSettings] = task.host.data["cluster_nodes"]
    return nodes


def configure_interfaces(task: Task) -> Result:
    """Static eth0 (LAN) and eth1 (crossover) in /etc/network/interfaces, then apply them.

    Only interfaces whose stanza changed are restarted (``ifdown``/``ifup``), so a
    re-run touches nothing and the LAN is not bounced for a crossover change.
    """
    node = settings(task)
    wanted = render("interfaces.j2", lan=node.lan, crossover=node.crossover)
    before = parse_interfaces(read_file(task, INTERFACES) or "")
    change = ensure_file(task, INTERFACES, wanted)
    if not change.changed:
        return Result(host=task.host, result=f"{INTERFACES} already matches the inventory")
    after = parse_interfaces(wanted)
    bounced = [name for name in (node.lan.name, node.crossover.name)
               if before.get(name) != after.get(name)]
    for name in bounced:
        quoted = remote.quote(name)
        remote.run(task, f"ifdown --force {quoted} 2>/dev/null; ifup {quoted}", changes=True)
    return Result(host=task.host, changed=True, diff=change.diff,
                  result=f"wrote {INTERFACES}; restarted {', '.join(bounced) or 'nothing'}")


def configure_hosts(task: Task) -> Result:
    """/etc/hosts naming both nodes (FQDN and short name) and both crossover names."""
    node = settings(task)
    wanted = render("hosts.j2", node=node, nodes=cluster_nodes(task))
    change = ensure_file(task, HOSTS, wanted)
    if not change.changed:
        return Result(host=task.host, result=f"{HOSTS} already names both nodes")
    return Result(host=task.host, changed=True, diff=change.diff, result=f"wrote {HOSTS}")


def set_hostname(task: Task) -> Result:
    """/etc/hostname holds the FQDN, and the running hostname is the FQDN now (no reboot)."""
    node = settings(task)
    change = ensure_file(task, HOSTNAME, node.fqdn + "\n")
    running = remote.run(task, "hostname").stdout.strip()
    applied = running != node.fqdn
    if applied:
        remote.run(task, remote.quote("hostname", node.fqdn), changes=True)
    if not change.changed and not applied:
        return Result(host=task.host, result=f"hostname is already {node.fqdn}")
    done = [f"wrote {HOSTNAME}"] if change.changed else []
    if applied:
        done.append(f"running hostname {running} -> {node.fqdn}")
    return Result(host=task.host, changed=True, diff=change.diff, result="; ".join(done))


def install_ntp(task: Task) -> Result:
    """NTP installed, its servers from the inventory, and ntpd running."""
    node = settings(task)
    done: list[str] = []
    installed = not ensure_packages(task, ["ntp"])
    if not installed:
        done.append("installed ntp")
    change = ensure_file(task, NTP_CONF, render("ntp.conf.j2", ntp_servers=node.ntp_servers))
    if change.changed:
        done.append(f"wrote {NTP_CONF}")
    # After a real install the package has started ntpd; in a dry run it has not.
    running = (installed or not task.is_dry_run()) and remote.run(
        task, "/etc/init.d/ntp status", ok_codes=range(256)
    ).ok
    if not running:
        remote.run(task, "/etc/init.d/ntp start", changes=True)
        done.append("started ntp")
    elif change.changed:
        remote.run(task, "/etc/init.d/ntp restart", changes=True)
        done.append("restarted ntp")
    if not done:
        return Result(host=task.host, result="ntp already installed, configured and running")
    return Result(host=task.host, changed=True, diff=change.diff, result="; ".join(done))
