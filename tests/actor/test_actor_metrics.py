"""The actor's metrics: its games in flight, read from the self-play loop at each scrape."""

from __future__ import annotations

import numpy as np

from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import MctsConfig
from cartridge.selfplay import SelfPlay
from cartridge_actor.metrics import ActorMetrics

ENV = {"env_id": "tictactoe"}


def test_games_in_flight_follow_the_self_play_loop_and_the_counters_start_at_0():
    selfplay = SelfPlay(get_game("tictactoe"), MctsConfig(simulations=4), 3, rng=np.random.default_rng(0))
    metrics = ActorMetrics("tictactoe", selfplay)
    sample = metrics.registry.get_sample_value
    assert sample("cartridge_actor_games_in_flight", ENV) == 0
    assert sample("cartridge_episodes_total", ENV) == 0 and sample("cartridge_transitions_total", ENV) == 0
    games = selfplay.play(lambda: UniformEvaluator(9))
    next(games)
    assert sample("cartridge_actor_games_in_flight", ENV) == 3
    games.close()
    assert sample("cartridge_actor_games_in_flight", ENV) == 0
