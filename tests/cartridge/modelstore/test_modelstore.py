"""One model-store specification, run against a directory and against a real S3 API server."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from cartridge.modelstore import CorruptModel, ModelStoreUnavailable, ModelTooLarge, open_model_store, sha256_hex
from testkit.support import free_port, kill_9_while_running


def model(n: int, size: int = 4096) -> bytes:
    return bytes([n % 251]) * size + n.to_bytes(4, "big")


def test_nothing_before_the_first_publish(store):
    assert store.latest("tictactoe") is None and store.change_token("tictactoe") is None
    assert store.fetch_latest("tictactoe") is None and store.versions("tictactoe") == []
    store.ping()


def test_versions_count_up_and_the_manifest_describes_the_latest(store):
    for n in (1, 2):
        manifest = store.publish("tictactoe", model(n), {"iteration": n, "total_loss": 1.0 / n})
        assert manifest.version == n and manifest.filename == f"v{n:06d}.onnx"
    latest = store.latest("tictactoe")
    assert latest.version == 2 and latest.sha256 == sha256_hex(model(2)) and latest.size_bytes == len(model(2))
    assert latest.metrics == {"iteration": 2, "total_loss": 0.5}
    fetched_manifest, data = store.fetch_latest("tictactoe")
    assert fetched_manifest == latest and data == model(2)
    assert store.read_version("tictactoe", 1) == model(1)
    assert store.latest("connect4") is None, "games are kept apart"


def test_retention_keeps_the_newest_versions(store):
    for n in range(1, 7):
        store.publish("connect4", model(n))
    assert store.versions("connect4") == [4, 5, 6]
    assert store.latest("connect4").version == 6


def test_the_change_token_changes_exactly_when_the_manifest_does(store):
    store.publish("tictactoe", model(1))
    token = store.change_token("tictactoe")
    assert token and store.change_token("tictactoe") == token
    store.publish("tictactoe", model(2))
    assert store.change_token("tictactoe") not in (None, token)


def test_corrupt_model_bytes_are_detected(store, store_url):
    store.publish("tictactoe", model(1))
    overwrite(store, store_url, "tictactoe/v000001.onnx", model(1)[:-10])
    with pytest.raises(CorruptModel, match="sha256/size mismatch"):
        store.fetch_latest("tictactoe")


def test_a_corrupt_manifest_is_detected_and_the_next_publish_still_counts_up(store, store_url):
    store.publish("tictactoe", model(1))
    overwrite(store, store_url, "tictactoe/latest.json", b"{not json")
    with pytest.raises(CorruptModel, match="unreadable manifest"):
        store.latest("tictactoe")
    assert store.publish("tictactoe", model(2)).version == 2
    assert store.fetch_latest("tictactoe")[1] == model(2)


def overwrite(store, store_url, key: str, data: bytes) -> None:
    url, _ = store_url
    if url.startswith("file://"):
        (store.root / key).write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}", Body=data)


def test_readers_never_see_a_partial_model_while_a_writer_publishes(store):
    store.publish("connect4", model(1, 200_000))
    problems: list[str] = []
    seen: dict[int, list[int]] = {i: [] for i in range(3)}
    done = threading.Event()

    def read(reader: int) -> None:
        while not done.is_set():
            try:
                manifest, data = store.fetch_latest("connect4")
            except CorruptModel as exc:  # only a torn read could cause this during normal publishing
                if "missing" not in str(exc):  # retention may delete a version between manifest and read
                    problems.append(str(exc))
                continue
            seen[reader].append(manifest.version)
            if data != model(manifest.version, 200_000):  # version n holds model(n)
                problems.append(f"v{manifest.version}: wrong bytes")

    readers = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for r in readers:
        r.start()
    for n in range(2, 15):
        store.publish("connect4", model(n, 200_000))
    done.set()
    for r in readers:
        r.join()
    assert not problems, problems[:3]
    for versions in seen.values():
        assert versions and versions == sorted(versions), "a reader saw the version go backwards"


PUBLISHER = """
import sys
from cartridge.modelstore import open_model_store
store = open_model_store(sys.argv[1], None, keep_versions=50)
print("ready", flush=True)
n = 0
while True:
    n += 1
    store.publish("connect4", bytes([n % 251]) * 2_000_000 + n.to_bytes(4, "big"))
