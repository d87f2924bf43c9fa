"""Replay buffer: one interface, SQLite and PostgreSQL backends chosen by REPLAY_URL.

Tables (both backends, created on start):
  episodes        one row per finished self-play game
  transitions     one row per move (observation, MCTS policy target, final value for the mover)
  replay_counters episodes and transitions ever written and ever pruned, per game (a few shard rows each)
  iterations      the training log's (training_log.py), in the same database
An episode is written in one transaction with its counters: all its transitions or none. Pruning
deletes whole episodes, oldest first, with their counters in the same transaction.
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
    # The transition's index in its episode, 0..n-1 (checked on write, audited by testkit.replay_reads): the
    # game's ply when every move is recorded, as by default; with playout caps (PLAYOUT_CAP_FULL_SHARE < 1)
    # fast-searched moves are not recorded, so steps count the recorded positions and plies are not stored.
    step: int
    observation: np.ndarray  # float32, the game's observation_shape, from the mover's side
    policy: np.ndarray  # float32, action_size, MCTS visit distribution (sums to 1)
    # For the mover at this step: the final result (1 win, 0 draw, -1 loss), or with VALUE_TARGET_MIX = m > 0
    # (1 - m) x that + m x the search's root value, so anywhere in [-1, 1].
    value: float
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
class ReplayCounts:
    """Counts from the counter rows (no table scan). ``episodes``/``transitions`` were ever written and
    never fall (the trainer's trigger counts them); ``stored_*`` is what pruning left."""

    episodes: int
    transitions: int
    stored_episodes: int
    stored_transitions: int


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
    def prune(self, env_id: str, max_transitions: int, batch_transitions: int = 2_000, max_batches: int = 20) -> int:
        """Delete whole episodes of ``env_id``, oldest first, until at most ``max_transitions`` are stored:
        each batch of about ``batch_transitions`` rows is its own short transaction, so writers never wait
        long; at most ``max_batches`` per call. Returns the transitions deleted."""

    @abstractmethod
    def counts(self, env_id: str | None = None) -> ReplayCounts:
        """Counts of ``env_id`` (all games when None), from the counter rows."""

    def count_episodes(self, env_id: str | None = None) -> int:
        """Episodes ever written (pruning does not lower it)."""
        return self.counts(env_id).episodes

    def count_transitions(self, env_id: str | None = None) -> int:
        """Transitions ever written (pruning does not lower it)."""
        return self.counts(env_id).transitions

    @abstractmethod
    def episodes_per_second(self, env_id: str | None = None, seconds: float = 60.0) -> float:
        """Episodes finished in the last ``seconds`` divided by ``seconds``."""

    @abstractmethod
    def ping(self) -> None:
        """Raise ReplayUnavailable unless the database answers a trivial query."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ReplayBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
