"""Model store: one protocol, written once here over five backend primitives (head, get, put, list, delete);
a directory and an S3 bucket implement the primitives, chosen by MODEL_STORE_URL.

Layout under the store root, per game:
  <env_id>/v000001.onnx, v000002.onnx, ...   immutable model versions
  <env_id>/latest.json                        the manifest of the newest version (ROLLOUT_POLICY=always follows it)
  <env_id>/best.json                          the manifest of the promoted version (ROLLOUT_POLICY=gated follows it),
                                              with when and why it was promoted; absent before the first promotion
  <env_id>/rated.json                         the arena's mark: the newest version it has reached (rated or skipped)
Publishing writes the model first, then replaces the manifest atomically, so a reader sees the old model or
the new one, never part of one. Readers check a model's size before reading it (against the manifest and
MODEL_MAX_BYTES) and its sha256 while it streams in, before they swap. Retention keeps the newest K versions,
the best one, and every version the arena has not reached yet. The store learns what is rated from the arena's
mark alone, not from the database: a game no arena has marked has no unrated versions (keep-K, as before there
was an arena), and one it has marked keeps everything above the mark until the arena gets there.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field, fields

MODEL_FILENAME_PATTERN = re.compile(r"^v(\d{6})\.onnx$")
MANIFEST_NAME = "latest.json"
POINTERS = {"latest": MANIFEST_NAME, "best": "best.json"}  # the manifests a reader can follow
RATED_NAME = "rated.json"
MANIFEST_MAX_BYTES = 1 << 20  # a manifest is a few hundred bytes; anything near this is not one
DEFAULT_MODEL_MAX_BYTES = 64 << 20  # MODEL_MAX_BYTES' default (see settings.py)
CHUNK_BYTES = 256 << 10  # a read's buffer: small next to any limit, large enough that a model takes few reads


def model_filename(version: int) -> str:
    """The name a version's ONNX file has in the store: ``v000007.onnx`` (zero-padded, so names sort by version)."""
    return f"v{version:06d}.onnx"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelStoreUnavailable(RuntimeError):
    """The store cannot be reached (directory unwritable, S3 endpoint down, bucket missing)."""


class CorruptModel(ValueError):
    """A model's bytes do not match its manifest (truncated, replaced, bad hash) or the manifest is unreadable."""


class ModelTooLarge(CorruptModel):
    """A model over MODEL_MAX_BYTES, refused before it is read (so a reader's memory stays bounded)."""


class ObjectMissing(Exception):
    """A backend primitive found no object under the key: each caller decides what that means."""


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str | None  # S3's ETag; None where the backend has none (a directory: the content is the token)


@dataclass(frozen=True)
class ModelManifest:
    env_id: str
    version: int
    sha256: str
    size_bytes: int
    created_at: float  # unix time of publication
    metrics: dict = field(default_factory=dict)
    reason: str = ""  # why a pointer names this version (the best's: the gate it passed); empty for latest

    @property
    def filename(self) -> str:
        return model_filename(self.version)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ModelManifest:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CorruptModel(f"unreadable manifest: {exc}") from exc
        if not isinstance(data, dict):
            raise CorruptModel(f"unreadable manifest: a JSON object was expected, not {type(data).__name__}")
        missing = [f.name for f in fields(cls) if f.name not in ("metrics", "reason") and f.name not in data]
        if missing:  # e.g. a manifest from before size_bytes: the next publish writes a whole one
            raise CorruptModel(f"unreadable manifest: no {', '.join(missing)}")
        try:
            return cls(
                env_id=str(data["env_id"]),
                version=int(data["version"]),
                sha256=str(data["sha256"]),
                size_bytes=int(data["size_bytes"]),
                created_at=float(data["created_at"]),
                metrics=dict(data.get("metrics") or {}),
                reason=str(data.get("reason") or ""),
            )
        except (ValueError, TypeError) as exc:
            raise CorruptModel(f"unreadable manifest: {exc}") from exc


def versions_to_delete(stored: list[int], keep: int, pinned: Collection[int]) -> list[int]:
    """Retention's one decision: every stored version (ascending) except the newest ``keep`` and the pinned
    ones: the version just published, the best one, and those the arena has not reached (``ModelStore.pinned``)."""
    return [version for version in stored[:-keep] if version not in pinned]


