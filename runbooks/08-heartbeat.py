"""Heartbeat: v1 files alike on both nodes, one xendomains resource group per node, started.

The guide's "Install and Configure Heartbeat": `apt-get install heartbeat`; /etc/ha.d/authkeys
(`auth 1`, `1 sha1 KEY`, mode 600, the key from a secret), ha.cf and haresources identical on
both nodes; /etc/ha.d/resource.d/xendomainsHA1 and HA2 as copies of /etc/init.d/xendomains
with their own config and lock lines; /etc/default/xendomainsHA1 and HA2 (XENDOMAINS_MIGRATE
names the OTHER node); each DomU's cfg linked in /etc/xen/auto/HA1 or HA2 after its home node;
`update-rc.d -f xendomains remove`; then heartbeat started on both nodes at once. The start is
refused while the nodes' files differ, authkeys is readable by others, a `node` line does not
match a node's `uname -n`, DRBD is not Connected UpToDate/UpToDate, or a DomU runs away from
its home node.
"""

from runbook.engine import Step, WholeCluster
from runbook.tasks import heartbeat

REQUIRES = ("base", "domu", "drbd", "migration", "heartbeat")

STEPS = [
    Step("install", heartbeat.install_heartbeat, "apt-get install heartbeat"),
    Step("authkeys", heartbeat.write_authkeys, "/etc/ha.d/authkeys, mode 600, key on stdin"),
    Step("ha-cf", heartbeat.write_ha_cf, "/etc/ha.d/ha.cf from the inventory"),
    Step("haresources", heartbeat.write_haresources, "/etc/ha.d/haresources: a group per node"),
    Step("resource-scripts", heartbeat.copy_resource_scripts,
         "xendomainsHA1/HA2: /etc/init.d/xendomains with their own config and lock"),
    Step("xendomains-config", heartbeat.write_xendomains_config,
         "/etc/default/xendomainsHA1/HA2, migrating to the other node"),
    Step("auto-folders", heartbeat.link_auto_folders,
         "/etc/xen/auto/HA1/HA2 with each DomU's cfg linked by its home"),
    Step("xendomains-rc", heartbeat.remove_xendomains_rc, "update-rc.d -f xendomains remove"),
    Step("inspect", heartbeat.inspect_cluster, "what the start compares, read on both nodes",
         WholeCluster("the start compares both nodes' files")),
    Step("start", heartbeat.start_heartbeat, "/etc/init.d/heartbeat start on both, both active",
         WholeCluster("Heartbeat runs on both nodes or on none")),
]
