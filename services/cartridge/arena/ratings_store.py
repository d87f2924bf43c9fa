"""Arena results in the replay database, next to the trainer's iteration records (SQLite or PostgreSQL).

Tables (created on open, both backends):
  arena_versions  one row per model version the arena reached: rated (rating, scores per opponent, share of
                  optimal moves), skipped (why), or version 0 = the calibration games between the references;
                  under ROLLOUT_POLICY=gated its ``gate`` column holds the gate match as JSON (against, games,
                  wins, draws, losses, score, threshold, promoted), NULL otherwise
  arena_games     every game behind a row: players, seed, moves, winner; the ratings are fitted over all of them
  arena_matches   one row per on-demand match (`devtools match A B`, cartridge.arena.ondemand): its players, games,
                  wins, draws and losses from the first player's side, the score with its 95 % interval, the seed,
                  when it ran, and the whole result as JSON (``detail``). Its games stay out of arena_games: a
                  match answers a question, it does not move the ratings.
(env_id, version) is the primary key of arena_versions, so a version is never rated twice; a version's row and its
games are written in one transaction, so a crash leaves the version wholly rated or not at all. A match's id is
arena_matches' key, so recording the same result twice leaves one row.

The connection, its transactions, reconnection, error mapping and table creation are the replay database's
(cartridge.replay): this module speaks to it through ``ensure_tables``, ``lock``, ``transaction(write)`` and ``q(sql)``
only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..replay import DEFAULT_TIMEOUTS, ReplayTimeouts, SqlDatabase, SqlReplayBuffer, open_database
from .match import GameRecord

# Portable types: SQLite gives DOUBLE PRECISION and BIGINT their REAL and INTEGER meaning.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS arena_versions (
    env_id TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL, rating DOUBLE PRECISION,
    scores TEXT NOT NULL, optimal_search DOUBLE PRECISION, optimal_network DOUBLE PRECISION, games INTEGER NOT NULL,
    note TEXT NOT NULL, finished_at DOUBLE PRECISION NOT NULL, gate TEXT, PRIMARY KEY (env_id, version))""",
    """CREATE TABLE IF NOT EXISTS arena_games (
    env_id TEXT NOT NULL, version INTEGER NOT NULL, game INTEGER NOT NULL, first_player TEXT NOT NULL,
    second_player TEXT NOT NULL, seed BIGINT NOT NULL, winner INTEGER NOT NULL, moves TEXT NOT NULL,
    PRIMARY KEY (env_id, version, game))""",
    """CREATE TABLE IF NOT EXISTS arena_matches (
    match_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, player_a TEXT NOT NULL, player_b TEXT NOT NULL,
    games INTEGER NOT NULL, wins INTEGER NOT NULL, draws INTEGER NOT NULL, losses INTEGER NOT NULL,
    score DOUBLE PRECISION NOT NULL, score_low DOUBLE PRECISION NOT NULL, score_high DOUBLE PRECISION NOT NULL,
    seed BIGINT NOT NULL, started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION NOT NULL,
    detail TEXT NOT NULL)""",
)
RATED, SKIPPED, CALIBRATION = "rated", "skipped", "calibration"
VERSION_COLUMNS = (
    "env_id, version, status, rating, scores, optimal_search, optimal_network, games, note, finished_at, gate"
)
MATCH_COLUMNS = (
    "match_id, env_id, player_a, player_b, games, wins, draws, losses, score, score_low, score_high, seed, "
    "started_at, finished_at, detail"
)


class AlreadyRecorded(RuntimeError):
    """The version has a row already: it was rated (or skipped) before."""


@dataclass(frozen=True)
class VersionResult:
    env_id: str
    version: int
    status: str  # rated | skipped | calibration
    rating: float | None = None  # Elo scale, random = 0, as fitted when the version was rated
    scores: dict = field(default_factory=dict)  # opponent -> {games, wins, draws, losses, score}
    optimal_search: float | None = None  # share of labelled positions where the arena's search plays an optimal move
    optimal_network: float | None = None  # the same for the raw network's top move
    games: int = 0
    note: str = ""
    finished_at: float = field(default_factory=time.time)
    gate: dict | None = None  # the gate match under ROLLOUT_POLICY=gated (cartridge.arena.gate.GateResult)


@dataclass(frozen=True)
class MatchRow:
    """One on-demand match, from player A's side (cartridge.arena.ondemand.MatchResult.row)."""

    match_id: str
    env_id: str
    player_a: str
    player_b: str
    games: int
    wins: int
    draws: int
    losses: int
    score: float
    score_low: float  # the 95 % Wilson interval (cartridge.arena.scoring)
    score_high: float
    seed: int
    started_at: float
    finished_at: float
    detail: dict = field(default_factory=dict)  # the whole result: players' specs, sims, by colour, Elo

    def values(self) -> tuple:
        plain = [getattr(self, name) for name in MATCH_COLUMNS.split(", ")[:-1]]
        return (*plain, json.dumps(self.detail, sort_keys=True))


MATCHES_LIMIT = 200  # the newest matches a reader gets: /stats stays bounded however many are played

TABLES = ("arena_versions", "arena_games", "arena_matches")


def create_arena_tables(cur) -> None:
    for statement in SCHEMA:
        cur.execute(statement)
    cur.execute("SELECT * FROM arena_versions WHERE 1 = 0")
    if "gate" not in {column[0] for column in cur.description}:  # a table from before gated rollout
        cur.execute("ALTER TABLE arena_versions ADD COLUMN gate TEXT")


