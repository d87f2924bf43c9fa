"""One SQL database under the replay buffer and the training log: a connection, its lock, transactions.

Backends (SQLite, PostgreSQL) supply the connection, the placeholder style and the few statements that
differ; ``open_database`` picks one by URL.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from .base import ReplayUnavailable

EPISODE_COLUMNS = "episode_id, env_id, actor_id, model_version, winner, moves, duration_s, created_at"
TRANSITION_COLUMNS = "episode_id, env_id, step, observation, policy, value, action, model_version, created_at"
ITERATION_COLUMNS = (
    "env_id, iteration, model_version, policy_loss, value_loss, total_loss, "
    "episodes_seen, transitions_seen, duration_s, finished_at"
)
COUNTER_COLUMNS = "env_id, shard, episodes_written, transitions_written, episodes_pruned, transitions_pruned"
# Counts kept beside the rows so /stats and the trainer never count a table (COUNT(*) is a scan on
# PostgreSQL). Each writer adds to one of several shard rows of its game, so concurrent actors do not
# queue on one row lock until their commits; a read sums a game's few rows.
COUNTER_SHARDS = 16
ADD_TO_COUNTERS = (
    f"INSERT INTO replay_counters ({COUNTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (env_id, shard) DO UPDATE SET "
    + ", ".join(f"{c} = replay_counters.{c} + excluded.{c}" for c in COUNTER_COLUMNS.split(", ")[2:])
)
# A database written before the counters existed: count its rows once, when the counter table is new.
BACKFILL_COUNTERS = (
    f"INSERT INTO replay_counters ({COUNTER_COLUMNS}) SELECT env_id, 0, count(*), sum(moves), 0, 0 FROM episodes "
    "WHERE NOT EXISTS (SELECT 1 FROM replay_counters) GROUP BY env_id"
)


class SqlDatabase(ABC):
    """Thread-compatible: every statement runs under one lock, on one connection."""

    placeholder = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._create_schema()

    @abstractmethod
    def _connect(self): ...

    @abstractmethod
    def _create_schema(self) -> None:
        """Every table of the replay buffer and the training log, and the counters' backfill."""

    @abstractmethod
    def transaction(self, write: bool = True):
        """Context manager yielding a cursor: one transaction, committed on success, rolled back on error
        (ReplayUnavailable when the database fails). Read-only transactions (write=False) must not block
        writers. Callers hold ``lock``."""

    @abstractmethod
    def insert_transitions(self, cur, rows: list[tuple]) -> None: ...

    @abstractmethod
    def upsert_iteration_sql(self) -> str: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise ReplayUnavailable unless the database answers a trivial query."""

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock, self.transaction(write=False) as cur:
            cur.execute(self.q(sql), params)
            return cur.fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(url: str) -> SqlDatabase:
    if url.startswith("sqlite://"):
        from .sqlite import SqliteDatabase

        return SqliteDatabase(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresDatabase

        return PostgresDatabase(url)
    raise ReplayUnavailable(f"REPLAY_URL={url!r}: unsupported scheme (expected sqlite:/// or postgresql://)")
