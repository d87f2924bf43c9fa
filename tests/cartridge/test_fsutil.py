"""The one atomic write: a file is replaced whole or left as it was, and no temp file outlives a failed write."""

from __future__ import annotations

import os
import time

import pytest

from cartridge.fsutil import atomic_write, sweep_stale_temp_files, write_atomically


def test_a_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(path, b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["state.json"]


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    write_atomically(path, b"iteration 1")
    with pytest.raises(RuntimeError, match="serialiser failed"), atomic_write(path) as f:
        f.write(b"half of iteration 2")
        raise RuntimeError("serialiser failed")
    assert path.read_bytes() == b"iteration 1" and os.listdir(tmp_path) == ["checkpoint.pt"]


def test_only_stale_temp_files_are_swept(tmp_path):
    stale, fresh, other = tmp_path / ".tmp-killed", tmp_path / ".tmp-writing", tmp_path / "v000001.onnx"
    for path in (stale, fresh, other):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    sweep_stale_temp_files(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [".tmp-writing", "v000001.onnx"]
