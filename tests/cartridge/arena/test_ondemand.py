"""On-demand matches (`devtools match A B`): the players users name (cartridge.arena.contenders), the match played
with the arena's pairing (cartridge.arena.ondemand), its result line, and its row in the ratings store."""

from __future__ import annotations

import json
import re

import pytest

from cartridge.arena.contenders import PlayerError, parse_player, resolve
from cartridge.arena.match import game_seed, play_pairs
from cartridge.arena.ondemand import RESULT_KIND, play_on_demand, row_from_json
from cartridge.games import get_game
from cartridge.modelstore import open_model_store

game = get_game("tictactoe")


@pytest.fixture
def store(tmp_path, tictactoe_model):
    models = open_model_store(f"file://{tmp_path}/models")
    for _ in range(2):  # v1 and v2, untrained
        models.publish("tictactoe", tictactoe_model)
    return models


@pytest.mark.parametrize(
    ("text", "kind", "fields"),
    [
        ("v12", "model", {"version": 12}),
        ("latest", "model", {"pointer": "latest"}),
        ("best", "model", {"pointer": "best"}),
        ("random", "reference", {"reference": "random"}),
        ("minimax", "reference", {"reference": "minimax"}),
        ("alphabeta", "reference", {"reference": "alphabeta", "depth": None}),
        ("alphabeta:4", "reference", {"reference": "alphabeta", "depth": 4}),
        ("alphabeta-d3", "reference", {"reference": "alphabeta", "depth": 3}),  # the arena's own name
        ("models/v7.onnx", "file", {}),
        ("./net", "file", {}),
    ],
)
def test_the_players_a_user_names(text, kind, fields):
    spec = parse_player(text)
    assert spec.kind == kind and spec.text == text
    assert {name: getattr(spec, name) for name in fields} == fields


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("stockfish", re.escape("not one this project knows: expected a model version (v12), latest, best")),
        ("v0", "model versions start at v1"),
        ("alphabeta:0", "a depth of at least 1"),
        ("V12", "not one this project knows"),
    ],
)
def test_a_player_that_is_none_is_refused_in_one_sentence(text, says):
    with pytest.raises(PlayerError, match=says):
        parse_player(text)


def test_models_resolve_from_the_store_and_references_from_the_game(store):
    latest = resolve(parse_player("latest"), game, store, sims=8)
    assert (latest.name, latest.version, latest.kind, latest.sims) == ("v2", 2, "model", 8)
    assert latest.sha256 == store.latest("tictactoe").sha256
    assert resolve(parse_player("v1"), game, store, sims=8).describe() == {
        "name": "v1",
        "spec": "v1",
        "kind": "model",
        "version": 1,
        "sha256": resolve(parse_player("v1"), game, store, sims=8).sha256,
        "sims": 8,
    }
    # The arena's reference names, so a match's players read as the ratings' do.
    names = [resolve(parse_player(t), game, store, sims=8).name for t in ("random", "alphabeta", "alphabeta:5")]
    assert names == ["random", f"alphabeta-d{game.reference_depth}", "alphabeta-d5"]
    assert resolve(parse_player("alphabeta:5"), game, store, sims=8).factory(None).depth == 5


def test_a_file_plays_as_a_model(store, tmp_path, tictactoe_model):
    path = tmp_path / "mine.onnx"
    path.write_bytes(tictactoe_model)
    contender = resolve(parse_player(str(path)), game, store, sims=4)
    assert (contender.name, contender.kind, contender.version) == ("file:mine.onnx", "file", None)
    with pytest.raises(PlayerError, match="over MODEL_MAX_BYTES=100"):
        resolve(parse_player(str(path)), game, store, sims=4, max_model_bytes=100)
    with pytest.raises(PlayerError, match="no such ONNX file"):
        resolve(parse_player(str(tmp_path / "gone.onnx")), game, store, sims=4)


def test_what_does_not_exist_is_refused_in_one_sentence(store):
    with pytest.raises(PlayerError, match="tictactoe has no version 9 in the store"):
        resolve(parse_player("v9"), game, store, sims=4)
    with pytest.raises(PlayerError, match=r"no best model yet .* only under ROLLOUT_POLICY=gated"):
        resolve(parse_player("best"), game, store, sims=4)
    with pytest.raises(PlayerError, match="connect4 has no latest model yet"):
        resolve(parse_player("latest"), get_game("connect4"), store, sims=4)
    with pytest.raises(PlayerError, match=r"connect4 has no minimax player.*alphabeta:4"):
        resolve(parse_player("minimax"), get_game("connect4"), store, sims=4)


def test_best_is_the_promoted_version(store):
    store.promote("tictactoe", 1, "by hand")
    assert resolve(parse_player("best"), game, store, sims=4).version == 1


