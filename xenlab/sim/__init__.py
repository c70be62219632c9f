"""Programs that run INSIDE a lab node (simulated package manager, ntpd, ntpq, ...).

They are plain scripts for the node's /usr/bin/python3 (stdlib only), bind-mounted read-only at
/usr/lib/runbook-lab/sim inside every node and imported there as top-level modules
(``import packages``). The host side never imports them; unit tests load them by path.
"""
