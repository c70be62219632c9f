"""The fidelity suite: every transcript of the real tools (transcripts/*.yaml) replayed on a lab
node, comparing stdout, stderr and the exit status; a mismatch shows a diff per stream.

Runs on its own lab (rbfi, ports 2451/2452); ``make fidelity`` prints the score.
"""

from __future__ import annotations

import difflib

import pytest

from tests.fidelity.states import STATE_NAMES, Lab, level
from tests.fidelity.transcripts import Transcript, load_all
from tests.integration.labtools import LAB_TESTS, ssh

pytestmark = LAB_TESTS

TRANSCRIPTS = sorted(load_all(states=STATE_NAMES), key=lambda t: level(t.needs))


def diff(stream: str, expected: str, actual: str, regex: bool) -> str:
    if regex:
        return f"{stream}: does not match the regex\n  regex:  {expected!r}\n  actual: {actual!r}"
    lines = difflib.unified_diff(expected.splitlines(keepends=True),
                                 actual.splitlines(keepends=True),
                                 f"{stream} (real tool)", f"{stream} (lab)")
    return "".join(line if line.endswith("\n") else line + "\\ no newline\n" for line in lines)


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.id for t in TRANSCRIPTS])
def test_transcript(transcript: Transcript, fidelity_lab: Lab) -> None:
    __tracebackhide__ = True
    fidelity_lab.reach(level(transcript.needs))
    lab, node = fidelity_lab.info, transcript.node
    try:
        for command in transcript.setup:
            ssh(lab, node, command, timeout=300)
        result = ssh(lab, node, transcript.command, check=False, stdin=transcript.stdin,
                     timeout=300)
    finally:
        for command in transcript.cleanup:
            ssh(lab, node, command, check=False, timeout=300)
    problems = [diff(stream, getattr(transcript, stream), getattr(result, stream),
                     transcript.match == "regex")
                for stream in ("stdout", "stderr")
                if not transcript.matches(stream, getattr(result, stream))]
    if result.returncode != transcript.exit:
        problems.append(f"exit status: real tool {transcript.exit}, lab {result.returncode}")
    if transcript.known_difference is not None:
        if not problems:
            pytest.fail(f"{transcript.id}: marked known_difference but the lab now matches the "
                        "real tool: remove the key", pytrace=False)
        pytest.xfail(f"known difference: {transcript.known_difference}")
    if problems:
        pytest.fail(f"{transcript.file} {transcript.id} ({transcript.source}) on {node}: "
                    f"{transcript.command}\n" + "\n".join(problems), pytrace=False)
