"""The arena loop in-process on a real models directory and SQLite: what it rates, skips, plays and stores."""

from __future__ import annotations

import structlog

from cartridge.arena import play_game
from cartridge.arena.loop import Arena, ArenaConfig, reference_players
from cartridge.arena.positions import SHARE_BATCH, labelled_positions, optimal_share
from cartridge.arena.ratings import fit_ratings
from cartridge.games import TicTacToe, get_game
from cartridge.modelstore import open_model_store

game = get_game("tictactoe")
CONFIG = ArenaConfig(games=4, sims=8)


def make_arena(tmp_path, ratings, keep_versions=10, **extra) -> Arena:
    store = open_model_store(f"file://{tmp_path}/models", keep_versions=keep_versions)
    return Arena(game, store=store, ratings=ratings, config=CONFIG, log=structlog.get_logger(), **extra)


def test_the_references_come_from_the_game_facts_and_a_perfect_player_only_where_the_game_is_solvable():
    assert list(reference_players(game)) == ["random", "alphabeta-d2", "minimax"]
    assert list(reference_players(get_game("connect4"))) == ["random", "alphabeta-d4"]

    class DeeperUnsolvedTicTacToe(TicTacToe):
        name, reference_depth, solvable = "deeper", 3, False

    deeper = DeeperUnsolvedTicTacToe()
    references = reference_players(deeper)
    assert list(references) == ["random", "alphabeta-d3"]
    assert references["alphabeta-d3"](None).depth == 3


def test_references_are_calibrated_once_against_each_other(tmp_path, ratings):
    arena = make_arena(tmp_path, ratings)
    arena.calibrate()
    arena.calibrate()
    pairs = {frozenset((g.first, g.second)) for g in ratings.games("tictactoe")}
    assert pairs == {
        frozenset(p) for p in (("random", "alphabeta-d2"), ("random", "minimax"), ("alphabeta-d2", "minimax"))
    }
    assert len(ratings.games("tictactoe")) == 3 * CONFIG.games
    assert ratings.statuses("tictactoe") == {0: "calibration"}


def test_the_newest_version_is_rated_and_the_ones_published_meanwhile_are_skipped(tmp_path, ratings, tictactoe_model):
    seen = []
    arena = make_arena(tmp_path, ratings, on_result=lambda result, ladder: seen.append((result.version, result.status)))
    assert arena.step() is None  # nothing published yet
    arena.calibrate()
    for _ in range(3):
        arena.store.publish("tictactoe", tictactoe_model)
    result = arena.step()
    assert result.version == 3 and result.status == "rated"
    rows = {r.version: (r.status, r.note) for r in ratings.results("tictactoe")}
    assert rows[1] == rows[2] == ("skipped", "published while the arena was busy") and rows[3] == ("rated", "")
    assert seen == [(0, "calibration"), (1, "skipped"), (2, "skipped"), (3, "rated")]
    assert arena.step() is None  # nothing new: v3 is not rated twice
    assert sum(1 for g in ratings.games("tictactoe") if "v3" in (g.first, g.second)) == 3 * CONFIG.games


def test_a_version_plays_each_reference_and_earlier_versions_with_colours_alternating(
    tmp_path, ratings, tictactoe_model
):
    arena = make_arena(tmp_path, ratings)
    arena.calibrate()
    arena.store.publish("tictactoe", tictactoe_model)
    arena.step()
    arena.store.publish("tictactoe", tictactoe_model)
    result = arena.step()
    assert set(result.scores) == {"random", "alphabeta-d2", "minimax", "v1"}
    for opponent, score in result.scores.items():
        assert score["games"] == CONFIG.games == score["wins"] + score["draws"] + score["losses"], opponent
    v2_games = [g for g in ratings.games("tictactoe") if "v2" in (g.first, g.second)]
    assert [g.first == "v2" for g in v2_games] == [True, False] * (len(v2_games) // 2)
    # Two deterministic players (MCTS, no noise) still play different games: the seeded openings differ. (v1 and
    # v2 are the same network here, so the two games of an opening, colours swapped, are the same game.)
    model_games = [g.moves for g in v2_games if {g.first, g.second} == {"v1", "v2"}]
    assert len(model_games) == CONFIG.games and len(set(model_games)) == CONFIG.games // 2
    # The stored rating is the fit over every stored game, anchored at random = 0.
    ladder = fit_ratings((g.first, g.second, g.first_score) for g in ratings.games("tictactoe"))
    assert ladder["random"] == 0 and round(ladder["v2"], 2) == result.rating
    assert 0 <= result.optimal_network <= 1 and 0 <= result.optimal_search <= 1


def test_every_stored_game_replays_from_its_seed(tmp_path, ratings, tictactoe_model):
    arena = make_arena(tmp_path, ratings)
    arena.store.publish("tictactoe", tictactoe_model)
    arena.step()
    model, _ = arena.model_player(1)
    players = {"v1": lambda rng: model, **arena.references}
    games = ratings.games("tictactoe")
    assert len({g.moves for g in games}) > len(games) // 3  # seeded openings vary the games
    for g in reversed(games):  # in another order than played: nothing a game leaves behind may change the next one
        assert play_game(game, (g.first, players[g.first]), (g.second, players[g.second]), g.seed) == g


def test_versions_deleted_by_retention_are_skipped_with_that_reason(tmp_path, ratings, tictactoe_model):
    arena = make_arena(tmp_path, ratings, keep_versions=2)
    for _ in range(4):
        arena.store.publish("tictactoe", tictactoe_model)
    assert arena.step().version == 4
    notes = {r.version: r.note for r in ratings.results("tictactoe")}
    assert notes[1] == notes[2] == "deleted from the model store before its turn"
    assert notes[3] == "published while the arena was busy"


def test_a_stop_during_a_version_records_nothing_of_it(tmp_path, ratings, tictactoe_model):
    calls = []
    arena = make_arena(tmp_path, ratings, should_stop=lambda: len(calls) > 0 or calls.append(1))
    arena.store.publish("tictactoe", tictactoe_model)
    assert arena.step() is None
    assert ratings.statuses("tictactoe") == {} and ratings.games("tictactoe") == []


def test_the_share_of_optimal_moves_is_searched_in_batches_and_stops_between_them():
    # Rating a tictactoe version searches ~3200 positions, seconds of work: a SIGTERM must not wait for all of it.
    positions, batches = labelled_positions(game), []

    def first_legal_move(states):  # a real (poor) player: the first legal move of each position
        batches.append(len(states))
        return [game.legal_actions(s)[0] for s in states]

    assert optimal_share(game, positions, first_legal_move, should_stop=lambda: bool(batches)) is None
    assert batches == [SHARE_BATCH]
    share = optimal_share(game, positions, first_legal_move)
    assert 0 < share < 1 and sum(batches[1:]) == len(positions) and max(batches) == SHARE_BATCH
