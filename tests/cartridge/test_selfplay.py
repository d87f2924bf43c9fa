from __future__ import annotations

import itertools

import numpy as np

from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import MctsConfig
from cartridge.selfplay import SelfPlay


def play(name="tictactoe", **kwargs):
    g = get_game(name)
    sp = SelfPlay(g, MctsConfig(simulations=16), parallel_games=8, rng=np.random.default_rng(0), actor_id="t")
    return g, sp, kwargs


def test_episodes_are_well_formed_and_replay_to_their_observations():
    g, sp, _ = play()
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=10))
    assert len(episodes) == 10 and len({e.episode_id for e in episodes}) == 10
    for episode in episodes:
        state = g.initial_state()
        for t in episode.transitions:
            assert np.array_equal(t.observation, g.observation(state))
            assert abs(t.policy.sum() - 1) < 1e-5 and t.policy[t.action] > 0
            state = g.apply(state, t.action)
        assert state.terminal and g.winner(state) == episode.winner
        values = [t.value for t in episode.transitions]
        if episode.winner:
            assert values[-1] == 1 and all(a == -b for a, b in itertools.pairwise(values))
        else:
            assert set(values) == {0.0}
        assert episode.actor_id == "t" and episode.model_version == 0 and episode.duration_s >= 0


def test_should_stop_ends_between_rounds_without_yielding_partial_games():
    _g, sp, _ = play("connect4")
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        return rounds["n"] > 5

    assert list(sp.play(lambda: UniformEvaluator(7), should_stop=stop)) == []  # no connect4 game ends in 5 moves


def test_a_new_evaluator_is_used_from_the_next_round():
    _g, sp, _ = play()

    class Versioned(UniformEvaluator):
        def __init__(self, version):
            super().__init__(9)
            self.version = version

    calls = {"n": 0}

    def evaluator():
        calls["n"] += 1
        return Versioned(0 if calls["n"] < 20 else 7)

    versions = [e.model_version for e in sp.play(evaluator, max_episodes=40)]
    assert versions[0] == 0 and versions[-1] == 7 and versions == sorted(versions)


def test_exploration_lasts_the_games_own_temperature_moves_unless_given():
    for game in (get_game("tictactoe"), get_game("connect4")):
        assert SelfPlay(game, MctsConfig(simulations=4), parallel_games=1).temperature_moves == game.temperature_moves
        assert SelfPlay(game, MctsConfig(simulations=4), parallel_games=1, temperature_moves=2).temperature_moves == 2


def test_in_flight_counts_the_games_in_play_and_drops_to_0_when_play_ends():
    _g, sp, _ = play()
    assert sp.in_flight == 0
    games = sp.play(lambda: UniformEvaluator(9), max_episodes=10)
    next(games)
    assert sp.in_flight == 8  # parallel_games, each finished game replaced while the budget lasts
    rest = list(games)
    assert len(rest) == 9 and sp.in_flight == 0
    stopped = sp.play(lambda: UniformEvaluator(9))
    next(stopped)
    stopped.close()  # the actor stops between episodes
    assert sp.in_flight == 0
