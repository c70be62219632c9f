"""DRBD: each DomU LV replicated over the crossover link, the DomU booted on DRBD on both nodes.

The guide's "Install and configure DRBD": `apt-get install drbd8-utils`, the meta LV
(`lvcreate -L 1G -n meta vg`), /etc/drbd.conf (one resource per DomU LV, identical on both
nodes), `drbdadm create-md` for each resource, `/etc/init.d/drbd start` on both, and
`drbdsetup /dev/drbdN primary -o` on the DomU's home node only ("Do NOT run it on the other
node"), then UpToDate/UpToDate. "Configure DomU to use your DRBD device": the cfg's disks
become `drbd:RES` and the DomU boots on them; "Configure DomU on your other Dom0 node": the
cfg is copied to the peer and the DomU boots there, never on both nodes at the same time.
"""

from runbook.engine import OneNode, Step, WholeCluster
from runbook.tasks import drbd

REQUIRES = ("base", "lvm", "domu", "drbd")

BOTH = "DRBD replicates between both nodes"

STEPS = [
    Step("drbd8-utils", drbd.install_utils, "apt-get install drbd8-utils"),
    Step("meta-lv", drbd.create_meta_lv, "the LV for DRBD's external meta data"),
    Step("drbd-conf", drbd.write_conf, "/etc/drbd.conf from the inventory, alike on both",
         WholeCluster("drbd.conf must be the same on both nodes")),
    Step("create-md", drbd.create_metadata, "drbdadm create-md for each resource",
         WholeCluster(BOTH)),
    Step("start", drbd.start_drbd, "/etc/init.d/drbd start on both nodes at once",
         WholeCluster("each node's init script waits for the other")),
    Step("initial-sync", drbd.force_initial_sync, "drbdsetup /dev/drbdN primary -o",
         OneNode(drbd.home_of_domus, "the DomU's home node holds its image")),
    Step("sync", drbd.wait_for_sync, "wait for UpToDate/UpToDate, then Secondary",
         WholeCluster(BOTH)),
    Step("cfg-drbd", drbd.switch_cfg, "the DomU cfg's disks become drbd:RES"),
    Step("placement", drbd.find_domus, "where each DomU runs, and the home's cfg"),
    Step("boot-home", drbd.boot_on_home, "xm create on the home node, ping, xm shutdown",
         OneNode(drbd.home_of_domus, "the DomU's home node boots it first")),
    Step("cfg-peer", drbd.copy_cfg, "the home's cfg copied to the other node"),
    Step("placement-again", drbd.find_domus, "placement again, right before the next start"),
    Step("boot-peer", drbd.boot_on_peer, "xm create on the other node, ping, xm shutdown"),
]
