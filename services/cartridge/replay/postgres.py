"""PostgreSQL database of the replay buffer (the cluster's): psycopg 3, transitions written with COPY in the
episode's transaction.

A server that stops answering is noticed within a stated bound, whatever the reason:
  - it does not accept the connection: REPLAY_CONNECT_TIMEOUT (libpq connect_timeout);
  - the network or its host is gone: TCP keepalives on an idle connection (10 s idle, then 3 probes 5 s
    apart: 25 s) and tcp_user_timeout on data it does not acknowledge (REPLAY_STATEMENT_TIMEOUT);
  - it is alive but a statement runs long (a lock wait, an overloaded disk): statement_timeout
    (REPLAY_STATEMENT_TIMEOUT), enforced by the server;
  - it is frozen (SIGSTOP, a hung host whose kernel still acknowledges TCP): no server-side timeout can
    fire and the kernel answers keepalives, so a watchdog here shuts the connection's socket down when one
    operation has run REPLAY_STATEMENT_TIMEOUT + DEADLINE_GRACE_SECONDS.
So every operation fails with ReplayUnavailable within REPLAY_STATEMENT_TIMEOUT + 1 s (after the
REPLAY_CONNECT_TIMEOUT of a reconnect, when one is needed), and the next one reconnects.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import contextmanager

import psycopg

from cartridge.settings import REPLAY_CONNECT_TIMEOUT, REPLAY_STATEMENT_TIMEOUT, env_int

from .base import ReplayUnavailable
from .database import BACKFILL_COUNTERS, ITERATION_COLUMNS, TRANSITION_COLUMNS, SqlDatabase

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
CREATE TABLE IF NOT EXISTS replay_counters (
    env_id TEXT NOT NULL, shard SMALLINT NOT NULL, episodes_written BIGINT NOT NULL,
    transitions_written BIGINT NOT NULL, episodes_pruned BIGINT NOT NULL, transitions_pruned BIGINT NOT NULL,
    PRIMARY KEY (env_id, shard));
"""
# Several processes may start at once against a fresh database: serialise schema creation.
SCHEMA_LOCK_KEY = 0x43415254  # "CART"
# CREATE INDEX IF NOT EXISTS takes a SHARE lock on its table before it finds the index there, so running the
# schema on a database that has it would stop every insert meanwhile and deadlock with the pruner (which locks
# transitions, then episodes): a process that starts while others write runs it only when something is missing.
SCHEMA_RELATIONS = re.findall(r"(?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA)
DEADLINE_GRACE_SECONDS = 1.0  # lets the server report its own statement_timeout first
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class OperationDeadline:
    """Shuts a connection's socket down when the operation on it outlives ``seconds``: libpq, blocked
    reading an answer from a frozen server, then sees the connection closed and fails at once.

    One thread per database, armed and disarmed around each operation (no thread per operation)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._armed: tuple[float, int] | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, fileno: int) -> None:
        with self._changed:
            self._armed, self.fired = (time.monotonic() + self.seconds, fileno), False
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="replay-deadline", daemon=True)
                self._thread.start()
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._armed = None

    def close(self) -> None:
        with self._changed:
            self._closed, self._armed = True, None
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                if self._armed is None:
                    self._changed.wait()
                    continue
                deadline, fileno = self._armed
                if (left := deadline - time.monotonic()) > 0:
                    self._changed.wait(left)
                    continue
                self._armed, self.fired = None, True
                try:  # a duplicate of the descriptor: shutting it down shuts the socket libpq reads
                    with socket.fromfd(fileno, socket.AF_INET, socket.SOCK_STREAM) as sock:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the connection closed meanwhile: nothing left to unblock


class PostgresDatabase(SqlDatabase):
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.connect_timeout = env_int("REPLAY_CONNECT_TIMEOUT", REPLAY_CONNECT_TIMEOUT, 1)
        self.statement_timeout = env_int("REPLAY_STATEMENT_TIMEOUT", REPLAY_STATEMENT_TIMEOUT, 1)
        self._deadline = OperationDeadline(self.statement_timeout + DEADLINE_GRACE_SECONDS)
        super().__init__(url)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(
                self.url, connect_timeout=self.connect_timeout, autocommit=True,
                options=f"-c statement_timeout={self.statement_timeout * 1000}",
                tcp_user_timeout=self.statement_timeout * 1000, **KEEPALIVE,
            )  # fmt: skip
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            raise ReplayUnavailable(f"cannot reach the PostgreSQL replay buffer {redact(self.url)}: {reason}") from None

    def _create_schema(self) -> None:
        try:
            with self._lock, self.transaction() as cur:
                cur.execute("SELECT count(*) FROM pg_class WHERE relname = ANY(%s) AND pg_table_is_visible(oid)",
                            (SCHEMA_RELATIONS,))  # fmt: skip
                if cur.fetchone()[0] == len(SCHEMA_RELATIONS):
                    return
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                cur.execute(SCHEMA)
                cur.execute(BACKFILL_COUNTERS)
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
    def _within_deadline(self, conn: psycopg.Connection):
        self._deadline.arm(conn.pgconn.socket)
        try:
            yield
        except psycopg.OperationalError as exc:
            frozen = f" (no answer within {self._deadline.seconds:g} s)" if self._deadline.fired else ""
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact(self.url)} failed{frozen}: {exc}") from None
        finally:
            self._deadline.disarm()

    @contextmanager
    def transaction(self, write: bool = True):
        conn = self._live_connection()
        with self._within_deadline(conn), conn.transaction(), conn.cursor() as cur:
            yield cur

    def insert_transitions(self, cur, rows: list[tuple]) -> None:
        with cur.copy(f"COPY transitions ({TRANSITION_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def upsert_iteration_sql(self) -> str:
        marks = ", ".join("?" for _ in ITERATION_COLUMNS.split(","))
        updates = ", ".join(f"{c.strip()} = EXCLUDED.{c.strip()}" for c in ITERATION_COLUMNS.split(",")[2:])
        return (
            f"INSERT INTO iterations ({ITERATION_COLUMNS}) VALUES ({marks}) "
            f"ON CONFLICT (env_id, iteration) DO UPDATE SET {updates}"
        )

    def ping(self) -> None:
        try:
            with self._lock, self.transaction(write=False) as cur:
                cur.execute("SELECT 1")
        except psycopg.Error as exc:
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact(self.url)} does not answer: {exc}") from None

    def close(self) -> None:
        self._deadline.close()
        super().close()
