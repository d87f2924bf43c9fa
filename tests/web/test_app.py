"""The web API against the real app on a real SQLite buffer and a real model store with a real model."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cartridge.games import GAME_NAMES
from cartridge.replay import IterationRecord, open_training_log
from cartridge_web.app import create_app
from tests.web.conftest import poll_now, web_settings


def test_health_and_readiness(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "replay": "ok", "model_store": "ok", "model_version": None}


def test_not_ready_until_the_first_model_store_poll_has_ended(tmp_path, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    app = create_app(web_settings(tmp_path))
    client = TestClient(app)  # not entered: no lifespan, so no poller; the test polls by hand
    before = client.get("/ready")
    assert before.status_code == 503 and before.json()["ready"] is False
    app.state.services.models.poll()
    after = client.get("/ready")
    assert after.status_code == 200 and after.json()["ready"] is True and after.json()["model_version"] == 1


def test_readiness_stays_200_while_the_replay_buffer_is_unreachable_and_says_so_without_the_url(tmp_path):
    settings = web_settings(tmp_path, REPLAY_URL="postgresql://u:pw@127.0.0.1:1/db")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        assert client.get("/health").status_code == 200
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["replay"].startswith("the replay buffer is unreachable")
    assert "127.0.0.1" not in body["replay"] and "pw" not in body["replay"]
    assert body["model_store"] == "ok"


def test_stats_before_any_model_says_so(client):
    stats = client.get("/stats").json()
    assert stats["model"] is None and stats["model_versions"] == [] and stats["iteration"] == 0
    assert stats["model_message"].startswith("no model yet")
    assert (stats["episodes"], stats["transitions"], stats["loss_history"]) == (0, 0, [])


def test_stats_reports_episodes_iterations_and_the_published_model(
    client, settings, replay, store, make_episode, tictactoe_model
):
    episodes = [make_episode() for _ in range(5)]
    for episode in episodes:
        replay.append_episode(episode)
    with open_training_log(settings.replay_url) as log:
        for i, loss in enumerate([2.0, 1.5, 1.2], start=1):
            log.record_iteration(IterationRecord("tictactoe", i, i, loss * 0.8, loss * 0.2, loss, 5 * i, 40 * i, 1.0))
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
        response = client.post(
            "/api/games/move",
            json={"env_id": "tictactoe", "human_player": human_player, "moves": view["moves"], "action": action},
        )
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


def test_the_catalog_lists_the_registry_games_with_their_boards_and_labels(tmp_path):
    with TestClient(create_app(web_settings(tmp_path, ENV_ID="connect4"))) as client:
        catalog = client.get("/api/catalog").json()
    assert catalog["default"] == "connect4"
    assert [game["name"] for game in catalog["games"]] == list(GAME_NAMES)
    connect4 = next(game for game in catalog["games"] if game["name"] == "connect4")
    assert connect4 == {
        "name": "connect4",
        "label": "Connect Four",
        "rows": 6,
        "cols": 7,
        "action_size": 7,
        "action_kind": "column",
        "max_plies": 42,
    }


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        ("/api/games/move", {"moves": [0, 0], "action": 1}, 422, "moves[1]: tictactoe: cell 0 is occupied"),
        ("/api/games/move", {"moves": [0, 1], "action": 1}, 422, "action: tictactoe: cell 1 is occupied"),
        ("/api/games/move", {"moves": [0], "action": 0}, 422, "action 0: it is player 2's turn, not player 1's"),
        ("/api/games/move", {"moves": [0, 3, 1, 4, 2], "action": 5}, 422, "action 5: the game is already over"),
        ("/api/games/move", {"env_id": "connect4", "moves": [0] * 6, "action": 0}, 422, "column 0 is full"),
        ("/api/games/move", {"env_id": "connect4", "action": 7}, 422, "action: connect4: action 7 is out of range"),
        ("/api/games/move", {"moves": [*range(9), 0], "action": 0}, 422, "10 moves, but a tictactoe game"),
        ("/api/evaluate", {"moves": [4, 4]}, 422, "moves[1]: tictactoe: cell 4 is occupied"),
        ("/api/evaluate", {"moves": [-1]}, 422, "body.moves.0: Input should be greater than or equal to 0"),
        ("/api/games/move", {"moves": [0]}, 422, "body.action: Field required"),
        ("/api/games/move", {"human_player": "1", "action": 0}, 422, "body.human_player: Input should be 1 or 2"),
        ("/api/games/move", {"action": 9}, 422, "body.action: Input should be less than or equal to 8"),
        ("/api/games/move", {"moves": [1] * 43, "action": 0}, 422, "at most 42"),
        ("/api/games/move", {"action": "x"}, 422, "body.action: Input should be a valid integer"),
        ("/api/games/move", {"action": True}, 422, "body.action: Input should be a valid integer"),
        ("/api/games/move", {"moves": [], "action": 1, "extra": 1}, 422, "body.extra: Extra inputs are not permitted"),
        ("/api/games", {"env_id": "chess"}, 422, "'tictactoe' or 'connect4'"),
        ("/api/games", {"human_player": 3}, 422, "body.human_player: Input should be 1 or 2"),
        ("/api/games", [1, 2], 422, "Input should be a valid dictionary"),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_is_wrong(client, path, body, status, expected):
    response = client.post(path, json=body)
    assert response.status_code == status
    assert expected in response.json()["detail"]


def test_malformed_json_unknown_routes_and_bad_queries_are_4xx(client):
    malformed = client.post("/api/games/move", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "JSON decode error" in malformed.json()["detail"]
    assert client.get("/api/nothing").status_code == 404
    assert client.delete("/api/games").status_code == 405
    bad_query = client.get("/api/model", params={"env_id": "chess"})
    assert bad_query.status_code == 422 and bad_query.json()["detail"].startswith("query.env_id:")


def test_an_oversized_body_is_refused_with_413_before_it_is_parsed(client):
    response = client.post(
        "/api/evaluate", content=b"[" + b"0," * 20_000 + b"0]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "larger than 16384 bytes" in response.json()["detail"]
    assert client.post("/api/evaluate", json={"moves": [4]}).status_code == 200


def test_stats_still_answer_while_the_model_store_is_unreachable(tmp_path):
    (tmp_path / "not-a-directory").write_text("")
    settings = web_settings(tmp_path, MODEL_STORE_URL=f"file://{tmp_path}/not-a-directory/models")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        stats = client.get("/stats")
        model = client.get("/api/model").json()
    assert ready.status_code == 200 and ready.json()["model_store"].startswith("model store unreachable")
    assert "not-a-directory" not in ready.json()["model_store"] and ready.json()["replay"] == "ok"
    assert stats.status_code == 200 and stats.json()["model"] is None
    assert stats.json()["model_message"].startswith("model store unreachable")
    assert model["has_model"] is False and model["version"] == 0


def test_two_replicas_serve_one_game_alternately_and_agree(tmp_path, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    settings = web_settings(tmp_path)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        poll_now(a)
        poll_now(b)
        view = a.post("/api/games", json={"human_player": 1}).json()
        turn = 0
        while view["status"] == "in_progress":
            request = {"moves": view["moves"], "action": view["legal_actions"][-1]}
            replica, other = (a, b) if turn % 2 else (b, a)
            view = replica.post("/api/games/move", json=request).json()
            # No session anywhere: the other replica answers the same history with the same reply.
            assert other.post("/api/games/move", json=request).json() == view
            turn += 1
        assert turn >= 3 and view["status"] in ("human_won", "model_won", "draw")
        assert view["model_version"] == 1


def test_metrics_count_requests_by_route_and_status(client, store, tictactoe_model):
    client.get("/health")
    client.post("/api/games/move", json={"action": 99})
    client.get("/no/such/route/123")
    store.publish("tictactoe", tictactoe_model)
    poll_now(client)
    text = client.get("/metrics").text
    assert 'cartridge_web_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'cartridge_web_requests_total{method="POST",route="/api/games/move",status="422"} 1.0' in text
    assert 'cartridge_web_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'cartridge_web_request_seconds_bucket{le="0.005",route="/health"}' in text
    assert 'cartridge_model_version{env_id="tictactoe"} 1.0' in text
    assert 'cartridge_web_model_swaps_total{env_id="tictactoe"} 1.0' in text
