"""``open_replay(REPLAY_URL)`` and ``open_training_log(REPLAY_URL)``: sqlite:///path or postgresql://user:pass@host/db.

The replay buffer (episodes in, samples out, counts for /stats, pruning) and the training log (one record
per trainer iteration) are two interfaces over the same database.
"""

from __future__ import annotations

from .base import Batch, Episode, ReplayBuffer, ReplayCounts, ReplayUnavailable, Transition, transitions_from_steps
from .database import open_database
from .training_log import IterationRecord, TrainingLog, open_training_log


def open_replay(url: str) -> ReplayBuffer:
    from .sql import SqlReplayBuffer

    return SqlReplayBuffer(open_database(url))


def training_log_beside(replay: ReplayBuffer) -> TrainingLog:
    """The training log on the replay buffer's own database connection (closed with the buffer)."""
    return TrainingLog(replay._db)


__all__ = [
    "Batch",
    "Episode",
    "IterationRecord",
    "ReplayBuffer",
    "ReplayCounts",
    "ReplayUnavailable",
    "TrainingLog",
    "Transition",
    "open_replay",
    "open_training_log",
    "training_log_beside",
    "transitions_from_steps",
]
