"""`devtools`' exit codes (devtools.exit_codes): each command path that can run here exits with the code its help
promises, under click's test runner and from the console script alike. Status with a stack that runs is in
test_status.py (kind through the recording API, local for real)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from devtools.cli import cli
from devtools.exit_codes import ExitCode
from devtools.paths import REPO_ROOT
from devtools.ports import LOCAL_WEB
from tests.devtools.conftest import schema


@pytest.fixture
def nothing_here(tmp_path, monkeypatch) -> Path:
    """A machine with no kind tools on PATH, no Docker engine, and no local runtime in CARTRIDGE_DATA_DIR."""
    bare = tmp_path / "bin"
    bare.mkdir()
    monkeypatch.setenv("PATH", str(bare))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", str(tmp_path / "home"))
    return tmp_path / "home"


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


def test_devtools_help_lists_every_exit_code_with_its_meaning():
    text = invoke("--help").output
    block = text[text.index("Exit codes:") :]
    for code in ExitCode:
        line = next(line for line in block.splitlines() if line.split()[:1] == [str(int(code))])
        assert code.meaning in line, line


@pytest.mark.parametrize(("path", "command"), commands(), ids=lambda p: " ".join(p) if isinstance(p, tuple) else "")
def test_each_commands_help_lists_the_codes_it_exits_with(path, command):
    text = invoke(*path, "--help").output
    listed = {int(line.split()[0]) for line in text[text.index("Exit codes:") :].splitlines()[1:] if line.strip()}
    assert {0, 1, 2, 130} <= listed
    own = {"status": {3, 150}, "doctor": {151}}.get(path[-1], set())
    assert listed - {0, 1, 2, 130} == own


@pytest.mark.parametrize(
    "args", [(), ("--json",), ("--output", "json"), ("-o", "yaml")], ids=["table", "--json", "-o json", "-o yaml"]
)
def test_status_exits_not_running_whatever_the_output_when_nothing_runs(nothing_here, args):
    """Fault 4: `status --json` exited 0 and plain `status` 1 for the same empty machine."""
    result = CliRunner().invoke(cli, ["status", *args])
    assert result.exit_code == ExitCode.NOT_RUNNING == 3, result.output
    if args:
        document = (json.loads if "yaml" not in args else yaml.safe_load)(result.stdout)
        jsonschema.validate(document, schema("status"))
        assert (document["running"], document["healthy"], document["components"]) == (False, False, [])
        assert document["stats"] is None
    else:
        assert "error: nothing is running" in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "--watch", "-o", "json"), "--watch refreshes the table"),
        (("status", "--json", "-o", "yaml"), "--json is --output json"),
        (("status", "-o", "xml"), "'xml' is not one of 'table', 'json', 'yaml'"),
        (("doctor", "-o", "yaml"), "'yaml' is not one of 'table', 'json'"),
        (("up", "--actors", "0"), "Invalid value for '--actors'"),
        (("logs", "--lines", "many"), "Invalid value for '--lines'"),
        (("down", "--everything"), "No such option '--everything'"),
        (("images", "build", "database"), "'database' is not one of 'actor'"),
        (("start",), "No such command 'start'"),
    ],
)
def test_a_usage_error_exits_2_and_does_nothing(nothing_here, args, message):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == ExitCode.USAGE == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("up", "--runtime", "kind"), "error: the kind runtime cannot run here"),
        (("logs", "web"), "error: no log for 'web'"),
    ],
)
def test_a_failure_exits_1_with_one_sentence_and_a_hint(nothing_here, args, message):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == ExitCode.ERROR == 1, result.output
    assert message in result.stderr and "hint:" in result.stderr and "Traceback" not in result.output


def test_down_with_nothing_running_succeeds(nothing_here):
    result = invoke("down")
    assert result.exit_code == ExitCode.OK, result.output
    assert "nothing to take down: no local runtime in" in result.stderr


def test_doctor_exits_no_runtime_when_neither_runtime_can_run(nothing_here):
    """No kind tools and the local web's port taken: nothing can run, and doctor says so by its exit code."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", LOCAL_WEB))
            holder.listen()
        except OSError:
            pass  # taken by something else already: the same for the local runtime
        result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == ExitCode.NO_RUNTIME == 151, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("doctor"))
    assert document["exit_code"] == 151
    assert not document["runtimes"]["local"]["can_run"] and not document["runtimes"]["kind"]["can_run"]
    assert any(name.startswith(f"port {LOCAL_WEB} ") for name in document["runtimes"]["local"]["blockers"])
    assert {"kind", "kubectl", "tilt", "docker", "docker daemon"} <= set(document["runtimes"]["kind"]["blockers"])


# --- the console script: main() must pass on what the commands exit with ------------------------------------


def devtools(*args: str, home: Path, **kwargs) -> subprocess.Popen:
    env = {
        "PATH": str(home.parent / "bin"),
        "CARTRIDGE_DATA_DIR": str(home),
        "DOCKER_HOST": f"unix://{home.parent}/no-docker.sock",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "services"), str(REPO_ROOT)]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        **kwargs,
    )


def test_the_console_script_exits_with_the_commands_code(nothing_here):
    """click hands a command's ctx.exit(code) back to main() as a return value: main() must exit with it."""
    proc = devtools("status", "-o", "json", home=nothing_here)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.NOT_RUNNING, stderr
    assert json.loads(stdout)["running"] is False and "Traceback" not in stderr


def test_ctrl_c_exits_130(nothing_here):
    """`logs -f` follows until Ctrl-C; the shell's convention for a program stopped by SIGINT is 128 + 2."""
    logs = nothing_here / "logs"
    logs.mkdir(parents=True)
    (logs / "web.log").write_text("started\n")
    proc = devtools("logs", "web", "-f", home=nothing_here)
    deadline = time.monotonic() + 60
    line = proc.stdout.readline()  # the last lines come first: it is following once they are out
    assert "started" in line, line
    while time.monotonic() < deadline and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            continue
    assert proc.returncode == ExitCode.INTERRUPTED == 130, proc.stderr.read()
    assert "interrupted" in proc.stderr.read()
