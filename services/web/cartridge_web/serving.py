"""The models the web serves (one per game), hot-swapped from the model store, and the search slots.

A request takes one ``ServedModel`` snapshot and uses it to the end: a swap replaces the
snapshot by a single reference assignment, so a search in flight finishes with the model it
started with, and the version a request reports always matches the network that answered it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from cartridge.games import GAMES
from cartridge.inference import DEFAULT_ORT_THREADS, Evaluator, ModelWatcher
from cartridge.modelstore import CorruptModel, ModelManifest, ModelStore, ModelStoreUnavailable
from cartridge.telemetry import get_logger

from .metrics import WebMetrics
from .outages import OutageLog

log = get_logger("web")
T = TypeVar("T")


@dataclass(frozen=True)
class ServedModel:
    evaluator: Evaluator
    manifest: ModelManifest | None  # None until the first model is published: a uniform prior

    @property
    def version(self) -> int:
        return self.manifest.version if self.manifest else 0


class LiveModels:
    """One ModelWatcher per game, so both games can be played whatever ENV_ID the trainer runs; each follows the
    manifest ROLLOUT_POLICY names (the latest, or the best: the uniform prior until the first promotion)."""

    def __init__(
        self, store: ModelStore, metrics: WebMetrics, follow: str = "latest", ort_threads: int = DEFAULT_ORT_THREADS
    ) -> None:
        self._watchers = {g.name: ModelWatcher(store, g.name, g.action_size, follow, ort_threads) for g in GAMES}
        self._served = {name: ServedModel(w.current, None) for name, w in self._watchers.items()}
        self._metrics = metrics
        self._follow = follow
        for name in self._watchers:  # "none yet" is a served iteration too: an alert compares it with the trainer's
            metrics.model_iteration.labels(name, follow).set(0)
        # One poll at a time (the background poller, or a test calling poll() directly), so a
        # watcher's evaluator and manifest are read together after the poll that set them.
        self._lock = threading.Lock()
        self.store_outage = OutageLog(log, "model store", "keeping the current models")
        # Set once the first poll has ended, whatever its outcome: from then on a move is answered by the
        # newest model the store offered, or by the uniform prior when it offered none or was away.
        self.first_poll_done = threading.Event()

    def current(self, env_id: str) -> ServedModel:
        return self._served[env_id]

    def poll(self) -> None:
        try:
            with self._lock:
                self.store_outage.report(self._poll_each())
        finally:
            self.first_poll_done.set()

    def _poll_each(self) -> str | None:
        """Poll every game's watcher; the store's error, or None when it answered."""
        for name, watcher in self._watchers.items():
            try:
                manifest = watcher.poll()
            except CorruptModel as exc:
                log.warning("corrupt model skipped, keeping the current one", env=name, error=str(exc))
                continue
            except (ModelStoreUnavailable, OSError) as exc:
                # OSError: the directory store lets a path error (e.g. NotADirectoryError) through.
                return str(exc)
            if manifest is not None and manifest.version > self._served[name].version:
                self._served[name] = ServedModel(watcher.current, manifest)
                self._metrics.model_version.labels(name).set(manifest.version)
                self._metrics.model_swaps.labels(name).inc()
                iteration = manifest.metrics.get("iteration", 0)  # free-form in a manifest: a number, or 0
                iteration = iteration if isinstance(iteration, int | float) and not isinstance(iteration, bool) else 0
                self._metrics.model_iteration.labels(name, self._follow).set(iteration)
                self._metrics.model_published.labels(name).set(manifest.created_at)
                log.info("model loaded", env=name, version=manifest.version, sha256=manifest.sha256[:12])
        return None


class ServerBusy(RuntimeError):
    """Every search slot stayed taken for the whole wait: the client should retry shortly."""


class SearchSlots:
    """At most ``limit`` MCTS searches run at once, each in a worker thread so the event loop stays free
    for /stats and the probes. A waiting request holds no thread, and gives up after ``wait_seconds``."""

    def __init__(self, limit: int, wait_seconds: float) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        # asyncio primitives belong to one event loop; tests drive one app from several loops.
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, search: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.setdefault(loop, asyncio.Semaphore(self.limit))
        try:
            async with asyncio.timeout(self.wait_seconds):
                await semaphore.acquire()
        except TimeoutError:
            raise ServerBusy(
                f"all {self.limit} search slots stayed busy for {self.wait_seconds:g} s; retry shortly"
            ) from None
        try:
            # Not abandoned on cancellation: the slot is released only when the thread is done.
            return await run_in_threadpool(search, *args)
        finally:
            semaphore.release()
