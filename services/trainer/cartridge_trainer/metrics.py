"""The trainer's Prometheus metrics: the pipeline's (loss, iteration, model version) and what its alerts need,
the episodes waiting for the next iteration, the iterations' durations and the replay buffer against its bound."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

from cartridge.telemetry import PipelineMetrics


class TrainerMetrics(PipelineMetrics):
    def __init__(self, env_id: str, *, episodes_per_iteration: int, max_transitions: int) -> None:
        super().__init__()
        r = self.registry
        self.pending_episodes = Gauge(
            "cartridge_trainer_pending_episodes",
            "Episodes written since the current or last iteration began",
            ["env_id"],
            registry=r,
        )
        self.episodes_per_iteration = Gauge(
            "cartridge_trainer_episodes_per_iteration",
            "New episodes an iteration waits for (EPISODES_PER_ITERATION)",
            ["env_id"],
            registry=r,
        )
        self.iteration_seconds = Histogram(
            "cartridge_trainer_iteration_duration_seconds",
            "Wall time of one training iteration, publication included",
            ["env_id"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
            registry=r,
        )
        self.stored_transitions = Gauge(
            "cartridge_replay_stored_transitions",
            "Transitions in the replay buffer after the pruner's last round",
            ["env_id"],
            registry=r,
        )
        self.max_transitions = Gauge(
            "cartridge_replay_max_transitions",
            "The replay buffer's bound, which the pruner keeps it under (REPLAY_MAX_TRANSITIONS)",
            ["env_id"],
            registry=r,
        )
        # Every series exists from the start, at 0 where nothing happened yet: an alert that asks "no iteration in
        # 30 minutes" must see a count of 0, not an absent series that matches nothing.
        self.episodes_per_iteration.labels(env_id).set(episodes_per_iteration)
        self.max_transitions.labels(env_id).set(max_transitions)
        self.pending_episodes.labels(env_id)
        self.iteration_seconds.labels(env_id)
        self.iteration.labels(env_id)