class ModelStore(ABC):
    """The model-store protocol (publish, retention, latest, verified reads) over a backend's primitives.

    A backend implements ``_head``, ``_get``, ``_put``, ``_list`` and ``_delete`` on keys relative to the
    store root (``<env_id>/<name>``), plus ``ping``. ``_put`` must be atomic: a reader of the key sees the
    old object or the new one, never part of one.
    """

    url: str
    keep_versions: int
    max_model_bytes: int

    # -- backend primitives --------------------------------------------------------------------------------

    @abstractmethod
    def _head(self, key: str) -> StoredObject | None:
        """The object's size (and ETag where the backend has one), or None if there is none."""

    @abstractmethod
    def _get(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks, as they arrive; ObjectMissing (when iterated) if there is none."""

    @abstractmethod
    def _put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _list(self, env_id: str) -> list[str]:
        """The names of the objects under ``<env_id>/``."""

    @abstractmethod
    def _delete(self, key: str) -> None:
        """Remove the object; one that is already gone is no error."""

    @abstractmethod
    def ping(self) -> None:
        """Raise ModelStoreUnavailable unless the store is reachable."""

    # -- the protocol --------------------------------------------------------------------------------------

    @staticmethod
    def _key(env_id: str, name: str) -> str:
        return f"{env_id}/{name}"

    def _read(self, key: str, limit: int) -> tuple[bytes, str]:
        """The object's bytes and their sha256, hashed as they stream in. Reading stops as soon as more than
        ``limit`` bytes arrive (a manifest that is no manifest, or a model replaced since its size was checked),
        so no object costs more memory than its limit."""
        digest, buffer = hashlib.sha256(), io.BytesIO()  # its getvalue() hands over its buffer: no second copy
        with contextlib.closing(self._get(key)) as stream:
            for chunk in stream:
                if buffer.tell() + len(chunk) > limit:
                    raise CorruptModel(f"{key} holds more than {limit} bytes; not read further")
                digest.update(chunk)
                buffer.write(chunk)
        return buffer.getvalue(), digest.hexdigest()

    def publish(self, env_id: str, model: bytes, metrics: dict | None = None) -> ModelManifest:
        """Store ``model`` as the next version and make it the latest, atomically; apply retention."""
        version = self.next_version(env_id)
        manifest = ModelManifest(env_id, version, sha256_hex(model), len(model), time.time(), dict(metrics or {}))
        self._put(self._key(env_id, model_filename(version)), model)
        self._put(self._key(env_id, MANIFEST_NAME), manifest.to_json())
        stored = self.versions(env_id)
        try:
            pinned = self.pinned(env_id, stored) | {version}
        except CorruptModel:  # an unreadable best or mark: which versions matter is unknown, so delete none now
            return manifest
        for old in versions_to_delete(stored, self.keep_versions, pinned):
            self._delete(self._key(env_id, model_filename(old)))
        return manifest

    def pinned(self, env_id: str, stored: list[int]) -> set[int]:
        """Versions retention keeps whatever their age: the best, and every one above the arena's mark."""
        best, rated = self.best(env_id), self.rated_through(env_id)
        unrated = set() if rated is None else {v for v in stored if v > rated}
        return unrated | ({best.version} if best is not None else set())

    def manifest(self, env_id: str, pointer: str = "latest") -> ModelManifest | None:
        """The manifest ``pointer`` (latest | best) names, or None before there is one. CorruptModel if unreadable."""
        try:
            raw, _ = self._read(self._key(env_id, POINTERS[pointer]), MANIFEST_MAX_BYTES)
        except ObjectMissing:
            return None
        return ModelManifest.from_json(raw)

    def latest(self, env_id: str) -> ModelManifest | None:
        """The newest published version's manifest, or None before the first publish."""
        return self.manifest(env_id, "latest")

    def best(self, env_id: str) -> ModelManifest | None:
        """The promoted version's manifest, or None before the first promotion."""
        return self.manifest(env_id, "best")

    def promote(self, env_id: str, version: int, reason: str) -> ModelManifest:
        """Make a stored version the best, atomically (one manifest write); its bytes are hashed as they are read,
        so the best manifest names them exactly. CorruptModel if the version is not stored."""
        if self._head(self._key(env_id, model_filename(version))) is None:
            raise CorruptModel(f"{env_id} {model_filename(version)} cannot be promoted: it is not in the store")
        data = self.read_version(env_id, version)
        best = ModelManifest(env_id, version, sha256_hex(data), len(data), time.time(), reason=reason)
        self._put(self._key(env_id, POINTERS["best"]), best.to_json())
        return best

    def mark_rated(self, env_id: str, version: int) -> None:
        """The arena's mark: it has reached ``version`` (rated or skipped it, or 0 before the first). Retention
        keeps every version above the mark."""
        self._put(self._key(env_id, RATED_NAME), json.dumps({"version": version, "marked_at": time.time()}).encode())

    def rated_through(self, env_id: str) -> int | None:
        """The arena's mark, or None where no arena has marked this game. CorruptModel if unreadable."""
        try:
            raw, _ = self._read(self._key(env_id, RATED_NAME), MANIFEST_MAX_BYTES)
            return int(json.loads(raw)["version"])
        except ObjectMissing:
            return None
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptModel(f"unreadable arena mark {env_id}/{RATED_NAME}: {exc}") from None

    def change_token(self, env_id: str, pointer: str = "latest") -> str | None:
        """Cheap token that changes whenever the manifest changes (S3 ETag, file content hash)."""
        key = self._key(env_id, POINTERS[pointer])
        stored = self._head(key)
        if stored is None:
            return None
        if stored.etag is not None:
            return stored.etag
        try:
            return self._read(key, MANIFEST_MAX_BYTES)[1]  # a manifest is small: hashing it costs one read
        except ObjectMissing:  # removed since the head
            return None

    def versions(self, env_id: str) -> list[int]:
        """Stored versions, ascending."""
        return sorted(int(m.group(1)) for name in self._list(env_id) if (m := MODEL_FILENAME_PATTERN.match(name)))

    def next_version(self, env_id: str) -> int:
        """The version a publish writes: one past the published one, so a model file left by a publish that
        died before its manifest (never named, so never read) is replaced rather than leaving a gap. With
        no readable manifest, one past every stored file: a version number never goes back."""
        try:
            latest = self.latest(env_id)
        except CorruptModel:
            latest = None
        if latest is not None:
            return latest.version + 1
        return max(self.versions(env_id), default=0) + 1

    def read_version(self, env_id: str, version: int) -> bytes:
        """A stored version's bytes (up to MODEL_MAX_BYTES), unverified: no manifest names its hash."""
        return self._read_model(env_id, version, None)

    def fetch(self, env_id: str, pointer: str = "latest") -> tuple[ModelManifest, bytes] | None:
        """The manifest ``pointer`` names with its verified bytes; CorruptModel if the bytes do not match,
        ModelTooLarge (before a byte is read) if the model is over MODEL_MAX_BYTES."""
        manifest = self.manifest(env_id, pointer)
        if manifest is None:
            return None
        return manifest, self._read_model(env_id, manifest.version, manifest)

    def fetch_latest(self, env_id: str) -> tuple[ModelManifest, bytes] | None:
        return self.fetch(env_id, "latest")

    def _read_model(self, env_id: str, version: int, manifest: ModelManifest | None) -> bytes:
        """Sizes first (the manifest's, then the stored object's, against MODEL_MAX_BYTES and each other),
        so an oversized or mis-sized model is refused without being read; then the hash, while streaming."""
        where = f"{env_id} {model_filename(version)}"
        limit = self.max_model_bytes
        if manifest is not None and manifest.size_bytes > limit:
            raise ModelTooLarge(
                f"{where}: the manifest gives {manifest.size_bytes} bytes, over MODEL_MAX_BYTES={limit}; not read"
            )
        key = self._key(env_id, model_filename(version))
        stored = self._head(key)
        if stored is None:
            raise CorruptModel(f"{where} is named by the manifest but missing")
        if stored.size > limit:
            raise ModelTooLarge(f"{where} holds {stored.size} bytes, over MODEL_MAX_BYTES={limit}; not read")
        if manifest is not None and stored.size != manifest.size_bytes:
            raise CorruptModel(
                f"{where}: sha256/size mismatch with the manifest (the store holds "
                f"{stored.size} bytes, the manifest gives {manifest.size_bytes}); not read"
            )
        try:
            data, digest = self._read(key, stored.size)
        except ObjectMissing:  # retention removed it since the size check
            raise CorruptModel(f"{where} is named by the manifest but missing") from None
        if manifest is not None and (len(data) != manifest.size_bytes or digest != manifest.sha256):
            raise CorruptModel(
                f"{where}: sha256/size mismatch with the manifest ({len(data)} bytes, expected {manifest.size_bytes})"
            )
        return data
