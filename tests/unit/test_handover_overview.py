"""The handover overview (runbook.report_overview): its parsers, the parsed node state, the
clock arithmetic, and its file. Captured lab output in, typed values out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from nornir.core import Nornir

from runbook import remote
from runbook.facts import commands
from runbook.inventory import ClusterInventory
from runbook.report_overview import DRBD_CONF as DRBD_DEVICES
from runbook.report_overview import (
    HEARTBEAT,
    HeartbeatState,
    NodeState,
    Overview,
    _release,
    folder_name,
    gather,
    node_offset,
    node_state,
    overview_facts,
    parse_drbd_devices,
    parse_hashes,
    parse_heartbeat,
    peer_offset,
)
from tests.unit.test_handover_sample import sample_overview, with_output

H = "d97fe30e4b14dbf20943e5e470dbf020302062115ef0393fdf0aaaef83a98841"

DRBD_STATUS_83 = """\
drbd driver loaded OK; device status:
version: 8.3.7 (api:88/proto:86-91)
GIT-hash: ea9e28dbff98e331a62bcbcc63a6135808fe2917 build by root@ha1, 2010-01-27 12:00:00
m:res        cs         ro                 ds                 p  mounted  fstype
1:test-disk  Connected  Primary/Secondary  UpToDate/UpToDate  C
"""

DRBD_CONF = """\
global { usage-count no; }
resource test-disk {
  protocol C;
  on ha1 {
    device /dev/drbd1;
    disk /dev/vg/test-disk;
    address 10.0.0.1:7789;
    meta-disk /dev/vg/meta[0];
  }
  on ha2 {
    device /dev/drbd1;
    disk /dev/vg/test-disk;   # the same LV name on both nodes
    address 10.0.0.2:7789;
    meta-disk /dev/vg/meta[0];
  }
}
"""


def test_parse_hashes_reads_sha256sum_lines_and_missing_files() -> None:
    text = f"- /etc/drbd.conf\n{H}  /etc/xen-tools/xen-tools.conf\n"
    assert parse_hashes(text, ["/etc/drbd.conf", "/etc/xen-tools/xen-tools.conf"]) == {
        "/etc/drbd.conf": None, "/etc/xen-tools/xen-tools.conf": H}


@pytest.mark.parametrize("text", [
    "sha256sum: /etc/ha.d/authkeys: Permission denied\n",  # a line that is no hash
    f"{H}  /etc/drbd.conf\n",  # a path asked for is not answered
])
def test_parse_hashes_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hashes(text, ["/etc/drbd.conf", "/etc/ha.d/authkeys"])


@pytest.mark.parametrize(("text", "expected"), [
    ("Heartbeat is running on this machine.\nrscstatus: all\n", HeartbeatState(True, "all")),
    ("Heartbeat is running on this machine.\nrscstatus: local\n",
     HeartbeatState(True, "local")),
    ("Heartbeat is stopped on this machine.\nrscstatus: \n", HeartbeatState(False, "")),
])
def test_parse_heartbeat(text: str, expected: HeartbeatState) -> None:
    assert parse_heartbeat(text) == expected


def test_parse_heartbeat_refuses_other_output() -> None:
    with pytest.raises(ValueError):
        parse_heartbeat("cl_status: command not found\n")


def test_parse_drbd_devices_names_disk_and_meta_disk_once_per_resource() -> None:
    assert parse_drbd_devices(DRBD_CONF) == {"test-disk": ["/dev/vg/test-disk", "/dev/vg/meta"]}
    assert parse_drbd_devices("resource r0 {\n on a { disk /dev/sdb1; meta-disk internal; }\n}\n"
                              ) == {"r0": []}  # one line holding the whole `on` block


def test_release_is_lsb_releases_description() -> None:
    text = 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=8.04\nDISTRIB_DESCRIPTION="Ubuntu 8.04.4 LTS"\n'
    assert _release(text) == "Ubuntu 8.04.4 LTS"
    with pytest.raises(ValueError):
        _release(None)


@pytest.mark.parametrize(("folder", "name"), [
    ("/work/main/.lab/rbho/inventory", "rbho"), ("inventory/prod", "prod"),
    ("/srv/clusters/xen-a", "xen-a")])
def test_folder_name(folder: str, name: str) -> None:
    assert folder_name(Path(folder)) == name


def test_the_lab_node_as_the_overview_reads_it() -> None:
    overview = sample_overview()
    state = node_state(overview.reads["ha1"], overview.cluster)
    assert (state.xen_version, state.total_mib, state.free_mib, state.dom0_mib) == (
        "3.2.0", 2047, 1519, 512)
    assert state.vg is not None and (state.vg.size_mib, state.vg.free_mib) == (40956.0, 35452.0)
    assert state.lvs == ["test-disk", "test-swap"] and state.running == {}
    assert state.packages is not None and state.packages["xen-tools"] == "3.8-4ubuntu3"
    assert state.hashes is not None and state.hashes["/etc/ha.d/authkeys"] is None
    assert state.cfg_disks == {"test": ["phy:/dev/vg/test-swap", "phy:/dev/vg/test-disk"]}
    assert (state.drbd, state.drbd_installed, state.heartbeat, state.drbd_devices) == (
        None, False, None, None)  # not installed yet: 06 and 08 have not run


def test_drbd_and_heartbeat_when_the_node_has_them() -> None:
    overview = with_output(sample_overview(), "ha1", "drbd status", DRBD_STATUS_83)
    overview = with_output(overview, "ha1", "heartbeat status",
                           "Heartbeat is running on this machine.\nrscstatus: all\n")
    overview = with_output(overview, "ha1", "drbd.conf devices", DRBD_CONF)
    state = node_state(overview.reads["ha1"], overview.cluster)
    assert state.drbd is not None and state.drbd_installed
    row = state.drbd.rows["test-disk"]
    assert (row.cstate, row.roles, row.disks) == ("Connected", "Primary/Secondary",
                                                  "UpToDate/UpToDate")
    assert state.heartbeat == HeartbeatState(True, "all")
    assert state.drbd_devices == {"test-disk": ["/dev/vg/test-disk", "/dev/vg/meta"]}


def test_a_fact_that_failed_is_a_problem_with_its_reason_never_a_guess() -> None:
    overview = with_output(sample_overview(), "ha2", "xm info", "", exit_status=127)
    state = node_state(overview.reads["ha2"], overview.cluster)
    assert state.xen_version is None and state.free_mib is None
    assert "exited 127" in state.problems["xm info"]


def test_an_unreachable_node_has_no_values() -> None:
    overview = sample_overview()
    overview.reads["ha2"].error = "connection refused"
    state = node_state(overview.reads["ha2"], overview.cluster)
    assert state.unreachable == "connection refused" and state.kernel is None


def state(sent: float, received: float, start: float, end: float) -> NodeState:
    return NodeState("n", clock_start=start, clock_end=end, sent=sent, received=received)


@pytest.mark.parametrize(("s", "expected"), [
    # 0.1 s on the node inside a 0.3 s round trip: its first date ran between our 100.0
    # and 100.2, so a node date of 100.1 means an offset of 0 +- 0.1
    (state(100.0, 100.3, 100.1, 100.2), (0.0, 0.1)),
    # the node is 5 s ahead
    (state(100.0, 100.3, 105.1, 105.2), (5.0, 0.1)),
    # a node date at the very start of the window: we can only say within [-0.15, 0.05]
    (state(100.0, 100.3, 100.05, 100.15), (-0.05, 0.1)),
    # no time on the node between its dates: the whole round trip is the doubt
    (state(100.0, 100.2, 100.1, 100.1), (0.0, 0.1)),
])
def test_node_offset(s: NodeState, expected: tuple[float, float]) -> None:
    offset = node_offset(s)
    assert offset is not None
    assert offset == pytest.approx(expected)


def test_peer_offset_is_the_difference_with_both_doubts() -> None:
    first, second = state(100.0, 100.3, 100.05, 100.15), state(100.0, 100.3, 102.05, 102.15)
    offset = peer_offset(first, second)
    assert offset is not None
    assert (offset.offset_s, offset.uncertainty_s) == pytest.approx((2.0, 0.2))
    assert peer_offset(first, NodeState("n")) is None


def test_the_overview_reads_the_clock_first_and_last_and_never_reads_authkeys() -> None:
    facts = overview_facts(sample_overview().cluster)
    names = list(commands(facts))
    assert names[0] == "clock at start" and names[-1] == "clock at end"
    for command in commands(facts).values():
        assert "cat -- /etc/ha.d/authkeys" not in command
    assert HEARTBEAT in facts


def test_drbd_conf_is_read_for_its_devices_only_never_its_shared_secret(tmp_path: Path) -> None:
    conf = tmp_path / "drbd.conf"
    conf.write_text(DRBD_CONF.replace("protocol C;", 'protocol C;\n  net {\n'
                                      '    cram-hmac-alg sha1;\n    shared-secret "s3cr3t";\n  }'))
    done = subprocess.run(["bash", "-c", DRBD_DEVICES.command.replace("/etc/drbd.conf",
                                                                      str(conf))],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "s3cr3t" not in done.stdout
    assert parse_drbd_devices(done.stdout) == {"test-disk": ["/dev/vg/test-disk",
                                                             "/dev/vg/meta"]}


def test_the_overview_file_reads_back_as_written(tmp_path: Path) -> None:
    overview = sample_overview()
    again = Overview.from_json(overview.to_json())
    assert again == overview
    with pytest.raises(ValueError):
        Overview.from_json('{"schema_version": 99}')


def test_gather_asks_every_node_once_for_every_fact(nr: Nornir,
                                                    cluster: ClusterInventory) -> None:
    overview = gather(nr, cluster, ["ha1", "ha2"])
    wanted = list(commands(overview_facts(overview.cluster)))
    for host in ("ha1", "ha2"):
        read = overview.reads[host]
        assert read.error == "" and read.sent <= read.received
        assert list(read.results) == wanted  # in order: the clock first and last
    assert overview.cluster.name == "xen-ha-lab" and [n.fqdn for n in overview.cluster.nodes] == [
        "ha1.domain.local", "ha2.domain.local"]
    assert overview.cluster.domus[0].memory_mib == 384
    for host in ("ha1", "ha2"):  # one round trip: the journal holds exactly the overview
        assert [c.command for c in remote.journal(host)] == [
            overview.reads[host].results[name].command for name in wanted]


def test_gather_reads_only_the_nodes_of_the_invocation(nr: Nornir,
                                                      cluster: ClusterInventory) -> None:
    overview = gather(nr, cluster, ["ha1"])
    assert set(overview.reads) == {"ha1"} and overview.left_out == ("ha2",)
