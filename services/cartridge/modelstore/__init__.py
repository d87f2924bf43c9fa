"""``open_model_store(MODEL_STORE_URL, S3_ENDPOINT_URL)``: file:///dir or s3://bucket/prefix."""

from __future__ import annotations

from .base import (
    DEFAULT_MODEL_MAX_BYTES,
    CorruptModel,
    ModelManifest,
    ModelStore,
    ModelStoreUnavailable,
    ModelTooLarge,
    model_filename,
    sha256_hex,
)


def open_model_store(
    url: str,
    s3_endpoint_url: str | None = None,
    keep_versions: int = 10,
    max_model_bytes: int = DEFAULT_MODEL_MAX_BYTES,
) -> ModelStore:
    if url.startswith("file://"):
        from .local import DirectoryModelStore

        return DirectoryModelStore(url, keep_versions=keep_versions, max_model_bytes=max_model_bytes)
    if url.startswith("s3://"):
        from .s3 import S3ModelStore

        return S3ModelStore(url, s3_endpoint_url, keep_versions=keep_versions, max_model_bytes=max_model_bytes)
    raise ModelStoreUnavailable(f"MODEL_STORE_URL={url!r}: unsupported scheme (expected file:/// or s3://)")


__all__ = [
    "CorruptModel",
    "ModelManifest",
    "ModelStore",
    "ModelStoreUnavailable",
    "ModelTooLarge",
    "model_filename",
    "open_model_store",
    "sha256_hex",
]
