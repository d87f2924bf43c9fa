"""The /stats cache: training progress for /stats and /ready, and the one place the web reads the replay buffer.

A read (counts and iteration records from the replay buffer; the latest manifest and the versions
from the model store) is shared by every caller for up to ``STATS_MAX_AGE_SECONDS``, and callers that
arrive while the next read runs get the previous result (or, with none recent, wait for that read):
however many dashboards poll, the database sees one round per second. Reads run on a thread of their
own, so a database that hangs holds that thread, never the worker threads that searches and the other
handlers use.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cartridge.arena.ratings import fit_ladder
from cartridge.arena.ratings_store import CALIBRATION, MatchRow, RatingsStore, VersionResult
from cartridge.modelstore import CorruptModel, ModelManifest, ModelStore, ModelStoreUnavailable
from cartridge.replay import IterationRecord, ReplayBuffer, ReplayUnavailable, training_log_beside
from cartridge.settings import Settings
from cartridge.stores import open_replay
from cartridge.telemetry import get_logger

from .outages import MANIFEST_UNREADABLE, MODEL_STORE_UNAVAILABLE, REPLAY_UNAVAILABLE, OutageLog
from .schemas import Stats

log = get_logger("web")
T = TypeVar("T")

# Dashboards poll every few seconds; a second-old count is as good as a fresh one.
STATS_MAX_AGE_SECONDS = 1.0
# While the next read runs, callers get the previous result if it is younger than max age + this, rather
# than all waiting for the database once a second; a read that hangs longer makes them wait for it.
STATS_STALE_SECONDS = 2.0
ARENA_NOT_STARTED = "no arena results: the arena has not started yet (it creates its tables on start)"
LOSS_HISTORY_LIMIT = 1000  # keeps /stats bounded (~200 KB) however long training runs
RATINGS_LIMIT = 500  # the newest arena rows /stats shows, for the same reason (~500 B each)
MATCHES_LIMIT = 50  # the newest on-demand matches /stats shows (~400 B each)


class SharedRead(Generic[T]):
    """The result of ``read``, shared for ``max_age`` seconds after it was read (an exception too), with
    at most one read running at a time, on a thread of its own."""

    def __init__(self, read: Callable[[], T], max_age: float, stale_for: float) -> None:
        self._read = read
        self.max_age = max_age
        self.stale_for = stale_for
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after close (an app may restart)
        self._lock = threading.Lock()
        self._current: Future[T] | None = None
        self._finished_at = 0.0
        self._last: tuple[float, T] | None = None  # the last result a read returned, and when

    async def get(self) -> T:
        with self._lock:
            now = time.monotonic()
            current = self._current
            if current is None or (current.done() and now - self._finished_at >= self.max_age):
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="stats-read")
                current = self._current = self._executor.submit(self._timed_read)
            last = self._last
            if not current.done() and last is not None and now - last[0] < self.max_age + self.stale_for:
                return last[1]
        if current.done():  # the common case: no future to wrap, no wake-up of the event loop from a thread
            return current.result()  # (or the read's exception)
        # Shielded: a client that goes away must not cancel the read the others wait for.
        return await asyncio.shield(asyncio.wrap_future(current))

    def _timed_read(self) -> T:
        try:
            result = self._read()
            self._last = (time.monotonic(), result)
            return result
        finally:
            self._finished_at = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            self._current = None


@dataclass(frozen=True)
class TrainingSnapshot:
    """One read of the replay buffer and the model store. A backend that failed leaves its fields empty
    and a generic problem (the details went to the log)."""

    read_at: float
    replay_problem: str | None = None
    episodes: int = 0
    transitions: int = 0  # ever written
    stored_transitions: int = 0  # what pruning left
    episodes_per_second: float = 0.0
    iterations: list[IterationRecord] = field(default_factory=list)
    ratings: list[VersionResult] = field(default_factory=list)  # the arena's rows, calibration left out
    ratings_problem: str | None = None
    ladder: dict[str, float] = field(default_factory=dict)  # every player's rating over all the arena's games
    matches: list[MatchRow] = field(default_factory=list)  # on-demand matches of every game, newest first
    store_problem: str | None = None
    manifest: ModelManifest | None = None
    versions: list[int] = field(default_factory=list)
    # /stats answers rendered from this read, by served model version: rendered once, sent to every client. The
    # bodies also by `since` cursor: clients that are up to date poll with the same cursor and share one body.
    rendered: dict[int, Stats] = field(default_factory=dict, compare=False, repr=False)
    pages: dict[tuple[int, str | None], bytes] = field(default_factory=dict, compare=False, repr=False)


class TrainingProgress:
    """The replay buffer is opened on first use, so the web starts, and serves games, while PostgreSQL
    is still coming up or is down."""

    def __init__(self, settings: Settings, replay: ReplayBuffer | None, store: ModelStore) -> None:
        self.env_id = settings.env_id
        self.store = store
        self._replay = replay
        self._settings = settings
        self.replay_outage = OutageLog(log, "replay buffer", "/stats answers 503 until it is back")
        self.reads = SharedRead(self._read, STATS_MAX_AGE_SECONDS, STATS_STALE_SECONDS)
        self._ladder: tuple[tuple | None, dict[str, float]] = (None, {})  # (the arena rows it was fitted at, ratings)

    async def snapshot(self) -> TrainingSnapshot:
        return await self.reads.get()

    def _read(self) -> TrainingSnapshot:
        now = time.time()
        try:
            replay = self._replay = self._replay or open_replay(self._settings)
            counts = replay.counts(self.env_id)  # counter rows, no table scan
            replay_part = {
                # the training log shares the buffer's database and connection
                "iterations": training_log_beside(replay).iterations(self.env_id, limit=LOSS_HISTORY_LIMIT),
                "transitions": counts.transitions,
                "stored_transitions": counts.stored_transitions,
                "episodes": counts.episodes,
                "episodes_per_second": replay.episodes_per_second(self.env_id, 60.0),
                **self._read_ratings(replay),
            }
            self.replay_outage.report(None)
        except Exception as exc:  # unreachable, or e.g. a grant the web's role lacks: only /stats pays for it
            self.replay_outage.report(str(exc) if isinstance(exc, ReplayUnavailable) else repr(exc))
            replay_part = {"replay_problem": REPLAY_UNAVAILABLE}
        return TrainingSnapshot(read_at=now, **replay_part, **self._read_store())

    def _read_ratings(self, replay: ReplayBuffer) -> dict:
        # The arena's tables are the arena's: until it first starts they do not exist, and /stats answers without.
        try:
            rows = RatingsStore.reader_beside(replay).results(self.env_id)
        except Exception as exc:  # the database answered the counts just before: most likely no tables yet
            log.debug("arena ratings unreadable for /stats", env=self.env_id, error=repr(exc))
            return {"ratings_problem": ARENA_NOT_STARTED}
        return {
            "ratings": [r for r in rows if r.status != CALIBRATION][-RATINGS_LIMIT:],
            "ladder": self._fit_ladder(replay, rows),
            **self._read_matches(replay),
        }

    def _fit_ladder(self, replay: ReplayBuffer, rows: list[VersionResult]) -> dict[str, float]:
        """The ratings of every player (the references' among them) over all the arena's games, as the arena fits
        them (cartridge.arena.loop.ArenaLoop.ladder). The arena writes games only with a row, so the fit is made
        again only when a row was added: not every stored game once a second."""
        key = (len(rows), rows[-1].version, rows[-1].finished_at) if rows else None
        if key != self._ladder[0]:
            games = RatingsStore.reader_beside(replay).games(self.env_id)
            try:
                ladder = fit_ladder(games)
            except ValueError as exc:  # e.g. games that never reach random, the anchor: no zero to rate from
                log.debug("arena ladder not fitted for /stats", env=self.env_id, error=str(exc))
                ladder = {}
            self._ladder = (key, ladder)
        return self._ladder[1]

    def _read_matches(self, replay: ReplayBuffer) -> dict:
        # Apart from the ratings: a database from before on-demand matches has no arena_matches table until the arena
        # (or, on PostgreSQL, the set-up Job) next starts, and that must not hide the ratings.
        try:
            return {"matches": RatingsStore.reader_beside(replay).matches(limit=MATCHES_LIMIT)}
        except Exception as exc:
            log.debug("on-demand matches unreadable for /stats", error=repr(exc))
            return {}

    def _read_store(self) -> dict:
        try:
            return {"manifest": self.store.latest(self.env_id), "versions": self.store.versions(self.env_id)}
        # Training progress is still worth showing while the store is away or its manifest is corrupt; the
        # model poller logs both as warnings (a corrupt publication once, an outage when it starts and ends).
        except CorruptModel as exc:
            log.debug("latest model manifest unreadable for /stats", env=self.env_id, error=str(exc))
            return {"store_problem": MANIFEST_UNREADABLE}
        except (ModelStoreUnavailable, OSError) as exc:  # OSError: the directory store lets path errors through
            log.debug("model store unreachable for /stats", error=str(exc))
            return {"store_problem": MODEL_STORE_UNAVAILABLE}

    def close(self) -> None:
        self.reads.close()
