"""Shared fixtures: random episodes, a real ONNX model, real service processes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.replay import Episode
from devtools.frontend_deps import installed_from_lock, npm_ci
from devtools.paths import REPO_ROOT
from testkit.postgres import fresh_database, postgres_server
from testkit.support import ServiceProcess, docker_unavailable, random_episode, restore_sigint

restore_sigint()  # before any test starts a process it may Ctrl-C

pytest_plugins = ["pytester"]  # the e2e suite's set-up bound is tested by running a small suite


@pytest.fixture
def make_episode() -> Callable[..., Episode]:
    rng = np.random.default_rng(1234)

    def make(env_id: str = "tictactoe", model_version: int = 0) -> Episode:
        return random_episode(get_game(env_id), rng, model_version)

    return make


@pytest.fixture(scope="session")
def tictactoe_model() -> bytes:
    """A real (untrained) tictactoe ONNX model, exported and checked against PyTorch."""
    from cartridge_trainer.network import PolicyValueNet, export_onnx

    game = get_game("tictactoe")
    return export_onnx(PolicyValueNet(game), game)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(module: str, env: dict[str, str], name: str | None = None) -> ServiceProcess:
        proc = ServiceProcess(module, env, tmp_path / f"{name or module}-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker client for the Docker tier; skips with one line where no engine answers."""
    if reason := docker_unavailable():
        pytest.skip(reason)
    import docker

    return docker.from_env(timeout=600)


@pytest.fixture(scope="session")
def postgres_url(request) -> Iterator[str]:
    """A real PostgreSQL server for the session: a container (testkit.postgres), or
    CARTRIDGE_TEST_POSTGRES_URL."""
    if not os.environ.get("CARTRIDGE_TEST_POSTGRES_URL"):
        request.getfixturevalue("docker_engine")  # skips with one line where no engine answers
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_url) -> Iterator[str]:
    """A new empty database on the session's PostgreSQL server, dropped after the test."""
    with fresh_database(postgres_url, f"t_{uuid.uuid4().hex[:12]}") as url:
        yield url


FRONTEND = REPO_ROOT / "services" / "frontend"


@pytest.fixture(scope="session")
def frontend_dir() -> Path:
    """services/frontend with its npm dependencies installed (npm ci from the lock file)."""
    if shutil.which("npm") is None:
        pytest.fail("npm not found: install Node.js 20 and npm (make system-deps)")
    if not installed_from_lock(FRONTEND):  # a fresh clone, or a lock changed since the last install
        result = npm_ci(FRONTEND)
        assert result.returncode == 0, f"npm ci failed in {FRONTEND}:\n{result.stdout}{result.stderr}"
    return FRONTEND
