"""The fidelity suite's transcript loader: strict schema, errors that name file and id."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fidelity.states import STATE_NAMES, level
from tests.fidelity.transcripts import FOLDER, Transcript, TranscriptError, load_all, load_file

GOOD = """\
- id: lvremove-open-lv
  source: "lvm2 2.02.26 tools/lvremove.c"
  node: ha1
  needs: [lvm, domu-running]
  setup: ["lvcreate -L 8M -n fid vg"]
  command: "lvremove -f vg/test-swap"
  stdin: null
  stdout: ""
  stderr: "  Can't remove open logical volume \\"test-swap\\"\\n"
  exit: 5
  cleanup: ["lvremove -f vg/fid"]
- id: xm-list
  source: "Xen 3.2.0 tools/python/xen/xm/main.py"
  node: ha2
  command: xm list
  stdout: "Name +ID.*\\n"
  stderr: ""
  exit: 0
  match: regex
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    first, second = load_file(write(tmp_path, "lvm.yaml", GOOD), STATE_NAMES)
    assert first == Transcript(
        id="lvremove-open-lv", source="lvm2 2.02.26 tools/lvremove.c", node="ha1",
        command="lvremove -f vg/test-swap", stdout="",
        stderr="  Can't remove open logical volume \"test-swap\"\n", exit=5, file="lvm.yaml",
        needs=("lvm", "domu-running"), setup=("lvcreate -L 8M -n fid vg",), stdin=None,
        match="exact", cleanup=("lvremove -f vg/fid",))
    assert (second.needs, second.match) == ((), "regex")
    assert second.matches("stdout", "Name   ID Mem\nDomain-0\n")
    assert not second.matches("stdout", "Domain-0\n")  # a full match, not a search
    assert not first.matches("stderr", "  Can't remove open logical volume \"test-swap\"")
    assert level(first.needs) == STATE_NAMES.index("domu-running")
    assert level(second.needs) == 0


@pytest.mark.parametrize(("change", "message"), [
    (("  exit: 5\n", "  exit: 5\n  expected: 1\n"),
     "lvm.yaml: transcript 'lvremove-open-lv': unknown key(s) expected"),
    (('  source: "lvm2 2.02.26 tools/lvremove.c"\n', ""),
     "lvm.yaml: transcript 'lvremove-open-lv': missing source"),
    (('  source: "lvm2 2.02.26 tools/lvremove.c"\n', '  source: " "\n'),
     "lvm.yaml: transcript 'lvremove-open-lv': source is empty"),
    (("  needs: [lvm, domu-running]\n", "  needs: [lvm, drbd-up]\n"),
     "lvm.yaml: transcript 'lvremove-open-lv': unknown lab state 'drbd-up'"),
    (("  exit: 5\n", "  exit: five\n"),
     "lvm.yaml: transcript 'lvremove-open-lv': exit must be an integer 0..255"),
    (("  node: ha1\n", "  node: ha3\n"),
     "lvm.yaml: transcript 'lvremove-open-lv': node must be one of ha1, ha2"),
    (("- id: lvremove-open-lv\n", "- id: Lvremove_Open\n"),
     "lvm.yaml: transcript 'Lvremove_Open': id must be kebab-case"),
    (("  match: regex\n", "  match: glob\n"),
     "lvm.yaml: transcript 'xm-list': match must be exact or regex"),
    (('  stdout: "Name +ID.*\\n"\n', '  stdout: "(unclosed"\n'),
     "lvm.yaml: transcript 'xm-list': stdout is not a valid regex"),
    (('  stdin: null\n', '  stdin: [a]\n'),
     "lvm.yaml: transcript 'lvremove-open-lv': stdin must be a string or null"),
    (('  setup: ["lvcreate -L 8M -n fid vg"]\n', '  setup: lvcreate\n'),
     "lvm.yaml: transcript 'lvremove-open-lv': setup must be a list of strings"),
])
def test_schema_errors_name_file_and_id(tmp_path: Path, change: tuple[str, str],
                                        message: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(TranscriptError) as err:
        load_file(write(tmp_path, "lvm.yaml", text), STATE_NAMES)
    assert str(err.value).startswith(message)


def test_entries_without_an_id_are_named_by_position(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match=r"^x.yaml: entry 2: missing id"):
        load_file(write(tmp_path, "x.yaml", GOOD.replace("- id: xm-list\n  source", "- source")))
    with pytest.raises(TranscriptError, match=r"^x.yaml: the file must be a YAML list"):
        load_file(write(tmp_path, "x.yaml", "id: x\n"))
    with pytest.raises(TranscriptError, match=r"^x.yaml: not valid YAML"):
        load_file(write(tmp_path, "x.yaml", "- id: [\n"))


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD.split("- id: xm-list")[0])
    with pytest.raises(TranscriptError) as err:
        load_all(tmp_path, STATE_NAMES)
    assert str(err.value) == ("b.yaml: transcript 'lvremove-open-lv': duplicate id "
                              "(also in a.yaml)")


def test_every_file_of_the_project_loads() -> None:
    """Every transcript file in the folder (whoever wrote it) follows the format."""
    transcripts = load_all(FOLDER, STATE_NAMES)
    files = {t.file for t in transcripts}
    assert {"lvm.yaml", "xm.yaml", "xen_tools.yaml"} <= files
    assert files == {p.name for p in FOLDER.glob("*.yaml")}
