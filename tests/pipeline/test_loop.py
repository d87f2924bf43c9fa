"""The whole self-play loop on tictactoe as separate real processes on SQLite and a models directory.

Two actors and a trainer run until the trainer reaches TRAINING_ITERATIONS (about two to three
minutes on 2 cores); then the published model is judged: it must win at least 95 % of its games
against a random player when it moves first, never lose against a perfect minimax player in
either seat, and never lose to a random player. (For scale, perfect minimax play itself wins
~96 % as first player and ~77 % as second player against a random player: it plays for the draw.)
"""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.arena import MctsPlayer, MinimaxPlayer, RandomPlayer, play_match
from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.modelstore import open_model_store
from cartridge.replay import open_replay, open_training_log
from tests.replay_reads import recent_episodes
from tests.support import free_port, log_events

ITERATIONS = 12
SETTINGS = {
    "ENV_ID": "tictactoe",
    "MCTS_MAX_SIMS": "48",
    "ACTOR_PARALLEL_GAMES": "32",
    "EPISODES_PER_ITERATION": "120",
    "TRAIN_STEPS_PER_ITERATION": "150",
    "BATCH_SIZE": "128",
    "REPLAY_WINDOW": "20000",
    "LEARNING_RATE": "0.002",
    "MODEL_POLL_SECONDS": "1",
    "TRAINING_ITERATIONS": str(ITERATIONS),
}


def loaded_versions(log_text: str) -> list[int]:
    return [event["version"] for event in log_events(log_text, "model loaded")]


@pytest.mark.slow
def test_self_play_loop_trains_a_tictactoe_model_that_plays_well(tmp_path, start_service):
    env = SETTINGS | {
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }
    actors = [
        start_service("cartridge_actor", env | {"HTTP_PORT": str(free_port()), "ACTOR_ID": f"actor-{i}"}, f"actor{i}")
        for i in range(2)
    ]
    trainer = start_service("cartridge_trainer", env | {"HTTP_PORT": str(free_port())}, "trainer")
    assert trainer.wait(timeout=540) == 0, trainer.log_text()[-3000:]
    for actor in actors:
        assert actor.proc.poll() is None, f"an actor died: {actor.log_text()[-2000:]}"
        assert actor.stop() == 0, "an actor did not stop cleanly on SIGTERM"

    store = open_model_store(env["MODEL_STORE_URL"])
    with open_replay(env["REPLAY_URL"]) as replay, open_training_log(env["REPLAY_URL"]) as log:
        records = log.iterations("tictactoe")
        episodes = replay.count_episodes("tictactoe")
        recent = recent_episodes(replay, "tictactoe", limit=200)
    # Episodes accumulated, iterations advanced, one version per iteration.
    assert episodes >= ITERATIONS * int(SETTINGS["EPISODES_PER_ITERATION"])
    assert [r.iteration for r in records] == list(range(1, ITERATIONS + 1))
    assert [r.model_version for r in records] == list(range(1, ITERATIONS + 1))
    assert store.latest("tictactoe").version == ITERATIONS
    # Both actors wrote, and switched versions without restarting.
    assert {e["actor_id"] for e in recent} == {"actor-0", "actor-1"}
    for actor in actors:
        versions = loaded_versions(actor.log_text())
        assert len(versions) >= 3 and versions == sorted(versions), versions
    assert max(e["model_version"] for e in recent) >= ITERATIONS - 2

    manifest, model = store.fetch_latest("tictactoe")
    game = get_game("tictactoe")
    rng = np.random.default_rng(2024)
    player = MctsPlayer(game, OnnxEvaluator(model, manifest.version), simulations=int(SETTINGS["MCTS_MAX_SIMS"]))
    first = play_match(game, player, RandomPlayer(game, rng), 100, player_first=True)
    second = play_match(game, player, RandomPlayer(game, rng), 100, player_first=False)
    perfect_first = play_match(game, player, MinimaxPlayer(game, rng), 20, player_first=True)
    perfect_second = play_match(game, player, MinimaxPlayer(game, rng), 20, player_first=False)
    print(f"\nvs random: first {first}, second {second}; vs minimax: first {perfect_first}, second {perfect_second}")
    assert first.win_rate >= 0.95, first
    assert first.losses == 0 and second.losses == 0, (first, second)
    assert perfect_first.losses == 0 and perfect_second.losses == 0, (perfect_first, perfect_second)
