"""Dynamic batching of the web's network calls: concurrent move searches share one network call per round.

Each move request searches its own game in its own worker thread (serving.SearchSlots), and each search
round asks the network for a few leaves. Without batching, 20 concurrent searches make 20 small calls;
here a search's ``evaluate`` hands its observations to one worker thread, which gathers the calls that
arrive together and makes one network call for them, as Triton's dynamic batcher does (a batch closes
when it is full or when its first call has waited ``wait_seconds``). The actor does the same for its
parallel games by searching them in one BatchedMCTS; the web cannot, since its searches start and end
with requests, so it batches one level lower, under each search's own round loop: a search's result is
the same as unbatched (the network sees the same positions; only the call that carries them differs).

A batch never mixes models: the calls are grouped by evaluator object, and a request holds one model
snapshot from start to end (serving.ServedModel), so a swap in flight yields two calls, one per model.
An evaluator error fails the searches whose positions were in that call, and no other.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from cartridge.inference import Evaluator
from cartridge.telemetry import get_logger

from .metrics import WebMetrics

log = get_logger("web")


class InferenceFailed(RuntimeError):
    """The shared network call that carried this search's positions failed (a 500, as an unbatched search's)."""


class BatcherClosed(RuntimeError):
    """The web is shutting down: no more network calls are made."""


@dataclass(eq=False)
class _Call:
    evaluator: Evaluator
    observations: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[np.ndarray, np.ndarray] | None = None
    error: BaseException | None = None


class InferenceBatcher:
    """One worker thread that evaluates the observations of concurrent searches in shared network calls.

    A batch closes when every search in progress (``searching``) has a call waiting, so no search waits
    for one that is not coming; when it holds ``max_positions``; or when its first call has waited
    ``wait_seconds``, so a search stalled between rounds delays the others by that much at most.
    """

    # How often a waiting search checks that a worker is still there to answer it.
    WORKER_CHECK_SECONDS = 1.0

    def __init__(
        self,
        metrics: WebMetrics | None,
        wait_seconds: float,
        workers: int = 2,
        max_positions: int = 512,
        cache_size: int = 0,
    ) -> None:
        self.wait_seconds = wait_seconds
        # Evaluations kept per model (0: none): positions the model has already evaluated for any search.
        self.cache_size = cache_size
        self._caches: weakref.WeakKeyDictionary[Evaluator, dict[bytes, tuple[np.ndarray, float]]] = (
            weakref.WeakKeyDictionary()
        )
        self.max_positions = max_positions
        self._metrics = metrics
        self._cond = threading.Condition()
        self._pending: list[_Call] = []
        self._searching = 0  # searches in progress (see ``search``)
        self._in_flight = 0  # calls in a network call now: their searches cannot send another meanwhile
        self._closed = False
        self._collecting = False  # a worker is gathering the next batch
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self.start()

    def start(self) -> None:
        """Start the workers (again, after ``close``: an app's lifespan may run more than once, as in tests)."""
        with self._cond:
            self._closed = False
            if any(thread.is_alive() for thread in self._threads):
                return
            # Several workers: a network call holds one core (ONNX Runtime's intra-op threads, ORT_THREADS, are
            # 1), so one worker would leave the other core to the searches' Python alone.
            self._threads = [
                threading.Thread(target=self._run, name=f"inference-batcher-{i}", daemon=True)
                for i in range(self._workers)
            ]
            for thread in self._threads:
                thread.start()

    # -- the searches' side -------------------------------------------------------------------

    @contextmanager
    def search(self, evaluator: Evaluator) -> Iterator[BatchedEvaluator]:
        """An evaluator for one search: its calls join the others' batches while the search runs."""
        with self._cond:
            self._searching += 1
        try:
            yield BatchedEvaluator(self, evaluator)
        finally:
            with self._cond:
                self._searching -= 1
                self._cond.notify_all()  # the searches still running may be the whole batch now

    def evaluate(self, evaluator: Evaluator, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        call = _Call(evaluator, observations)
        if not self._workers:  # no batching: this search's own call, through the cache
            self._evaluate_group([call])
            assert call.result is not None
            return call.result
        with self._cond:
            if self._closed:
                raise BatcherClosed("the web is shutting down; retry on another replica")
            self._pending.append(call)
            self._cond.notify_all()
        # Bounded waits, so a search never outlives the workers: one that dies fails its own batch (``_run``),
        # and a call still pending once none is left fails here rather than holding its search slot for good.
        while not call.done.wait(self.WORKER_CHECK_SECONDS):
            if not self.alive and not call.done.is_set():
                raise InferenceFailed("the inference batcher's workers have stopped; retry on another replica")
        if call.error is not None:
            # A new exception per search: the batch's searches re-raising one object in several threads at once
            # would each append their frames to its one traceback.
            raise InferenceFailed(f"network call failed: {call.error!r}") from call.error
        assert call.result is not None
        return call.result

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker: the calls already waiting are answered first, later ones raise BatcherClosed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # -- the worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                # One worker gathers a batch at a time; the others are evaluating, or wait their turn.
                while self._collecting or (not self._pending and not self._closed):
                    self._cond.wait()
                if not self._pending:  # closed, nothing left to answer
                    return
                self._collecting = True
                deadline = time.monotonic() + self.wait_seconds
                while not self._closed and not self._full():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._pending = self._pending, []
                self._collecting = False
                self._in_flight += len(batch)
                self._cond.notify_all()
            try:
                self._answer(batch)
            except BaseException as exc:  # the worker is going (SystemExit, a bug): its searches must not wait on it
                for call in batch:
                    if not call.done.is_set():
                        call.error = exc
                        call.done.set()
                raise
            finally:
                with self._cond:
                    self._in_flight -= len(batch)
                    self._cond.notify_all()

    def _full(self) -> bool:
        """Every running search has a call waiting, or the batch holds enough positions."""
        return len(self._pending) >= self._searching - self._in_flight or (
            sum(len(c.observations) for c in self._pending) >= self.max_positions
        )

    def _answer(self, batch: list[_Call]) -> None:
        groups: dict[int, list[_Call]] = {}
        for call in batch:  # one network call per model: a batch never mixes versions
            groups.setdefault(id(call.evaluator), []).append(call)
        for calls in groups.values():
            try:
                self._evaluate_group(calls)
            except Exception as exc:  # the searches that sent these positions fail; the worker carries on
                positions = sum(len(c.observations) for c in calls)
                log.error("network call failed", searches=len(calls), positions=positions, error=repr(exc)[:300])
                for call in calls:
                    call.error = exc
                    call.done.set()

    def _evaluate_group(self, calls: list[_Call]) -> None:
        """One network call for the distinct positions of ``calls`` (one model) that its cache lacks."""
        evaluator = calls[0].evaluator
        cache = self._caches.get(evaluator) if self.cache_size else None
        if cache is None:
            cache = {}
            if self.cache_size:
                self._caches[evaluator] = cache
        keys = [[row.tobytes() for row in call.observations] for call in calls]
        # Hits are taken now, not looked up again below: the other worker may clear this cache meanwhile.
        found: dict[bytes, tuple[np.ndarray, float]] = {}
        missing: dict[bytes, np.ndarray] = {}
        for call, call_keys in zip(calls, keys, strict=True):
            for key, row in zip(call_keys, call.observations, strict=True):
                if key in found or key in missing:
                    continue
                if (hit := cache.get(key)) is not None:
                    found[key] = hit
                else:
                    missing[key] = row
        if missing:
            logits, values = evaluator.evaluate(np.stack(list(missing.values())))
            if self._metrics is not None:
                self._metrics.inference_batch_size.observe(len(missing))
            fresh = {key: (logits[i], values[i]) for i, key in enumerate(missing)}
            found.update(fresh)
            if self.cache_size:
                if len(cache) + len(fresh) > self.cache_size:
                    cache.clear()  # as BatchedMCTS's cache: cheaper than LRU bookkeeping, and refilled within moves
                cache.update(fresh)
        results = []  # every answer first: a failure while assembling one fails the group before any is released
        for call_keys in keys:
            rows = [found[key] for key in call_keys]
            results.append((np.stack([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=np.float32)))
        for call, result in zip(calls, results, strict=True):
            call.result = result
            call.done.set()


class BatchedEvaluator:
    """An ``Evaluator`` for one search: the model it was made with, reached through the batcher."""

    def __init__(self, batcher: InferenceBatcher, evaluator: Evaluator) -> None:
        self.batcher = batcher
        self.inner = evaluator
        self.version = evaluator.version

    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.batcher.evaluate(self.inner, observations)
