"""Xen's block-drbd for lab nodes: what ``drbd:RESOURCE`` disks do when a domain starts.

xm (``check_disks``) and xend's relocation server call :func:`attach` for each ``drbd:`` disk
of a domain that is about to run on this node, as udev runs ``block-drbd add``: the resource
is promoted (``drbdadm primary RES``) unless it already is Primary, and the device is then held
open by the domain's block backend. The real block-drbd of Xen 3.2 ignores drbdadm's exit status
and the guest's disk then fails to connect (blkback gets EROFS from a Secondary device); the lab
fails the start at once with drbdadm's message, so ``xm create`` and a migration without
``allow-two-primaries`` fail visibly. ``block-drbd remove`` (drbdadm secondary when the domain
stops or leaves) is done by the node's DRBD module, which watches the domains of its node.
"""

from __future__ import annotations

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import drbd_cli
import drbd_conf


def attach(resource: str, node: str | None = None, domain: str | None = None) -> str:
    """Promote ``resource`` for ``domain``; returns its device. Raises RuntimeError with the
    text drbdadm printed when the resource cannot be made Primary."""
    try:
        res = drbd_conf.load(drbd_cli.CONF).get(resource)
    except drbd_conf.ConfError as exc:
        raise RuntimeError(str(exc)) from None
    me = res.me(socket.gethostname()) if res is not None else None
    if res is None or me is None:
        raise RuntimeError(f"'{resource}' not defined in your config.")
    if not drbd_cli.loaded():  # what drbdadm's drbdsetup child says without the module
        raise RuntimeError(drbd_cli.MISSING_DRIVER.rstrip("\n") + "\nCommand '/sbin/drbdsetup "
                           f"{me.minor} primary' terminated with exit code 20")
    if drbd_cli.show_state(me.minor, "role").split("/")[0] != "Primary":
        reply = drbd_cli.request("primary", minor=me.minor, force=False)
        if reply is None or not reply.get("ok"):
            if domain:  # the disks promoted for this start before go back to Secondary
                drbd_cli.request("abort_hold", minor=me.minor, holder=f"domain:{domain}")
            text = (reply or {}).get("text", "drbd not loaded")
            code = int((reply or {}).get("code", 20))
            what = "State change failed" if code < 0 else "Failure"
            exit_code = 11 if code < 0 else 10
            # block-drbd runs /sbin/drbdadm, whose child is then /sbin/drbdsetup MINOR
            raise RuntimeError(f"{me.minor}: {what}: ({code}) {text}\n"
                               f"Command '/sbin/drbdsetup {me.minor} primary' terminated with "
                               f"exit code {exit_code}")
    if domain:
        drbd_cli.request("open", minor=me.minor, holder=f"domain:{domain}")
    return me.device
