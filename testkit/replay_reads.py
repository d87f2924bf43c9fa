"""Reads of the replay buffer that only tests and the e2e suite make: whole episodes back, newest episodes.

They go through the buffer's own database connection (SqlReplayBuffer.database), so they see what it sees,
and stay out of the production interface, whose jobs are writing, sampling, pruning and counts.
"""

from __future__ import annotations

from cartridge.replay import SqlReplayBuffer, Transition
from cartridge.replay.codec import decode_transition
from cartridge.replay.schema import EPISODE_COLUMNS


def episode_transitions(replay: SqlReplayBuffer, episode_id: str) -> list[Transition]:
    """The transitions of one episode in step order."""
    rows = replay.database.fetch(
        "SELECT env_id, step, observation, policy, value, action FROM transitions WHERE episode_id = ? ORDER BY step",
        (episode_id,),
    )
    return [decode_transition(*row) for row in rows]


def recent_episodes(replay: SqlReplayBuffer, env_id: str | None = None, limit: int = 20) -> list[dict]:
    """Newest stored episodes: episode_id, env_id, actor_id, model_version, winner, moves, created_at."""
    where, params = ("WHERE env_id = ?", (env_id,)) if env_id is not None else ("", ())
    rows = replay.database.fetch(
        f"SELECT {EPISODE_COLUMNS} FROM episodes {where} ORDER BY created_at DESC LIMIT ?", (*params, limit)
    )
    keys = [c.strip() for c in EPISODE_COLUMNS.split(",")]
    return [dict(zip(keys, row, strict=True)) for row in rows]


def stored_transitions(replay: SqlReplayBuffer, env_id: str) -> int:
    """Transitions stored, counted row by row (the counters' check)."""
    return int(replay.database.fetch("SELECT count(*) FROM transitions WHERE env_id = ?", (env_id,))[0][0])


def partial_episodes(replay: SqlReplayBuffer, env_id: str) -> list[tuple]:
    """Episodes whose stored transitions are not exactly steps 0..moves-1 (episode_id, moves, rows, first, last),
    and transitions whose episode row is gone (episode_id, None, rows, first, last): [] when every one is whole."""
    whole = replay.database.fetch(
        "SELECT e.episode_id, e.moves, count(t.step), min(t.step), max(t.step) FROM episodes e "
        "LEFT JOIN transitions t ON t.episode_id = e.episode_id WHERE e.env_id = ? GROUP BY e.episode_id, e.moves "
        "HAVING count(t.step) <> e.moves OR count(DISTINCT t.step) <> e.moves OR min(t.step) <> 0 "
        "OR max(t.step) <> e.moves - 1",
        (env_id,),
    )
    orphans = replay.database.fetch(
        "SELECT t.episode_id, NULL, count(*), min(t.step), max(t.step) FROM transitions t "
        "LEFT JOIN episodes e ON e.episode_id = t.episode_id WHERE t.env_id = ? AND e.episode_id IS NULL "
        "GROUP BY t.episode_id",
        (env_id,),
    )
    return [tuple(row) for row in [*whole, *orphans]]
