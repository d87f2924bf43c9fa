"""SQLite replay buffer (the embedded default): WAL so several actor processes write at once."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

from .base import ReplayUnavailable
from .sql import ITERATION_COLUMNS, TRANSITION_COLUMNS, SqlReplayBuffer

SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, actor_id TEXT NOT NULL, model_version INTEGER NOT NULL,
    winner INTEGER NOT NULL, moves INTEGER NOT NULL, duration_s REAL NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS episodes_env_created ON episodes (env_id, created_at);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id TEXT NOT NULL REFERENCES episodes (episode_id), env_id TEXT NOT NULL, step INTEGER NOT NULL,
    observation BLOB NOT NULL, policy BLOB NOT NULL, value REAL NOT NULL, action INTEGER NOT NULL,
    model_version INTEGER NOT NULL, created_at REAL NOT NULL, UNIQUE (episode_id, step));
CREATE INDEX IF NOT EXISTS transitions_env_id ON transitions (env_id, id);
CREATE TABLE IF NOT EXISTS iterations (
    env_id TEXT NOT NULL, iteration INTEGER NOT NULL, model_version INTEGER NOT NULL, policy_loss REAL NOT NULL,
    value_loss REAL NOT NULL, total_loss REAL NOT NULL, episodes_seen INTEGER NOT NULL,
    transitions_seen INTEGER NOT NULL, duration_s REAL NOT NULL, finished_at REAL NOT NULL,
    PRIMARY KEY (env_id, iteration));
"""


def sqlite_path(url: str) -> Path:
    """sqlite:///abs/path, like file:///abs/path (sqlite:////abs/path is accepted too)."""
    path = url.removeprefix("sqlite://")
    if not path.startswith("/") or not path.strip("/"):
        raise ReplayUnavailable(f"REPLAY_URL={url!r}: expected sqlite:///absolute/path/to/replay.db")
    return Path("/" + path.lstrip("/"))


class SqliteReplayBuffer(SqlReplayBuffer):
    placeholder = "?"

    def _connect(self) -> sqlite3.Connection:
        path = sqlite_path(self.url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise ReplayUnavailable(f"cannot open the SQLite replay buffer {path}: {exc}") from None
        return conn

    def _create_schema(self) -> None:
        try:
            with self._lock:
                self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise ReplayUnavailable(f"cannot create the replay schema in {sqlite_path(self.url)}: {exc}") from None

    @contextmanager
    def _transaction(self, write: bool = True):
        try:
            cur = self._conn.cursor()
            # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
            # instead of failing on a lock upgrade; readers use a deferred (snapshot) transaction.
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk full, I/O error
            raise ReplayUnavailable(f"SQLite replay buffer {sqlite_path(self.url)} failed: {exc}") from None

    def _insert_transitions(self, cur, rows: list[tuple]) -> None:
        marks = ", ".join("?" for _ in TRANSITION_COLUMNS.split(","))
        cur.executemany(f"INSERT INTO transitions ({TRANSITION_COLUMNS}) VALUES ({marks})", rows)

    def _upsert_iteration_sql(self) -> str:
        marks = ", ".join("?" for _ in ITERATION_COLUMNS.split(","))
        return f"INSERT OR REPLACE INTO iterations ({ITERATION_COLUMNS}) VALUES ({marks})"

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise ReplayUnavailable(f"SQLite replay buffer {sqlite_path(self.url)} does not answer: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
