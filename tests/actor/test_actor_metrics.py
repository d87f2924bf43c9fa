"""The actor's metrics: its games in flight, read from the self-play loop at each scrape, and the simulations it ran."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import structlog
import structlog.testing

from cartridge.games import get_game
from cartridge.inference import ModelWatcher, UniformEvaluator
from cartridge.mcts import MctsConfig
from cartridge.selfplay import SelfPlay
from cartridge.service import StopFlag
from cartridge.settings import Settings
from cartridge.stores import open_model_store, open_replay
from cartridge_actor.main import Actor
from cartridge_actor.metrics import ActorMetrics
from testkit.support import FirstPlayerLosing

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


def test_the_simulations_counter_counts_what_was_searched_fast_searches_included(tmp_path):
    settings = Settings.from_env(
        {
            "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
            "MODEL_STORE_URL": f"file://{tmp_path}/models",
            "MCTS_MAX_SIMS": "12",
            "ACTOR_PARALLEL_GAMES": "4",
            "ACTOR_MAX_EPISODES": "10",
            "PLAYOUT_CAP_FULL_SHARE": "0.5",
            "PLAYOUT_CAP_FAST_SIMS": "3",
            "VALUE_TARGET_MIX": "0.5",
        }
    )
    watcher = ModelWatcher(open_model_store(settings), "tictactoe", 9)
    with open_replay(settings) as replay:
        actor = Actor(settings, "a", replay, watcher, structlog.get_logger())
        assert (actor.selfplay.full_share, actor.selfplay.fast_sims, actor.selfplay.value_mix) == (0.5, 3, 0.5)
        actor.play_until_done(StopFlag())
        stored = replay.count_transitions("tictactoe")
    sample = actor.metrics.registry.get_sample_value
    assert actor.written == 10 and sample("cartridge_transitions_total", ENV) == stored
    searched = sample("cartridge_mcts_simulations_total", ENV)
    assert searched == actor.selfplay.simulations > 0
    assert searched != stored * 12, "fast searches ran too, and their moves are not transitions"


def test_resignations_checks_and_false_positives_are_counted_and_logged_with_reuse_on(tmp_path):
    settings = Settings.from_env(
        {
            "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
            "MODEL_STORE_URL": f"file://{tmp_path}/models",
            "MCTS_MAX_SIMS": "16",
            "ACTOR_PARALLEL_GAMES": "4",
            "ACTOR_MAX_EPISODES": "30",
            "RESIGN_THRESHOLD": "0.3",
            "RESIGN_CHECK_SHARE": "0.5",
            "SELFPLAY_REUSE_TREE": "on",
        }
    )
    network = FirstPlayerLosing()
    watcher = SimpleNamespace(current=network)  # the model store's part: which network plays
    with open_replay(settings) as replay, structlog.testing.capture_logs() as logs:
        actor = Actor(settings, "a", replay, watcher, structlog.get_logger())
        assert (actor.selfplay.resign_threshold, actor.selfplay.resign_check_share) == (0.3, 0.5)
        assert actor.selfplay.reuse_tree
        actor.play_until_done(StopFlag())
    sp, sample = actor.selfplay, actor.metrics.registry.get_sample_value
    assert actor.written == 30 and sp.resigned_games > 0 and sp.resign_checks > 0
    assert sample("cartridge_actor_resigned_games_total", ENV) == sp.resigned_games
    assert sample("cartridge_actor_resign_checks_total", ENV) == sp.resign_checks
    assert sample("cartridge_actor_resign_false_positives_total", ENV) == sp.resign_false_positives
    written = [e for e in logs if e["event"] == "episode written"]
    assert written[-1]["resigned_games"] == sp.resigned_games
    assert written[-1]["resign_false_positive_rate"] == round(sp.resign_false_positives / sp.resign_checks, 3)
