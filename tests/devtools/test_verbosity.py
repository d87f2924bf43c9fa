"""`devtools -v` shows what kind, docker and kubectl print, line by line; `-q` prints errors only; not both.

The real CLI (click's CliRunner, or a subprocess where the exit path of `main` matters), kind as a stand-in
executable that prints on both streams as kind does (tests/devtools/fake_tools.py), the real kubectl.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from devtools.cli import cli
from devtools.exit_codes import ExitCode
from devtools.paths import REPO_ROOT
from tests.devtools.fake_tools import FakeTools


def devtools(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), prog_name="devtools", input=input)


@pytest.fixture
def tools(tmp_path, monkeypatch) -> FakeTools:
    """No kind cluster; kind says so on stderr, as the real one does. No Docker engine to ask."""
    found = FakeTools(tmp_path / "tools")
    monkeypatch.setenv("PATH", found.path)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    return found


def test_verbose_streams_what_kind_prints_and_the_default_does_not(tools):
    verbose = devtools("-v", "down", "--runtime", "kind")
    assert verbose.exit_code == 0, verbose.output
    assert "fake kind: get clusters" in verbose.stderr and "No kind clusters found." in verbose.stderr
    plain = devtools("down", "--runtime", "kind")
    assert plain.exit_code == 0
    assert "fake kind" not in plain.stderr and "No kind clusters found." not in plain.stderr
    assert "nothing to take down" in plain.stderr


def test_verbose_and_quiet_together_are_a_usage_error():
    result = devtools("-v", "-q", "down")
    assert result.exit_code == 2 and "-v/--verbose and -q/--quiet cannot be used together" in result.stderr


def test_quiet_drops_notes_but_keeps_the_answer_and_the_question(tools, tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    quiet = devtools("-q", "down", "--runtime", "local", "--data-dir", str(tmp_path / "empty"))
    assert quiet.exit_code == 0 and quiet.output == ""
    monkeypatch.setattr("devtools.teardown.stdin_is_terminal", lambda: True)
    asked = devtools("-q", "down", "--runtime", "local", "--all", "--data-dir", str(data), input="n\n")
    assert "Delete? [y/N]" in asked.stderr and data.exists(), "-q never answers a question for you"


def test_quiet_still_prints_an_error_with_its_hint(tmp_path):
    env = {"PATH": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "services"), str(REPO_ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "devtools.cli", "-q", "status", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == ExitCode.NOT_RUNNING
    assert "error: nothing is running" in result.stderr and "hint: start the stack with `devtools up`" in result.stderr
