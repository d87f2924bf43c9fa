"""SQLite database of the replay buffer (the embedded default): WAL so several actor processes write at once.

synchronous=NORMAL, not FULL, on purpose. In WAL mode NORMAL syncs the WAL at every checkpoint, not at
every commit: a crash of the process (kill -9, an OOM kill) loses nothing, since committed transactions
are in the WAL file the OS already holds; a power cut or kernel crash may lose the last commits before the
next checkpoint, but never corrupts the database or leaves part of a transaction (an episode is whole or
absent). The embedded runtime runs on a developer's machine, where losing the last seconds of self-play to
a power cut costs nothing the actors do not replay in seconds, and FULL would fsync every episode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from .base import ReplayUnavailable
from .database import SqlDatabase
from .schema import ITERATION_COLUMNS, TRANSITION_COLUMNS, ColumnTypes, replay_schema

SCHEMA = replay_schema(ColumnTypes(row_id="INTEGER PRIMARY KEY AUTOINCREMENT", bytes="BLOB"))


def sqlite_path(url: str) -> Path:
    """sqlite:///abs/path, like file:///abs/path (sqlite:////abs/path is accepted too)."""
    path = url.removeprefix("sqlite://")
    if not path.startswith("/") or not path.strip("/"):
        raise ReplayUnavailable(f"REPLAY_URL={url!r}: expected sqlite:///absolute/path/to/replay.db")
    return Path("/" + path.lstrip("/"))


class SqliteDatabase(SqlDatabase):
    placeholder = "?"
    schema = SCHEMA

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

    def ensure_tables(self, tables: tuple[str, ...], create: Callable) -> None:
        """``create`` runs every time: any process may run DDL on its own file, and the statements are idempotent.
        One IMMEDIATE transaction: two processes starting at once create them (and backfill the counters) once."""
        with self._lock, self.transaction() as cur:
            try:
                create(cur)
            except sqlite3.Error as exc:
                raise ReplayUnavailable(f"cannot create the replay schema in {sqlite_path(self.url)}: {exc}") from None

    @contextmanager
    def transaction(self, write: bool = True):
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

    def insert_transitions(self, cur, rows: list[tuple]) -> None:
        marks = ", ".join("?" for _ in TRANSITION_COLUMNS.split(","))
        cur.executemany(f"INSERT INTO transitions ({TRANSITION_COLUMNS}) VALUES ({marks})", rows)

    def upsert_iteration_sql(self) -> str:
        marks = ", ".join("?" for _ in ITERATION_COLUMNS.split(","))
        return f"INSERT OR REPLACE INTO iterations ({ITERATION_COLUMNS}) VALUES ({marks})"

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise ReplayUnavailable(f"SQLite replay buffer {sqlite_path(self.url)} does not answer: {exc}") from None
