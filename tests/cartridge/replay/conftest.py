from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cartridge.replay import ReplayBuffer, open_replay
from tests.pg import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def replay_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/replay.db"
        return
    server = request.getfixturevalue("postgres_url")
    with fresh_database(server, f"t_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture
def replay(replay_url) -> Iterator[ReplayBuffer]:
    with open_replay(replay_url) as buffer:
        yield buffer