class RatingsStore:
    def __init__(self, db: SqlDatabase, create_tables: bool = True) -> None:
        self.db = db
        if create_tables:  # not for a reader (the web): the arena owns the tables, a reader's role may not create any
            # On PostgreSQL in the cluster the arena's role may run no DDL: the postgres-setup Job creates these
            # tables (cartridge.replay.setup's SCHEMA_MODULES), and here they are only checked.
            db.ensure_tables(TABLES, create_arena_tables)

    @classmethod
    def open(cls, url: str, timeouts: ReplayTimeouts = DEFAULT_TIMEOUTS) -> RatingsStore:
        return cls(open_database(url, timeouts))  # the replay database: ratings live next to the iteration records

    @classmethod
    def reader_beside(cls, replay: SqlReplayBuffer) -> RatingsStore:
        """Read-only, on a replay buffer's own connection (as training_log_beside): the arena's rows, if any yet."""
        return cls(replay.database, create_tables=False)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _cursor(self, write: bool = True) -> Iterator:
        # The buffer's own lock and transaction: one connection, reconnected and error-mapped in one place.
        with self.db.lock, self.db.transaction(write) as cur:
            yield cur

    def _execute(self, cur, sql: str, params: tuple = ()) -> None:
        cur.execute(self.db.q(sql), params)

    def statuses(self, env_id: str) -> dict[int, str]:
        """Every version the arena reached, with its status."""
        with self._cursor(write=False) as cur:
            self._execute(cur, "SELECT version, status FROM arena_versions WHERE env_id = ?", (env_id,))
            return dict(cur.fetchall())

    def record_skipped(self, env_id: str, versions: dict[int, str]) -> None:
        """Mark versions (-> why) skipped; a version that already has a row keeps it."""
        with self._cursor() as cur:
            for version, note in sorted(versions.items()):
                self._execute(
                    cur,
                    f"INSERT INTO arena_versions ({VERSION_COLUMNS}) "
                    "VALUES (?, ?, ?, NULL, '{}', NULL, NULL, 0, ?, ?, NULL) ON CONFLICT (env_id, version) DO NOTHING",
                    (env_id, version, SKIPPED, note, time.time()),
                )

    def record(self, result: VersionResult, games: list[GameRecord]) -> None:
        """A rated version (or the calibration) and its games, in one transaction; AlreadyRecorded if it has a row."""
        r = result
        if self.statuses(r.env_id).get(r.version) is not None:
            raise AlreadyRecorded(f"{r.env_id} version {r.version} already has an arena row")
        try:
            self._insert(r, games)
        except Exception as exc:
            # DB-API drivers name the error class IntegrityError (psycopg's UniqueViolation derives from it).
            if any(c.__name__ == "IntegrityError" for c in type(exc).__mro__):
                raise AlreadyRecorded(f"{r.env_id} version {r.version} already has an arena row") from None
            raise

    def _insert(self, r: VersionResult, games: list[GameRecord]) -> None:
        with self._cursor() as cur:
            # A concurrent writer that got in first makes this INSERT fail on the primary key, which rolls back
            # the games too: the unique key, not the check above, is what keeps a version from being rated twice.
            self._execute(
                cur,
                f"INSERT INTO arena_versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                (
                    r.env_id,
                    r.version,
                    r.status,
                    r.rating,
                    json.dumps(r.scores, sort_keys=True),
                    r.optimal_search,
                    r.optimal_network,
                    r.games,
                    r.note,
                    r.finished_at,
                    None if r.gate is None else json.dumps(r.gate, sort_keys=True),
                ),
            )
            for i, g in enumerate(games):
                self._execute(
                    cur,
                    "INSERT INTO arena_games (env_id, version, game, first_player, second_player, "
                    "seed, winner, moves) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.env_id, r.version, i, g.first, g.second, g.seed, g.winner, " ".join(map(str, g.moves))),
                )

    def games(self, env_id: str) -> list[GameRecord]:
        with self._cursor(write=False) as cur:
            self._execute(
                cur,
                "SELECT first_player, second_player, seed, moves, winner FROM arena_games "
                "WHERE env_id = ? ORDER BY version, game",
                (env_id,),
            )
            rows = cur.fetchall()
        return [
            GameRecord(a, b, int(seed), tuple(int(m) for m in moves.split()), int(w)) for a, b, seed, moves, w in rows
        ]

    def results(self, env_id: str) -> list[VersionResult]:
        """Every row for the game, by version (0, the calibration, first)."""
        with self._cursor(write=False) as cur:
            self._execute(
                cur, f"SELECT {VERSION_COLUMNS} FROM arena_versions WHERE env_id = ? ORDER BY version", (env_id,)
            )
            rows = cur.fetchall()
        return [
            VersionResult(
                env,
                int(v),
                status,
                rating,
                json.loads(scores),
                search,
                network,
                int(n),
                note,
                finished,
                None if gate is None else json.loads(gate),
            )
            for env, v, status, rating, scores, search, network, n, note, finished, gate in rows
        ]

    def record_match(self, row: MatchRow) -> bool:
        """A match's row; False (and nothing written) if its id has one already (the same result again)."""
        with self._cursor() as cur:
            self._execute(
                cur,
                f"INSERT INTO arena_matches ({MATCH_COLUMNS}) VALUES ({', '.join('?' * 15)}) "
                "ON CONFLICT (match_id) DO NOTHING",
                row.values(),
            )
            return cur.rowcount == 1

    def matches(self, limit: int = MATCHES_LIMIT) -> list[MatchRow]:
        """The newest ``limit`` matches of every game, newest first."""
        with self._cursor(write=False) as cur:
            self._execute(cur, f"SELECT {MATCH_COLUMNS} FROM arena_matches ORDER BY finished_at DESC LIMIT ?", (limit,))
            rows = cur.fetchall()
        return [MatchRow(*row[:-1], detail=json.loads(row[-1])) for row in rows]
