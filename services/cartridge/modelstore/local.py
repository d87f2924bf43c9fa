"""Directory model store: file:///abs/dir. Atomic by write-to-temp, fsync, rename (cartridge.fsutil)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..fsutil import sweep_stale_temp_files, write_atomically
from .base import CHUNK_BYTES, DEFAULT_MODEL_MAX_BYTES, ModelStore, ModelStoreUnavailable, ObjectMissing, StoredObject


class DirectoryModelStore(ModelStore):
    def __init__(self, url: str, keep_versions: int = 10, max_model_bytes: int = DEFAULT_MODEL_MAX_BYTES) -> None:
        path = url.removeprefix("file://")
        if not path.startswith("/"):
            raise ModelStoreUnavailable(f"MODEL_STORE_URL={url!r}: expected file:///absolute/directory")
        self.url = url
        self.root = Path(path)
        self.keep_versions = keep_versions
        self.max_model_bytes = max_model_bytes

    def _head(self, key: str) -> StoredObject | None:
        try:
            return StoredObject(size=(self.root / key).stat().st_size, etag=None)
        except FileNotFoundError:
            return None

    def _get(self, key: str) -> Iterator[bytes]:
        try:
            f = (self.root / key).open("rb")
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        with f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk

    def _put(self, key: str, data: bytes) -> None:
        path = self.root / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelStoreUnavailable(f"cannot create model directory {path.parent}: {exc.strerror}") from None
        write_atomically(path, data)
        sweep_stale_temp_files(path.parent)

    def _list(self, env_id: str) -> list[str]:
        try:
            return os.listdir(self.root / env_id)
        except FileNotFoundError:
            return []

    def _delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"model store directory {self.root} cannot be created: {exc.strerror}"
            raise ModelStoreUnavailable(message) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ModelStoreUnavailable(f"model store directory {self.root} is not writable")
