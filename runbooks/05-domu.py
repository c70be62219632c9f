"""DomU: xen-create-image on the home node, equal LVs on the peer, first boot test.

The guide's "Using XEN-tools to install DomU": on the DomU's home node only,
`xen-create-image --hostname=NAME --ip=IP` (the root password comes from a
secret, never printed); on the other node LVs of exactly the same sizes, read
from the home node's LVs; then the first boot (`xm create`, seen in `xm list`
and answering ping, then shut down). A DomU found running on the other node is
never started.
"""

from runbook.engine import Step
from runbook.tasks import domu

REQUIRES = ("base", "xen_tools", "domu")

STEPS = [
    Step("placement", domu.find_domus, "where each DomU runs, its LVs and cfg, per node"),
    Step("image", domu.create_images, "xen-create-image on the home node"),
    Step("peer-lvs", domu.replicate_lvs, "the same LVs on the other node"),
    Step("placement-again", domu.find_domus, "placement again, right before any start"),
    Step("first-boot", domu.first_boot_test, "xm create, xm list, ping, xm shutdown"),
]
