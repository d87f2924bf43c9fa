"""`devtools up` on the real local runtime, through the CLI: the progress transcript without a terminal, and
`--timeout`. The ports are free ones (the CLI's defaults may be taken on a shared machine): only how `up` builds
its LocalConfig is replaced, the rest is the real command, supervisor and services."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from devtools.cli import cli
from devtools.local import LocalConfig, LocalRuntime
from devtools.runtimes import UpOptions
from tests.devtools.conftest import local_config

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@pytest.fixture
def config(tmp_path, monkeypatch) -> LocalConfig:
    chosen = local_config(tmp_path)
    monkeypatch.setattr(UpOptions, "local_config", lambda self: chosen)
    yield chosen
    LocalRuntime(chosen).down()


def test_without_a_terminal_up_prints_each_step_and_each_component_as_it_becomes_healthy(config):
    result = CliRunner().invoke(cli, ["up", "--runtime", "local", "--detach", "--no-frontend"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    names = [c.name for c in config.components()]
    step = f"Starting {', '.join(names)}"
    assert lines[0] == "runtime: local (asked for with --runtime local)"
    assert lines[1] == f" • {step} ..."
    assert re.fullmatch(rf" ✓ {step} \(\d+\.\ds\)", lines[-2]), lines
    healthy = [m.group(1) for line in lines if (m := re.fullmatch(r"   ✓ (\S+) healthy \(\d+\.\ds\)", line))]
    assert sorted(healthy) == sorted(names)
    waits = [line for line in lines if line.startswith("   waiting for the local runtime: ")]
    assert waits and len(waits) == len(set(waits)), "each reason once, when it changes"
    assert not any(c in result.stderr for c in SPINNER + "\r\x1b"), "a spinner or escape codes in a pipe"
    assert "health" in result.stdout and "`devtools status` shows it again" in lines[-1]


def test_a_timeout_that_runs_out_names_the_step_and_what_was_not_ready(config):
    result = CliRunner().invoke(cli, ["up", "--runtime", "local", "--detach", "--no-frontend", "--timeout", "500ms"])
    assert result.exit_code == 1
    step = f"Starting {', '.join(c.name for c in config.components())}"
    message = result.exception.message
    assert message.startswith(f"--timeout 0.5s ran out during “{step}”: the local runtime was not ready yet (")
    assert "(`devtools logs NAME`)" in result.exception.hint and "--timeout" in result.exception.hint
    assert result.stderr.splitlines()[-1].startswith(f" ✗ {step} (")


def test_a_timeout_is_a_duration(config):
    result = CliRunner().invoke(cli, ["up", "--runtime", "local", "--timeout", "600"])
    assert result.exit_code == 2 and "'600' is not a duration like 30s, 10m, 1h or 1h30m" in result.stderr


FOREGROUND = """
import sys
from devtools.local import LocalConfig, LocalRuntime
from devtools.wait import WaitTimeout, deadline

runtime = LocalRuntime(LocalConfig.from_json(sys.argv[1]), print)
try:
    with deadline(1.5):
        runtime.up(detach=False)
except WaitTimeout as exc:
    print("timed out:", exc.deadline)
    sys.exit(3)
"""


def test_a_foreground_up_that_runs_out_of_time_stops_everything_it_started(config):
    import os
    import subprocess
    import sys

    from devtools.http import port_in_use

    pythonpath = os.pathsep.join(filter(None, (os.getcwd(), os.environ.get("PYTHONPATH"))))
    done = subprocess.run(
        [sys.executable, "-c", FOREGROUND, config.to_json()],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "timed out: 1.5" in done.stdout
    assert LocalRuntime(config).state.read() is None, "the supervisor did not stop"
    assert not any(port_in_use(c.port) for c in config.components())
