"""run_command: one kind of failure for every tool, and with an echo (`devtools -v`) each line as it comes."""

from __future__ import annotations

import sys

import pytest

from devtools.errors import DevtoolsError
from devtools.process import run_command

# Prints a line on each stream, then waits for a file that only the reader of those lines creates: a runner
# that hands lines over only once the tool has exited makes it give up (exit 3) after 10 s.
WAITS_FOR_ITS_READER = """
import os, sys, time
print("out: first", flush=True)
print("err: first", file=sys.stderr, flush=True)
deadline = time.monotonic() + 10
while not os.path.exists(sys.argv[1]):
    if time.monotonic() > deadline:
        sys.exit(3)
    time.sleep(0.02)
print("out: after the reader answered", flush=True)
"""


def test_echo_gets_each_line_of_both_streams_while_the_tool_still_runs(tmp_path):
    marker = tmp_path / "seen"
    seen: list[str] = []

    def echo(line: str) -> None:
        seen.append(line)
        if {"out: first", "err: first"} <= set(seen):
            marker.touch()

    result = run_command([sys.executable, "-c", WAITS_FOR_ITS_READER, str(marker)], timeout=30, echo=echo)
    assert result.returncode == 0
    assert seen[-1] == "out: after the reader answered" and set(seen) == {
        "out: first",
        "err: first",
        "out: after the reader answered",
    }
    # The result still holds everything, stream by stream, as subprocess.run's capture does.
    assert result.stdout == "out: first\nout: after the reader answered\n" and result.stderr == "err: first\n"


def test_a_failure_names_the_command_and_its_last_line_with_or_without_echo():
    failing = [
        sys.executable,
        "-c",
        "import sys; print('working'); print('boom: no such cluster', file=sys.stderr); sys.exit(1)",
    ]
    with pytest.raises(DevtoolsError) as quiet:
        run_command(failing)
    seen: list[str] = []
    with pytest.raises(DevtoolsError) as echoed:
        run_command(failing, echo=seen.append)
    for err in (quiet, echoed):
        assert err.value.message.endswith("failed: boom: no such cluster")
    # Each stream's lines come in the order it wrote them; between the two pipes there is no order to keep
    # (the child's stdout is block-buffered, so "working" may well reach its pipe after stderr's line).
    assert sorted(seen) == ["boom: no such cluster", "working"]
    assert "-v" in quiet.value.hint and "above" in echoed.value.hint


def test_input_reaches_the_tool_and_a_timeout_is_one_sentence():
    echo = []
    cat = run_command(["cat"], input="kind: Cluster\n", echo=echo.append)
    assert cat.stdout == "kind: Cluster\n" and echo == ["kind: Cluster"]
    with pytest.raises(DevtoolsError, match="did not finish within 1 s"):
        run_command(["sleep", "30"], timeout=1, echo=echo.append)
