"""`devtools up` on the real local runtime, through the CLI: the progress transcript without a terminal, and
`--timeout`. The ports are free ones (the CLI's defaults may be taken on a shared machine): only how `up` builds
its LocalConfig is replaced, the rest is the real command, supervisor and services."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from devtools.cli import cli
from devtools.http import port_in_use
from devtools.local import LocalConfig, LocalRuntime
from devtools.runtimes import UpOptions
from testkit.support import wait_until
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
    lines = result.stderr.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    message, hint = lines[error].removeprefix("error: "), lines[error + 1].removeprefix("hint: ")
    assert message.startswith(f"--timeout 0.5s ran out during “{step}”: the local runtime was not ready yet (")
    assert "(`devtools logs NAME`)" in hint and "--timeout" in hint
    assert lines[error - 1].startswith(f" ✗ {step} ("), "the step is crossed out before the error is said"


def test_a_timeout_is_a_duration(config):
    result = CliRunner().invoke(cli, ["up", "--runtime", "local", "--timeout", "600"])
    assert result.exit_code == 2 and "'600' is not a duration like 30s, 10m, 1h or 1h30m" in result.stderr


FOREGROUND = """
import sys
from devtools.local import LocalConfig, LocalRuntime
from devtools.wait import WaitTimeout, deadline

runtime = LocalRuntime(LocalConfig.from_json(sys.argv[1]), lambda message: print(message, flush=True))
try:
    with deadline(float(sys.argv[2]) if len(sys.argv) > 2 else None):
        runtime.up(detach=False)
except WaitTimeout as exc:
    print("timed out:", exc.deadline)
    sys.exit(3)
except KeyboardInterrupt:
    print("interrupted before the stack was up")
    sys.exit(4)
"""


def foreground(config: LocalConfig, *args: str) -> subprocess.Popen:
    pythonpath = os.pathsep.join(filter(None, (os.getcwd(), os.environ.get("PYTHONPATH"))))
    return subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, config.to_json(), *args],
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_foreground_up_that_runs_out_of_time_stops_everything_it_started(config):
    proc = foreground(config, "1.5")
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 3, output
    assert "timed out: 1.5" in output
    assert LocalRuntime(config).state.read() is None, "the supervisor did not stop"
    assert not any(port_in_use(c.port) for c in config.components())


def test_ctrl_c_before_the_stack_is_up_is_an_interruption_not_a_success(config):
    proc = foreground(config)
    said = []
    threading.Thread(target=lambda: said.extend(proc.stdout), daemon=True).start()
    state = LocalRuntime(config).state
    wait_until(lambda: (record := state.read()) and record.components, 60, "the supervisor to start the components")
    proc.send_signal(signal.SIGINT)  # before the trainer can be healthy (torch alone takes seconds to import)
    assert proc.wait(60) == 4, "".join(said)
    assert not any("Ctrl-C stops everything" in line for line in said)
    assert not any(port_in_use(c.port) for c in config.components())


def test_a_quiet_up_that_runs_out_still_names_its_step(config):
    """With -q the step reporter hears nothing, so the step comes from the phase that was running."""
    result = CliRunner().invoke(
        cli, ["-q", "up", "--runtime", "local", "--detach", "--no-frontend", "--timeout", "500ms"]
    )
    assert result.exit_code == 1
    assert "error: --timeout 0.5s ran out during “starting the local runtime”: the local runtime was not ready" in (
        result.stderr
    )
