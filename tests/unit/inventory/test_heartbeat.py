"""Section "heartbeat": the guide's defaults, the key's source, and each bad value named by
file, host and key (never echoing what may be the key itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.inventory import InventoryError, ResourceGroup, load_inventory
from tests.unit.inventory.helpers import (
    LAB,
    Bad,
    Docs,
    G,
    H,
    lab_copy,
    removal,
    section_error,
    setting,
)

HB = "xen_cluster.data.heartbeat"
SECTIONS = ("base", "domu", "drbd", "heartbeat")


def test_lab_settings_and_derived_values() -> None:
    hb = load_inventory(LAB, require=SECTIONS).nodes["ha2"].heartbeat
    assert hb is not None
    assert hb.groups == (ResourceGroup("ha1", "HA1"), ResourceGroup("ha2", "HA2"))
    assert hb.ucast_addresses == ("192.168.1.11", "192.168.1.12")
    group = hb.group_of("ha2")
    assert (group.script, group.config, group.lockfile, group.auto_folder) == (
        "/etc/ha.d/resource.d/xendomainsHA2", "/etc/default/xendomainsHA2",
        "/var/lock/subsys/xendomainsHA2", "/etc/xen/auto/HA2")


def test_only_the_key_source_is_required(tmp_path: Path) -> None:
    """Everything else defaults to the guide's values."""
    folder = lab_copy(tmp_path, setting(G, HB, {"authkey_env": "HA_KEY",
                                                 "resource_groups": {"ha1": "HA1", "ha2": "HA2"}}))
    hb = load_inventory(folder, require=SECTIONS).nodes["ha1"].heartbeat
    assert hb is not None
    assert (hb.logfacility, hb.udpport, hb.keepalive, hb.deadtime, hb.warntime, hb.initdead,
            hb.ucast_interface, hb.auto_failback, hb.watchdog, hb.debugfile) == (
        "local0", 694, 1, 10, 3, 20, "eth0", True, "/dev/watchdog", "/var/log/ha-debug")
    xd = hb.xendomains
    assert (xd.migrate, xd.live, xd.save, xd.shutdown, xd.shutdown_all, xd.restore,
            xd.auto_only) == (True, True, "", "--halt --wait", "", False, True)


def test_loading_never_needs_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_HA_AUTHKEY", raising=False)
    load_inventory(LAB, require=SECTIONS)


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read the Heartbeat key"),
    ("", "the Heartbeat key is not set"),
    ("two words\n", "must be one word"),
])
def test_key_file_problems(tmp_path: Path, content: str | None, problem: str) -> None:
    folder = lab_copy(tmp_path, lambda docs: _key_file(docs))
    if content is not None:
        (folder / "ha.key").write_text(content)
    hb = load_inventory(folder, require=SECTIONS).nodes["ha1"].heartbeat
    assert hb is not None
    with pytest.raises(InventoryError) as caught:
        hb.authkey(folder)
    assert problem in str(caught.value) and caught.value.key == "data.heartbeat.authkey_file"
    assert "two words" not in str(caught.value)


def _key_file(docs: Docs) -> None:
    hb = docs[G]["xen_cluster"]["data"]["heartbeat"]
    del hb["authkey_env"]
    hb["authkey_file"] = "ha.key"


def test_key_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = lab_copy(tmp_path, _key_file)
    (folder / "ha.key").write_text("k3y-from-file\n")
    hb = load_inventory(folder, require=SECTIONS).nodes["ha1"].heartbeat
    assert hb is not None and hb.authkey(folder) == "k3y-from-file"
    lab = load_inventory(LAB, require=SECTIONS).nodes["ha1"].heartbeat
    assert lab is not None
    monkeypatch.setenv("RUNBOOK_HA_AUTHKEY", "k3y-from-env")
    assert lab.authkey(LAB) == "k3y-from-env"
    monkeypatch.setenv("RUNBOOK_HA_AUTHKEY", "")
    with pytest.raises(InventoryError, match="RUNBOOK_HA_AUTHKEY is unset or empty"):
        lab.authkey(LAB)


