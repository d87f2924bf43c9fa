"""Arena rows and games in the replay database (SQLite and PostgreSQL): once per version, whole or not at all."""

from __future__ import annotations

import pytest

from cartridge.arena import GameRecord
from cartridge.arena.ratings_store import AlreadyRecorded, RatingsStore, VersionResult
from cartridge.replay import open_replay

GAMES = [
    GameRecord("v1", "random", 11, (4, 0, 8, 2, 1, 7, 6, 3, 5), 0),
    GameRecord("random", "v1", 11, (0, 4, 1, 2, 6, 3, 5), 2),
]


def rated(version: int, **extra) -> VersionResult:
    scores = {"random": {"games": 2, "wins": 1, "draws": 1, "losses": 0, "score": 0.75}}
    return VersionResult(
        "tictactoe",
        version,
        "rated",
        rating=191.0,
        scores=scores,
        optimal_search=0.9,
        optimal_network=0.7,
        games=len(GAMES),
        **extra,
    )


def test_a_rated_version_is_stored_with_its_games_and_read_back(ratings):
    ratings.record(rated(1), GAMES)
    assert ratings.results("tictactoe") == [rated(1, finished_at=ratings.results("tictactoe")[0].finished_at)]
    assert ratings.games("tictactoe") == GAMES
    assert ratings.statuses("tictactoe") == {1: "rated"} and ratings.statuses("connect4") == {}


def test_a_version_is_never_rated_twice_even_by_a_second_writer(ratings):
    ratings.record(rated(1), GAMES)
    with pytest.raises(AlreadyRecorded, match="version 1 already has an arena row"):
        ratings.record(rated(1), GAMES)
    # A second process that checked before the first one wrote: the primary key refuses it, games included.
    second = RatingsStore(ratings.db)
    second.statuses = lambda env_id: {}  # it saw no row yet
    with pytest.raises(AlreadyRecorded):
        second.record(rated(1), GAMES[:1])
    assert ratings.games("tictactoe") == GAMES


def test_skipped_versions_say_why_and_never_replace_a_rating(ratings):
    ratings.record(rated(2), GAMES)
    ratings.record_skipped("tictactoe", {1: "published while the arena was busy", 2: "should not win"})
    rows = {r.version: (r.status, r.note) for r in ratings.results("tictactoe")}
    assert rows == {1: ("skipped", "published while the arena was busy"), 2: ("rated", "")}


def test_arena_tables_live_in_the_replay_database_beside_its_tables(ratings, make_episode):
    ratings.record(rated(1), GAMES)
    with open_replay(ratings.db.url) as replay:
        replay.append_episode(make_episode())
        assert replay.count_episodes("tictactoe") == 1
    reopened = RatingsStore.open(ratings.db.url)
    assert reopened.statuses("tictactoe") == {1: "rated"}
    reopened.close()


def test_a_gate_result_is_stored_in_its_rows_gate_column(ratings):
    gate = {
        "against": "uniform-prior",
        "games": 6,
        "wins": 4,
        "draws": 0,
        "losses": 2,
        "score": 0.6667,
        "threshold": 0.55,
        "promoted": True,
    }
    ratings.record(rated(1, gate=gate), GAMES)
    ratings.record_skipped("tictactoe", {2: "published while the arena was busy"})
    assert [(r.version, r.gate) for r in ratings.results("tictactoe")] == [(1, gate), (2, None)]


def test_a_table_from_before_gated_rollout_gains_the_gate_column(tmp_path):
    import sqlite3

    from cartridge.arena.ratings_store import SCHEMA

    with sqlite3.connect(tmp_path / "replay.db") as old:
        old.execute(SCHEMA[0].replace(", gate TEXT", ""))
        old.execute("INSERT INTO arena_versions VALUES ('tictactoe', 1, 'rated', 10.0, '{}', NULL, NULL, 2, '', 1.0)")
    ratings = RatingsStore.open(f"sqlite:///{tmp_path}/replay.db")
    try:
        assert [(r.version, r.gate) for r in ratings.results("tictactoe")] == [(1, None)]
        ratings.record(rated(2, gate={"promoted": False}), GAMES)
        assert ratings.results("tictactoe")[-1].gate == {"promoted": False}
    finally:
        ratings.close()
