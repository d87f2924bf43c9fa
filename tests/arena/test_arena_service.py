"""cartridge-arena as a real process: rates what is published, survives kill -9, never rates a version twice."""

from __future__ import annotations

import json
import re
import urllib.request

from cartridge.arena.ratings_store import RatingsStore
from cartridge.modelstore import open_model_store
from testkit.support import free_port, log_events, wait_until


def arena_env(tmp_path) -> dict[str, str]:
    return {
        "ENV_ID": "tictactoe",
        "ARENA_GAMES": "2",
        "ARENA_SIMS": "4",
        "MODEL_POLL_SECONDS": "0.5",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "HTTP_PORT": str(free_port()),
    }


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def statuses(url: str) -> dict[int, str]:
    store = RatingsStore.open(url)
    try:
        return store.statuses("tictactoe")
    finally:
        store.close()


def test_arena_survives_kill_9_and_rates_each_version_once(tmp_path, start_service, tictactoe_model):
    env = arena_env(tmp_path)
    store = open_model_store(env["MODEL_STORE_URL"])
    store.publish("tictactoe", tictactoe_model)

    # Killed in the middle of rating v1: nothing of v1 is stored.
    first = start_service("cartridge_arena", env, "arena-1")
    wait_until(lambda: log_events(first.log_text(), "rating version"), 120, "the arena to start rating v1")
    first.kill()
    assert 1 not in statuses(env["REPLAY_URL"]), first.log_text()[-2000:]

    # Restarted: v1 is played again from its seeds and stored once.
    second = start_service("cartridge_arena", env, "arena-2")
    wait_until(lambda: statuses(env["REPLAY_URL"]).get(1) == "rated", 120, "v1 rated after the restart")
    # /health reports a version once it is stored, so it may trail the database by the end of that round.
    health = wait_until(
        lambda: (h := json.loads(get(f"http://127.0.0.1:{env['HTTP_PORT']}/health")))["rated_version"] == 1 and h,
        10,
        "/health to report v1 rated",
    )
    assert health["status"] == "ok"
    second.kill()

    # Two versions published while it was down: the newest is rated, the other is marked skipped.
    store.publish("tictactoe", tictactoe_model)
    store.publish("tictactoe", tictactoe_model)
    third = start_service("cartridge_arena", env, "arena-3")
    wait_until(lambda: statuses(env["REPLAY_URL"]).get(3) == "rated", 120, "v3 rated")
    assert statuses(env["REPLAY_URL"]) == {0: "calibration", 1: "rated", 2: "skipped", 3: "rated"}
    ratings = RatingsStore.open(env["REPLAY_URL"])
    games = ratings.games("tictactoe")
    ratings.close()
    # v1 has its games once (3 references x ARENA_GAMES), though its rating was started twice.
    assert sum("v1" in (g.first, g.second) and "v3" not in (g.first, g.second) for g in games) == 3 * 2
    assert sum("v3" in (g.first, g.second) for g in games) == 4 * 2  # the references and v1

    # The metrics, like /health, show a version once it is stored: they may trail the database by a moment.
    metrics = wait_until(
        lambda: (
            'cartridge_arena_rated_version{env_id="tictactoe"} 3.0'
            in (m := get(f"http://127.0.0.1:{env['HTTP_PORT']}/metrics"))
            and m
        ),
        10,
        "the metrics to show v3 rated",
    )
    assert 'cartridge_arena_rating{env_id="tictactoe",player="v3"}' in metrics
    assert 'cartridge_arena_rating{env_id="tictactoe",player="random"} 0.0' in metrics
    v3_rating = re.search(r'cartridge_arena_rating\{env_id="tictactoe",player="v3"\} (\S+)', metrics).group(1)
    assert f'cartridge_arena_newest_rating{{env_id="tictactoe"}} {v3_rating}' in metrics
    assert third.stop() == 0
    assert log_events(third.log_text(), "arena stopped")


def test_the_arena_refuses_a_model_over_model_max_bytes(tmp_path, start_service, tictactoe_model):
    """The arena reads every version it rates: MODEL_MAX_BYTES bounds it as it bounds the actors and the web."""
    env = arena_env(tmp_path) | {"MODEL_MAX_BYTES": str(len(tictactoe_model) - 1)}
    open_model_store(env["MODEL_STORE_URL"]).publish("tictactoe", tictactoe_model)  # the trainer's store: no limit
    arena = start_service("cartridge_arena", env, "arena")
    wait_until(lambda: 1 in statuses(env["REPLAY_URL"]), 120, "the arena to reach v1")
    ratings = RatingsStore.open(env["REPLAY_URL"])
    (v1,) = [r for r in ratings.results("tictactoe") if r.version == 1]
    ratings.close()
    assert v1.status == "skipped", arena.log_text()[-2000:]
    assert f"holds {len(tictactoe_model)} bytes, over MODEL_MAX_BYTES={len(tictactoe_model) - 1}" in v1.note


def test_a_bad_arena_setting_stops_start_up_naming_it(tmp_path, start_service):
    arena = start_service("cartridge_arena", arena_env(tmp_path) | {"ARENA_GAMES": "one"}, "arena")
    assert arena.wait(timeout=60) == 2
    assert "ARENA_GAMES='one' is not an integer" in arena.log_text()
