"""Directory model store: file:///abs/dir. Atomic by write-to-temp, fsync, rename."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

from .base import (
    VERSION_NAME,
    CorruptModel,
    ModelManifest,
    ModelStore,
    ModelStoreUnavailable,
    sha256_hex,
    version_name,
)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


STALE_TEMP_SECONDS = 600  # far longer than any write takes: an older temp file's writer was killed


def _sweep_stale_temp_files(directory: Path) -> None:
    """Remove temp files left by writers killed mid-write (kill -9, a node lost); recent ones may still
    belong to a writer at work and stay."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in directory.glob(".tmp-*"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: harmless either way
            if path.stat().st_mtime < cutoff:
                path.unlink()


class DirectoryModelStore(ModelStore):
    def __init__(self, url: str, keep_versions: int = 10) -> None:
        path = url.removeprefix("file://")
        if not path.startswith("/"):
            raise ModelStoreUnavailable(f"MODEL_STORE_URL={url!r}: expected file:///absolute/directory")
        self.url = url
        self.root = Path(path)
        self.keep_versions = keep_versions

    def _dir(self, env_id: str) -> Path:
        return self.root / env_id

    def publish(self, env_id: str, model: bytes, metrics: dict | None = None) -> ModelManifest:
        directory = self._dir(env_id)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelStoreUnavailable(f"cannot create model directory {directory}: {exc.strerror}") from None
        version = self.next_version(env_id)
        manifest = ModelManifest(env_id, version, sha256_hex(model), len(model), time.time(), dict(metrics or {}))
        _write_atomically(directory / version_name(version), model)
        _write_atomically(directory / "latest.json", manifest.to_json())
        self._retain(env_id, version)
        _sweep_stale_temp_files(directory)
        return manifest

    def _retain(self, env_id: str, latest: int) -> None:
        for old in self.versions(env_id)[: -self.keep_versions]:
            if old != latest:
                (self._dir(env_id) / version_name(old)).unlink(missing_ok=True)

    def latest(self, env_id: str) -> ModelManifest | None:
        try:
            raw = (self._dir(env_id) / "latest.json").read_bytes()
        except FileNotFoundError:
            return None
        return ModelManifest.from_json(raw)

    def change_token(self, env_id: str) -> str | None:
        try:
            return hashlib.sha256((self._dir(env_id) / "latest.json").read_bytes()).hexdigest()
        except FileNotFoundError:
            return None

    def read_version(self, env_id: str, version: int) -> bytes:
        try:
            return (self._dir(env_id) / version_name(version)).read_bytes()
        except FileNotFoundError:
            raise CorruptModel(f"{env_id} {version_name(version)} is named by the manifest but missing") from None

    def versions(self, env_id: str) -> list[int]:
        try:
            names = os.listdir(self._dir(env_id))
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := VERSION_NAME.match(n)))

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"model store directory {self.root} cannot be created: {exc.strerror}"
            raise ModelStoreUnavailable(message) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ModelStoreUnavailable(f"model store directory {self.root} is not writable")