def test_a_match_is_the_arenas_pairing_and_replays_from_its_seed(store):
    a = resolve(parse_player("v2"), game, store, sims=16)
    b = resolve(parse_player("random"), game, store, sims=16)
    heard = []
    result = play_on_demand(game, a, b, games=6, seed=11, match_id="m1", on_game=lambda n, g: heard.append((n, g)))
    # Colours alternate, each opening pair shares its seed, the seeds are the arena's (play_pairs).
    assert [g.first for g in result.games] == ["v2", "random"] * 3
    assert [g.seed for g in result.games] == [game_seed("tictactoe:match:11", "v2", "random", i // 2) for i in range(6)]
    assert [n for n, _ in heard] == [1, 2, 3, 4, 5, 6] and [g for _, g in heard] == result.games
    again = play_on_demand(game, a, b, games=6, seed=11, match_id="m2")
    assert [g.moves for g in again.games] == [g.moves for g in result.games]
    direct = play_pairs(game, ("v2", a.factory), ("random", b.factory), 6, "tictactoe:match:11")
    assert [g.moves for g in direct] == [g.moves for g in result.games]


def test_the_result_line_is_from_as_side_with_its_interval_and_by_colour(store):
    a = resolve(parse_player("v2"), game, store, sims=16)
    b = resolve(parse_player("minimax"), game, store, sims=16)
    line = play_on_demand(game, a, b, games=8, seed=3, match_id="m1").to_json()
    assert json.loads(json.dumps(line)) == line  # one JSON object, as printed
    assert (line["kind"], line["id"], line["env_id"], line["seed"]) == (RESULT_KIND, "m1", "tictactoe", 3)
    assert line["players"]["a"]["name"] == "v2" and line["players"]["b"] == {
        "name": "minimax",
        "spec": "minimax",
        "kind": "reference",
    }
    r = line["result"]
    assert r["wins"] + r["draws"] + r["losses"] == r["games"] == 8
    assert r["score"] == (r["wins"] + r["draws"] / 2) / 8 and r["score_low"] <= r["score"] <= r["score_high"]
    assert r["wins"] == 0, "perfect minimax loses no game"
    colours = line["by_colour"]
    for key in ("wins", "draws", "losses"):
        assert colours["a_first"][key] + colours["a_second"][key] == r[key]
    assert sum(colours["a_first"].values()) == 4


def test_a_player_against_itself_and_a_match_without_games_are_refused(store):
    a = resolve(parse_player("latest"), game, store, sims=4)
    with pytest.raises(PlayerError, match="both players are v2"):
        play_on_demand(game, a, resolve(parse_player("v2"), game, store, sims=4), games=2, seed=1, match_id="x")
    with pytest.raises(PlayerError, match="at least one game"):
        play_on_demand(game, a, resolve(parse_player("random"), game, store, sims=4), games=0, seed=1, match_id="x")


def test_a_stopped_match_reports_nothing(store):
    a, b = (resolve(parse_player(t), game, store, sims=4) for t in ("v1", "random"))
    calls = iter(range(100))
    assert play_on_demand(game, a, b, games=6, seed=1, match_id="x", should_stop=lambda: next(calls) >= 3) is None


def test_each_match_is_a_row_of_its_own_in_the_ratings_store(store, ratings):
    a, b = (resolve(parse_player(t), game, store, sims=4) for t in ("v1", "random"))
    lines = [play_on_demand(game, a, b, games=2, seed=s, match_id=f"m{s}").to_json() for s in (1, 2)]
    rows = [row_from_json(json.loads(json.dumps(line))) for line in lines]
    assert [ratings.record_match(row) for row in rows] == [True, True]
    assert ratings.record_match(rows[0]) is False  # the same result again: still one row
    stored = ratings.matches()
    assert [r.match_id for r in stored] == ["m2", "m1"]  # newest first
    assert stored[1] == rows[0] and stored[1].detail == lines[0]
    assert (stored[1].player_a, stored[1].player_b, stored[1].games) == ("v1", "random", 2)
    assert ratings.games("tictactoe") == []  # a match does not move the ratings
    assert len(ratings.matches(limit=1)) == 1


def test_a_line_that_is_no_result_is_named():
    with pytest.raises(ValueError, match="not a match result"):
        row_from_json({"kind": "something else"})
    with pytest.raises(ValueError, match=re.escape("without a valid result.games")):
        row_from_json({"kind": RESULT_KIND, "format": 1, "id": "x", "env_id": "t", "players": {}, "result": {}})
    with pytest.raises(ValueError, match=re.escape("without a valid players.a.name")):
        row_from_json(
            {
                "kind": RESULT_KIND,
                "format": 1,
                "id": "x",
                "env_id": "t",
                "players": {},
                "result": {
                    "games": 1,
                    "wins": 1,
                    "draws": 0,
                    "losses": 0,
                    "score": 1,
                    "score_low": 0.2,
                    "score_high": 1,
                },
            }
        )
