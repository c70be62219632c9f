"""load_inventory(connect=...): the files a login needs exist, or the run stops before it."""

from __future__ import annotations

from pathlib import Path

from runbook.inventory import ConnectCheck, load_inventory
from tests.unit.inventory.helpers import DATA, D, Docs, H, lab_copy, load_error


def keys_in_folder(docs: Docs) -> None:
    """The lab's ssh settings pointed at keys/ inside the copied folder."""
    docs[D]["data"]["ssh"] = {"key_file": "keys/id_ed25519", "known_hosts": "keys/known_hosts"}


def write_keys(folder: Path, *names: str) -> None:
    (folder / "keys").mkdir(exist_ok=True)
    for name in names:
        (folder / "keys" / name).write_text("not checked: only its presence\n")


def line_of(path: Path, text: str) -> int:
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if text in t)


def test_the_lab_inventory_loads_before_the_lab_writes_its_keys(tmp_path: Path) -> None:
    """The lab's settings as committed, in a copy whose relative key paths lead nowhere."""
    folder = lab_copy(tmp_path)
    inv = load_inventory(folder, require=("domu",))  # unit tests and `runbook list` need this
    key = inv.ssh["ha1"].key_file
    assert key is not None and not key.exists()
    error = load_error(folder, connect=ConnectCheck())
    assert [(p.host, p.key) for p in error.problems] == [  # in the order of their lines
        ("ha1", "data.ssh.key_file"),
        ("ha2", "data.ssh.key_file"),
        ("ha1", "data.ssh.known_hosts"),
        ("ha2", "data.ssh.known_hosts"),
    ]
    assert error.problem == f"{key} does not exist"


def test_missing_key_file_and_known_hosts_name_file_line_host_and_key(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, keys_in_folder)
    defaults = folder / D
    key, known = folder / "keys" / "id_ed25519", folder / "keys" / "known_hosts"

    error = load_error(folder, connect=ConnectCheck())

    key_line, known_line = line_of(defaults, "key_file:"), line_of(defaults, "known_hosts:")
    assert str(error).splitlines() == [
        f"{defaults}, line {key_line}: host 'ha1': key 'data.ssh.key_file': {key} does not exist",
        f"{defaults}, line {key_line}: host 'ha2': key 'data.ssh.key_file': {key} does not exist",
        f"{defaults}, line {known_line}: host 'ha1': key 'data.ssh.known_hosts': "
        f"{known} does not exist",
        f"{defaults}, line {known_line}: host 'ha2': key 'data.ssh.known_hosts': "
        f"{known} does not exist",
    ]
    load_inventory(folder)  # not asked: the same folder loads


def test_present_files_load(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, keys_in_folder)
    write_keys(folder, "id_ed25519", "known_hosts")
    inv = load_inventory(folder, require=("domu",), connect=ConnectCheck())
    assert inv.ssh["ha2"].key_file == folder / "keys" / "id_ed25519"


def test_known_hosts_is_needed_only_while_host_keys_are_checked(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, keys_in_folder)
    write_keys(folder, "id_ed25519")
    error = load_error(folder, connect=ConnectCheck())
    assert {p.key for p in error.problems} == {"data.ssh.known_hosts"}
    # --no-host-key-check
    load_inventory(folder, connect=ConnectCheck(strict_host_keys=False))


def test_a_host_without_strict_host_key_checking_needs_no_known_hosts(tmp_path: Path) -> None:
    def ha2_not_strict(docs: Docs) -> None:
        keys_in_folder(docs)
        docs[H]["ha2"]["data"]["ssh"] = {
            "key_file": "keys/id_ed25519",
            "known_hosts": "keys/known_hosts",
            "strict_host_key_checking": False,
        }

    folder = lab_copy(tmp_path, ha2_not_strict)
    write_keys(folder, "id_ed25519")
    error = load_error(folder, connect=ConnectCheck())
    assert [(p.file, p.host, p.key) for p in error.problems] == [
        (folder / D, "ha1", "data.ssh.known_hosts")
    ]


def test_a_folder_where_the_key_should_be_is_not_a_file(tmp_path: Path) -> None:
    folder = lab_copy(tmp_path, keys_in_folder)
    write_keys(folder, "known_hosts")
    (folder / "keys" / "id_ed25519").mkdir()
    error = load_error(folder, connect=ConnectCheck())
    assert error.key == "data.ssh.key_file"
    assert error.problem == f"{folder / 'keys' / 'id_ed25519'} is not a file"


def test_missing_files_are_listed_with_the_other_problems(tmp_path: Path) -> None:
    def bad_port_too(docs: Docs) -> None:
        keys_in_folder(docs)
        docs[H]["ha2"]["port"] = "22"

    folder = lab_copy(tmp_path, bad_port_too)
    write_keys(folder, "known_hosts")
    error = load_error(folder, connect=ConnectCheck())
    assert [(p.file, p.host, p.key) for p in error.problems] == [
        (folder / H, "ha2", "port"),  # hosts.yaml first, then defaults.yaml
        (folder / D, "ha1", "data.ssh.key_file"),
        (folder / D, "ha2", "data.ssh.key_file"),
    ]


def test_only_the_hosts_to_connect_to_need_their_files(tmp_path: Path) -> None:
    def ha2_own_key(docs: Docs) -> None:
        keys_in_folder(docs)
        docs[H]["ha2"]["data"]["ssh"] = {"key_file": "keys/ha2", "known_hosts": "keys/known_hosts"}

    folder = lab_copy(tmp_path, ha2_own_key)
    write_keys(folder, "id_ed25519", "known_hosts")
    load_inventory(folder, connect=ConnectCheck(hosts=["ha1"]))  # --limit ha1
    load_inventory(folder, connect=ConnectCheck(hosts=["ha3"]))  # unknown: the caller's to report
    error = load_error(folder, connect=ConnectCheck(hosts=["ha1", "ha2"]))
    assert [(p.file, p.host, p.key) for p in error.problems] == [
        (folder / H, "ha2", "data.ssh.key_file")
    ]
    assert error.problem == f"{folder / 'keys' / 'ha2'} does not exist"


def test_a_password_login_has_no_file_to_check() -> None:
    inv = load_inventory(DATA / "hosts_only", connect=ConnectCheck())
    assert inv.ssh["ha1"].key_file is None and inv.ssh["ha1"].known_hosts is None
