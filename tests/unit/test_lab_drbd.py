"""The lab's DRBD: config reading, /proc/drbd rendering, generation identifiers, bitmap."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from xenlab.nodefs import sim_module

conf = sim_module("drbd_conf")
proc = sim_module("drbd_proc")
uuid = sim_module("drbd_uuid")
md = sim_module("drbd_md")

# `drbdadm-84 -c guide.conf dump all` of the guide's resource (Debian drbd-utils 9.x)
DUMP_84 = """\
# /tmp/drbdt/drbd.conf
global {
    usage-count yes;
    cmd-timeout-medium 600;
    cmd-timeout-long 0;
}

common {
    disk {
        resync-rate      90M;
    }
}

# resource test-disk on vm: ignored, not stacked
# defined at /tmp/drbdt/drbd.conf:7
resource test-disk {
    on ha1.domain.local {
        device           /dev/drbd1 minor 1;
        disk             /dev/vg/test-disk;
        meta-disk        /dev/vg/meta [0];
        address          ipv4 10.0.0.1:7788;
    }
    on ha2.domain.local {
        device           /dev/drbd1 minor 1;
        disk             /dev/vg/test-disk;
        meta-disk        /dev/vg/meta [0];
        address          ipv4 10.0.0.2:7788;
    }
    net {
        protocol           C;
        after-sb-0pri    discard-zero-changes;
        after-sb-1pri    discard-secondary;
        timeout           60;
        connect-int       10;
        ping-int          10;
        max-buffers      2048;
        max-epoch-size   2048;
        allow-two-primaries yes;
    }
    disk {
        on-io-error      detach;
    }
    startup {
        wfc-timeout      120;
        degr-wfc-timeout 120;
    }
}
"""

GUIDE_CONF = """\
global { usage-count yes; }
common { syncer { rate 90M; } }
resource test-disk {
protocol C;
startup { wfc-timeout 120; degr-wfc-timeout 120; }
disk { on-io-error detach; }
net { after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary;
timeout 60; connect-int 10; ping-int 10; max-buffers 2048; max-epoch-size 2048; }
syncer { }
on ha1.domain.local { device /dev/drbd1; disk /dev/vg/test-disk; address 10.0.0.1:7788;
meta-disk /dev/vg/meta[0]; }
on ha2.domain.local { device /dev/drbd1; disk /dev/vg/test-disk; address 10.0.0.2:7788;
meta-disk /dev/vg/meta[0]; }
}
"""


# ----------------------------------------------------------------------------- config


def test_dump_is_read_with_common_merged() -> None:
    res = conf.parse_dump(DUMP_84)["test-disk"]
    ha1 = res.hosts["ha1.domain.local"]
    assert (ha1.device, ha1.minor, ha1.disk) == ("/dev/drbd1", 1, "/dev/vg/test-disk")
    assert (ha1.meta_disk, ha1.meta_index, ha1.address, ha1.port) == \
        ("/dev/vg/meta", 0, "10.0.0.1", 7788)
    assert res.peer("ha1.domain.local").address == "10.0.0.2"
    assert res.rate == 90 * 1024 * 1024
    assert (res.ping_int, res.timeout, res.connect_int, res.ping_timeout) == (10, 6, 10, 0.5)
    assert res.protocol == "C"
    assert res.two_primaries
    assert res.opt("after-sb-1pri") == "discard-secondary"
    assert res.opt("after-sb-2pri") == "disconnect"  # DRBD's default
    assert res.opt("on-io-error") == "detach"


def test_sizes_use_drbd_units() -> None:
    assert conf.parse_size("90M") == 90 * 1024 ** 2
    assert conf.parse_size("250") == 250 * 1024  # a bare number is KiB/s
    with pytest.raises(conf.ConfError):
        conf.parse_size("fast")


def test_dump_83_puts_rate_back_in_syncer() -> None:
    text = conf.render_dump_83(conf.parse_dump(DUMP_84), "/etc/drbd.conf", "ha1.domain.local")
    assert "# resource test-disk on ha1.domain.local: not ignored, not stacked" in text
    assert "    protocol               C;\n" in text
    assert "    syncer {\n        rate             90M;\n    }\n" in text
    assert "        meta-disk        /dev/vg/meta [0];\n" in text
    assert "resync-rate" not in text


needs_drbdadm = pytest.mark.skipif(
    not any(Path(p).exists() for p in ("/usr/lib/drbd/drbdadm-84", "/lib/drbd/drbdadm-84")),
    reason="Debian's drbd-utils (drbdadm-84) is not installed")


@needs_drbdadm
def test_guide_config_is_read_by_the_real_parser(tmp_path: Path) -> None:
    path = tmp_path / "drbd.conf"
    path.write_text(GUIDE_CONF)
    res = conf.load(str(path))["test-disk"]
    assert res.rate == 90 * 1024 ** 2
    assert res.hosts["ha2.domain.local"].meta_index == 0
    assert not res.two_primaries


@needs_drbdadm
def test_bad_config_is_refused_with_the_real_message(tmp_path: Path) -> None:
    path = tmp_path / "drbd.conf"
    path.write_text(GUIDE_CONF.replace("protocol C;", "protocol C"))
    with pytest.raises(conf.ConfError) as caught:
        conf.load(str(path))
    assert caught.value.code == 10
    assert str(caught.value).startswith(f"{path}:5: Parse error: ';' expected,")


# ----------------------------------------------------------------------------- /proc/drbd


def device(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "minor": 1, "name": "test-disk", "cstate": "Connected", "role": "Primary",
        "peer_role": "Secondary", "disk": "UpToDate", "peer_disk": "UpToDate",
        "protocol": "C", "counters": {"ns": 524288, "nr": 0, "dw": 0, "dr": 524288},
        "oos": 0, "rs_total": 0, "rs_left": 0, "rs_start": 0.0, "rs_mark": None}
    base.update(changes)
    return base


def test_proc_connected_after_a_hole() -> None:
    """Minor 0 unused (the guide starts at drbd1): drbd_seq_show prints an empty line."""
    text = proc.render([device()], 0.0)
    assert text.splitlines() == [
        "version: 8.3.7 (api:88/proto:86-91)",
        "GIT-hash: ea9e28dbff98e331a62bcbcc63a6135808fe2917 build by root@ha1, "
        "2010-01-13 16:24:00",
        "",
        " 1: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r----",
        "    ns:524288 nr:0 dw:0 dr:524288 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:b oos:0"]
    assert proc.render([device(minor=0)], 0.0).splitlines()[2].startswith(" 0: cs:Connected")


def test_proc_standalone_has_a_blank_protocol_and_unconfigured_is_short() -> None:
    text = proc.render([device(minor=2, cstate="StandAlone", disk="Diskless",
                               role="Secondary"),
                        device(cstate="StandAlone", peer_role="Unknown",
                               peer_disk="DUnknown", net=False)], 0.0)
    lines = text.splitlines()
    assert lines[3] == " 1: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r----"
    assert lines[5] == " 2: cs:Unconfigured"
    waiting = proc.minor_lines(device(cstate="WFConnection", peer_role="Unknown",
                                      peer_disk="DUnknown", net=True), 0.0)
    assert waiting.startswith(" 1: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown "
                              "C r----\n")


def test_proc_sync_progress_as_the_kernel_computes_it() -> None:
    # 5 GiB device (1310720 bits), 20 % done, 10 s after start, the sync mark 3 s back
    total = 1310720
    left = total * 4 // 5
    dev = device(cstate="SyncSource", peer_disk="Inconsistent", rs_total=total, rs_left=left,
                 rs_start=100.0, rs_mark=(107.0, left + 3 * 23040))
    text = proc.minor_lines(dev, 110.0)
    bar, finish = text.splitlines()[2:]
    res = proc.progress_permille(left, total)
    assert res == 201  # (left>>10)*1000/((total>>10)+1): the kernel's integer arithmetic
    assert bar == "\t[===>................] sync'ed: 20.1% (4096/5120)M"
    assert finish == "\tfinish: 0:00:45 speed: 92,160 (104,856) K/sec"


def test_proc_small_sync_shows_kilobytes_bar_ends_and_stalls() -> None:
    dev = device(cstate="SyncTarget", role="Secondary", peer_role="Primary",
                 disk="Inconsistent", rs_total=8192, rs_left=8192, rs_start=0.0)
    bar = proc.minor_lines(dev, 1.0).splitlines()[2]
    assert bar == "\t[>....................] sync'ed:  0.1% (32768/32768)K"
    done = proc.sync_lines(device(rs_total=8192, rs_left=0, rs_start=0.0), 4.0)
    assert done.startswith("\t[===================>] sync'ed:100.0% (0/32768)K\n")
    stalled = proc.sync_lines(device(rs_total=8192, rs_left=100, rs_start=0.0,
                                     rs_mark=(0.0, 100)), 21.5)
    assert stalled.endswith("K\n\tstalled\n")


def test_speed_format_has_one_comma() -> None:
    assert [proc.thousands(v) for v in (999, 1000, 1001, 92160, 1234567)] == \
        ["999", "1000", "1,001", "92,160", "1234,567"]


def test_status_table_columns() -> None:
    text = proc.status([device(), device(minor=2, name="test-swap")])
    assert text.splitlines()[0] == "drbd driver loaded OK; device status:"
    assert text.splitlines()[1:3] == proc.header().splitlines()
    assert text.splitlines()[3:] == [
        "m:res        cs         ro                 ds                 p  mounted  fstype",
        "1:test-disk  Connected  Primary/Secondary  UpToDate/UpToDate  C",
        "2:test-swap  Connected  Primary/Secondary  UpToDate/UpToDate  C"]


def test_status_table_sync_rows_standalone_and_unconfigured() -> None:
    syncing = device(cstate="SyncSource", peer_disk="Inconsistent", rs_total=8192,
                     rs_left=4096, rs_start=0.0)
    lonely = device(minor=2, name="test-swap", cstate="StandAlone", peer_role="Unknown",
                    peer_disk="DUnknown", net=False)
    gone = device(minor=3, name="x", cstate="StandAlone", disk="Diskless", role="Secondary")
    table = proc.status_table([syncing, lonely, gone], now=2.0).splitlines()
    assert [line.split() for line in table] == [
        ["m:res", "cs", "ro", "ds", "p", "mounted", "fstype"],
        ["...", "sync'ed:", "50.1%", "(16384/32768)K"],  # 1000 - 4096000 // 8193
        ["1:test-disk", "SyncSource", "Primary/Secondary", "UpToDate/Inconsistent", "C"],
        ["2:test-swap", "StandAlone", "Primary/Unknown", "UpToDate/DUnknown", "r----"]]


# ----------------------------------------------------------------------------- UUIDs

A, B, C, D = 0x1000, 0x2000, 0x3000, 0x4000


@pytest.mark.parametrize(("mine", "peer", "hg"), [
    ([4, 0, 0, 0], [4, 0, 0, 0], 0),  # both just created: no sync
    ([A, 4, 0, 0], [4, 0, 0, 0], 2),  # forced primary vs fresh peer: full sync as source
    ([4, 0, 0, 0], [A, 4, 0, 0], -2),
    ([A, 0, 0, 0], [A, 0, 0, 0], 0),  # in sync
    ([A, 0, B, 0], [C, A, B, 0], -1),  # the peer went on without us: bitmap sync target
    ([C, A, B, 0], [A, 0, B, 0], 1),
    ([C, A, 0, 0], [D, A, 0, 0], 100),  # both went on from A: split brain
    ([C, 0, A, 0], [D, 0, A, 0], -100),  # split brain, history only
    ([C, 0, 0, 0], [D, 0, 0, 0], -1000),  # unrelated data
    ([A | 1, 0, 0, 0], [A, 0, 0, 0], 0),  # bit 0 is a flag, masked
])
def test_compare(mine: list[int], peer: list[int], hg: int) -> None:
    assert uuid.compare(mine, peer) == hg


def test_split_brain_with_two_primaries_drops_the_connection() -> None:
    hg, message = uuid.handshake(
        [C, A, 0, 0], [D, A, 0, 0], policies=("discard-zero-changes", "discard-secondary",
                                              "disconnect"),
        self_primary=True, peer_primary=True, self_changes=3, peer_changes=5,
        self_discard=False, peer_discard=False, discard_concurrent=True)
    assert (hg, message) == (-100, "Split-Brain detected, dropping connection!")


def test_manual_recovery_victim_syncs_from_peer() -> None:
    common = {"policies": ("disconnect", "disconnect", "disconnect"), "self_primary": False,
              "peer_primary": True, "self_changes": 2, "peer_changes": 9,
              "discard_concurrent": False}
    victim = uuid.handshake([D, A, 0, 0], [C, A, 0, 0], self_discard=True, peer_discard=False,
                            **common)
    assert victim == (-1, "Split-Brain detected, manually solved. Sync from peer node")
    survivor = uuid.handshake([C, A, 0, 0], [D, A, 0, 0], self_discard=False,
                              peer_discard=True, **{**common, "self_primary": True,
                                                    "peer_primary": False})
    assert survivor[0] == 1


def test_after_sb_policies() -> None:
    assert uuid.after_sb("discard-zero-changes", "disconnect", "disconnect", False, False,
                         0, 7, False) == -1  # we made no changes: we take the peer's
    assert uuid.after_sb("discard-zero-changes", "disconnect", "disconnect", False, False,
                         4, 7, False) == -100
    assert uuid.after_sb("disconnect", "discard-secondary", "disconnect", True, False,
                         4, 7, False) == 1
    assert uuid.after_sb("disconnect", "discard-secondary", "disconnect", False, True,
                         4, 7, False) == -1


def test_new_current_and_sync_end() -> None:
    fresh = uuid.new_current([A, 0, 0, 0], C)
    assert fresh == [C, A, 0, 0]
    assert uuid.new_current(fresh, D) == [D, A, 0, 0]  # the bitmap UUID stays while busy
    assert uuid.bitmap_done([C, A, B, 0]) == [C, 0, A, B]
    assert uuid.adopt([C, 0, A, B]) == [C, 0, A, B]


# ----------------------------------------------------------------------------- bitmap


def test_bitmap_marks_counts_merges_and_plans_runs() -> None:
    bits = uuid.bits_for(10 * 4096 + 1)
    assert bits == 11
    bm = bytearray(2)
    assert uuid.set_range(bm, 4096, 8192) == 2  # blocks 1 and 2
    assert uuid.set_range(bm, 5000, 10) == 0  # already marked
    other = bytearray(2)
    uuid.set_range(other, 9 * 4096, 4096)
    uuid.merge(bm, bytes(other))
    assert uuid.count(bm) == 3
    assert uuid.runs(bm, bits) == [(1, 2), (9, 1)]
    uuid.set_all(bm, bits)
    assert uuid.runs(bm, bits, max_run=4) == [(0, 4), (4, 4), (8, 3)]
    uuid.clear_bit(bm, 0)
    assert uuid.count(bm) == 10


def test_meta_data_slots_on_the_meta_lv(tmp_path: Path) -> None:
    meta = tmp_path / "meta"
    with open(meta, "wb") as fh:
        fh.truncate(2 * md.SLOT)
    assert md.read(str(meta), 1) is None
    header = md.create(str(meta), 1, 32 * 1024 * 1024)
    assert header["uuids"] == [4, 0, 0, 0] and header["disk"] == "Inconsistent"
    assert md.read(str(meta), 0) is None  # index 0 untouched
    assert md.read(str(meta), 1) == header
    with open(meta, "rb") as fh:
        fh.seek(md.SLOT)
        assert fh.read(len(md.MAGIC)) == md.MAGIC
    with pytest.raises(md.MetaError):
        md.create(str(meta), 2, 32 * 1024 * 1024)  # past the end of the meta LV


def test_real_drbdadm_parses_what_render_dump_83_prints(tmp_path: Path) -> None:
    """The 8.3 dump the lab prints is itself a config the real parser accepts."""
    tool = shutil.which("drbdadm-84") or next(
        (p for p in ("/usr/lib/drbd/drbdadm-84", "/lib/drbd/drbdadm-84") if Path(p).exists()),
        None)
    if tool is None:
        pytest.skip("Debian's drbd-utils (drbdadm-84) is not installed")
    path = tmp_path / "drbd.conf"
    path.write_text(conf.render_dump_83(conf.parse_dump(DUMP_84), str(path), "ha1"))
    result = subprocess.run([tool, "-c", str(path), "dump", "all"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert conf.parse_dump(result.stdout)["test-disk"].rate == 90 * 1024 ** 2


# ----------------------------------------------------------------------------- host side


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    """A lab folder as `lab up` leaves it, enough for xenlab.drbd: lab.json and node states."""
    state = tmp_path / ".lab" / "rbdu"
    for node in ("ha1", "ha2"):
        (state / "nodes" / node / "state" / "drbd").mkdir(parents=True)
        (state / "nodes" / node / "state" / "disks" / "lv" / "vg").mkdir(parents=True)
    (state / "lab.json").write_text("{}\n")
    return tmp_path


def test_domu_last_write_is_the_highest_acknowledged_on_any_node(lab_root: Path) -> None:
    from xenlab import drbd

    assert drbd.domu_last_write("rbdu", "t", lab_root) is None
    state = lab_root / ".lab" / "rbdu" / "nodes"
    (state / "ha1" / "state" / "drbd" / "domu-t.json").write_text('{"acked": 41}')
    (state / "ha2" / "state" / "drbd" / "domu-t.json").write_text('{"acked": 57}')
    assert drbd.domu_last_write("rbdu", "t", lab_root) == 57


def test_disk_seq_reads_the_guests_last_block(lab_root: Path) -> None:
    from xenlab import drbd

    lv = lab_root / ".lab" / "rbdu" / "nodes" / "ha2" / "state" / "disks" / "lv" / "vg" / "r0"
    with open(lv, "wb") as fh:
        fh.truncate(64 * 1024)
        fh.seek(60 * 1024)
        fh.write(b"LABSEQ t 00000000000000000123\n")
    assert drbd.disk_seq("rbdu", "ha2", "vg", "r0", lab_root) == 123
    assert drbd.disk_seq("rbdu", "ha1", "vg", "r0", lab_root) is None  # no such LV
    assert drbd.parse_seq(b"garbage") is None


def test_fail_and_repair_disk_edit_the_nodes_failed_list(lab_root: Path) -> None:
    from xenlab import drbd

    lv = lab_root / ".lab" / "rbdu" / "nodes" / "ha1" / "state" / "disks" / "lv" / "vg" / "r0"
    lv.write_bytes(b"")
    failed = lv.parents[3] / "drbd" / "failed-disks"
    drbd.fail_disk("rbdu", "ha1", "vg", "r0", lab_root)
    drbd.fail_disk("rbdu", "ha1", "vg", "r0", lab_root)
    assert failed.read_text() == "vg/r0\n"
    drbd.repair_disk("rbdu", "ha1", "vg", "r0", lab_root)
    assert failed.read_text() == ""
    with pytest.raises(drbd.DrbdLabError, match="has no logical volume vg/nope"):
        drbd.fail_disk("rbdu", "ha1", "vg", "nope", lab_root)
    with pytest.raises(drbd.DrbdLabError, match="unknown node"):
        drbd.proc_drbd("rbdu", "ha3", lab_root)
    assert drbd.proc_drbd("rbdu", "ha1", lab_root) == ""  # no module socket: not loaded


def test_the_module_and_the_host_agree_on_the_record_block() -> None:
    from xenlab import drbd

    module = sim_module("drbd_module")
    block = module.seq_record("test", 9876)
    assert len(block) == 4096
    assert module.parse_seq(block) == ("test", 9876) == drbd.parse_seq(block)


# ----------------------------------------------------------------------------- module states

CONF_NET = {"local": "10.0.0.1", "local_port": 7788, "peer": "10.0.0.2", "peer_port": 7788,
            "protocol": "C", "ping_int": 10.0, "ping_timeout": 0.5, "timeout": 6.0,
            "connect_int": 10.0, "two_primaries": False, "after_sb_0pri": "disconnect",
            "after_sb_1pri": "disconnect", "after_sb_2pri": "disconnect",
            "discard_my_data": False}


@pytest.fixture
def minor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A minor of the module with a 64 KiB "disk", no network, its kernel log in tmp_path."""
    module = sim_module("drbd_module")
    monkeypatch.setattr(module, "LOG_FILES", (str(tmp_path / "kern.log"),))
    m = module.Minor(module.Module(str(tmp_path)), 1, "r0")
    m.disk, m.size, m.nbits = "Inconsistent", 65536, 16
    m.bitmap = bytearray(2)
    m.uuids = [4, 0, 0, 0]
    return m


