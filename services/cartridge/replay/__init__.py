"""``open_replay(REPLAY_URL)``: sqlite:///path or postgresql://user:pass@host/db."""

from __future__ import annotations

from .base import Batch, Episode, IterationRecord, ReplayBuffer, ReplayUnavailable, Transition, transitions_from_steps


def open_replay(url: str) -> ReplayBuffer:
    if url.startswith("sqlite://"):
        from .sqlite import SqliteReplayBuffer

        return SqliteReplayBuffer(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresReplayBuffer

        return PostgresReplayBuffer(url)
    raise ReplayUnavailable(f"REPLAY_URL={url!r}: unsupported scheme (expected sqlite:/// or postgresql://)")


__all__ = [
    "Batch",
    "Episode",
    "IterationRecord",
    "ReplayBuffer",
    "ReplayUnavailable",
    "Transition",
    "open_replay",
    "transitions_from_steps",
]
