"""The CLI's own behaviour: runtime choice, and one clear sentence (no traceback) for expected failures."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from devtools.cli import choose_runtime, cli
from devtools.errors import DevtoolsError
from devtools.exit_codes import ExitCode
from devtools.paths import REPO_ROOT


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
        (("status", "--data-dir", "{data}"), "error: nothing is running", ExitCode.NOT_RUNNING),
        (("logs", "web", "--data-dir", "{data}"), "error: no log for 'web'", ExitCode.ERROR),
        (("up", "--actors", "0", "--data-dir", "{data}"), "Invalid value for '--actors'", ExitCode.USAGE),
    ],
)
def test_expected_failures_print_one_sentence_and_no_traceback(tmp_path, args, message, code):
    result = devtools(*(a.format(data=tmp_path / "data") for a in args), env_path=str(tmp_path))
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_version_is_the_installed_packages():
    result = CliRunner().invoke(cli, ["--version"], prog_name="devtools")
    assert result.exit_code == 0 and result.stdout == f"devtools {version('cartridge')}\n"


def completion(shell_request: str, words: str = "", cword: int = 0, env_path: str = "/usr/bin:/bin") -> str:
    """What `devtools` answers the shell with _DEVTOOLS_COMPLETE set (as the installed script is run)."""
    env = {
        "PATH": env_path,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "services"), str(REPO_ROOT)]),
        "_DEVTOOLS_COMPLETE": shell_request,
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    result = subprocess.run([sys.executable, "-m", "devtools.cli"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_shell_completion_answers_to_devtools_and_is_documented_in_help():
    script = completion("bash_source")
    assert "_devtools_completion()" in script and "_DEVTOOLS_COMPLETE=bash_complete" in script
    assert completion("bash_complete", "devtools do", 1).split() == ["plain,doctor", "plain,down"]
    assert "plain,--registry-port" in completion("bash_complete", "devtools up --reg", 2).split()
    shown = CliRunner().invoke(cli, ["--help"], prog_name="devtools", terminal_width=200).stdout
    for shell in ("bash", "zsh", "fish"):
        assert f"_DEVTOOLS_COMPLETE={shell}_source devtools" in shown
