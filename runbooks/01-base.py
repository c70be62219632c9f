"""Base configuration: static interfaces, /etc/hosts, FQDN hostname, NTP.

The guide's "Ubuntu - Base configuration" section, after the install and
`apt-get install ssh`: eth0 on the LAN and eth1 as the crossover link between
the nodes with static addresses, both nodes and the crossover names (ha1X,
ha2X) in /etc/hosts, the FQDN as hostname (`hostname` and `hostname -f` both
print it), and NTP, which keeps the nodes' clocks together for migrations.
"""

from runbook.engine import Step
from runbook.tasks import base

REQUIRES = ("base",)

STEPS = [
    Step("interfaces", base.configure_interfaces, "static eth0 and eth1 from the inventory"),
    Step("hosts", base.configure_hosts, "both nodes and the crossover names in /etc/hosts"),
    Step("hostname", base.set_hostname, "the FQDN in /etc/hostname and as running hostname"),
    Step("ntp", base.install_ntp, "NTP installed, servers from inventory, running"),
]
