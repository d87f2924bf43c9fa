"""One SQL database under the replay buffer, the training log and the arena's ratings: a connection, its lock,
transactions, and tables created where missing.

Backends (SQLite, PostgreSQL) supply the connection, the placeholder style and the few statements that
differ; ``cartridge.replay.open_database`` picks one by URL.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from .schema import REPLAY_TABLES, create_replay_tables

# Seconds; the defaults of REPLAY_CONNECT_TIMEOUT and REPLAY_STATEMENT_TIMEOUT (cartridge.settings).
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_STATEMENT_TIMEOUT = 30


@dataclass(frozen=True)
class ReplayTimeouts:
    """How long a PostgreSQL replay database may take (postgres.py says how each is enforced); SQLite has none."""

    connect_seconds: int = DEFAULT_CONNECT_TIMEOUT
    statement_seconds: int = DEFAULT_STATEMENT_TIMEOUT


DEFAULT_TIMEOUTS = ReplayTimeouts()


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``: for messages and logs."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class SqlDatabase(ABC):
    """Thread-compatible: every statement runs under one lock, on one connection."""

    placeholder = "?"
    schema: tuple[str, ...]  # the backend's replay_schema

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn = self._connect()
        self.ensure_tables(REPLAY_TABLES, lambda cur: create_replay_tables(cur, self.schema))

    @abstractmethod
    def _connect(self): ...

    @abstractmethod
    def ensure_tables(self, tables: tuple[str, ...], create: Callable) -> None:
        """Make ``tables`` exist: run ``create(cursor)`` (CREATE ... IF NOT EXISTS statements) in one transaction,
        serialised against other processes creating them at the same moment. For any module keeping tables in
        this database (the replay buffer's own, the arena's). ReplayUnavailable when they cannot be created."""

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

    @property
    def connection(self):
        """The driver's connection in use now (PostgreSQL's is replaced when it reconnects)."""
        return self._conn

    def q(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock, self.transaction(write=False) as cur:
            cur.execute(self.q(sql), params)
            return cur.fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
