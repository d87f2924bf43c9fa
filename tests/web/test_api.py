"""The web API against the real app on a real SQLite buffer and a real model store with a real model."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cartridge.replay import IterationRecord
from cartridge_web.app import create_app
from tests.web.conftest import poll_now, web_settings


def test_health_and_readiness(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "replay": "ok", "model_store": "ok", "model_version": None}


def test_readiness_is_503_with_the_reason_when_the_replay_buffer_is_unreachable(tmp_path):
    settings = web_settings(tmp_path, REPLAY_URL="postgresql://u:pw@127.0.0.1:1/db")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        assert client.get("/health").status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False and "127.0.0.1:1" in body["replay"] and "pw" not in body["replay"]
    assert body["model_store"] == "ok"


def test_stats_before_any_model_says_so(client):
    stats = client.get("/stats").json()
    assert stats["model"] is None and stats["model_versions"] == [] and stats["iteration"] == 0
    assert stats["model_message"].startswith("no model yet")
    assert (stats["episodes"], stats["transitions"], stats["loss_history"]) == (0, 0, [])


def test_stats_reports_episodes_iterations_and_the_published_model(
    client, replay, store, make_episode, tictactoe_model
):
    episodes = [make_episode() for _ in range(5)]
    for episode in episodes:
        replay.append_episode(episode)
    for i, loss in enumerate([2.0, 1.5, 1.2], start=1):
        replay.record_iteration(IterationRecord("tictactoe", i, i, loss * 0.8, loss * 0.2, loss, 5 * i, 40 * i, 1.0))
        store.publish("tictactoe", tictactoe_model, {"iteration": i})
    poll_now(client)
    stats = client.get("/stats").json()
    assert stats["episodes"] == 5 and stats["transitions"] == sum(len(e.transitions) for e in episodes)
    assert stats["episodes_per_second"] > 0 and stats["replay_buffer_size"] == stats["transitions"]
    assert stats["iteration"] == 3 and [p["total_loss"] for p in stats["loss_history"]] == [2.0, 1.5, 1.2]
    assert stats["model"]["version"] == 3 and stats["model_versions"] == [1, 2, 3]
    assert stats["served_model_version"] == 3 and stats["model_message"] == "serving v3"


def play_to_the_end(client: TestClient, human_player: int, rng: np.random.Generator) -> dict:
    view = client.post("/api/games", json={"env_id": "tictactoe", "human_player": human_player}).json()
    if human_player == 2:
        assert len(view["moves"]) == 1 and view["model_move"] == view["moves"][0]
    while view["status"] == "in_progress":
        action = int(rng.choice(view["legal_actions"]))
        response = client.post("/api/games/move", json={"env_id": "tictactoe", "human_player": human_player,
                                                        "moves": view["moves"], "action": action})  # fmt: skip
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["moves"][: len(view["moves"]) - (1 if view["model_move"] is not None else 0)][-1] == action
        if view["model_move"] is not None:
            assert abs(sum(view["policy"]) - 1) < 1e-3 and -1 <= view["value"] <= 1
    return view


@pytest.mark.parametrize("human_player", [1, 2])
def test_a_whole_game_as_either_player(client, store, tictactoe_model, human_player):
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    view = play_to_the_end(client, human_player, np.random.default_rng(human_player))
    assert view["status"] in ("human_won", "model_won", "draw") and view["legal_actions"] == []
    assert view["model_version"] == 1
    filled = sum(cell != 0 for row in view["board"] for cell in row)
    assert filled == len(view["moves"])


def test_the_model_takes_a_win_in_one(client):
    # X (the model, player 1) holds 0 and 1; the human (O) holds 3 and now plays 4: X completes the top row.
    view = client.post("/api/games/move", json={"human_player": 2, "moves": [0, 3, 1], "action": 4}).json()
    assert view["model_move"] == 2 and view["status"] == "model_won" and view["winner"] == 1


def test_evaluate_returns_a_distribution_over_legal_moves(client, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    body = client.post("/api/evaluate", json={"moves": [4, 0]}).json()
    assert body["legal_actions"] == [1, 2, 3, 5, 6, 7, 8] and body["to_play"] == 1 and body["model_version"] == 1
    assert body["policy"][0] == 0 and body["policy"][4] == 0 and abs(sum(body["policy"]) - 1) < 1e-4
    assert -1 <= body["value"] <= 1


def test_connect4_is_served_too(client):
    view = client.post("/api/games", json={"env_id": "connect4", "human_player": 1}).json()
    assert (view["rows"], view["cols"], view["legal_actions"]) == (6, 7, list(range(7)))
    view = client.post("/api/games/move", json={"env_id": "connect4", "moves": [], "action": 3}).json()
    assert view["board"][5][3] == 1 and view["model_move"] is not None


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        ("/api/games/move", {"moves": [0, 0], "action": 1}, 409, "moves[1]: tictactoe: cell 0 is occupied"),
        ("/api/games/move", {"moves": [0], "action": 0}, 409, "it is player 2's turn, not player 1's"),
        ("/api/games/move", {"moves": [0, 3, 1, 4, 2], "action": 5}, 409, "the game is already over"),
        ("/api/games/move", {"env_id": "connect4", "moves": [0] * 6, "action": 0}, 409, "column 0 is full"),
        ("/api/games/move", {"env_id": "connect4", "action": 7}, 409, "action 7 is out of range 0..6"),
        ("/api/evaluate", {"moves": [4, 4]}, 409, "cell 4 is occupied"),
        ("/api/games/move", {"action": 9}, 422, "body.action: Input should be less than or equal to 8"),
        ("/api/games/move", {"moves": [1] * 43, "action": 0}, 422, "at most 42"),
        ("/api/games/move", {"action": "x"}, 422, "body.action: Input should be a valid integer"),
        ("/api/games/move", {"action": True}, 422, "body.action: Input should be a valid integer"),
        ("/api/games/move", {"moves": [], "action": 1, "extra": 1}, 422, "body.extra: Extra inputs are not permitted"),
        ("/api/games", {"env_id": "chess"}, 422, "'tictactoe' or 'connect4'"),
        ("/api/games", {"human_player": 3}, 422, "1 or 2"),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_is_wrong(client, path, body, status, expected):
    response = client.post(path, json=body)
    assert response.status_code == status
    assert expected in response.json()["detail"]


def test_malformed_json_and_unknown_routes_are_4xx(client):
    assert (
        client.post("/api/games/move", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/model", params={"env_id": "chess"}).status_code == 422


def test_requests_during_repeated_model_swaps_never_fail_and_versions_never_go_back(client, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    errors: list[str] = []
    seen: dict[int, list[int]] = {i: [] for i in range(4)}
    done = threading.Event()

    def hammer(worker: int) -> None:
        while not done.is_set():
            r = client.post("/api/games/move", json={"moves": [], "action": worker})
            m = client.get("/api/model")
            if r.status_code != 200 or m.status_code != 200:
                errors.append(f"{r.status_code} {m.status_code}: {r.text[:200]}")
                continue
            seen[worker].extend([r.json()["model_version"], m.json()["version"]])

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for _ in range(8):
        store.publish("tictactoe", tictactoe_model)
        poll_now(client)
    done.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    for versions in seen.values():
        assert versions, "a client made no request"
        # Within one client, the model version served never goes backwards.
        assert all(a <= b for a, b in zip(versions[::2], versions[2::2], strict=False))
    assert max(max(v) for v in seen.values()) == 9


def test_two_replicas_serve_one_game_alternately(tmp_path, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    settings = web_settings(tmp_path)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        poll_now(a)
        poll_now(b)
        view = a.post("/api/games", json={"human_player": 1}).json()
        replicas = [a, b]
        turn = 0
        while view["status"] == "in_progress":
            replica = replicas[turn % 2]
            view = replica.post(
                "/api/games/move", json={"moves": view["moves"], "action": view["legal_actions"][0]}
            ).json()
            turn += 1
        assert turn >= 3 and view["status"] in ("human_won", "model_won", "draw")


def test_metrics_count_requests_by_route_and_status(client):
    client.get("/health")
    client.post("/api/games/move", json={"action": 99})
    text = client.get("/metrics").text
    assert 'cartridge_web_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="/api/games/move",status="422"' in text
    assert "cartridge_web_request_seconds_bucket" in text
