"""``open_replay(REPLAY_URL)`` and ``open_training_log(REPLAY_URL)``: sqlite:///path or postgresql://user:pass@host/db.

The replay buffer (episodes in, samples out, counts for /stats, pruning) and the training log (one record
per trainer iteration) are two interfaces over the same database (``open_database``), which other modules may
keep their own tables in too (``SqlDatabase.ensure_tables``; the arena's ratings do).
"""

from __future__ import annotations

from .base import Batch, Episode, ReplayBuffer, ReplayCounts, ReplayUnavailable, Transition, transitions_from_steps
from .buffer import SqlReplayBuffer
from .database import DEFAULT_TIMEOUTS, ReplayTimeouts, SqlDatabase, redact_url
from .training_log import IterationRecord, TrainingLog


def open_database(url: str, timeouts: ReplayTimeouts = DEFAULT_TIMEOUTS) -> SqlDatabase:
    """The replay database at ``url``, its tables created where missing; ``timeouts`` bound PostgreSQL's."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteDatabase

        return SqliteDatabase(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresDatabase

        return PostgresDatabase(url, timeouts)
    raise ReplayUnavailable(f"REPLAY_URL={url!r}: unsupported scheme (expected sqlite:/// or postgresql://)")


def open_replay(url: str, timeouts: ReplayTimeouts = DEFAULT_TIMEOUTS) -> SqlReplayBuffer:
    return SqlReplayBuffer(open_database(url, timeouts))


def open_training_log(url: str, timeouts: ReplayTimeouts = DEFAULT_TIMEOUTS) -> TrainingLog:
    return TrainingLog(open_database(url, timeouts))


def training_log_beside(replay: SqlReplayBuffer) -> TrainingLog:
    """The training log on the replay buffer's own database connection (closed with the buffer)."""
    return TrainingLog(replay.database)


__all__ = [
    "DEFAULT_TIMEOUTS",
    "Batch",
    "Episode",
    "IterationRecord",
    "ReplayBuffer",
    "ReplayCounts",
    "ReplayTimeouts",
    "ReplayUnavailable",
    "SqlDatabase",
    "SqlReplayBuffer",
    "TrainingLog",
    "Transition",
    "open_database",
    "open_replay",
    "open_training_log",
    "redact_url",
    "training_log_beside",
    "transitions_from_steps",
]
