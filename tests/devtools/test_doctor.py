"""devtools doctor and tool probing, against real executables on a controlled PATH, this machine's Docker engine
(where one answers) and real sockets holding ports."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import tomllib

import jsonschema
import pytest
from click.testing import CliRunner
from rich.console import Console

from devtools import doctor
from devtools.cli import cli
from devtools.exit_codes import ExitCode
from devtools.kind.runtime import KindOptions, KindRuntime
from devtools.local import LocalConfig, LocalRuntime
from devtools.paths import REPO_ROOT
from devtools.pins import KIND_VERSION, TILT_VERSION
from devtools.ports import KIND_FORWARDS, KIND_MONITORING_FORWARDS, KIND_URLS, LOCAL_PROMETHEUS, TILT_UI
from devtools.tool_versions import DOCKER_MIN_VERSION, PYTHON_WANTED, probe, satisfies
from testkit.support import docker_unavailable
from tests.devtools.conftest import local_config, schema


def fake_tool(directory, name: str, output: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def path_with(tmp_path, monkeypatch):
    """An empty PATH to put fake tools on, and no Docker engine: the checks see only what a test gives them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    return bin_dir


def diagnose(tmp_path, **config) -> tuple[doctor.Report, LocalRuntime]:
    """doctor's report for a local runtime on free ports (nothing else on this machine holds them)."""
    local = LocalRuntime(local_config(tmp_path, **config))
    return doctor.diagnose(tmp_path, local=local), local


def check(report: doctor.Report, name: str) -> doctor.Check:
    return next(c for c in report.checks if c.name == name)


def test_version_rules():
    assert satisfies("0.33.0", "0.33.0") and not satisfies("0.32.0", "0.33.0")
    assert satisfies("1.34.2", ">=1.33") and not satisfies("1.32.4", ">=1.33")
    # requires-python's form: both bounds hold, and "<3.14" excludes 3.14.0 itself.
    assert satisfies("3.13.9", ">=3.11,<3.14") and satisfies("3.11.0", ">=3.11, <3.14")
    assert not satisfies("3.14.0", ">=3.11,<3.14") and not satisfies("3.10.12", ">=3.11,<3.14")
    assert satisfies("20.19.0", ">=20.19") and not satisfies("20.18.3", ">=20.19")
    assert satisfies("11.0.0", "")  # nothing wanted: any version


def test_a_pinned_tool_is_found_and_checked(path_with):
    fake_tool(path_with, "kind", f"kind v{KIND_VERSION} go1.24 linux/amd64")
    status = probe("kind")
    assert status.ok and status.found == KIND_VERSION and status.usable


def test_a_wrong_version_is_usable_but_reported(path_with):
    fake_tool(path_with, "kind", "kind v0.20.0 go1.20 linux/amd64")
    status = probe("kind")
    assert status.usable and not status.ok and status.problem == f"kind 0.20.0 found, {KIND_VERSION} wanted"


def test_a_missing_tool_says_where_to_get_the_pinned_release(path_with):
    status = probe("tilt")
    assert not status.usable and status.problem == "tilt not found on PATH"
    assert f"releases/tag/v{TILT_VERSION}" in status.tool.install_hint


def test_missing_kind_tools_block_only_the_kind_runtime(path_with, tmp_path):
    """Fault 4: doctor failed the machine when only the kind tools were missing; the local runtime runs."""
    report, _ = diagnose(tmp_path)
    assert report.can_run(doctor.LOCAL) and not report.can_run(doctor.KIND)
    assert report.exit_code == ExitCode.OK
    blockers = {c.name for c in report.failed(doctor.KIND, blocking=True)}
    assert {"docker", "kind", "kubectl", "tilt", "docker daemon"} <= blockers
    console = Console(record=True, width=250)
    doctor.print_report(report, console)
    text = console.export_text()
    assert "local runtime: can run (warnings: node missing; npm missing)" in text
    assert "kind runtime: cannot run (docker missing; kind missing; kubectl missing; tilt missing; docker " in text
    assert f"kubernetes-sigs/kind/releases/tag/v{KIND_VERSION}" in text  # the fix column folds, never cuts


def test_python_is_checked_against_pyprojects_requires_python(path_with, tmp_path):
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == PYTHON_WANTED
    report, _ = diagnose(tmp_path)
    assert check(report, "python") == doctor.python_check()
    assert check(report, "python").found == platform.python_version() and check(report, "python").ok
    too_old = doctor.python_check(">=3.99")
    assert too_old.status == "problem" and too_old.needed_by == ("local",) and ">=3.99" in too_old.fix


