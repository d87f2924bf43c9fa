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

import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import psycopg

from .base import ReplayUnavailable
from .database import DEFAULT_TIMEOUTS, ReplayTimeouts, SqlDatabase, redact_url
from .schema import ITERATION_COLUMNS, TRANSITION_COLUMNS, ColumnTypes, replay_schema

SCHEMA = replay_schema(ColumnTypes(row_id="BIGSERIAL PRIMARY KEY", bytes="BYTEA"))
# Several processes may start at once against a fresh database: serialise schema creation.
SCHEMA_LOCK_KEY = 0x43415254  # "CART"
SETUP_JOB = "the postgres-setup Job (python -m cartridge.replay.setup)"
DEADLINE_GRACE_SECONDS = 1.0  # lets the server report its own statement_timeout first
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def missing_tables(cur, tables: tuple[str, ...]) -> list[str]:
    """Those of ``tables`` the connection's search path does not find."""
    cur.execute("SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (list(tables),))
    return [row[0] for row in cur.fetchall()]


def lock_schema(cur) -> None:
    """Serialise table creation against other processes doing it at the same moment: held to the transaction's end."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))


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
    schema = SCHEMA

    def __init__(self, url: str, timeouts: ReplayTimeouts = DEFAULT_TIMEOUTS) -> None:
        self.connect_timeout = timeouts.connect_seconds
        self.statement_timeout = timeouts.statement_seconds
        self._deadline = OperationDeadline(self.statement_timeout + DEADLINE_GRACE_SECONDS)
        super().__init__(url)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(
                self.url,
                connect_timeout=self.connect_timeout,
                autocommit=True,
                options=f"-c statement_timeout={self.statement_timeout * 1000}",
                tcp_user_timeout=self.statement_timeout * 1000,
                **KEEPALIVE,
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            raise ReplayUnavailable(
                f"cannot reach the PostgreSQL replay buffer {redact_url(self.url)}: {reason}"
            ) from None

    def ensure_tables(self, tables: tuple[str, ...], create: Callable) -> None:
        """Run ``create(cursor)``, under the schema lock, only when some of ``tables`` are missing: a workload's
        role may not run DDL at all (not even CREATE TABLE IF NOT EXISTS), so in the cluster the set-up Job
        creates them and this only checks."""
        try:
            with self._lock, self.transaction() as cur:
                if not (missing := missing_tables(cur, tables)):
                    return
                cur.execute("SELECT has_schema_privilege(current_schema(), 'CREATE'), current_user")
                may_create, role = cur.fetchone()
                if not may_create:
                    raise ReplayUnavailable(
                        f"the replay schema is missing from {redact_url(self.url)} (no table {', '.join(missing)}) and "
                        f"role {role} may not create it: run {SETUP_JOB} first"
                    )
                lock_schema(cur)
                create(cur)
        except psycopg.Error as exc:
            raise ReplayUnavailable(f"cannot create the replay schema in {redact_url(self.url)}: {exc}") from None

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
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact_url(self.url)} failed{frozen}: {exc}") from None
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
            raise ReplayUnavailable(f"PostgreSQL replay buffer {redact_url(self.url)} does not answer: {exc}") from None

    def close(self) -> None:
        self._deadline.close()
        super().close()
