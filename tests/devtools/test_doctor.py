"""devtools doctor and tool probing, against real executables on a controlled PATH."""

from __future__ import annotations

import os
import stat

import pytest
from rich.console import Console

from devtools import doctor
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
