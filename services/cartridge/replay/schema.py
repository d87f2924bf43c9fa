"""The replay database's tables and the statements every backend shares, written once for SQLite and PostgreSQL.

Portable types, as the arena's tables (cartridge.arena.ratings_store) use them: SQLite gives DOUBLE PRECISION,
BIGINT and SMALLINT their REAL and INTEGER meaning. Two things have no spelling common to both, so each backend
names its own (``ColumnTypes``): the row id that numbers transitions in insertion order (the sampling window's
order; never reused), and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

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
REPLAY_TABLES = ("episodes", "transitions", "iterations", "replay_counters")


@dataclass(frozen=True)
class ColumnTypes:
    row_id: str  # an integer primary key the database assigns, increasing in insertion order, never reused
    bytes: str


def replay_schema(types: ColumnTypes) -> tuple[str, ...]:
    """Every table of the replay buffer and the training log, one statement each (CREATE ... IF NOT EXISTS)."""
    return (
        """CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, actor_id TEXT NOT NULL, model_version INTEGER NOT NULL,
    winner SMALLINT NOT NULL, moves INTEGER NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS episodes_env_created ON episodes (env_id, created_at)",
        f"""CREATE TABLE IF NOT EXISTS transitions (
    id {types.row_id},
    episode_id TEXT NOT NULL REFERENCES episodes (episode_id), env_id TEXT NOT NULL, step INTEGER NOT NULL,
    observation {types.bytes} NOT NULL, policy {types.bytes} NOT NULL, value REAL NOT NULL, action SMALLINT NOT NULL,
    model_version INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL, UNIQUE (episode_id, step))""",
        "CREATE INDEX IF NOT EXISTS transitions_env_id ON transitions (env_id, id)",
        """CREATE TABLE IF NOT EXISTS iterations (
    env_id TEXT NOT NULL, iteration INTEGER NOT NULL, model_version INTEGER NOT NULL,
    policy_loss DOUBLE PRECISION NOT NULL, value_loss DOUBLE PRECISION NOT NULL, total_loss DOUBLE PRECISION NOT NULL,
    episodes_seen BIGINT NOT NULL, transitions_seen BIGINT NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (env_id, iteration))""",
        """CREATE TABLE IF NOT EXISTS replay_counters (
    env_id TEXT NOT NULL, shard SMALLINT NOT NULL, episodes_written BIGINT NOT NULL,
    transitions_written BIGINT NOT NULL, episodes_pruned BIGINT NOT NULL, transitions_pruned BIGINT NOT NULL,
    PRIMARY KEY (env_id, shard))""",
    )


def create_replay_tables(cur, schema: tuple[str, ...]) -> None:
    """Run a backend's ``replay_schema`` and the counters' backfill (counted once, when the counter table is new)."""
    for statement in schema:
        cur.execute(statement)
    cur.execute(BACKFILL_COUNTERS)
