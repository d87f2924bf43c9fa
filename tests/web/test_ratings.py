"""/stats shows the arena's ratings from the replay database (SQLite and PostgreSQL), and answers before the arena
has created its tables."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cartridge.arena.match import GameRecord
from cartridge.arena.ratings_store import CALIBRATION, RATED, MatchRow, RatingsStore, VersionResult
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
            "reference_ratings": {},
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
        arena = fresh_stats(client)["arena"]
        # A later row's games move the references' ratings: the ladder is fitted again once the arena wrote a row.
        drawn = GameRecord("alphabeta-d2", "random", 8, (4, 0, 8), 0)
        ratings.record(VersionResult("tictactoe", 3, RATED, rating=5.0, scores=SCORES, games=1), [drawn])
        ratings.close()
        later = fresh_stats(client)["arena"]["reference_ratings"]
    assert later == {"random": 0.0, "alphabeta-d2": 0.0, "minimax": 279.6}

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
    # The references' ratings over the stored games (minimax won both against random; one virtual draw per pair):
    # 400 * log10(2.5 / 0.5). Alpha-beta has played no game yet.
    assert arena["reference_ratings"] == {"random": 0.0, "minimax": 279.6}


def match_row(match_id: str, finished_at: float, **fields) -> MatchRow:
    values = {
        "match_id": match_id,
        "env_id": "tictactoe",
        "player_a": "v9",
        "player_b": "minimax",
        "games": 20,
        "wins": 0,
        "draws": 20,
        "losses": 0,
        "score": 0.5,
        "score_low": 0.2993,
        "score_high": 0.7007,
        "seed": 4,
        "started_at": finished_at - 10,
        "finished_at": finished_at,
    }
    return MatchRow(**(values | fields), detail={"id": match_id})


def test_stats_show_every_on_demand_match_newest_first_with_the_elo_its_score_implies(tmp_path, replay_url):
    with TestClient(create_app(web_settings(tmp_path, REPLAY_URL=replay_url))) as client:
        assert fresh_stats(client)["matches"] == []  # no arena tables yet
        ratings = RatingsStore.open(replay_url)
        ratings.record_match(match_row("older", 100.0))
        ratings.record_match(
            match_row(
                "newer",
                200.0,
                player_b="random",
                wins=20,
                draws=0,
                score=1.0,
                score_low=0.8389,
                score_high=1.0,
                env_id="connect4",
            )
        )  # another game's: shown too, named
        ratings.close()
        matches = fresh_stats(client)["matches"]
    assert [m["match_id"] for m in matches] == ["newer", "older"]
    drawn, won = matches[1], matches[0]
    assert (drawn["player_a"], drawn["player_b"], drawn["draws"], drawn["score"]) == ("v9", "minimax", 20, 0.5)
    assert (drawn["elo"], drawn["elo_low"], drawn["elo_high"]) == (0.0, -147.8, 147.8)
    assert won["env_id"] == "connect4" and won["elo"] is None and won["elo_high"] is None and won["elo_low"] > 280


def test_a_matchs_elo_figures_are_the_ones_its_result_carries(tmp_path):
    """The match computed them from its unrounded score (and printed them): /stats shows the same, not figures
    recomputed from the rounded scores stored in the row."""
    replay_url = f"sqlite:///{tmp_path}/replay.db"
    ratings = RatingsStore.open(replay_url)
    row = match_row("m", 1.0, wins=19, draws=1, score=0.975, score_low=0.7995, score_high=0.9974)
    carried = {"elo": 636.4, "elo_low": 240.3, "elo_high": 1032.4}
    ratings.record_match(MatchRow(**{**row.__dict__, "detail": {"result": carried}}))
    ratings.close()
    with TestClient(create_app(web_settings(tmp_path, REPLAY_URL=replay_url))) as client:
        (shown,) = fresh_stats(client)["matches"]
    assert {key: shown[key] for key in carried} == carried


def test_a_database_from_before_matches_still_shows_the_ratings(tmp_path):
    replay_url = f"sqlite:///{tmp_path}/replay.db"
    ratings = RatingsStore.open(replay_url)
    ratings.record(VersionResult("tictactoe", 2, RATED, rating=10.0), [])
    ratings.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "replay.db") as db:  # as an arena from before on-demand matches left it
        db.execute("DROP TABLE arena_matches")
    with TestClient(create_app(web_settings(tmp_path, REPLAY_URL=replay_url))) as client:
        stats = fresh_stats(client)
    assert [v["version"] for v in stats["arena"]["versions"]] == [2] and stats["matches"] == []
