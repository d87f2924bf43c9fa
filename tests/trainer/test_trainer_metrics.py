"""The trainer's own metrics, which its alerts read (k8s/components/monitoring): the episodes waiting for an
iteration, the iterations' durations, and the replay buffer against its bound."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import structlog
from prometheus_client import generate_latest

from cartridge.modelstore import open_model_store
from cartridge.replay import open_replay, open_training_log
from cartridge.service import StopFlag
from cartridge.settings import Settings
from cartridge_trainer.main import Trainer
from cartridge_trainer.metrics import TrainerMetrics
from cartridge_trainer.pruning import Pruner

ENV = {"env_id": "tictactoe"}


def settings_for(tmp_path, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "ENV_ID": "tictactoe",
            "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
            "MODEL_STORE_URL": f"file://{tmp_path}/models",
            "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
            "EXPORT_PRECISION": "fp32",
            **extra,
        }
    )


def small_iterations(tmp_path, steps: int, batch: int, **extra: str) -> Settings:
    """``settings_for`` with an iteration every 4 episodes, of ``steps`` optimiser steps on ``batch`` samples."""
    return settings_for(
        tmp_path, EPISODES_PER_ITERATION="4", TRAIN_STEPS_PER_ITERATION=str(steps), BATCH_SIZE=str(batch), **extra
    )


def metrics_for(settings: Settings) -> TrainerMetrics:
    return TrainerMetrics(
        settings.env_id,
        episodes_per_iteration=settings.episodes_per_iteration,
        max_transitions=settings.replay_max_transitions,
    )


@contextmanager
def trainers(
    settings: Settings, episodes: Sequence, metrics: TrainerMetrics | None = None
) -> Iterator[Callable[[], Trainer]]:
    """In-process trainers on the settings' replay buffer (given ``episodes`` first), training log and model
    store; each call makes a new one, as a restarted process would be."""
    with open_replay(settings.replay_url) as replay, open_training_log(settings.replay_url) as training_log:
        for episode in episodes:
            replay.append_episode(episode)
        store = open_model_store(settings.model_store_url)
        yield lambda: Trainer(
            settings, replay, training_log, store, structlog.get_logger(), metrics or metrics_for(settings)
        )


def test_every_series_an_alert_reads_is_there_before_anything_happened():
    metrics = TrainerMetrics("tictactoe", episodes_per_iteration=8, max_transitions=400)
    text = generate_latest(metrics.registry).decode()
    for line in (
        'cartridge_trainer_iteration_duration_seconds_count{env_id="tictactoe"} 0.0',
        'cartridge_trainer_pending_episodes{env_id="tictactoe"} 0.0',
        'cartridge_trainer_episodes_per_iteration{env_id="tictactoe"} 8.0',
        'cartridge_replay_max_transitions{env_id="tictactoe"} 400.0',
        'cartridge_iteration{env_id="tictactoe"} 0.0',
    ):
        assert line in text.splitlines(), line


def test_the_pruner_reports_what_it_leaves_against_the_bound(tmp_path, make_episode):
    settings = settings_for(tmp_path, REPLAY_WINDOW="20", REPLAY_MAX_TRANSITIONS="40")
    metrics = metrics_for(settings)
    with open_replay(settings.replay_url) as replay:
        for _ in range(20):
            replay.append_episode(make_episode())
        written = replay.counts("tictactoe").stored_transitions
        Pruner(settings, structlog.get_logger(), metrics).prune_once(replay)
        stored = replay.counts("tictactoe").stored_transitions
    assert written > 40 >= stored > 0
    assert metrics.registry.get_sample_value("cartridge_replay_stored_transitions", ENV) == stored
    assert metrics.registry.get_sample_value("cartridge_replay_max_transitions", ENV) == 40


def test_the_trainer_reports_the_episodes_waiting_and_times_each_iteration(tmp_path, make_episode):
    settings = small_iterations(tmp_path, steps=2, batch=8)
    metrics = metrics_for(settings)
    with trainers(settings, [make_episode() for _ in range(6)], metrics) as new_trainer:
        trainer = new_trainer()
        assert trainer.wait_for_episodes(StopFlag())
        assert metrics.registry.get_sample_value("cartridge_trainer_pending_episodes", ENV) == 6
        trainer.run_iteration()
    count = metrics.registry.get_sample_value("cartridge_trainer_iteration_duration_seconds_count", ENV)
    assert count == 1 and metrics.registry.get_sample_value("cartridge_iteration", ENV) == 1