"""


def test_kill_9_while_publishing_leaves_a_verified_latest_model(tmp_path):
    url = f"file://{tmp_path}/models"
    for round_ in range(5):
        kill_9_while_running(PUBLISHER, url, 0.3 + 0.1 * round_)
        manifest, data = open_model_store(url).fetch_latest("connect4")  # raises CorruptModel if torn
        assert len(data) == manifest.size_bytes == 2_000_004
    leftovers = [p.name for p in (tmp_path / "models" / "connect4").iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) <= 5, "at most the temp file of each killed publish is left behind"


def test_an_unreachable_s3_endpoint_is_a_prompt_clear_error():
    store = open_model_store("s3://models/x", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(ModelStoreUnavailable, match="unreachable"):
        store.ping()
    assert time.monotonic() - started < 20


def test_a_missing_bucket_is_named(s3_endpoint):
    with pytest.raises(ModelStoreUnavailable, match="bucket 'no-such-bucket' does not exist"):
        open_model_store("s3://no-such-bucket/models", s3_endpoint).ping()


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelStoreUnavailable, match="cannot be created"):
        open_model_store(f"file://{blocker}/models").ping()


@pytest.mark.parametrize("url", ["file://relative/dir", "s3://", "ftp://x"])
def test_bad_urls_are_rejected(url):
    with pytest.raises(ModelStoreUnavailable):
        open_model_store(url)


class _S3ErrorServer:
    """An HTTP endpoint answering every S3 request with one S3 error, as a store refusing access
    (403 AccessDenied) or MinIO while it starts (503 XMinioServerNotInitialized) does."""

    def __init__(self, status: int, code: str) -> None:
        import http.server
        import threading

        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>refused by the test server</Message></Error>"
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.mark.parametrize(("status", "code"), [(403, "AccessDenied"), (503, "XMinioServerNotInitialized")])
def test_every_s3_refusal_is_model_store_unavailable_naming_the_reason(status, code, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    server = _S3ErrorServer(status, code)
    try:
        store = open_model_store("s3://models/cartridge", server.url)
        for call in (
            store.ping,
            lambda: store.latest("connect4"),
            lambda: store.change_token("connect4"),
            lambda: store.versions("connect4"),
            lambda: store.publish("connect4", b"model"),
        ):
            with pytest.raises(ModelStoreUnavailable, match=r"model store s3://models/cartridge at \S+ refused to "):
                call()
        # With a body (GET), the store's own error code is named too.
        with pytest.raises(ModelStoreUnavailable, match=f"refused to read the manifest \\({code}: refused by"):
            store.latest("connect4")
    finally:
        server.server.shutdown()


def test_a_model_left_without_its_manifest_is_replaced_by_the_next_publish(store, store_url):
    """A publish killed between the model file and the manifest leaves v2 that no manifest names; the
    next publish writes v2 again (no gap), and readers never saw the orphan."""
    url, endpoint = store_url
    store.publish("connect4", b"one")
    orphan = b"half of a publication"
    if url.startswith("file://"):
        (Path(url.removeprefix("file://")) / "connect4" / "v000002.onnx").write_bytes(orphan)
    else:
        import boto3

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_object(
            Bucket=bucket, Key=f"{prefix}/connect4/v000002.onnx", Body=orphan
        )
    assert store.latest("connect4").version == 1
    manifest = store.publish("connect4", b"two")
    assert manifest.version == 2 and store.versions("connect4") == [1, 2]
    assert store.fetch_latest("connect4") == (manifest, b"two")


def test_temp_files_of_killed_writers_are_swept_and_fresh_ones_kept(tmp_path):
    store = open_model_store(f"file://{tmp_path}/models")
    store.publish("connect4", b"one")
    directory = tmp_path / "models" / "connect4"
    stale, fresh = directory / ".tmp-killed", directory / ".tmp-writing"
    stale.write_bytes(b"half a model")
    fresh.write_bytes(b"a model being written")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    store.publish("connect4", b"two")
    assert not stale.exists() and fresh.exists()


# -- sizes are checked before a model is read (MODEL_MAX_BYTES), hashes while it streams -----------------------

LIMIT = 1 << 20


def peak_memory_of(call) -> tuple[int, BaseException | None]:
    """The most memory Python held at once while ``call`` ran (it reads nothing big, or this shows it)."""
    tracemalloc.start()
    try:
        call()
        error = None
    except Exception as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def test_a_model_over_model_max_bytes_is_refused_before_it_is_read(store_url):
    url, endpoint = store_url
    store = open_model_store(url, endpoint, max_model_bytes=LIMIT)
    store.publish("connect4", model(1))
    store.publish("connect4", model(2, 8 * LIMIT))  # the publisher does not police readers' limits
    peak, error = peak_memory_of(lambda: store.fetch_latest("connect4"))
    assert peak < LIMIT, f"{peak} bytes held while refusing"
    assert isinstance(error, ModelTooLarge), error
    assert "connect4 v000002.onnx: the manifest gives 8388612 bytes, over MODEL_MAX_BYTES=1048576" in str(error)
    peak, error = peak_memory_of(lambda: store.read_version("connect4", 2))
    assert peak < LIMIT, f"{peak} bytes held while refusing"
    assert isinstance(error, ModelTooLarge) and "holds 8388612 bytes, over MODEL_MAX_BYTES" in str(error), error
    assert store.read_version("connect4", 1) == model(1)


def test_a_model_whose_size_differs_from_its_manifest_is_refused_unread(store, store_url):
    url, endpoint = store_url
    store = open_model_store(url, endpoint, max_model_bytes=16 * LIMIT)
    manifest = store.publish("connect4", model(1, 4 * LIMIT))
    overwrite(store, store_url, "connect4/v000001.onnx", model(1, 8 * LIMIT))
    peak, error = peak_memory_of(lambda: store.fetch_latest("connect4"))
    assert peak < LIMIT, f"{peak} bytes held while refusing"
    assert isinstance(error, CorruptModel) and not isinstance(error, ModelTooLarge), error
    assert (
        f"sha256/size mismatch with the manifest (the store holds 8388612 bytes, the manifest gives "
        f"{manifest.size_bytes}); not read"
    ) in str(error)


def test_a_model_of_the_right_size_but_wrong_bytes_is_refused_after_hashing(store, store_url):
    store.publish("connect4", model(1))
    overwrite(store, store_url, "connect4/v000001.onnx", model(2))  # same length, other bytes
    with pytest.raises(CorruptModel, match=r"sha256/size mismatch with the manifest \(4100 bytes, expected 4100\)"):
        store.fetch_latest("connect4")


def test_a_manifest_without_size_bytes_is_a_clear_error_repaired_by_the_next_publish(store, store_url):
    store.publish("tictactoe", model(1))
    old = json.loads(store.latest("tictactoe").to_json())
    del old["size_bytes"]
    overwrite(store, store_url, "tictactoe/latest.json", json.dumps(old).encode())
    with pytest.raises(CorruptModel, match="unreadable manifest: no size_bytes"):
        store.fetch_latest("tictactoe")
    assert store.publish("tictactoe", model(2)).version == 2
    assert store.fetch_latest("tictactoe")[1] == model(2)


def test_a_huge_manifest_is_refused_after_its_first_mebibyte_and_repaired_by_the_next_publish(store, store_url):
    store.publish("tictactoe", model(1))
    overwrite(store, store_url, "tictactoe/latest.json", b" " * (8 * LIMIT))
    with pytest.raises(CorruptModel, match=r"tictactoe/latest\.json holds more than 1048576 bytes; not read further"):
        store.latest("tictactoe")
    assert store.publish("tictactoe", model(2)).version == 2


def test_a_verified_read_holds_little_more_than_the_model(store_url):
    url, endpoint = store_url
    store = open_model_store(url, endpoint, max_model_bytes=16 * LIMIT)
    store.publish("connect4", model(1, 8 * LIMIT))
    fetched: list[bytes] = []
    peak, error = peak_memory_of(lambda: fetched.append(store.fetch_latest("connect4")[1]))
    assert error is None and fetched == [model(1, 8 * LIMIT)]
    assert peak < 1.5 * 8 * LIMIT, f"{peak / LIMIT:.1f} MiB held to read an 8 MiB model"
