"""DRBD parsers on the shapes of 8.0, 8.3 and 8.4 (shared/guide/reference-outputs.md)."""

from __future__ import annotations

import pytest

from runbook.parsers.drbd import (
    DrbdParseError,
    SyncProgress,
    parse_init_status,
    parse_proc_drbd,
    split_pair,
)

PROC_80 = """\
version: 8.0.11 (api:86/proto:86)
GIT-hash: b3fe2bdfd3b9f7c2f923186883eb9e2a0d3a5b1b build by phil@mescal, 2008-02-12 11:56:43
 1: cs:Connected st:Primary/Secondary ds:UpToDate/UpToDate C r---
    ns:524288 nr:0 dw:0 dr:524288 al:0 bm:64 lo:0 pe:0 ua:0 ap:0
\tresync: used:0/31 hits:0 misses:0 starving:0 dirty:0 changed:0
\tact_log: used:0/127 hits:0 misses:0 starving:0 dirty:0 changed:0
 2: cs:Unconfigured
"""

PROC_83_SYNC = """\
version: 8.3.0 (api:88/proto:86-89)
GIT-hash: 9ba8b93e24d842f0dd3fb1f9b90e8348ddb95829 build by root@ha1, 2009-01-10 12:00:00
 1: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r---
    ns:1048576 nr:0 dw:0 dr:1048576 al:0 bm:64 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:4194304
\t[===>................] sync'ed: 20.0% (4096/5120)M
\tfinish: 0:00:45 speed: 92,160 (92,160) K/sec
 2: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r---
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0
 3: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r---
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:12
"""

PROC_84 = """\
version: 8.4.3 (api:1/proto:86-101)
srcversion: 88927CDF07AEA4F7F2580B2
 1: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----
    ns:0 nr:917504 dw:917504 dr:0 al:0 bm:56 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:131072
\t[================>...] sync'ed: 87.5% (131072/1048576)K
\tfinish: 0:00:12 speed: 10,240 (10,000) want: 10,240 K/sec
"""

INIT_STATUS = """\
drbd driver loaded OK; device status:
version: 8.3.7 (api:88/proto:86-91)
GIT-hash: ea9e28dbff98e331a62bcbcc63a6135808fe2917 build by root@ha1, 2010-01-01 00:00:00
m:res        cs         ro                 ds                 p  mounted  fstype
1:test-disk  Connected  Primary/Secondary  UpToDate/UpToDate  C
2:test-swap  Connected  Primary/Secondary  UpToDate/UpToDate  C
"""


def test_80_roles_under_st_and_unconfigured_minor() -> None:
    proc = parse_proc_drbd(PROC_80)
    assert (proc.version, proc.api, proc.proto) == ("8.0.11", "86", "86")
    one = proc.devices[1]
    assert (one.cstate, one.role, one.peer_role, one.disk, one.peer_disk, one.protocol) == (
        "Connected", "Primary", "Secondary", "UpToDate", "UpToDate", "C")
    assert one.counters["ns"] == 524288 and one.out_of_sync_kib is None
    assert not proc.devices[2].configured and proc.devices[2].disk == "Diskless"


def test_83_sync_progress_in_mib_wfconnection_and_standalone() -> None:
    proc = parse_proc_drbd(PROC_83_SYNC)
    sync = proc.devices[1].sync
    assert sync == SyncProgress(20.0, 4096 * 1024, 5120 * 1024, "0:00:45", 92160)
    assert proc.devices[1].out_of_sync_kib == 4194304
    waiting = proc.devices[2]
    assert (waiting.cstate, waiting.role, waiting.peer_role, waiting.peer_disk) == (
        "WFConnection", "Secondary", "Unknown", "DUnknown")
    alone = proc.devices[3]
    assert (alone.cstate, alone.protocol, alone.out_of_sync_kib) == ("StandAlone", "", 12)


def test_84_sync_target_with_want_field() -> None:
    device = parse_proc_drbd(PROC_84).devices[1]
    assert (device.cstate, device.role, device.disk, device.peer_disk) == (
        "SyncTarget", "Secondary", "Inconsistent", "UpToDate")
    assert device.sync == SyncProgress(87.5, 131072, 1048576, "0:00:12", 10240)


def test_not_loaded_is_an_error() -> None:
    with pytest.raises(DrbdParseError):
        parse_proc_drbd("cat: /proc/drbd: No such file or directory\n")


def test_init_status_rows() -> None:
    status = parse_init_status(INIT_STATUS, 0)
    assert status.loaded and status.version == "8.3.7"
    row = status.rows["test-swap"]
    assert (row.minor, row.cstate, row.roles, row.disks, row.protocol) == (
        2, "Connected", "Primary/Secondary", "UpToDate/UpToDate", "C")


def test_init_status_not_loaded() -> None:
    status = parse_init_status("drbd not loaded\n", 3)
    assert not status.loaded and status.rows == {}


def test_split_pair() -> None:
    assert split_pair("Primary/Secondary\n") == ("Primary", "Secondary")
    assert split_pair("Unconfigured\n") == ("Unconfigured", "Unknown")
