"""Live migration: xend relocation between the nodes, and each DomU moved live and back, timed.

The guide's "Configure Live Migration": in /etc/xen/xend-config.sxp the relocation server on
port 8002 (inventory), and `/etc/init.d/xend restart` ("reload has no effect, but restart will
not kill running DomUs") on both nodes; then `xm migrate test ha2X --live` and back. The guide
comments out xend-relocation-hosts-allow, which lets any host push a domain into dom0; the
default here allows only the peer (its crossover name and address) and binds relocation to
the crossover address. A migration is refused while DRBD is not Connected and
UpToDate/UpToDate, or without allow-two-primaries in /etc/drbd.conf. While a DomU moves, a
prober pings it at a fixed interval: the longest gap and the lost pings are recorded and held
to the inventory's limit (the guide: "I lose no packets or maximum 1 packet").
"""

from runbook.engine import Step
from runbook.tasks import domu, migration

REQUIRES = ("base", "domu", "drbd", "migration")

STEPS = [
    Step("placement", domu.find_domus, "where each DomU runs, per node"),
    Step("start-domus", migration.start_at_home,
         "xm create on the home node if it runs nowhere (the restart must keep it running)"),
    Step("xend-config", migration.write_xend_config,
         "/etc/xen/xend-config.sxp: relocation server, port, address, hosts-allow"),
    Step("xend-restart", migration.restart_xend,
         "/etc/init.d/xend restart when xend predates its config; DomUs keep running"),
    Step("migrate-away", migration.migrate_away,
         "xm migrate NAME <peer>X --live from the home node, prober pinging the DomU"),
    Step("migrate-back", migration.migrate_back,
         "xm migrate NAME <home>X --live back to the home node, prober pinging the DomU"),
]
