"""The gate: a stronger candidate is promoted to best, a weaker one is not; the result goes in the version's row."""

from __future__ import annotations

import numpy as np
import pytest
import structlog

from cartridge.arena import MinimaxPlayer, RandomPlayer
from cartridge.arena.gate import UNIFORM, GateConfig, play_gate
from cartridge.arena.loop import Arena, ArenaConfig
from cartridge.games import get_game
from cartridge.modelstore import open_model_store

game = get_game("tictactoe")
GATE = GateConfig(threshold=0.55, games=8)
minimax = ("minimax", lambda rng: MinimaxPlayer(game, rng))
random = ("random", lambda rng: RandomPlayer(game, rng))


def test_the_stronger_player_passes_the_gate_and_the_weaker_does_not():
    strong = play_gate(game, minimax, random, GATE)
    assert strong.promoted and strong.score >= 0.55 and strong.losses == 0 and strong.against == "random"
    weak = play_gate(game, random, minimax, GATE)
    assert not weak.promoted and weak.wins == 0 and weak.games == 8
    assert play_gate(game, random, minimax, GATE) == weak, "a gate replays from its seeds"


def test_the_threshold_is_inclusive_and_a_stopped_gate_decides_nothing():
    draws = play_gate(game, minimax, ("minimax-too", minimax[1]), GateConfig(threshold=0.5, games=4))
    assert draws.score == 0.5 and draws.promoted, "perfect play draws itself: 0.5 meets a threshold of 0.5"
    assert not play_gate(game, minimax, ("minimax-too", minimax[1]), GateConfig(threshold=0.51, games=4)).promoted
    games_begun = []

    def stop_after_two_games() -> bool:
        games_begun.append(1)
        return len(games_begun) > 2

    assert play_gate(game, minimax, random, GATE, should_stop=stop_after_two_games) is None, "2 of 8 decide nothing"


@pytest.mark.parametrize(("threshold", "games"), [(0.0, 20), (1.5, 20), (0.55, 1)])
def test_a_bad_gate_config_is_refused(threshold, games):
    with pytest.raises(ValueError, match="gate threshold must be in"):
        GateConfig(threshold, games)


def make_arena(tmp_path, ratings, gate) -> Arena:
    store = open_model_store(f"file://{tmp_path}/models", keep_versions=2)
    return Arena(
        game, store=store, ratings=ratings, config=ArenaConfig(games=2, sims=8), log=structlog.get_logger(), gate=gate
    )


def test_gated_arena_promotes_a_stronger_candidate_and_keeps_the_best_against_a_weaker(
    tmp_path, ratings, strong_tictactoe_model, tictactoe_model
):
    arena = make_arena(tmp_path, ratings, GATE)
    store = arena.store
    store.publish("tictactoe", strong_tictactoe_model)
    assert arena.step().gate["promoted"]
    best = store.best("tictactoe")
    assert best.version == 1 and f"against {UNIFORM}" in best.reason, "the first best beat the uniform prior"

    store.publish("tictactoe", tictactoe_model)  # untrained: weaker than the best
    weaker = arena.step()
    assert weaker.version == 2 and weaker.status == "rated"
    assert weaker.gate["against"] == "v1" and not weaker.gate["promoted"] and weaker.gate["score"] < 0.55
    assert store.best("tictactoe").version == 1
    assert {r.version: r.gate for r in ratings.results("tictactoe")}[2] == weaker.gate, "the row holds the gate"

    for _ in range(3):  # keep_versions=2: retention keeps the best, and what the arena has not reached
        store.publish("tictactoe", tictactoe_model)
    assert store.versions("tictactoe") == [1, 3, 4, 5] and store.rated_through("tictactoe") == 2
    arena.step()
    assert store.rated_through("tictactoe") == 5 and store.best("tictactoe").version == 1


def test_a_promotion_lost_to_a_kill_is_made_at_the_next_start(tmp_path, ratings, strong_tictactoe_model):
    arena = make_arena(tmp_path, ratings, GATE)
    arena.store.publish("tictactoe", strong_tictactoe_model)
    arena._promote = lambda version, gate: None  # killed between the row and the promotion
    arena.step()
    assert ratings.results("tictactoe")[-1].gate["promoted"] and arena.store.best("tictactoe") is None
    restarted = make_arena(tmp_path, ratings, GATE)
    assert restarted.step() is None and restarted.store.best("tictactoe").version == 1


def test_under_always_the_arena_only_rates(tmp_path, ratings, tictactoe_model):
    arena = make_arena(tmp_path, ratings, gate=None)
    arena.store.publish("tictactoe", tictactoe_model)
    result = arena.step()
    assert result.status == "rated" and result.gate is None and arena.store.best("tictactoe") is None
    assert arena.store.rated_through("tictactoe") == 1
    assert np.isfinite(result.rating)
