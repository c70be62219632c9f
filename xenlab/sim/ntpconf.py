"""Parsing of /etc/ntp.conf shared by the simulated ntpd and ntpq."""

from __future__ import annotations

HEADER = ("     remote           refid      st t when poll reach   delay   offset  jitter\n"
          + "=" * 78 + "\n")


def peers(text):
    """Names of the ``server``/``peer`` lines, in file order."""
    found = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "peer", "pool"):
            found.append(words[1])
    return found


def peer_line(name):
    """One ``ntpq -p`` row for a peer that never answered (the lab has no route out)."""
    return (f" {name[:15]:<15} {'.INIT.':<15} 16 u {'-':>4} {64:>4} {0:>4o} "
            f"{0.0:>7.3f} {0.0:>8.3f} {0.0:>7.3f}\n")


def render_peers(text):
    return HEADER + "".join(peer_line(name) for name in peers(text))
