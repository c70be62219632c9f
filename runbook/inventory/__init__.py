"""Load and validate the cluster inventory, a Nornir SimpleInventory folder.

The folder holds ``hosts.yaml`` (required), ``groups.yaml`` and ``defaults.yaml``. The package
reads each file once, keeping the line of every key, so every problem can name the file (and
line) where the offending value was written; it resolves each host's settings as Nornir does
(the host, then its groups in order, then the defaults; a top-level ``data`` key found first
hides the others' whole value), checks them, and returns typed settings (:class:`NodeSettings`,
:class:`SshSettings`). The Nornir inventory is built from the same reading (:func:`open_nornir`).

All problems are collected and raised together as one :class:`InventoryError`, one per line::

    inventory/lab/hosts.yaml, line 19: host 'ha1': key 'data.interfaces.eth1.address': \
not an IPv4 address: '10.0.0.300'

Settings are grouped in sections (:data:`SECTIONS`, one module each). ``base`` (names,
interfaces, NTP) is always checked; runbooks that need more ask for their sections through
``load_inventory(require=...)``, so validating the first runbooks does not demand the keys of
the later ones. The sections:

- ``base``: names, interfaces and NTP (:class:`NodeSettings`);
- ``xen``: the Xen packages, Dom0 memory, loop devices, the reboot (:class:`XenSettings`);
- ``lvm``: the partition for the volume group and the VG name (:class:`LvmSettings`);
- ``xen_tools``: /etc/xen-tools/xen-tools.conf (:class:`XenToolsSettings`);
- ``domu``: the DomUs of the cluster (:class:`DomU`, in :attr:`ClusterInventory.domus`);
  implies ``xen_tools``, whose values are the DomUs' defaults.
- ``drbd``: /etc/drbd.conf and one resource per DomU LV (:class:`DrbdSettings`); implies
  ``domu`` and ``lvm``.
- ``migration``: xend's relocation server and the live migration test
  (:class:`MigrationSettings`); implies ``domu`` and ``drbd``.
- ``heartbeat``: ha.cf, the authkey source, haresources and the xendomains resource groups
  (:class:`HeartbeatSettings`); implies ``domu``.

Adding a section: a module beside these with its settings dataclass, its ``parse_host`` (and
``check_cluster`` for what compares the nodes) and a ``SECTION``; one line in
:data:`SECTIONS`; and its field on :class:`NodeSettings` (or :class:`ClusterInventory` for
cluster-wide values).

Modules: ``errors`` (InventoryError, the problem collector), ``yamlfile`` (reading a file with
the line of each key), ``hosts`` (hosts, groups, defaults and the inheritance between them),
``values`` (value readers shared by the sections), one module per section, ``ssh`` (logging in),
``cluster`` (load_inventory), ``nornir_adapter`` (open_nornir).

A run about to connect passes ``load_inventory(connect=ConnectCheck(...))``: the SSH key and
known_hosts files of the hosts it connects to must then exist, reported like any problem.

Secrets are never part of the inventory: the files name environment variables (or, for a DomU's
root password, a file) and only the runbook that needs a secret reads it.
"""

from runbook.inventory.base import Interface
from runbook.inventory.cluster import CLUSTER_SIZE, ClusterInventory, NodeSettings, load_inventory
from runbook.inventory.domu import DomU
from runbook.inventory.drbd import DrbdResource, DrbdSettings
from runbook.inventory.errors import InventoryError, KeyPath
from runbook.inventory.heartbeat import HeartbeatSettings, ResourceGroup, XendomainsSettings
from runbook.inventory.hosts import DEFAULTS_FILE, GROUPS_FILE, HOSTS_FILE, HostView, Section
from runbook.inventory.lvm import LvmSettings
from runbook.inventory.migration import MigrationSettings
from runbook.inventory.nornir_adapter import netmiko_extras, open_nornir
from runbook.inventory.sections import SECTIONS
from runbook.inventory.ssh import ConnectCheck, SshSettings
from runbook.inventory.values import size_to_mib
from runbook.inventory.xen import XenSettings
from runbook.inventory.xen_tools import XenToolsSettings

__all__ = [
    "CLUSTER_SIZE",
    "DEFAULTS_FILE",
    "GROUPS_FILE",
    "HOSTS_FILE",
    "SECTIONS",
    "ClusterInventory",
    "ConnectCheck",
    "DomU",
    "DrbdResource",
    "DrbdSettings",
    "HeartbeatSettings",
    "HostView",
    "Interface",
    "InventoryError",
    "KeyPath",
    "LvmSettings",
    "MigrationSettings",
    "NodeSettings",
    "ResourceGroup",
    "Section",
    "SshSettings",
    "XenSettings",
    "XenToolsSettings",
    "XendomainsSettings",
    "load_inventory",
    "netmiko_extras",
    "open_nornir",
    "size_to_mib",
]
