from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local import LocalConfig, LocalRuntime
from devtools.paths import REPO_ROOT
from testkit.support import free_port


def schema(name: str) -> dict:
    """devtools/schemas/<name>.schema.json, which `devtools status` and `doctor` documents follow."""
    return json.loads((REPO_ROOT / "devtools" / "schemas" / f"{name}.schema.json").read_text())


FAST = {"MCTS_MAX_SIMS": "16", "EPISODES_PER_ITERATION": "20", "TRAIN_STEPS_PER_ITERATION": "20"}


def local_config(tmp_path: Path, **overrides) -> LocalConfig:
    ports = {
        "web_port": free_port(),
        "frontend_port": free_port(),
        "trainer_port": free_port(),
        "actor_base_port": free_port(),
        "arena_port": free_port(),
        "prometheus_port": free_port(),
    }
    return LocalConfig(**({"data_dir": tmp_path / "data", "frontend": False, "settings": FAST} | ports | overrides))


@pytest.fixture
def watched_sources(tmp_path) -> Path:
    """A copy of services/ to edit: the hot-reload tests never touch the repository's files."""
    copy = tmp_path / "services"
    shutil.copytree(REPO_ROOT / "services", copy, ignore=shutil.ignore_patterns("node_modules", "__pycache__", "dist"))
    return copy


@pytest.fixture
def runtime(tmp_path, watched_sources) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(local_config(tmp_path, source_root=watched_sources))
    yield rt
    rt.down()


@pytest.fixture(autouse=True)
def own_cache_and_state(tmp_path_factory, monkeypatch) -> None:
    """devtools' cache (downloads) and state (what it created) in a temp dir: no test reads or writes the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