def kern_log(m: Any) -> str:
    return Path(m.module.root, "kern.log").read_text()


def test_primary_needs_uptodate_data_unless_forced(minor: Any) -> None:
    failure = sim_module("drbd_module").Failure
    with pytest.raises(failure) as refused:
        minor.primary(False)
    assert (refused.value.code, str(refused.value)) == (
        -2, "Refusing to be Primary without at least one UpToDate disk")
    minor.primary(True)
    assert (minor.role, minor.disk) == ("Primary", "UpToDate")
    assert minor.uuids[1] == 4 and minor.uuids[0] not in (0, 4)  # a new data generation
    log = kern_log(minor)
    assert "block drbd1: Forced to consider local data as UpToDate!" in log
    assert "block drbd1: role( Secondary -> Primary ) " in log


def test_held_open_device_stays_primary_and_discard_needs_secondary(minor: Any) -> None:
    failure = sim_module("drbd_module").Failure
    minor.primary(True)
    minor.open_by["domain:t"] = 0.0
    with pytest.raises(failure) as held:
        minor.secondary()
    assert (held.value.code, str(held.value)) == (-12, "Device is held open by someone")
    with pytest.raises(failure) as discard:
        minor.net_up({**CONF_NET, "discard_my_data": True})
    assert discard.value.code == 123


