"""Section "drbd": the guide's defaults, the resources made from the DomUs, and every bad
value named by file, host and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.inventory import DrbdSettings
from tests.unit.inventory.helpers import (
    EXAMPLE,
    LAB,
    Bad,
    Docs,
    G,
    lab_copy,
    load_error,
    removal,
    section_error,
    setting,
    settings_of,
)

DRBD = "xen_cluster.data.drbd"


def drbd_of(folder: Path) -> DrbdSettings:
    return settings_of(folder, "drbd", DrbdSettings)


def test_lab_and_example_load() -> None:
    lab, example = drbd_of(LAB), drbd_of(EXAMPLE)
    assert lab.meta_size == "256Mb" and example.meta_size == "1Gb"
    assert [(r.name, r.minor, r.meta_index, r.port) for r in example.resources] == [
        ("test-disk", 1, 0, 7788), ("test-swap", 2, 1, 7789)]


def test_an_empty_mapping_is_the_guide_with_a_safe_after_sb_1pri(tmp_path: Path) -> None:
    drbd = drbd_of(lab_copy(tmp_path, setting(G, DRBD, {})))
    assert (drbd.usage_count, drbd.protocol, drbd.syncer_rate, drbd.wfc_timeout,
            drbd.degr_wfc_timeout, drbd.on_io_error, drbd.timeout, drbd.connect_int,
            drbd.ping_int, drbd.max_buffers, drbd.max_epoch_size) == (
        True, "C", "90M", 120, 120, "detach", 60, 10, 10, 2048, 2048)
    assert (drbd.after_sb_0pri, drbd.after_sb_1pri, drbd.after_sb_2pri) == (
        "discard-zero-changes", "consensus", "disconnect")
    assert drbd.allow_two_primaries and drbd.meta_lv == "meta" and drbd.meta_size_mib == 1024
    assert drbd.syncer_rate_kib_s == 90 * 1024


def test_the_guides_after_sb_1pri_stays_available(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, setting(G, f"{DRBD}.after_sb_1pri", "discard-secondary"))
    assert drbd_of(folder).after_sb_1pri == "discard-secondary"


def test_minors_may_be_set_per_resource(tmp_path: Path) -> None:
    drbd = drbd_of(lab_copy(tmp_path, setting(G, f"{DRBD}.minors", {"test-swap": 7})))
    assert [(r.name, r.device) for r in drbd.resources] == [
        ("test-disk", "/dev/drbd1"), ("test-swap", "/dev/drbd7")]


def two_domus(docs: Docs) -> None:
    domus = docs[G]["xen_cluster"]["data"]["domus"]
    domus.append({**domus[0], "name": "web", "ip": "192.168.1.51"})


def test_resources_of_two_domus(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, lambda docs: (two_domus(docs), setting(
        G, f"{DRBD}.meta_size", "512Mb")(docs)))
    drbd = drbd_of(folder)
    assert [(r.name, r.domu, r.minor, r.meta_index, r.port) for r in drbd.resources] == [
        ("test-disk", "test", 1, 0, 7788), ("test-swap", "test", 2, 1, 7789),
        ("web-disk", "web", 3, 2, 7790), ("web-swap", "web", 4, 3, 7791)]
    assert [r.name for r in drbd.of_domu("web")] == ["web-disk", "web-swap"]


BAD: dict[str, Bad] = {
    "not a mapping": Bad(setting(G, DRBD, "yes"), G, "ha1", "data.drbd",
                         "expected a mapping of DRBD settings"),
    "missing": Bad(removal(G, DRBD), "hosts.yaml", "ha1", "data.drbd", "missing"),
    "unknown key": Bad(setting(G, f"{DRBD}.fencing", "resource-only"), G, "ha1",
                       "data.drbd.fencing", "unknown key"),
    "protocol": Bad(setting(G, f"{DRBD}.protocol", "D"), G, "ha1", "data.drbd.protocol",
                    "expected one of A, B, C"),
    "after-sb-2pri": Bad(setting(G, f"{DRBD}.after_sb_2pri", "discard-secondary"), G, "ha1",
                         "data.drbd.after_sb_2pri", "expected one of disconnect"),
    "rate": Bad(setting(G, f"{DRBD}.syncer_rate", "fast"), G, "ha1", "data.drbd.syncer_rate",
                "expected a rate such as 90M"),
    "timeout not below ping-int": Bad(setting(G, f"{DRBD}.timeout", 100), G, "ha1",
                                      "data.drbd.timeout", "is not less than ping_int"),
    "port": Bad(setting(G, f"{DRBD}.port_base", 80), G, "ha1", "data.drbd.port_base",
                "expected an integer from 1024 to 65535"),
    "minor clash": Bad(setting(G, f"{DRBD}.minors", {"test-swap": 1}), G, "ha1",
                       "data.drbd.minors", "test-swap and test-disk both use /dev/drbd1"),
    "minor of no resource": Bad(setting(G, f"{DRBD}.minors", {"web-disk": 5}), G, "ha1",
                                "data.drbd.minors.web-disk", "not a resource of this cluster"),
    "minor beyond 255": Bad(setting(G, f"{DRBD}.first_minor", 255), G, "ha1",
                            "data.drbd.first_minor", "test-swap would get minor 256"),
    "meta LV too small": Bad(setting(G, f"{DRBD}.meta_size", "200Mb"), G, "ha1",
                             "data.drbd.meta_size", "each index of external meta-data takes "
                             "128 MiB, so at least 256 MiB"),
    "meta LV is a DomU's": Bad(setting(G, f"{DRBD}.meta_lv", "test-disk"), G, "ha1",
                               "data.drbd.meta_lv", "is a DomU's LV"),
    "nodes differ": Bad(setting("hosts.yaml", "ha2.data.drbd", {"protocol": "A"}), "hosts.yaml",
                        "ha2", "data.drbd", "differs from the DRBD settings of host 'ha1'"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_drbd_settings_name_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    section_error(tmp_path, case, require=("drbd",), valid=("domu",))


def test_meta_lv_and_domus_must_fit_the_partition(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, lambda docs: (setting(G, f"{DRBD}.meta_size", "35Gb")(docs)))
    error = load_error(folder, require=("drbd",))
    assert error.key == "data.drbd.meta_size"
    assert "more than the 40960 MiB of /dev/sda3" in error.problem
