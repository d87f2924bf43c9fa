"""PostgreSQL replay buffer (the cluster's): psycopg 3, transitions written with COPY in the episode's transaction."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import psycopg

from .base import ReplayUnavailable
from .sql import ITERATION_COLUMNS, TRANSITION_COLUMNS, SqlReplayBuffer

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, actor_id TEXT NOT NULL, model_version INTEGER NOT NULL,
    winner SMALLINT NOT NULL, moves INTEGER NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS episodes_env_created ON episodes (env_id, created_at);
CREATE TABLE IF NOT EXISTS transitions (
    id BIGSERIAL PRIMARY KEY,
    episode_id TEXT NOT NULL REFERENCES episodes (episode_id), env_id TEXT NOT NULL, step INTEGER NOT NULL,
    observation BYTEA NOT NULL, policy BYTEA NOT NULL, value REAL NOT NULL, action SMALLINT NOT NULL,
    model_version INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL, UNIQUE (episode_id, step));
CREATE INDEX IF NOT EXISTS transitions_env_id ON transitions (env_id, id);
CREATE TABLE IF NOT EXISTS iterations (
    env_id TEXT NOT NULL, iteration INTEGER NOT NULL, model_version INTEGER NOT NULL,
    policy_loss DOUBLE PRECISION NOT NULL, value_loss DOUBLE PRECISION NOT NULL, total_loss DOUBLE PRECISION NOT NULL,
    episodes_seen BIGINT NOT NULL, transitions_seen BIGINT NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (env_id, iteration));
"""
# Several processes may start at once against a fresh database: serialise schema creation.
SCHEMA_LOCK_KEY = 0x43415254  # "CART"


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PostgresReplayBuffer(SqlReplayBuffer):
    placeholder = "%s"

    def _connect(self) -> psycopg.Connection:
        timeout = int(os.environ.get("REPLAY_CONNECT_TIMEOUT", "5"))
        try:
            return psycopg.connect(self.url, connect_timeout=timeout, autocommit=True)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            raise ReplayUnavailable(f"cannot reach the PostgreSQL replay buffer {redact(self.url)}: {reason}") from None

    def _create_schema(self) -> None:
        try:
            with self._lock, self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                cur.execute(SCHEMA)
        except psycopg.Error as exc:
            raise ReplayUnavailable(f"cannot create the replay schema in {redact(self.url)}: {exc}") from None

    def _live_connection(self) -> psycopg.Connection:
        """The connection, opened again if the server dropped it (a restart, a failover, an idle timeout).

        psycopg marks a connection broken when an operation finds it gone; that operation fails with
        ReplayUnavailable (nothing of it was committed or it committed whole), and the next one reconnects,
        so a long-running service recovers on its own once the server is back."""
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _transaction(self, write: bool = True):
        conn = self._live_connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError as exc:
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact(self.url)} failed: {exc}") from None

    def _insert_transitions(self, cur, rows: list[tuple]) -> None:
        with cur.copy(f"COPY transitions ({TRANSITION_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _upsert_iteration_sql(self) -> str:
        marks = ", ".join("?" for _ in ITERATION_COLUMNS.split(","))
        updates = ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in ITERATION_COLUMNS.split(",")[2:])
        return (
            f"INSERT INTO iterations ({ITERATION_COLUMNS}) VALUES ({marks}) "
            f"ON CONFLICT (env_id, iteration) DO UPDATE SET {updates}"
        )

    def ping(self) -> None:
        try:
            with self._lock, self._live_connection().cursor() as cur:
                cur.execute("SELECT 1")
        except psycopg.Error as exc:
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact(self.url)} does not answer: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
