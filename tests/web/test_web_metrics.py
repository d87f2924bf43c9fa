"""The web's model metrics, which the served-model alert and the dashboards read: the iteration served under the
rollout it follows, and when that model was published."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cartridge_web.app import create_app
from tests.web.conftest import poll_now, web_settings


def sample(client: TestClient, name: str, **labels: str) -> float | None:
    return client.app.state.services.metrics.registry.get_sample_value(name, labels)


def test_the_iteration_served_is_0_until_a_model_comes_then_the_models_own(client, store, tictactoe_model):
    for game in ("tictactoe", "connect4"):  # every game the web serves, so the alert sees "none yet" too
        assert sample(client, "cartridge_web_model_iteration", env_id=game, follow="latest") == 0
    manifest = store.publish("tictactoe", tictactoe_model, {"iteration": 7})
    poll_now(client)
    assert sample(client, "cartridge_web_model_iteration", env_id="tictactoe", follow="latest") == 7
    published = sample(client, "cartridge_web_model_published_timestamp_seconds", env_id="tictactoe")
    assert published == manifest.created_at
    assert 'cartridge_web_model_iteration{env_id="tictactoe",follow="latest"} 7.0' in client.get("/metrics").text


def test_under_gated_rollout_the_web_says_it_follows_the_best(tmp_path):
    with TestClient(create_app(web_settings(tmp_path, ROLLOUT_POLICY="gated"))) as client:
        assert sample(client, "cartridge_web_model_iteration", env_id="tictactoe", follow="best") == 0
        assert sample(client, "cartridge_web_model_iteration", env_id="tictactoe", follow="latest") is None


def test_a_manifest_whose_iteration_is_no_number_is_still_served_and_counts_as_0(client, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model, {"iteration": "seven"})
    poll_now(client)
    assert client.get("/api/model").json()["version"] == 1
    assert sample(client, "cartridge_web_model_iteration", env_id="tictactoe", follow="latest") == 0
