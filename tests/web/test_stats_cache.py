"""/stats and /ready over the replay buffer and the model store: one database round serves many clients,
outages reach clients as generic sentences (the details reach the log), and a database that is down
leaves games and readiness alone while /stats says what is missing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from cartridge.replay import open_replay
from cartridge_web.app import create_app
from cartridge_web.outages import REPLAY_UNAVAILABLE
from testkit.postgres import drop_connections, frozen_server, postgres_server
from testkit.support import free_port
from tests.web.conftest import web_settings


def test_twenty_concurrent_stats_calls_cost_one_database_round(settings, make_episode):
    with open_replay(settings.replay_url) as replay:
        for _ in range(3):
            replay.append_episode(make_episode())
        statements: list[str] = []
        replay.database.connection.set_trace_callback(statements.append)  # every statement SQLite runs for this buffer
        app = create_app(settings, replay=replay)
        reads = app.state.services.training.reads
        reads.max_age = 60  # the round must serve all 20 calls however slowly this machine runs them
        reads.stale_for = 0  # and the call after it waits for its own round instead of taking this one
        with TestClient(app) as client, ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(lambda _: client.get("/stats"), range(20)))
            after_twenty = len(statements)
            reads.max_age = 0  # expired: the next call reads again, and shows what one round costs
            assert client.get("/stats").json()["episodes"] == 3
    assert [r.status_code for r in responses] == [200] * 20
    assert {r.json()["episodes"] for r in responses} == {3}
    one_round = len(statements) - after_twenty
    assert one_round > 0 and after_twenty == one_round, f"20 calls ran {after_twenty} statements, one round {one_round}"


OUTAGES = {
    "replay buffer": lambda port: {"REPLAY_URL": f"postgresql://cartridge_reader:s3cret@127.0.0.1:{port}/replay"},
    "model store": lambda port: {
        "MODEL_STORE_URL": "s3://cartridge-private-bucket/models",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    },
}


@pytest.mark.parametrize("backend", OUTAGES)
def test_an_outage_reaches_clients_without_hosts_users_or_buckets_and_the_log_with_them(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    port = free_port()  # nothing listens there
    settings = web_settings(tmp_path, **OUTAGES[backend](port))
    with capture_logs() as logs, TestClient(create_app(settings)) as client:
        stats, ready = client.get("/stats"), client.get("/ready")
    shown = stats.text + ready.text
    for secret in ("127.0.0.1", str(port), "cartridge_reader", "s3cret", "cartridge-private-bucket"):
        assert secret not in shown, (secret, shown)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    if backend == "replay buffer":
        assert stats.status_code == 503 and stats.json()["detail"] == REPLAY_UNAVAILABLE
        assert ready.json()["replay"] == REPLAY_UNAVAILABLE
    else:
        assert stats.status_code == 200 and stats.json()["model_message"] == "model store unreachable; serving v0"
        assert ready.json()["model_store"].startswith("model store unreachable")
    outage = next(e for e in logs if e["event"].startswith(f"{backend} unreachable"))
    assert f"127.0.0.1:{port}" in outage["error"], outage
    assert ("cartridge_reader" if backend == "replay buffer" else "cartridge-private-bucket") in outage["error"]


def play_and_check(client: TestClient) -> None:
    """Games and readiness do not depend on the replay buffer; /stats says it is away."""
    move = client.post("/api/games/move", json={"action": 4})
    assert move.status_code == 200 and move.json()["model_move"] is not None
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["replay"] == REPLAY_UNAVAILABLE
    stats = client.get("/stats")
    assert stats.status_code == 503 and stats.json()["detail"] == REPLAY_UNAVAILABLE


def test_a_database_down_at_start_up_degrades_only_stats(tmp_path):
    with postgres_server(password="pw") as url:  # its own server (never a shared one): it is stopped below
        pass
    with TestClient(create_app(web_settings(tmp_path, REPLAY_URL=url))) as client:
        play_and_check(client)


def test_a_database_that_goes_down_later_degrades_only_stats(tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "pw")
    with postgres_server(password="pw") as url:
        app = create_app(web_settings(tmp_path, REPLAY_URL=url))
        client = TestClient(app).__enter__()
        assert client.get("/stats").status_code == 200
        drop_connections(url)  # so the server stops at once instead of waiting for the web's session
    try:
        reads = app.state.services.training.reads
        reads.max_age = reads.stale_for = 0  # nothing cached: ask the (stopped) database
        play_and_check(client)
    finally:
        client.__exit__(None, None, None)


def test_stats_keep_answering_from_the_last_read_while_the_next_one_hangs(tmp_path, monkeypatch, make_episode):
    monkeypatch.setenv("PGPASSWORD", "pw")
    with postgres_server(password="pw") as url:
        with open_replay(url) as replay:
            replay.append_episode(make_episode())
        app = create_app(web_settings(tmp_path, REPLAY_URL=url))
        with TestClient(app) as client:
            assert client.get("/stats").json()["episodes"] == 1
            reads = app.state.services.training.reads
            reads.max_age, reads.stale_for = 0, 60  # the next call starts a read, which hangs on the frozen server
            with frozen_server(url):  # the server's container paused: the read gets no answer
                answered: list = []
                caller = threading.Thread(target=lambda: answered.append(client.get("/stats")))
                caller.start()
                caller.join(30)  # a /stats that waited for the frozen database would still be waiting
                assert answered and answered[0].status_code == 200 and answered[0].json()["episodes"] == 1
            caller.join(30)
