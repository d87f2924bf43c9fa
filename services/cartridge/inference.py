"""Network evaluation for MCTS and the web: ONNX Runtime, or the uniform prior before any model.

An evaluator maps a batch of observations (N, planes, rows, cols) to
(policy_logits (N, actions), values (N,)). MCTS masks illegal moves and
applies the softmax itself, so an evaluator knows nothing about rules.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from .modelstore import CorruptModel, ModelManifest, ModelStore

# ORT_THREADS' default (Settings.ort_threads). One intra-op thread: actors scale by processes, and on 2 cores a
# thread pool per process only adds contention.
DEFAULT_ORT_THREADS = 1


class Evaluator(Protocol):
    version: int

    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class UniformEvaluator:
    """Before the first model exists: a uniform prior and zero value, so self-play starts from nothing."""

    version = 0

    def __init__(self, action_size: int) -> None:
        self.action_size = action_size

    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = observations.shape[0]
        return np.zeros((n, self.action_size), dtype=np.float32), np.zeros(n, dtype=np.float32)


class OnnxEvaluator:
    def __init__(self, model: bytes, version: int = 0, threads: int = DEFAULT_ORT_THREADS) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad bytes
            raise CorruptModel(f"model v{version:06d} does not load in ONNX Runtime: {exc}") from exc
        self.version = version

    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, values = self.session.run(None, {"obs": np.ascontiguousarray(observations, dtype=np.float32)})
        return logits, values.reshape(-1)


class ModelWatcher:
    """Polls the model store and swaps to a newer verified model in place.

    ``current`` is replaced by a single reference assignment, so a caller that
    took the evaluator keeps using the old one until it asks again: no request
    or game in flight sees a half-loaded model. A corrupt publication is
    reported and skipped; the previous model stays in use.

    ``follow`` names the manifest it follows (Settings.followed_manifest): "latest" serves every new
    version, "best" only promoted ones, and the uniform prior until the first promotion. ``threads``: ONNX
    Runtime's intra-op threads for each model it loads (Settings.ort_threads).
    """

    def __init__(
        self,
        store: ModelStore,
        env_id: str,
        action_size: int,
        follow: str = "latest",
        threads: int = DEFAULT_ORT_THREADS,
    ) -> None:
        self.store = store
        self.env_id = env_id
        self.follow = follow
        self.threads = threads
        self.current: Evaluator = UniformEvaluator(action_size)
        self.manifest: ModelManifest | None = None
        self._token: str | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def poll(self) -> ModelManifest | None:
        """Check the store once; return the new manifest if a newer model was loaded."""
        with self._lock:
            token = self.store.change_token(self.env_id, self.follow)
            if token is None or token == self._token:
                return None
            try:
                fetched = self.store.fetch(self.env_id, self.follow)
                if fetched is None:
                    return None
                manifest, data = fetched
                if self.manifest is not None and manifest.version <= self.manifest.version:
                    self._token = token
                    return None
                evaluator = OnnxEvaluator(data, version=manifest.version, threads=self.threads)
            except CorruptModel as exc:
                self.last_error = str(exc)
                self._token = token  # do not retry the same broken publication every poll
                raise
            self.current, self.manifest, self._token = evaluator, manifest, token
            self.last_error = None
            return manifest
