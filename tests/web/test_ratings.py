"""/stats shows the arena's ratings from the replay database (SQLite and PostgreSQL), and answers before the arena
has created its tables."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cartridge.arena.match import GameRecord
from cartridge.arena.ratings_store import CALIBRATION, RATED, RatingsStore, VersionResult
from cartridge_web.app import create_app
from cartridge_web.stats_cache import ARENA_NOT_STARTED
from tests.web.conftest import web_settings

SCORES = {
    "random": {"games": 2, "wins": 2, "draws": 0, "losses": 0, "score": 1.0},
    "minimax": {"games": 2, "wins": 0, "draws": 1, "losses": 1, "score": 0.25},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def replay_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/replay.db"
    return request.getfixturevalue("postgres_database")


def fresh_stats(client: TestClient) -> dict:
    reads = client.app.state.services.training.reads
    reads.max_age = reads.stale_for = 0  # every call reads the database again, and waits for that read
    response = client.get("/stats")
    assert response.status_code == 200, response.text
    return response.json()


def test_stats_show_each_versions_rating_scores_and_skips_and_answer_before_the_arena_starts(tmp_path, replay_url):
    with TestClient(create_app(web_settings(tmp_path, REPLAY_URL=replay_url))) as client:
        before = fresh_stats(client)["arena"]  # no arena tables yet: /stats still answers
        assert before == {
            "references": ["random", "alphabeta-d2", "minimax"],
            "versions": [],
            "message": ARENA_NOT_STARTED,
        }

        ratings = RatingsStore.open(replay_url)  # what the arena does when it starts: the tables exist, empty
        assert fresh_stats(client)["arena"]["versions"] == []
        game = GameRecord("random", "minimax", 7, (4, 0, 8), 2)
        ratings.record(VersionResult("tictactoe", 0, CALIBRATION, games=1), [game])
        ratings.record_skipped("tictactoe", {1: "published while the arena was busy"})
        ratings.record(
            VersionResult(
                "tictactoe",
                2,
                RATED,
                rating=412.5,
                scores=SCORES,
                optimal_search=0.9,
                optimal_network=0.75,
                games=4,
                finished_at=1.5e9,
            ),
            [game],
        )
        ratings.record(VersionResult("connect4", 3, RATED, rating=99.0), [])  # another game's: not shown
        ratings.close()
        arena = fresh_stats(client)["arena"]

    skipped, rated = arena["versions"]  # the calibration (version 0) is the arena's own business
    assert (skipped["version"], skipped["status"], skipped["rating"], skipped["scores"]) == (1, "skipped", None, {})
    assert skipped["note"] == "published while the arena was busy"
    assert rated == {
        "version": 2,
        "status": "rated",
        "rating": 412.5,
        "note": "",
        "scores": SCORES,
        "optimal_search": 0.9,
        "optimal_network": 0.75,
        "games": 4,
        "finished_at": 1.5e9,
    }
    assert arena["message"] == "v2 rated 412; 1 version skipped"
