from __future__ import annotations

from collections.abc import Iterator

import pytest

from cartridge.replay import ReplayBuffer, open_replay


@pytest.fixture(params=["sqlite", "postgresql"])
def replay_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/replay.db"
        return
    yield request.getfixturevalue("postgres_database")


@pytest.fixture
def replay(replay_url) -> Iterator[ReplayBuffer]:
    with open_replay(replay_url) as buffer:
        yield buffer
