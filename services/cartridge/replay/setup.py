"""``python -m cartridge.replay.setup``: the PostgreSQL replay database made ready for its workloads, by the
superuser, and by nothing else (the cluster's postgres-setup Job).

One transaction, idempotent (run it twice: the same state; a changed password is set again):
  - the schema: the replay buffer's and the training log's tables (cartridge.replay.postgres.SCHEMA) and those
    of the modules in SCHEMA_MODULES that keep their tables in the same database;
  - one login role per workload (WORKLOADS), with exactly the privileges of GRANTS: whatever else it held on
    the schema's tables and sequences is revoked, so a privilege removed here is removed on the next run.

Environment: REPLAY_URL (the superuser's; its password in libpq's PGPASSWORD) and, for each workload W,
W_PGUSER and W_PGPASSWORD (e.g. ACTOR_PGUSER): the same values the workload itself connects with.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from cartridge.waiting import NotReadyInTime, wait_until_ready

from .database import redact_url
from .postgres import SCHEMA, lock_schema, missing_tables
from .schema import REPLAY_TABLES, create_replay_tables

WORKLOADS = ("actor", "trainer", "web", "arena")
# Each found by running the workload's own code paths as its role (tests/cartridge/replay/test_setup.py):
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    # append_episode: INSERT ... ON CONFLICT (episode_id) DO NOTHING (which reads the conflict target, so
    # SELECT on that column alone), COPY transitions (their id sequence), and the counter upsert, whose DO UPDATE
    # reads the row it adds to. It never reads a transition, deletes, or touches the training log.
    "actor": {
        "episodes": ("INSERT", "SELECT (episode_id)"),
        "transitions": ("INSERT",),
        "transitions_id_seq": ("USAGE",),
        "replay_counters": ("SELECT", "INSERT", "UPDATE"),
    },
    # sample and counts (SELECT), the training log (its upsert), prune (DELETE whole episodes, counters).
    "trainer": {
        "episodes": ("SELECT", "DELETE"),
        "transitions": ("SELECT", "DELETE"),
        "iterations": ("SELECT", "INSERT", "UPDATE"),
        "replay_counters": ("SELECT", "INSERT", "UPDATE"),
    },
    # /stats: counts, the training log, episodes per second, the arena's ratings. It never reads a transition.
    "web": {
        "episodes": ("SELECT",),
        "iterations": ("SELECT",),
        "replay_counters": ("SELECT",),
        "arena_versions": ("SELECT",),
        "arena_matches": ("SELECT",),
    },
    # The arena reads the buffer and keeps its ratings in its own tables. It also stores each on-demand match
    # (`devtools match` runs `python -m cartridge_arena.match record` as the arena): INSERT ... ON CONFLICT
    # (match_id) DO NOTHING, which reads the conflict target.
    "arena": {
        **{table: ("SELECT",) for table in REPLAY_TABLES},
        "arena_versions": ("SELECT", "INSERT", "UPDATE"),
        "arena_games": ("SELECT", "INSERT", "UPDATE"),
        "arena_matches": ("SELECT", "INSERT"),
    },
}
# Modules whose SCHEMA (CREATE ... IF NOT EXISTS statements) the set-up runs too, skipped while absent.
SCHEMA_MODULES = ("cartridge.arena.ratings_store",)
SETUP_WAIT_SECONDS = 120  # the Job starts with the server: wait for it rather than fail into a back-off


class SetupError(RuntimeError):
    """The set-up cannot run as configured; the message names what to fix."""


@dataclass(frozen=True)
class Login:
    workload: str
    role: str
    password: str


def logins_from_env(environ: Mapping[str, str], workloads: tuple[str, ...] = WORKLOADS) -> list[Login]:
    logins = []
    for workload in workloads:
        names = (f"{workload.upper()}_PGUSER", f"{workload.upper()}_PGPASSWORD")
        missing = [name for name in names if not environ.get(name)]
        if missing:
            raise SetupError(f"{' and '.join(missing)} not set: every workload needs its own role and password")
        logins.append(Login(workload, environ[names[0]], environ[names[1]]))
    roles = [login.role for login in logins]
    if len(set(roles)) != len(roles):
        raise SetupError(f"two workloads share a role ({', '.join(roles)}): one identity per workload")
    return logins


def schema_statements(modules: tuple[str, ...] = SCHEMA_MODULES) -> list[str]:
    statements = []
    for name in modules:
        try:
            schema = importlib.import_module(name).SCHEMA
        except ModuleNotFoundError as exc:
            if exc.name is not None and not (name == exc.name or name.startswith(exc.name + ".")):
                raise  # the module is there but a dependency of it is not: a broken image, not an absent module
            print(f"setup: {name} absent: its tables are not created", file=sys.stderr)
            continue
        statements.extend([schema] if isinstance(schema, str) else schema)
    return statements


def apply_login(cur, login: Login, grants: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Create or update the role and give it exactly ``grants``; the objects that do not exist (yet) are
    returned, their grants skipped."""
    role = sql.Identifier(login.role)
    cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (login.role,))
    existing = cur.fetchone()
    if existing and existing[0]:
        raise SetupError(f"role {login.role} ({login.workload}) is a superuser: give the workload a role of its own")
    verb = sql.SQL("ALTER" if existing else "CREATE")
    # Hashed here (libpq's PQencryptPasswordConn): the password itself never reaches the server or its log.
    verifier = cur.connection.pgconn.encrypt_password(login.password.encode(), login.role.encode(), b"scram-sha-256")
    cur.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}").format(
            verb, role, sql.Literal(verifier.decode())
        )
    )
    cur.execute("SELECT current_schema()")
    schema = sql.Identifier(cur.fetchone()[0])
    for kind in ("TABLES", "SEQUENCES"):
        cur.execute(sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA {} FROM {}").format(sql.SQL(kind), schema, role))
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    absent = missing_tables(cur, tuple(grants))
    for name, privileges in grants.items():
        if name in absent:
            continue
        cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (name,))
        kind = sql.SQL("SEQUENCE" if cur.fetchone()[0] == "S" else "TABLE")
        cur.execute(
            sql.SQL("GRANT {} ON {} {} TO {}").format(
                sql.SQL(", ").join(map(sql.SQL, privileges)), kind, sql.Identifier(name), role
            )
        )
    return absent


