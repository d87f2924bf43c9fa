"""The CLI's own behaviour: runtime choice, and one clear sentence (no traceback) for expected failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devtools.cli import choose_runtime
from devtools.errors import DevtoolsError
from devtools.exit_codes import ExitCode


@pytest.fixture
def no_kind_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, kind, kubectl or tilt on PATH


def test_auto_picks_local_and_says_why_when_kind_tools_are_missing(no_kind_tools):
    runtime, why = choose_runtime("auto")
    assert runtime == "local"
    assert "kind not found on PATH" in why and "tilt not found on PATH" in why


def test_asking_for_kind_without_the_tools_is_one_clear_error(no_kind_tools):
    with pytest.raises(DevtoolsError) as err:
        choose_runtime("kind")
    assert "the kind runtime cannot run here" in err.value.message and "devtools doctor" in err.value.hint


def devtools(*args: str, env_path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devtools.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": env_path, "PYTHONPATH": "."},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("up", "--runtime", "kind"), "error: the kind runtime cannot run here", ExitCode.ERROR),
        (("status",), "error: nothing is running", ExitCode.NOT_RUNNING),
        (("logs", "web"), "error: no log for 'web'", ExitCode.ERROR),
        (("up", "--actors", "0"), "Invalid value for '--actors'", ExitCode.USAGE),
    ],
)
def test_expected_failures_print_one_sentence_and_no_traceback(tmp_path, args, message, code):
    result = devtools(*args, "--data-dir", str(tmp_path / "data"), env_path=str(tmp_path))
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