BAD: dict[str, Bad] = {
    "no key source": Bad(removal(G, f"{HB}.authkey_env"), G, "ha1", "data.heartbeat",
                         "no Heartbeat key: set authkey_env"),
    "both key sources": Bad(setting(G, f"{HB}.authkey_file", "ha.key"), G, "ha1",
                            "data.heartbeat.authkey_file", "not both"),
    "the key itself": Bad(setting(G, f"{HB}.authkey", "Sup3rSecret"), G, "ha1",
                          "data.heartbeat.authkey", "never goes in the inventory"),
    "key in authkey_env": Bad(setting(G, f"{HB}.authkey_env", "Sup3r Secret!"), G, "ha1",
                              "data.heartbeat.authkey_env", "not an environment variable name"),
    "deadtime too small": Bad(setting(G, f"{HB}.deadtime", 2), G, "ha1",
                              "data.heartbeat.deadtime", "too small compared to keepalive"),
    "warntime not below deadtime": Bad(setting(G, f"{HB}.warntime", 6), G, "ha1",
                                       "data.heartbeat.warntime", "not less than deadtime"),
    "initdead below deadtime": Bad(setting(G, f"{HB}.initdead", 5), G, "ha1",
                                   "data.heartbeat.initdead", "less than deadtime"),
    "udpport out of range": Bad(setting(G, f"{HB}.udpport", 70000), G, "ha1",
                                "data.heartbeat.udpport", "an integer from 1 to 65535"),
    "unknown facility": Bad(setting(G, f"{HB}.logfacility", "local9"), G, "ha1",
                            "data.heartbeat.logfacility", "one of none, auth"),
    "relative watchdog": Bad(setting(G, f"{HB}.watchdog", "dev/watchdog"), G, "ha1",
                             "data.heartbeat.watchdog", "not an absolute path"),
    "ucast on no interface": Bad(setting(G, f"{HB}.ucast_interface", "eth7"), G, "ha1",
                                 "data.heartbeat.ucast_interface",
                                 "'eth7' is neither the LAN nor the crossover interface"),
    "group for an unknown host": Bad(setting(G, f"{HB}.resource_groups",
                                             {"ha1": "HA1", "ha2": "HA2", "ha3": "HA3"}), G,
                                     "ha1", "data.heartbeat.resource_groups.ha3",
                                     "not a host of this inventory"),
    "a host without a group": Bad(setting(G, f"{HB}.resource_groups", {"ha1": "HA1"}), G,
                                  "ha1", "data.heartbeat.resource_groups",
                                  "no resource group for host 'ha2'"),
    "one suffix for both": Bad(setting(G, f"{HB}.resource_groups", {"ha1": "HA", "ha2": "ha"}),
                               G, "ha1", "data.heartbeat.resource_groups",
                               "two hosts share a resource group suffix"),
    "bad suffix": Bad(setting(G, f"{HB}.resource_groups", {"ha1": "HA 1", "ha2": "HA2"}), G,
                      "ha1", "data.heartbeat.resource_groups.ha1", "not a resource group suffix"),
    "restore without save": Bad(setting(G, f"{HB}.xendomains.restore", True), G, "ha1",
                                "data.heartbeat.xendomains.restore", "needs a save folder"),
    "unknown xendomains key": Bad(setting(G, f"{HB}.xendomains.migrate_to", "ha2"), G, "ha1",
                                  "data.heartbeat.xendomains.migrate_to", "unknown key"),
    "shell in shutdown": Bad(setting(G, f"{HB}.xendomains.shutdown", "--halt; reboot"), G,
                             "ha1", "data.heartbeat.xendomains.shutdown",
                             "expected xm shutdown options"),
    "settings differ": Bad(setting(H, "ha2.data.heartbeat", {
        "authkey_env": "OTHER", "resource_groups": {"ha1": "HA1", "ha2": "HA2"}}), H, "ha2",
        "data.heartbeat", "differs from the Heartbeat settings of host 'ha1'"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_heartbeat_names_file_host_and_key(tmp_path: Path, case: Bad) -> None:
    error = section_error(tmp_path, case, require=SECTIONS, valid=("base",))
    assert "Sup3r" not in str(error)  # what may be the key is named, never printed
