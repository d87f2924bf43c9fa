"""Property-based: from any legal position of either game, the API evaluates it and plays a move and a
reply that follow the rules, with a board, status and distributions consistent with the history."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartridge.games import get_game
from cartridge_web.app import create_app
from tests.web.conftest import web_settings


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with TestClient(create_app(web_settings(tmp_path_factory.mktemp("web"), WEB_SIMS="8"))) as client:
        yield client


@st.composite
def positions(draw):
    """(env_id, a legal history, a legal action or None when the game is over)."""
    game = get_game(draw(st.sampled_from(["tictactoe", "connect4"])))
    state, moves = game.initial_state(), []
    for _ in range(draw(st.integers(0, game.rows * game.cols))):
        if state.terminal:
            break
        action = draw(st.sampled_from(game.legal_actions(state)))
        state, moves = game.apply(state, action), [*moves, action]
    action = None if state.terminal else draw(st.sampled_from(game.legal_actions(state)))
    return game.name, moves, action


@given(position=positions())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_legal_position_is_evaluated_and_played_by_the_rules(api, position):
    env_id, moves, action = position
    game = get_game(env_id)
    state = game.from_actions(moves)
    evaluation = api.post("/api/evaluate", json={"env_id": env_id, "moves": moves})
    assert evaluation.status_code == 200, evaluation.text
    body = evaluation.json()
    assert body["legal_actions"] == game.legal_actions(state) and body["to_play"] == len(moves) % 2 + 1
    if body["legal_actions"]:
        assert abs(sum(body["policy"]) - 1) < 1e-4
        assert all(p == 0 for a, p in enumerate(body["policy"]) if a not in body["legal_actions"])

    player = len(moves) % 2 + 1
    response = api.post(
        "/api/games/move", json={"env_id": env_id, "human_player": player, "moves": moves, "action": action or 0}
    )
    if action is None:
        assert response.status_code == 422 and "the game is already over" in response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    view = response.json()
    after = game.apply(state, action)
    assert view["moves"][: len(moves) + 1] == [*moves, action]
    if after.terminal:
        assert view["model_move"] is None and len(view["moves"]) == len(moves) + 1
    else:
        assert view["model_move"] in game.legal_actions(after) and view["moves"][-1] == view["model_move"]
        assert abs(sum(view["policy"]) - 1) < 1e-3 and -1 <= view["value"] <= 1
    final = game.from_actions(view["moves"])
    assert view["board"] == game.board(final) and view["legal_actions"] == game.legal_actions(final)
    expected = {None: "in_progress", 0: "draw", player: "human_won", 3 - player: "model_won"}[game.winner(final)]
    assert view["status"] == expected and view["winner"] == game.winner(final)