def test_split_brain_at_the_handshake_drops_to_standalone(minor: Any) -> None:
    minor.disk, minor.role, minor.uuids = "UpToDate", "Primary", [0x3000, 0x1000, 0, 0]
    minor.net = dict(CONF_NET)
    minor.handshake({"uuids": [0x4000, 0x1000, 0, 0], "disk": "UpToDate", "role": "Primary",
                     "changes": 3, "discard": False}, b"", CONF_NET)
    assert (minor.cstate, minor.net, minor.peer_disk) == ("StandAlone", None, "DUnknown")
    log = kern_log(minor)
    assert "block drbd1: Split-Brain detected, dropping connection!" in log
    assert "block drbd1: helper command: /sbin/drbdadm split-brain minor-1" in log


def test_handshake_picks_the_sync_direction(minor: Any) -> None:
    minor.disk, minor.uuids = "UpToDate", [0x1000, 0, 0, 0]
    minor.net = dict(CONF_NET)
    # the peer went on (its bitmap UUID is our current): we become SyncTarget of its blocks
    peer_bitmap = bytes([0b101, 0])
    minor.handshake({"uuids": [0x2000, 0x1000, 0, 0], "disk": "UpToDate", "role": "Primary",
                     "changes": 2, "discard": False}, peer_bitmap, CONF_NET)
    assert (minor.cstate, minor.disk, minor.rs_total) == ("SyncTarget", "Inconsistent", 2)
    assert "Began resync as SyncTarget (will sync 8 KB [2 bits set])." in kern_log(minor)


def test_a_primary_never_becomes_sync_target(minor: Any) -> None:
    minor.disk, minor.role, minor.uuids = "UpToDate", "Primary", [0x1000, 0, 0, 0]
    minor.net = dict(CONF_NET)
    minor.handshake({"uuids": [0x2000, 0x1000, 0, 0], "disk": "UpToDate", "role": "Secondary",
                     "changes": 0, "discard": False}, b"", CONF_NET)
    assert minor.cstate == "StandAlone"
    assert "I shall become SyncTarget, but I am primary!" in kern_log(minor)


def test_rate_read_from_the_83_syncer_section_too() -> None:
    """A resource whose options keep the 8.3 layout (syncer { rate 20M; }) syncs at 20M,
    not at the 250K default (seen after a re-up: 250 KiB/s instead of the configured rate)."""
    res = conf.Resource(name="r", hosts={}, options={"syncer": {"rate": "20M"}})
    assert res.rate == 20 * 1024 * 1024
    assert conf.Resource(name="r", hosts={}).rate == 250 * 1024