def run_setup(url: str, logins: list[Login], modules: tuple[str, ...] = SCHEMA_MODULES) -> None:
    """Everything in one transaction, under the schema lock: two set-ups at once do it one after the other."""
    with connect_waiting(url) as conn, conn.transaction(), conn.cursor() as cur:
        lock_schema(cur)  # held to the end
        create_replay_tables(cur, SCHEMA)
        for statement in schema_statements(modules):
            cur.execute(statement)
        for login in logins:
            absent = apply_login(cur, login, GRANTS[login.workload])
            note = f" (skipped until they exist: {', '.join(absent)})" if absent else ""
            print(f"setup: role {login.role} for the {login.workload}{note}", file=sys.stderr)


def connect_waiting(url: str, wait_seconds: float = SETUP_WAIT_SECONDS) -> psycopg.Connection:
    connected: list[psycopg.Connection] = []

    def why_not() -> str | None:
        try:
            connected.append(psycopg.connect(url, connect_timeout=5))
        except psycopg.OperationalError as exc:
            return str(exc).strip() or type(exc).__name__
        return None

    try:
        wait_until_ready(f"PostgreSQL {redact_url(url)}", why_not, wait_seconds, interval=2)
    except NotReadyInTime as exc:
        raise SetupError(str(exc)) from None
    return connected[0]


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        if not (url := environ.get("REPLAY_URL", "")).startswith(("postgresql://", "postgres://")):
            raise SetupError(f"REPLAY_URL={url!r}: the set-up needs the superuser's postgresql:// URL")
        run_setup(url, logins_from_env(environ))
    except (SetupError, psycopg.Error) as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 1
    print("setup: the replay database is ready", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
