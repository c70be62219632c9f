"""The guide's "Ubuntu - Base configuration": network, names, hostname, NTP.

Each step reads its facts, makes a pure plan (``plan_*``) and leaves applying it to
:func:`runbook.plan.planned`.
"""

from __future__ import annotations

from runbook import remote
from runbook.facts.packages import missing, packages
from runbook.facts.system import HOSTNAME, file_content, service_running
from runbook.inventory import NodeSettings
from runbook.parsers import parse_interfaces
from runbook.plan import (
    Action,
    InstallPackages,
    NodeReader,
    Plan,
    RunCommand,
    plan_of,
    planned,
    write_file,
)
from runbook.tasks.files import render

INTERFACES = "/etc/network/interfaces"
HOSTS = "/etc/hosts"
HOSTNAME_FILE = "/etc/hostname"
NTP_CONF = "/etc/ntp.conf"


def plan_interfaces(current: str | None, node: NodeSettings) -> Plan:
    """Static eth0 (LAN) and eth1 (crossover); restart only the interfaces whose stanza changed,
    so a re-run touches nothing and the LAN is not bounced for a crossover change."""
    wanted = render("interfaces.j2", lan=node.lan, crossover=node.crossover)
    write = write_file(INTERFACES, current, wanted)
    if not write:
        return plan_of(notes=[f"{INTERFACES} already matches the inventory"])
    before, after = parse_interfaces(current or ""), parse_interfaces(wanted)
    restarts: list[Action] = [
        RunCommand(f"ifdown --force {remote.quote(name)} 2>/dev/null; ifup {remote.quote(name)}",
                   done=f"restarted {name}")
        for name in (node.lan.name, node.crossover.name) if before.get(name) != after.get(name)
    ]
    return plan_of([*write, *restarts])


def plan_hosts(current: str | None, node: NodeSettings, nodes: list[NodeSettings]) -> Plan:
    """/etc/hosts naming both nodes (FQDN and short name) and both crossover names."""
    wanted = render("hosts.j2", node=node, nodes=nodes)
    return plan_of(write_file(HOSTS, current, wanted),
                   notes=[f"{HOSTS} already names both nodes"])


def plan_hostname(file: str | None, running: str, fqdn: str) -> Plan:
    """/etc/hostname holds the FQDN, and the running hostname is the FQDN now (no reboot)."""
    actions = write_file(HOSTNAME_FILE, file, fqdn + "\n")
    if running != fqdn:
        actions.append(RunCommand(remote.quote("hostname", fqdn),
                                  done=f"running hostname {running} -> {fqdn}"))
    return plan_of(actions, notes=[f"hostname is already {fqdn}"])


def plan_ntp(installed: bool, conf: str | None, running: bool, servers: tuple[str, ...]) -> Plan:
    """NTP installed, its servers from the inventory, ntpd running (restarted on a new conf).

    Installing starts ntpd with the package's own ntp.conf, so a fresh install always
    writes the conf and restarts.
    """
    actions: list[Action] = [] if installed else [InstallPackages(("ntp",))]
    write = write_file(NTP_CONF, conf, render("ntp.conf.j2", ntp_servers=servers))
    actions += write
    if write and (running or not installed):
        actions.append(RunCommand("/etc/init.d/ntp restart", done="restarted ntp"))
    elif not running and installed:
        actions.append(RunCommand("/etc/init.d/ntp start", done="started ntp"))
    return plan_of(actions, notes=["ntp already installed, configured and running"])


def interfaces(node: NodeReader) -> Plan:
    current = node.fact(file_content(INTERFACES))
    return plan_interfaces(current, node.settings)


def hosts(node: NodeReader) -> Plan:
    current = node.fact(file_content(HOSTS))
    return plan_hosts(current, node.settings, node.context.nodes)


def hostname(node: NodeReader) -> Plan:
    facts = node.facts(file_content(HOSTNAME_FILE), HOSTNAME)
    return plan_hostname(facts.get(file_content(HOSTNAME_FILE)), facts.get(HOSTNAME),
                         node.settings.fqdn)


def ntp(node: NodeReader) -> Plan:
    status = service_running("ntp")
    facts = node.facts(packages(["ntp"]), file_content(NTP_CONF), status)
    installed = not missing(facts.get(packages(["ntp"])), ["ntp"])
    running = installed and facts.get(status)  # no init script before the install
    return plan_ntp(installed, facts.get(file_content(NTP_CONF)), running,
                    node.settings.ntp_servers)


configure_interfaces = planned(interfaces)
configure_hosts = planned(hosts)
set_hostname = planned(hostname)
install_ntp = planned(ntp)
