from __future__ import annotations

from collections.abc import Iterator

import pytest

from cartridge.arena.ratings_store import RatingsStore


@pytest.fixture(params=["sqlite", "postgresql"])
def ratings(request, tmp_path) -> Iterator[RatingsStore]:
    url = (
        f"sqlite:///{tmp_path}/replay.db" if request.param == "sqlite" else request.getfixturevalue("postgres_database")
    )
    store = RatingsStore.open(url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def strong_tictactoe_model() -> bytes:
    from tests.cartridge.arena.strong_model import minimax_distilled_model

    return minimax_distilled_model()
