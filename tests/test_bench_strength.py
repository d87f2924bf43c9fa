"""bench.bench_strength: its target match is against one of the arena's own references, for every game it trains,
and a run counts what self-play wrote and how often the trainer drew each position."""

from __future__ import annotations

import pytest

from bench.bench_strength import scrape_counts, self_play_use, target_opponent, train
from bench.games import STRENGTH_PIPELINE
from cartridge.arena.loop import reference_players
from cartridge.games import GAME_NAMES, GAMES, get_game
from cartridge.modelstore import open_model_store
from cartridge.replay import open_replay
from testkit.support import free_port


@pytest.mark.parametrize("game", GAMES, ids=GAME_NAMES)
def test_the_target_opponent_is_the_perfect_player_where_there_is_one_else_alphabeta(game):
    target = target_opponent(game)
    assert target in reference_players(game)
    assert target == ("minimax" if game.solvable else f"alphabeta-d{game.reference_depth}")


def test_every_game_the_benchmark_trains_is_a_registered_game():
    assert all(get_game(name) for name in STRENGTH_PIPELINE)


def test_a_run_counts_what_self_play_wrote_and_how_often_the_trainer_drew_it(tmp_path):
    # The real pipeline, briefly: one actor and the trainer on tictactoe with small iterations.
    overrides = {"MCTS_MAX_SIMS": "8", "EPISODES_PER_ITERATION": "8", "TRAIN_STEPS_PER_ITERATION": "10"}
    env, published, counts = train("tictactoe", 25, tmp_path, overrides, actors=1)
    use = self_play_use(counts, env)
    assert published and use is not None, (tmp_path / "t.log").read_text()[-2000:]
    # One version per iteration: counted between the last version the run saw and the last the trainer made.
    newest = open_model_store(env["MODEL_STORE_URL"]).latest("tictactoe").version
    assert max(published) <= use["iterations"] <= newest
    assert use["samples_trained"] == use["iterations"] * 10 * int(env["BATCH_SIZE"])
    # Counted before the processes stopped, so the buffer holds at least as much (nothing pruned this briefly).
    with open_replay(env["REPLAY_URL"]) as replay:
        assert 0 < use["episodes"] <= replay.count_episodes("tictactoe")
        assert use["transitions"] <= replay.count_transitions("tictactoe")
    assert 5 * use["episodes"] <= use["transitions"] <= 9 * use["episodes"]  # tictactoe games last 5-9 moves
    assert use["draws_per_transition"] == round(use["samples_trained"] / use["transitions"], 2)


def test_a_process_that_does_not_answer_leaves_the_counts_unknown_not_partial():
    assert scrape_counts([free_port()]) is None
    assert self_play_use(None, {}) is None
