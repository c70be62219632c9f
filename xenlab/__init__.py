"""The lab: two simulated Ubuntu 8.04 Xen dom0 nodes (ha1, ha2) on this machine, over real SSH.

API in :mod:`xenlab.manager`: ``up``, ``down``, ``status``, ``power_off``, ``power_on``,
``cut_link``, ``restore_link``, ``LabError``, ``LabInfo``. ``python -m xenlab`` is a small
entry for working on the lab itself. Code that runs inside the nodes lives in ``sim/`` (and
``node_init.py``/``forwarder.py`` run as stdlib-only scripts).
"""
