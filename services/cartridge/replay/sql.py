"""What the SQLite and PostgreSQL replay buffers share: schema shape, queries, sampling, decoding.

Backends supply a DB-API connection, the placeholder style and the few statements that differ.
"""

from __future__ import annotations

import random
import threading
import time
from abc import abstractmethod

import numpy as np

from .base import Batch, Episode, IterationRecord, ReplayBuffer, Transition
from .codec import check_transitions, decode_batch, decode_transition, encode_observation, encode_policy

EPISODE_COLUMNS = "episode_id, env_id, actor_id, model_version, winner, moves, duration_s, created_at"
TRANSITION_COLUMNS = "episode_id, env_id, step, observation, policy, value, action, model_version, created_at"
ITERATION_COLUMNS = (
    "env_id, iteration, model_version, policy_loss, value_loss, total_loss, "
    "episodes_seen, transitions_seen, duration_s, finished_at"
)


class SqlReplayBuffer(ReplayBuffer):
    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._create_schema()

    # -- backend hooks ------------------------------------------------------------------------

    @abstractmethod
    def _connect(self): ...

    @abstractmethod
    def _create_schema(self) -> None: ...

    @abstractmethod
    def _insert_transitions(self, cur, rows: list[tuple]) -> None: ...

    @abstractmethod
    def _upsert_iteration_sql(self) -> str: ...

    @abstractmethod
    def _transaction(self, write: bool = True):
        """Context manager: a transaction on self._conn, committed on success, rolled back on error.
        Read-only transactions (write=False) must not block writers."""

    # -- helpers ------------------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock, self._transaction(write=False) as cur:
            cur.execute(self._q(sql), params)
            return cur.fetchall()

    @staticmethod
    def _env_filter(env_id: str | None) -> tuple[str, tuple]:
        return ("WHERE env_id = ?", (env_id,)) if env_id is not None else ("", ())

    # -- interface ----------------------------------------------------------------------------

    def append_episode(self, episode: Episode) -> None:
        check_transitions(episode.env_id, episode.transitions)
        now = episode.created_at
        rows = [
            (episode.episode_id, episode.env_id, t.step, encode_observation(t.observation), encode_policy(t.policy),
             float(t.value), int(t.action), episode.model_version, now)
            for t in episode.transitions
        ]  # fmt: skip
        with self._lock, self._transaction() as cur:
            # Idempotent: an episode id already stored means this is a retry of a write whose commit went
            # through before the connection broke, so the episode is there, whole, and nothing is added.
            cur.execute(
                self._q(f"INSERT INTO episodes ({EPISODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (episode_id) DO NOTHING"),
                (episode.episode_id, episode.env_id, episode.actor_id, episode.model_version, episode.winner,
                 len(episode.transitions), episode.duration_s, now),
            )  # fmt: skip
            if cur.rowcount == 1:
                self._insert_transitions(cur, rows)

    def sample(self, env_id: str, batch_size: int, window: int) -> Batch | None:
        if batch_size < 1 or window < 1:
            raise ValueError(f"sample needs batch_size >= 1 and window >= 1 (got {batch_size}, {window})")
        # Two single-aggregate queries: each is one index probe, a combined min/max is a scan in SQLite.
        highest = self._fetch("SELECT max(id) FROM transitions WHERE env_id = ?", (env_id,))[0][0]
        lowest = self._fetch("SELECT min(id) FROM transitions WHERE env_id = ?", (env_id,))[0][0]
        if highest is None:
            return None
        # The window is the newest `window` ids. Ids are dense per deployment (one game per buffer); ids of
        # another game or lost to a rolled-back insert are simply drawn again below. Counting back
        # `window` rows of this game exactly would cost an index scan per batch.
        lo = max(lowest, highest - window + 1)
        wanted = [random.randint(lo, highest) for _ in range(batch_size)]
        rows: dict[int, tuple] = {}
        for _ in range(20):  # ids missing from the window (gaps, other games) are drawn again
            missing = sorted({i for i in wanted if i not in rows})
            if not missing:
                break
            marks = ", ".join("?" for _ in missing)
            for row in self._fetch(
                f"SELECT id, observation, policy, value FROM transitions WHERE env_id = ? AND id IN ({marks})",
                (env_id, *missing),
            ):
                rows[row[0]] = row[1:]
            wanted = [i if i in rows else random.randint(lo, highest) for i in wanted]
        picked = [rows[i] for i in wanted if i in rows]
        if not picked:
            return None
        obs, pol = decode_batch(env_id, [bytes(r[0]) for r in picked], [bytes(r[1]) for r in picked])
        return Batch(obs, pol, np.array([r[2] for r in picked], dtype=np.float32))

    def count_episodes(self, env_id: str | None = None) -> int:
        where, params = self._env_filter(env_id)
        return int(self._fetch(f"SELECT count(*) FROM episodes {where}", params)[0][0])

    def count_transitions(self, env_id: str | None = None) -> int:
        where, params = self._env_filter(env_id)
        # Summing per-episode move counts avoids a full scan of the big table.
        return int(self._fetch(f"SELECT coalesce(sum(moves), 0) FROM episodes {where}", params)[0][0])

    def episodes_per_second(self, env_id: str | None = None, seconds: float = 60.0) -> float:
        since = time.time() - seconds
        if env_id is None:
            n = self._fetch("SELECT count(*) FROM episodes WHERE created_at >= ?", (since,))[0][0]
        else:
            n = self._fetch("SELECT count(*) FROM episodes WHERE env_id = ? AND created_at >= ?", (env_id, since))[0][0]
        return int(n) / seconds

    def episode_transitions(self, episode_id: str) -> list[Transition]:
        rows = self._fetch(
            "SELECT env_id, step, observation, policy, value, action FROM transitions "
            "WHERE episode_id = ? ORDER BY step",
            (episode_id,),
        )
        return [decode_transition(*row) for row in rows]

    def recent_episodes(self, env_id: str | None = None, limit: int = 20) -> list[dict]:
        where, params = self._env_filter(env_id)
        rows = self._fetch(f"SELECT {EPISODE_COLUMNS} FROM episodes {where} ORDER BY created_at DESC LIMIT ?",
                           (*params, limit))  # fmt: skip
        keys = [c.strip() for c in EPISODE_COLUMNS.split(",")]
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def record_iteration(self, record: IterationRecord) -> None:
        with self._lock, self._transaction() as cur:
            cur.execute(
                self._q(self._upsert_iteration_sql()),
                (record.env_id, record.iteration, record.model_version, record.policy_loss, record.value_loss,
                 record.total_loss, record.episodes_seen, record.transitions_seen, record.duration_s,
                 record.finished_at),
            )  # fmt: skip

    def iterations(self, env_id: str, limit: int = 1000) -> list[IterationRecord]:
        rows = self._fetch(
            f"SELECT {ITERATION_COLUMNS} FROM iterations WHERE env_id = ? ORDER BY iteration DESC LIMIT ?",
            (env_id, limit),
        )
        return [IterationRecord(*row) for row in reversed(rows)]
