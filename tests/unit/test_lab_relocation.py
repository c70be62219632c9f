"""The lab's Xen 3.2 relocation, pure parts: hosts-allow as xend applies it, SXP strings, and
the source's side of a migration in the hypervisor's domain table (migrating-NAME, resume)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import ModuleType

import pytest

from tests.unit.test_lab_xen import TEST, World
from xenlab import nodefs

relocation: ModuleType = nodefs.sim_module("relocation")
xm: ModuleType = relocation.xm


def test_sxp_string_undoes_the_escapes_of_the_config_file() -> None:
    assert relocation.sxp_string(r"^ha2X$ ^10\\.0\\.0\\.2$") == r"^ha2X$ ^10\.0\.0\.2$"
    assert relocation.sxp_string("") == ""


def test_empty_hosts_allow_allows_everyone() -> None:
    assert relocation.allow_patterns("") is None


@pytest.mark.parametrize(("setting", "fqdn", "addr", "allowed"), [
    (r"^ha1X$ ^10\.0\.0\.1$", "ha1X", "10.0.0.1", True),
    (r"^ha1X$ ^10\.0\.0\.1$", "intruder", "10.0.0.9", False),
    (r"^10\.0\.0\.1$", "ha1X", "10.0.0.1", True),  # the IP alone is enough
    # re.match anchors at the start only: "^ha1X" also lets ha1Xevil in
    (r"^ha1X", "ha1Xevil.example.org", "10.0.0.9", True),
    # no ^ needed either: re.match starts at the first character anyway
    (r"ha1X$", "ha1X", "10.0.0.9", True),
    (r"ha1X$", "not-ha1X", "10.0.0.9", False),
    # split(" "): two spaces leave an empty regex, which matches every host
    (r"^ha1X$  ^10\.0\.0\.1$", "intruder", "10.0.0.9", True),
    (r"^localhost$ ^localhost\.localdomain$", "ha1X", "10.0.0.1", False),
])
def test_hosts_allow_is_re_match_on_fqdn_or_ip(monkeypatch: pytest.MonkeyPatch, setting: str,
                                               fqdn: str, addr: str, allowed: bool) -> None:
    monkeypatch.setattr(relocation.socket, "getfqdn", lambda a: fqdn if a == addr else a)
    assert relocation.host_allowed(relocation.allow_patterns(setting), addr) == (allowed, fqdn)


def test_a_bad_regex_is_skipped_and_the_others_still_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relocation.socket, "getfqdn", lambda a: "ha1X")
    patterns = relocation.allow_patterns(r"^ha1X$ ([")
    assert len(patterns) == 1
    assert relocation.host_allowed(patterns, "10.0.0.1")[0]


def test_pre_copy_time_follows_memory_and_is_bounded() -> None:
    assert relocation.copy_seconds(110) == pytest.approx(1.0)
    assert relocation.copy_seconds(384) == pytest.approx(384 / 110)
    assert relocation.copy_seconds(100000) == relocation.MAX_COPY_S


def test_migrating_domain_is_listed_as_migrating_name_then_resumes() -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    assert w.do("migrating", node="ha1", name="test", action="begin")["ok"]
    assert w.names("ha1") == ["Domain-0", "migrating-test"]
    w.do("migrating", node="ha1", name="test", action="suspend")
    assert not w.net.namespaces["rbt-d-test-ha1"]["up"]  # a suspended guest answers nothing
    assert [d["state"] for d in w.do("list", node="ha1")["domains"]][1] == "--p---"
    w.do("migrating", node="ha1", name="test", action="abort")
    assert w.names("ha1") == ["Domain-0", "test"]
    assert w.net.namespaces["rbt-d-test-ha1"]["up"]


def test_migration_ends_with_the_plain_name_on_the_target() -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    w.do("migrating", node="ha1", name="test", action="begin")
    reply = w.do("migrate", node="ha1", name="test", target="ha2", pause_s=0)
    assert reply["ok"] and reply["domain"]["name"] == "test"
    assert w.names("ha2") == ["Domain-0", "test"] and w.names("ha1") == ["Domain-0"]


@pytest.mark.parametrize("pause", [-1, 11, "0.3"])
def test_pause_must_be_a_small_number(pause: object) -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    reply = w.do("migrate", node="ha1", name="test", target="ha2", pause_s=pause)
    assert reply == {"ok": False, "error": f"invalid pause {pause!r}"}


def test_unknown_migrating_action_is_refused() -> None:
    w = World()
    w.do("create", node="ha1", **TEST)
    assert w.do("migrating", node="ha1", name="test", action="fly") == {
        "ok": False, "error": "unknown migrating action 'fly'"}



# -- both ends over real TCP on 127.0.0.1, the hypervisor and disks stubbed ---------------------
class Xen:
    """The node-side xm calls relocation makes, recorded; the domain table is not involved."""

    def __init__(self, refuse_disks: str = "") -> None:
        self.ops: list[tuple[str, dict[str, object]]] = []
        self.refuse_disks = refuse_disks

    def request(self, op: str, **fields: object) -> dict[str, object]:
        self.ops.append((op, fields))
        if op == "list":
            return {"domains": [{"name": "Domain-0"}]}
        if op == "migrate":
            return {"domain": {"id": 7}}
        return {}

    def check_disks(self, spec: dict[str, object], running: object, node: object) -> None:
        if self.refuse_disks:
            raise xm.XmError(self.refuse_disks)


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Xen:
    xen = Xen()
    monkeypatch.setattr(xm, "request", xen.request)
    monkeypatch.setattr(xm, "check_disks", xen.check_disks)
    monkeypatch.setattr(xm, "node_boot", lambda: {"node": "ha2"})
    monkeypatch.setattr(relocation, "LOG", str(tmp_path / "xend.log"))
    monkeypatch.setattr(relocation, "COPY_MB_S", 100000.0)
    monkeypatch.setattr(relocation, "LIVE_PAUSE_S", 0.0)
    return xen


def serve_once(allow: str) -> int:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def one() -> None:
        conn, (addr, _) = listener.accept()
        relocation.accept(conn, addr, relocation.allow_patterns(allow))
        listener.close()

    threading.Thread(target=one, daemon=True).start()
    return int(port)


DOM = {"name": "test", "id": 4, "memory": 384, "disks": [{"uname": "drbd:test-disk"}]}


def test_an_allowed_migration_goes_through(wired: Xen, tmp_path: Path) -> None:
    port = serve_once(r"^127\.0\.0\.1$")
    relocation.migrate_to(DOM, "127.0.0.1", port, "ha1", True)
    ops = [(op, f.get("action")) for op, f in wired.ops]
    assert ("migrating", "begin") in ops and ("migrate", None) in ops
    assert ("migrating", "abort") not in ops
    migrate = next(f for op, f in wired.ops if op == "migrate")
    assert migrate == {"name": "test", "target": "ha2", "node": "ha1", "pause_s": 0.0}
    assert "Domain test received from 127.0.0.1, now domid 7" in \
        (tmp_path / "xend.log").read_text()


def test_a_rejected_source_is_logged_and_its_domain_resumes(wired: Xen, tmp_path: Path) -> None:
    port = serve_once(r"^ha1X$")
    with pytest.raises(xm.XmError, match=r"^/usr/lib/xen/bin/xc_save \d+ 4 0 0 1 failed$"):
        relocation.migrate_to(DOM, "127.0.0.1", port, "ha1", True)
    log = (tmp_path / "xend.log").read_text()
    fqdn = socket.getfqdn("127.0.0.1")
    assert f"WARNING (connection) Rejected connection from 127.0.0.1 ({fqdn})." in log
    assert "ERROR (XendCheckpoint) Save failed on domain test (4)." in log
    assert [(op, f.get("action")) for op, f in wired.ops] == [("migrating", "begin"),
                                                               ("migrating", "abort")]


def test_devices_refused_on_the_target_fail_with_its_words(wired: Xen) -> None:
    wired.refuse_disks = ("Device 2049 (vbd) could not be connected. 1: State change failed: "
                          "(-1) Multiple primaries not allowed by config")
    port = serve_once("")
    with pytest.raises(xm.XmError, match=r"\(-1\) Multiple primaries not allowed by config"):
        relocation.migrate_to(DOM, "127.0.0.1", port, "ha1", True)
    assert ("migrating", {"name": "test", "action": "abort"}) in wired.ops
    assert not [op for op, _ in wired.ops if op == "migrate"]


def test_a_non_live_migration_suspends_the_domain_first(wired: Xen) -> None:
    port = serve_once("")
    relocation.migrate_to(DOM, "127.0.0.1", port, "ha1", False)
    actions = [f.get("action") for op, f in wired.ops if op == "migrating"]
    assert actions == ["begin", "suspend"]
