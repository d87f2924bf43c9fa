"""`npm ci` again whenever package-lock.json changed since the last install (devtools.frontend_deps), with the
real npm on a package of no dependencies (nothing to download)."""

from __future__ import annotations

import json
import shutil

import pytest

from devtools.frontend_deps import STAMP, installed_from_lock, npm_ci
from devtools.local import LocalConfig, LocalRuntime

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm not found (make system-deps)")


def write_package(frontend, version: str, depends: dict | None = None) -> None:
    package = {"name": "lock-probe", "version": version, "private": True, "dependencies": depends or {}}
    lock = {
        "name": "lock-probe",
        "version": version,
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": {"name": "lock-probe", "version": version}},
    }
    (frontend / "package.json").write_text(json.dumps(package))
    (frontend / "package-lock.json").write_text(json.dumps(lock))


def test_an_install_is_current_until_the_lock_changes(tmp_path):
    write_package(tmp_path, "1.0.0")
    assert not installed_from_lock(tmp_path)  # a fresh checkout
    assert npm_ci(tmp_path).returncode == 0
    assert installed_from_lock(tmp_path)
    write_package(tmp_path, "1.0.1")  # a pull that changed the lock
    assert not installed_from_lock(tmp_path)
    assert npm_ci(tmp_path).returncode == 0
    assert installed_from_lock(tmp_path)


def test_a_failed_install_is_not_taken_for_a_current_one(tmp_path):
    write_package(tmp_path, "1.0.0")
    assert npm_ci(tmp_path).returncode == 0
    write_package(tmp_path, "1.0.1", depends={"left-pad": "1.3.0"})  # a lock that does not hold package.json's
    result = npm_ci(tmp_path)
    assert result.returncode != 0, result.stdout
    assert not installed_from_lock(tmp_path)


def test_up_installs_again_after_the_lock_changed(tmp_path, monkeypatch):
    """The local runtime's own step: a node_modules that merely exists (here: a stale one) is installed over."""
    frontend = tmp_path / "frontend"
    frontend.mkdir()
    write_package(frontend, "1.0.0")
    (frontend / "node_modules").mkdir()
    (frontend / "node_modules" / ".package-lock.json").write_text("{}")  # what the old check took as installed
    monkeypatch.setattr(LocalConfig, "frontend_dir", property(lambda self: frontend))
    runtime = LocalRuntime(LocalConfig(data_dir=tmp_path / "data"))
    if not runtime.config.frontend_available()[0]:
        pytest.skip(runtime.config.frontend_available()[1])
    runtime.install_frontend_dependencies()
    assert (frontend / STAMP).is_file() and installed_from_lock(frontend)