@pytest.mark.parametrize(("node", "runs"), [("v18.19.0", False), ("v20.19.0", True)])
def test_the_frontend_runs_only_on_the_node_its_engines_want_and_up_says_when_it_does_not(
    path_with, tmp_path, node, runs
):
    """Fault: with npm on PATH the frontend was started whatever the Node (Vite 7 refuses one older than 20.19 and
    the supervisor restarted it forever), and `up` printed its URL even when it was skipped."""
    fake_tool(path_with, "node", node)
    fake_tool(path_with, "npm", "10.2.4")
    config = LocalConfig(data_dir=tmp_path / "data")
    available, why = config.frontend_available()
    assert available is runs
    assert ("frontend" in {c.name for c in config.components()}) is runs
    phases = [p.what for p in LocalRuntime(config, detach=False).up_phases()]
    url = f"http://127.0.0.1:{config.frontend_port}"
    assert (url in LocalRuntime(config, detach=False).urls()) is runs  # what `up` says once the stack is healthy
    node_check = check(doctor.diagnose(tmp_path, local=LocalRuntime(config)), "node")
    assert node_check.ok is runs and node_check.needed_by == ("local",) and node_check.status != "problem"
    if not runs:
        assert why.startswith(f"node {node[1:]} found, >=20.19 wanted: install Node.js >=20.19")
        assert phases[0] == f"frontend skipped: {why}"
        assert "runs without the frontend" in node_check.fix


def test_without_node_the_frontend_is_skipped_and_said_so(path_with, tmp_path):
    config = LocalConfig(data_dir=tmp_path / "data")
    assert config.frontend_available() == (
        False,
        "node not found on PATH: install Node.js >=20.19 with npm (https://nodejs.org/en/download)",
    )
    assert LocalRuntime(config).up_phases()[0].what.startswith("frontend skipped: node not found on PATH")


def test_the_docker_daemons_own_version_is_checked(tmp_path, monkeypatch):
    """Not the client's: a recent docker CLI talking to an old engine passed before."""
    if reason := docker_unavailable():
        pytest.skip(reason)
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI to read the server's version independently")
    server = subprocess.run(
        [docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    daemon = doctor.docker_check()
    assert daemon.found.startswith(f"server {server} (API ")
    assert daemon.ok is satisfies(server, f">={DOCKER_MIN_VERSION}")
    assert daemon.status in ("ok", "warning"), "an answering daemon of another version does not stop kind"


def test_a_docker_daemon_that_does_not_answer_blocks_kind(path_with):
    daemon = doctor.docker_check()
    assert (daemon.found, daemon.status, daemon.needed_by) == ("not answering", "problem", ("kind",))


def test_every_port_either_runtime_binds_is_checked_the_arenas_included(path_with, tmp_path):
    report, local = diagnose(tmp_path, actors=3)
    kind = KindRuntime(KindOptions(repo_root=REPO_ROOT))
    checked = {int(c.name.split()[1]) for c in report.checks if c.name.startswith("port ")}
    assert checked == set(local.host_ports()) | set(kind.host_ports())
    config = local.config
    assert {config.arena_port, config.trainer_port, config.web_port} <= set(local.host_ports())
    assert {config.actor_base_port + i for i in range(3)} <= set(local.host_ports())
    forwards = set(KIND_FORWARDS.values())
    assert set(kind.host_ports()) == {kind.spec.registry.port, TILT_UI, *forwards}
    # With --monitoring, Tilt forwards Grafana and Prometheus too: those ports are checked for that `up`.
    watched = KindRuntime(KindOptions(repo_root=REPO_ROOT, monitoring=True)).host_ports()
    assert set(watched) == set(kind.host_ports()) | set(KIND_MONITORING_FORWARDS.values())
    assert set(KIND_URLS) == set(KIND_FORWARDS) | set(KIND_MONITORING_FORWARDS)
    assert set(KindRuntime(KindOptions(repo_root=REPO_ROOT, tilt=None)).host_ports()) == {kind.spec.registry.port}


def test_a_taken_port_blocks_the_runtime_that_binds_it(path_with, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        report, _ = diagnose(tmp_path, arena_port=taken)
    port = next(c for c in report.checks if c.name.startswith(f"port {taken} "))
    assert (port.name, port.found, port.status) == (f"port {taken} (local arena)", "taken", "problem")
    assert f"sport = :{taken}" in port.fix
    assert not report.can_run(doctor.LOCAL) and report.exit_code == ExitCode.NO_RUNTIME


@pytest.mark.parametrize("args", [("--json",), ("-o", "json")])
def test_doctor_json_follows_its_schema_and_its_exit_code(args, monkeypatch, tmp_path):
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["doctor", *args])
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("doctor"))
    assert result.exit_code == document["exit_code"]
    assert (result.exit_code == 0) is any(r["can_run"] for r in document["runtimes"].values())
    names = [c["name"] for c in document["checks"]]
    assert names[:7] == ["python", "docker", "kind", "kubectl", "tilt", "node", "npm"] and "docker daemon" in names
    assert os.environ["CARTRIDGE_DATA_DIR"] == str(tmp_path)


def test_doctor_monitoring_checks_the_ports_up_monitoring_binds(monkeypatch, tmp_path):
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", str(tmp_path))

    def ports(*args):
        result = CliRunner().invoke(cli, ["doctor", "-o", "json", *args])
        return {c["name"].split(" (")[0]: c["name"] for c in json.loads(result.stdout)["checks"]}

    plain, monitored = ports(), ports("--monitoring")
    added = {name: what for name, what in monitored.items() if name not in plain}
    grafana, prometheus = f"port {KIND_MONITORING_FORWARDS['grafana']}", f"port {LOCAL_PROMETHEUS}"
    assert added == {
        grafana: f"{grafana} (kind grafana port-forward)",
        prometheus: f"{prometheus} (local prometheus, kind prometheus port-forward)",
    }
