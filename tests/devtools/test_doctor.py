"""devtools doctor and tool probing, against real executables on a controlled PATH."""

from __future__ import annotations

import os
import stat

import pytest
from rich.console import Console

from devtools import doctor
from devtools.local import LocalConfig, LocalRuntime
from devtools.pins import KIND_VERSION, TILT_VERSION
from devtools.tool_versions import probe, satisfies


def fake_tool(directory, name: str, output: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def path_with(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


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


def test_doctor_lists_every_tool_and_exits_1_when_something_is_missing(path_with, tmp_path):
    console = Console(record=True, width=250)
    code = doctor.run(console, tmp_path)
    text = console.export_text()
    assert code == 1
    for name in ("docker", "kind", "kubectl", "tilt", "disk space", "port 5001"):
        assert name in text
    assert f"kubernetes-sigs/kind/releases/tag/v{KIND_VERSION}" in text
    assert os.environ["PATH"] == str(path_with)


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
    assert any(url in what for what in phases) is runs
    if not runs:
        assert why.startswith(f"node {node[1:]} found, >=20.19 wanted: install Node.js >=20.19")
        assert phases[0] == f"frontend skipped: {why}"


def test_without_node_the_frontend_is_skipped_and_said_so(path_with, tmp_path):
    config = LocalConfig(data_dir=tmp_path / "data")
    assert config.frontend_available() == (
        False,
        "node not found on PATH: install Node.js >=20.19 with npm (https://nodejs.org/en/download)",
    )
    assert LocalRuntime(config).up_phases()[0].what.startswith("frontend skipped: node not found on PATH")
