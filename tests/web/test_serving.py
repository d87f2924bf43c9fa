"""Hot reload and bounded search: the background poller swaps models under load without an error or a
step backwards, a corrupt, oversized or mis-sized publication is skipped (and the reason logged), and a
search queue that stays full answers 503."""

from __future__ import annotations

import threading
import time

import onnx
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from cartridge.fsutil import write_atomically
from cartridge.modelstore import ModelManifest, open_model_store, sha256_hex
from cartridge_web.app import create_app
from testkit.support import wait_until
from tests.web.conftest import poll_now, web_settings


def test_requests_during_repeated_model_swaps_never_fail_and_versions_never_go_back(client, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    wait_until(lambda: client.get("/api/model").json()["version"] == 1, 10, "the poller to load v1")
    errors: list[str] = []
    seen: dict[int, list[int]] = {worker: [] for worker in range(4)}
    done = threading.Event()

    def hammer(worker: int) -> None:
        moves = [[], [4], [4, 0], [0, 4, 8]][worker]  # positions where each worker's action is legal
        action = [0, 8, 2, 1][worker]
        while not done.is_set():
            played = client.post(
                "/api/games/move", json={"moves": moves, "action": action, "human_player": len(moves) % 2 + 1}
            )
            model = client.get("/api/model")
            evaluated = client.post("/api/evaluate", json={"moves": moves})
            for response in (played, model, evaluated):
                if response.status_code != 200:
                    errors.append(f"{response.request.url.path} {response.status_code}: {response.text[:200]}")
            if not errors:
                body = played.json(), model.json(), evaluated.json()
                seen[worker].extend([body[0]["model_version"], body[1]["version"], body[2]["model_version"]])

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in range(4)]
    for t in threads:
        t.start()
    try:
        for version in range(2, 10):
            store.publish("tictactoe", tictactoe_model)
            # The real background poller (MODEL_POLL_SECONDS=0.1) does the swap, not the test.
            wait_until(lambda v=version: client.get("/api/model").json()["version"] == v, 10, f"v{version}")
    finally:
        done.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    for worker, versions in seen.items():
        assert len(versions) >= 6, f"client {worker} made too few requests"
        # Each client's requests are sequential: the version it sees never goes backwards.
        assert versions == sorted(versions), (worker, versions)
    assert {v for versions in seen.values() for v in versions} > {1, 9}, "swaps happened while clients played"
    swaps = client.get("/metrics").text
    assert 'cartridge_web_model_swaps_total{env_id="tictactoe"} 9.0' in swaps


def test_a_corrupt_publication_is_skipped_and_the_next_good_one_is_served(client, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    store.publish("tictactoe", b"not an onnx model")
    poll_now(client)
    assert client.get("/api/model").json()["version"] == 1
    assert client.post("/api/games/move", json={"action": 4}).json()["model_version"] == 1
    stats = client.get("/stats").json()
    assert stats["model"]["version"] == 2 and stats["served_model_version"] == 1
    assert "v2 published; this replica still serves v1" in stats["model_message"]
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    assert client.post("/api/games/move", json={"action": 4}).json()["model_version"] == 3


def test_a_move_that_waits_too_long_for_a_search_slot_gets_503_with_retry_after(tmp_path):
    """Every search slot is taken (by searches that wait for the test's word): a move gets 503 after the
    wait, and once a slot is free again the next move gets its search."""
    app = create_app(web_settings(tmp_path))
    slots = app.state.services.slots
    slots.wait_seconds = 0.05
    started, release = threading.Semaphore(0), threading.Event()

    def held_search() -> None:
        started.release()
        release.wait(60)

    with TestClient(app) as client:
        # The app's own event loop, as a request's: the slots are per loop.
        holders = [client.portal.start_task_soon(slots.run, held_search) for _ in range(slots.limit)]
        for _ in holders:
            assert started.acquire(timeout=30), "a holder never got its slot"
        try:
            busy = client.post("/api/games/move", json={"env_id": "connect4", "moves": [], "action": 3})
        finally:
            release.set()
            for holder in holders:
                holder.result(timeout=30)
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1" and "search slots stayed busy" in busy.json()["detail"]
        # The slots are free again: the next request gets one.
        assert client.post("/api/games/move", json={"action": 4}).status_code == 200


def padded(model: bytes, extra: int) -> bytes:
    """The same network, ``extra`` bytes longer (a doc string): it loads and plays like ``model``."""
    proto = onnx.load_from_string(model)
    proto.doc_string = "x" * extra
    return proto.SerializeToString()


def test_an_oversized_or_mis_sized_model_is_refused_unread_and_the_previous_one_served(tmp_path, tictactoe_model):
    big = padded(tictactoe_model, 2000)
    settings = web_settings(tmp_path, MODEL_MAX_BYTES=str(len(tictactoe_model) + 1000))
    publisher = open_model_store(settings.model_store_url)  # the trainer's store knows no reader's limit
    with capture_logs() as logs, TestClient(create_app(settings)) as client:
        publisher.publish("tictactoe", tictactoe_model)
        poll_now(client)
        assert client.get("/api/model").json()["version"] == 1

        publisher.publish("tictactoe", big)  # v2: over MODEL_MAX_BYTES
        poll_now(client)
        assert client.post("/api/games/move", json={"action": 4}).json()["model_version"] == 1

        # v3: a good model whose manifest gives the wrong size.
        directory = tmp_path / "models" / "tictactoe"
        (directory / "v000003.onnx").write_bytes(tictactoe_model)
        wrong_size = len(tictactoe_model) - 10
        manifest = ModelManifest("tictactoe", 3, sha256_hex(tictactoe_model), wrong_size, time.time(), {})
        write_atomically(directory / "latest.json", manifest.to_json())  # as a publisher writes it: whole
        poll_now(client)
        assert client.post("/api/games/move", json={"action": 4}).json()["model_version"] == 1

        publisher.publish("tictactoe", tictactoe_model)
        poll_now(client)
        assert client.get("/api/model").json()["version"] == 4
    reasons = [e["error"] for e in logs if e["event"] == "corrupt model skipped, keeping the current one"]
    assert len(reasons) == 2, reasons
    assert f"v000002.onnx: the manifest gives {len(big)} bytes, over MODEL_MAX_BYTES" in reasons[0]
    assert f"the store holds {len(tictactoe_model)} bytes, the manifest gives {len(tictactoe_model) - 10}" in reasons[1]
