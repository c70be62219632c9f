"""LVM: lvm2 and the volume group "vg" on the third partition (refuses to destroy data).

The guide's "Configure LVM": `apt-get install lvm2`, `pvcreate /dev/sda3`,
`vgcreate vg /dev/sda3`. The partition and its size come from the inventory;
a partition holding another volume group, a filesystem or any data is refused
unless the operator forces that host explicitly.
"""

from runbook.engine import Step
from runbook.tasks import lvm

REQUIRES = ("base", "lvm")

STEPS = [
    Step("lvm2", lvm.install_lvm, "the lvm2 package"),
    Step("volume-group", lvm.create_volume_group, "pvcreate + vgcreate on the partition"),
]
