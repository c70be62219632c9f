"""Cross-node consistency (runbook.consistency): facts of both nodes in, findings out, as tables."""

from __future__ import annotations

import pytest

from runbook import consistency
from runbook.record import Finding

A = "a" * 64
B = "b" * 64


@pytest.mark.parametrize(("versions", "expected"), [
    ({"ha1": {"ntp": "1:4.2.4p4"}, "ha2": {"ntp": "1:4.2.4p4"}}, []),
    ({"ha1": {"ntp": "1:4.2.4p4"}, "ha2": {"ntp": "1:4.2.4p5"}},
     [Finding("package", "1:4.2.4p4 (as on ha1)", "1:4.2.4p5", "ha2", "ntp")]),
    ({"ha1": {"drbd8-utils": "2:8.3.7"}, "ha2": {}},
     [Finding("package", "2:8.3.7 (as on ha1)", "not installed", "ha2", "drbd8-utils")]),
    ({"ha1": {}, "ha2": {"heartbeat": "2.1.3"}},
     [Finding("package", "not installed (as on ha1)", "2.1.3", "ha2", "heartbeat")]),
    ({"ha1": {}, "ha2": {}}, []),
], ids=["same", "other-version", "missing-on-ha2", "only-on-ha2", "none"])
def test_package_versions(versions: dict[str, dict[str, str | None]],
                          expected: list[Finding]) -> None:
    assert consistency.package_versions(versions) == expected


@pytest.mark.parametrize(("hashes", "expected"), [
    ({"ha1": {"/etc/drbd.conf": A}, "ha2": {"/etc/drbd.conf": A}}, []),
    ({"ha1": {"/etc/drbd.conf": None}, "ha2": {"/etc/drbd.conf": None}}, []),
    ({"ha1": {"/etc/ha.d/authkeys": A}, "ha2": {"/etc/ha.d/authkeys": B}},
     [Finding("/etc/ha.d/authkeys", f"SHA-256 {A[:16]}… (as on ha1)", f"SHA-256 {B[:16]}…",
              "ha2")]),
    ({"ha1": {"/etc/xen/test.cfg": A}, "ha2": {"/etc/xen/test.cfg": None}},
     [Finding("/etc/xen/test.cfg", "the file (as on ha1)", "no such file", "ha2")]),
    ({"ha1": {"/etc/ha.d/ha.cf": None}, "ha2": {"/etc/ha.d/ha.cf": B}},
     [Finding("/etc/ha.d/ha.cf", "the file (as on ha2)", "no such file", "ha1")]),
], ids=["same", "on-neither", "different", "missing-on-ha2", "missing-on-ha1"])
def test_file_hashes(hashes: dict[str, dict[str, str | None]],
                     expected: list[Finding]) -> None:
    assert consistency.file_hashes(hashes) == expected


def test_file_hashes_never_show_more_than_a_prefix_of_a_hash() -> None:
    found = consistency.file_hashes({"ha1": {"/etc/ha.d/authkeys": A},
                                     "ha2": {"/etc/ha.d/authkeys": B}})
    assert A not in found[0].sentence() and B not in found[0].sentence()


@pytest.mark.parametrize(("offset", "uncertainty", "limit", "fails"), [
    (0.002, 0.004, 1.0, False),
    (-0.9, 0.05, 1.0, False),
    (0.99, 0.02, 1.0, True),  # could be over the limit: not proven within
    (-3.0, 0.01, 1.0, True),
    (150.0, 0.0, 150.0, False),  # gnt-cluster verify's own limit, exactly
], ids=["close", "negative-within", "too-coarse-to-tell", "far-behind", "at-limit"])
def test_clock_skew(offset: float, uncertainty: float, limit: float, fails: bool) -> None:
    found = consistency.clock_skew(offset, uncertainty, limit, ("ha1", "ha2"))
    assert bool(found) is fails
    if fails:
        assert found[0].node == "ha2" and f"{offset:+.3f} s" in found[0].found


