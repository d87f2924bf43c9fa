"""Whole-or-nothing file writes: the model store, trainer checkpoints and devtools' state file use this one.

A file is written to a temp file beside it, flushed to disk and renamed over the target, so a reader (or a
process started after a crash) finds the old content or the new, never part of one. A writer killed mid-write
leaves its temp file behind; ``sweep_stale_temp_files`` removes those later.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 600  # far longer than any write takes: an older temp file's writer was killed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_write(path) as f: f.write(...)``: ``path`` is replaced only if the block finishes."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
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


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def sweep_stale_temp_files(directory: str | os.PathLike) -> None:
    """Remove temp files left by writers killed mid-write (kill -9, a node lost); recent ones may still
    belong to a writer at work and stay."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in Path(directory).glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: harmless either way
            if path.stat().st_mtime < cutoff:
                path.unlink()
