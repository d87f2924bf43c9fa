"""Model store: one interface, directory and S3 backends chosen by MODEL_STORE_URL.

Layout under the store root, per game:
  <env_id>/v000001.onnx, v000002.onnx, ...   immutable model versions
  <env_id>/latest.json                        the manifest: the one place readers look
Publishing writes the model first, then replaces the manifest atomically, so a
reader sees the old model or the new one, never part of one. Readers verify the
sha256 before they swap. Retention keeps the newest K versions.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

VERSION_NAME = re.compile(r"^v(\d{6})\.onnx$")


def version_name(version: int) -> str:
    return f"v{version:06d}.onnx"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelStoreUnavailable(RuntimeError):
    """The store cannot be reached (directory unwritable, S3 endpoint down, bucket missing)."""


class CorruptModel(ValueError):
    """A model's bytes do not match its manifest (truncated, replaced, bad hash) or the manifest is unreadable."""


@dataclass(frozen=True)
class ModelManifest:
    env_id: str
    version: int
    sha256: str
    size_bytes: int
    created_at: float  # unix time of publication
    metrics: dict = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return version_name(self.version)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ModelManifest:
        try:
            data = json.loads(raw)
            return cls(
                env_id=str(data["env_id"]),
                version=int(data["version"]),
                sha256=str(data["sha256"]),
                size_bytes=int(data["size_bytes"]),
                created_at=float(data["created_at"]),
                metrics=dict(data.get("metrics") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptModel(f"unreadable latest manifest: {exc}") from exc


class ModelStore(ABC):
    url: str

    @abstractmethod
    def publish(self, env_id: str, model: bytes, metrics: dict | None = None) -> ModelManifest:
        """Store ``model`` as the next version and make it the latest, atomically; apply retention."""

    @abstractmethod
    def latest(self, env_id: str) -> ModelManifest | None:
        """The current manifest, or None before the first publish. Raises CorruptModel if unreadable."""

    @abstractmethod
    def change_token(self, env_id: str) -> str | None:
        """Cheap token that changes whenever the manifest changes (S3 ETag, file content hash)."""

    @abstractmethod
    def read_version(self, env_id: str, version: int) -> bytes: ...

    @abstractmethod
    def versions(self, env_id: str) -> list[int]:
        """Stored versions, ascending."""

    @abstractmethod
    def ping(self) -> None:
        """Raise ModelStoreUnavailable unless the store is reachable."""

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

    def fetch_latest(self, env_id: str) -> tuple[ModelManifest, bytes] | None:
        """The latest manifest with its verified bytes; CorruptModel if the bytes do not match."""
        manifest = self.latest(env_id)
        if manifest is None:
            return None
        data = self.read_version(env_id, manifest.version)
        if len(data) != manifest.size_bytes or sha256_hex(data) != manifest.sha256:
            raise CorruptModel(
                f"{env_id} {manifest.filename}: sha256/size mismatch with the manifest "
                f"({len(data)} bytes, expected {manifest.size_bytes})"
            )
        return manifest, data