@pytest.mark.parametrize(("free", "running", "domus", "expected"), [
    # one DomU of 384 MiB on ha1; ha2 has room for it
    ({"ha1": 3000.0, "ha2": 3000.0}, {"ha1": {"test": 384.0}, "ha2": {}}, {"test": 384.0}, []),
    # ha2 has 300 MiB free: it cannot take test should ha1 fail
    ({"ha1": 3000.0, "ha2": 300.0}, {"ha1": {"test": 384.0}, "ha2": {}}, {"test": 384.0},
     [Finding("memory for failover", "384 MiB free should ha1 fail (test)", "300 MiB free",
              "ha2")]),
    # a DomU running nowhere must still fit on either node
    ({"ha1": 500.0, "ha2": 500.0}, {"ha1": {}, "ha2": {}}, {"a": 256.0, "b": 256.0},
     [Finding("memory for failover", "512 MiB free should ha2 fail (a, b)", "500 MiB free",
              "ha1"),
      Finding("memory for failover", "512 MiB free should ha1 fail (a, b)", "500 MiB free",
              "ha2")]),
    # each node runs one; each must take the other's
    ({"ha1": 600.0, "ha2": 100.0}, {"ha1": {"a": 512.0}, "ha2": {"b": 512.0}},
     {"a": 512.0, "b": 512.0},
     [Finding("memory for failover", "512 MiB free should ha1 fail (a)", "100 MiB free",
              "ha2")]),
], ids=["fits", "ha2-too-small", "nowhere-yet", "crossed"])
def test_n_plus_one(free: dict[str, float], running: dict[str, dict[str, float]],
                    domus: dict[str, float], expected: list[Finding]) -> None:
    assert consistency.n_plus_one(free, running, domus) == expected


@pytest.mark.parametrize(("device", "expected"), [
    ("phy:/dev/vg/test-disk,sda2,w", ("vg", "test-disk")),
    ("/dev/vg/meta", ("vg", "meta")),
    ("/dev/mapper/vg-test--disk", ("vg", "test-disk")),
    ("/dev/mapper/my--vg-data", ("my-vg", "data")),
    ("drbd:test-disk", None),
    ("/dev/drbd1", None),
    ("file:/srv/x.img", None),
])
def test_lv_of(device: str, expected: tuple[str, str] | None) -> None:
    assert consistency.lv_of(device) == expected


@pytest.mark.parametrize(("lvs", "used", "owned", "expected"), [
    ({"ha1": ["test-disk", "test-swap"], "ha2": ["test-disk", "test-swap"]},
     ["phy:/dev/vg/test-disk,sda2,w", "phy:/dev/vg/test-swap,sda1,w"], [], []),
    # the peer's copies: no cfg names them there, the inventory's DomU owns them by name
    ({"ha1": ["test-disk"], "ha2": ["test-disk"]}, [], ["test-disk", "test-swap"], []),
    # DRBD's backing and meta LVs
    ({"ha1": ["web-disk", "meta"], "ha2": ["web-disk", "meta"]},
     ["/dev/vg/web-disk", "/dev/vg/meta"], [], []),
    ({"ha1": ["test-disk", "old-disk"], "ha2": ["test-disk"]}, [], ["test-disk"],
     [Finding("LV vg/old-disk", "used by a DomU or a DRBD resource", "used by none", "ha1")]),
    # a device of another VG does not make an LV of this one used
    ({"ha1": ["data"], "ha2": []}, ["/dev/other/data"], [],
     [Finding("LV vg/data", "used by a DomU or a DRBD resource", "used by none", "ha1")]),
], ids=["cfg", "owned-by-name", "drbd", "orphan", "other-vg"])
def test_unused_lvs(lvs: dict[str, list[str]], used: list[str], owned: list[str],
                    expected: list[Finding]) -> None:
    assert consistency.unused_lvs("vg", lvs, used, owned) == expected


def test_a_verdict_says_passed_failed_or_not_checked() -> None:
    finding = Finding("clock", "within 1 s of ha1", "+3.000 s ± 0.001 s from ha1", "ha2")
    assert consistency.Verdict("clock", "t", "c").outcome == "passed"
    assert consistency.Verdict("clock", "t", "c", (finding,)).outcome == "failed"
    assert consistency.Verdict("clock", "t", "c", unavailable="ha2 not read").outcome == \
        "not checked"
