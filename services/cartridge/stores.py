"""The stores a service opens, opened from its Settings here and only here, so every setting of theirs (timeouts,
size limits, versions kept) reaches every service that opens them."""

from __future__ import annotations

from . import modelstore, replay
from .settings import Settings


def open_model_store(settings: Settings) -> modelstore.ModelStore:
    """MODEL_STORE_URL (and S3_ENDPOINT_URL), keeping MODEL_KEEP_VERSIONS, refusing models over MODEL_MAX_BYTES."""
    return modelstore.open_model_store(
        settings.model_store_url,
        settings.s3_endpoint_url,
        keep_versions=settings.model_keep_versions,
        max_model_bytes=settings.model_max_bytes,
    )


def open_replay_database(settings: Settings) -> replay.SqlDatabase:
    """REPLAY_URL, bounded by REPLAY_CONNECT_TIMEOUT and REPLAY_STATEMENT_TIMEOUT: the database under the replay
    buffer, the training log and the arena's ratings."""
    timeouts = replay.ReplayTimeouts(settings.replay_connect_timeout, settings.replay_statement_timeout)
    return replay.open_database(settings.replay_url, timeouts)


def open_replay(settings: Settings) -> replay.SqlReplayBuffer:
    return replay.SqlReplayBuffer(open_replay_database(settings))
