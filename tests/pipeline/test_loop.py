"""The whole self-play loop on tictactoe as separate real processes on SQLite and a models directory.

Two actors and a trainer run until the trainer reaches TRAINING_ITERATIONS (about two to three
minutes on 2 cores); then the published model is judged against perfect minimax play from both seats
and against a random player, next to an untrained network searching the same way. Winning most games
against a random player proves nothing: an untrained network with search wins 92-97 % of them as first
player. Never losing to minimax in either seat does: an untrained network loses most of its games to
minimax as second player, and the test shows that it does, in the same run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cartridge.arena import MatchResult, MctsPlayer, MinimaxPlayer, RandomPlayer, play_match
from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.modelstore import open_model_store
from cartridge.replay import open_replay, open_training_log
from cartridge_trainer.network import PolicyValueNet, export_onnx
from testkit.replay_reads import recent_episodes
from testkit.support import free_port, log_events

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
    assert_plays_where_an_untrained_network_fails(model, manifest.version)


def assert_plays_where_an_untrained_network_fails(model: bytes, version: int) -> None:
    game = get_game("tictactoe")
    sims = int(SETTINGS["MCTS_MAX_SIMS"])
    torch.manual_seed(0)
    untrained = judge(game, MctsPlayer(game, OnnxEvaluator(export_onnx(PolicyValueNet(game), game), 0), sims))
    trained = judge(game, MctsPlayer(game, OnnxEvaluator(model, version), sims))
    print(f"\nuntrained: {untrained}\ntrained v{version}: {trained}")
    assert untrained["minimax second"].losses > 0, f"the bar does not tell an untrained network apart: {untrained}"
    assert all(trained[f"minimax {seat}"].losses == 0 for seat in ("first", "second")), trained
    assert all(trained[f"random {seat}"].losses == 0 for seat in ("first", "second")), trained


def judge(game, player) -> dict[str, MatchResult]:
    """``player``'s results from both seats against perfect minimax play (20 games) and a random player (100)."""
    rng = np.random.default_rng(2024)
    return {
        f"{name} {seat}": play_match(game, player, opponent, games, player_first=seat == "first")
        for name, opponent, games in (
            ("minimax", MinimaxPlayer(game, rng), 20),
            ("random", RandomPlayer(game, rng), 100),
        )
        for seat in ("first", "second")
    }
