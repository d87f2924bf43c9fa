"""Replay buffer: one interface, SQLite and PostgreSQL backends chosen by REPLAY_URL.

Tables (both backends, created on start):
  episodes    one row per finished self-play game
  transitions one row per move (observation, MCTS policy target, final value for the mover)
  iterations  one row per trainer iteration (losses, counts, duration) for the web's /stats
An episode is written in one transaction: all its transitions or none.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


class ReplayUnavailable(RuntimeError):
    """The replay database cannot be reached or opened; the message says which URL and why."""


@dataclass(frozen=True)
class Transition:
    step: int
    observation: np.ndarray  # float32, the game's observation_shape, from the mover's side
    policy: np.ndarray  # float32, action_size, MCTS visit distribution (sums to 1)
    value: float  # final result for the mover at this step: 1 win, 0 draw, -1 loss
    action: int


@dataclass(frozen=True)
class Episode:
    env_id: str
    transitions: list[Transition]
    winner: int  # 1 first player, 2 second player, 0 draw
    model_version: int  # 0 = played with the uniform prior before any model existed
    actor_id: str = ""
    duration_s: float = 0.0
    episode_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


def transitions_from_steps(steps: list[tuple[np.ndarray, np.ndarray, int, int]], winner: int) -> list[Transition]:
    """Transitions of a finished game from (observation, policy, action, mover) steps: each step's value
    is the result for the player who moved there (1 win, 0 draw, -1 loss)."""
    return [
        Transition(
            step=i,
            observation=obs,
            policy=policy,
            value=0.0 if winner == 0 else (1.0 if mover == winner else -1.0),
            action=action,
        )
        for i, (obs, policy, action, mover) in enumerate(steps)
    ]


@dataclass(frozen=True)
class Batch:
    observations: np.ndarray  # (B, *observation_shape) float32
    policies: np.ndarray  # (B, action_size) float32
    values: np.ndarray  # (B,) float32


@dataclass(frozen=True)
class IterationRecord:
    env_id: str
    iteration: int
    model_version: int
    policy_loss: float
    value_loss: float
    total_loss: float
    episodes_seen: int
    transitions_seen: int
    duration_s: float
    finished_at: float = field(default_factory=time.time)


class ReplayBuffer(ABC):
    """Thread-compatible per instance; open one per process (or per thread) with ``open_replay``."""

    url: str

    @abstractmethod
    def append_episode(self, episode: Episode) -> None:
        """Write the episode and all its transitions in one transaction."""

    @abstractmethod
    def sample(self, env_id: str, batch_size: int, window: int) -> Batch | None:
        """Uniform sample (with replacement) from the newest ``window`` transitions of ``env_id``;
        None when the buffer holds none."""

    @abstractmethod
    def count_episodes(self, env_id: str | None = None) -> int: ...

    @abstractmethod
    def count_transitions(self, env_id: str | None = None) -> int: ...

    @abstractmethod
    def episodes_per_second(self, env_id: str | None = None, seconds: float = 60.0) -> float:
        """Episodes finished in the last ``seconds`` divided by ``seconds``."""

    @abstractmethod
    def episode_transitions(self, episode_id: str) -> list[Transition]:
        """The transitions of one episode in step order (for checks and the e2e suite)."""

    @abstractmethod
    def recent_episodes(self, env_id: str | None = None, limit: int = 20) -> list[dict]:
        """Newest episodes: episode_id, env_id, actor_id, model_version, winner, moves, created_at."""

    @abstractmethod
    def record_iteration(self, record: IterationRecord) -> None: ...

    @abstractmethod
    def iterations(self, env_id: str, limit: int = 1000) -> list[IterationRecord]:
        """Iteration records of ``env_id``, oldest first (the newest ``limit``)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise ReplayUnavailable unless the database answers a trivial query."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ReplayBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
