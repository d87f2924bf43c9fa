"""Web fixtures: the real app on a temporary SQLite buffer and a temporary directory model store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cartridge.modelstore import open_model_store
from cartridge.replay import open_replay
from cartridge.settings import Settings
from cartridge_web.app import create_app


def web_settings(tmp_path: Path, **extra: str) -> Settings:
    env = {
        "ENV_ID": "tictactoe",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "WEB_SIMS": "32",
        "MODEL_POLL_SECONDS": "0.1",
        **extra,
    }
    return Settings.from_env(env, http_port=8080)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return web_settings(tmp_path)


@pytest.fixture
def store(settings):
    return open_model_store(settings.model_store_url)


@pytest.fixture
def replay(settings):
    with open_replay(settings.replay_url) as buffer:
        yield buffer


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def poll_now(client: TestClient) -> None:
    """Run one model-store poll now (the background poller does the same every MODEL_POLL_SECONDS)."""
    client.app.state.services.models.poll()
