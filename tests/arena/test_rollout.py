"""Both rollout policies end to end, as real processes: a trainer publishing, an arena rating (and under gated,
gating), an actor (and under gated, the web) following what the policy names."""

from __future__ import annotations

import pytest

from cartridge.arena.ratings_store import RatingsStore
from cartridge.modelstore import open_model_store
from devtools.http import probe_json
from devtools.http import request_json as get_json
from testkit.support import free_port, log_events, wait_until

ITERATIONS = 5
SMALL = {
    "ENV_ID": "tictactoe",
    "TRAINING_ITERATIONS": str(ITERATIONS),
    "EPISODES_PER_ITERATION": "24",
    "TRAIN_STEPS_PER_ITERATION": "40",
    "BATCH_SIZE": "64",
    "REPLAY_WINDOW": "5000",
    "LEARNING_RATE": "0.003",
    "MCTS_MAX_SIMS": "16",
    "ACTOR_PARALLEL_GAMES": "12",
    "EXPORT_PRECISION": "fp32",
    "MODEL_POLL_SECONDS": "0.5",
    "MODEL_KEEP_VERSIONS": "2",
    "ARENA_GAMES": "2",
    "ARENA_SIMS": "8",
    "GATE_GAMES": "6",
}


def stack_env(tmp_path, policy: str) -> dict[str, str]:
    return SMALL | {
        "ROLLOUT_POLICY": policy,
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }


def arena_rows(url: str) -> dict[int, dict | None]:
    """Rated versions -> their gate (None under always)."""
    ratings = RatingsStore.open(url)
    try:
        return {r.version: r.gate for r in ratings.results("tictactoe") if r.status == "rated"}
    finally:
        ratings.close()


def loaded_versions(actor) -> list[int]:
    return [event["version"] for event in log_events(actor.log_text(), "model loaded")]


def run_stack(tmp_path, start_service, env: dict[str, str], web: bool):
    """Start the followers and the arena, then the trainer; return once it has published every version and the
    arena has reached the last one."""
    services = {}
    # One at a time, each up before the next: SQLite's schema creation by processes starting together can meet
    # "database is locked" at open, which is start-up contention, not what this test is about.
    for name in ("actor", "web", "arena") if web else ("actor", "arena"):
        port = free_port()
        services[name] = start_service(f"cartridge_{name}", env | {"HTTP_PORT": str(port)}, name)
        services[f"{name}_url"] = url = f"http://127.0.0.1:{port}"
        wait_until(lambda url=url: probe_json(f"{url}/health"), 120, f"the {name} to start")
    trainer = start_service("cartridge_trainer", env | {"HTTP_PORT": str(free_port())}, "trainer")
    assert trainer.wait(timeout=420) == 0, trainer.log_text()[-3000:]
    assert services["actor"].proc.poll() is None, services["actor"].log_text()[-2000:]
    store = open_model_store(env["MODEL_STORE_URL"])
    assert store.latest("tictactoe").version == ITERATIONS
    wait_until(lambda: store.rated_through("tictactoe") == ITERATIONS, 240, "the arena to reach the last version")
    return store, services


@pytest.mark.slow
def test_gated_followers_serve_only_versions_that_passed_their_gate(tmp_path, start_service):
    env = stack_env(tmp_path, "gated")
    store, services = run_stack(tmp_path, start_service, env, web=True)
    gates = arena_rows(env["REPLAY_URL"])
    assert gates and all(gate is not None for gate in gates.values()), gates
    promoted = {v for v, gate in gates.items() if gate["promoted"]}
    lost = {v for v, gate in gates.items() if not gate["promoted"]}
    assert promoted, f"no version passed its gate, so nothing was served but the uniform prior: {gates}"
    best = store.best("tictactoe")
    assert best.version == max(promoted) and best.reason.startswith("gate: scored")
    assert best.version in store.versions("tictactoe"), "retention keeps the best"

    actor, web_url = services["actor"], services["web_url"]
    wait_until(lambda: loaded_versions(actor)[-1:] == [best.version], 60, "the actor to serve the best")
    served = loaded_versions(actor)
    assert set(served) <= promoted and not set(served) & lost, (served, gates)
    assert served == sorted(served), "the actor moved forward through promotions only"
    promoted_at = {
        e["version"]: e["timestamp"] for e in log_events(services["arena"].log_text(), "version promoted to best")
    }
    loaded_at = {e["version"]: e["timestamp"] for e in log_events(actor.log_text(), "model loaded")}
    assert all(loaded_at[v] >= promoted_at[v] for v in served), (
        "a version served before its promotion",
        loaded_at,
        promoted_at,
    )
    wait_until(lambda: get_json(f"{web_url}/api/model")["version"] == best.version, 60, "the web to serve the best")
    assert get_json(f"{web_url}/ready")["ready"]
    first_loaded = min(served)
    assert gates[first_loaded]["against"] == "uniform-prior", "the first best beat the uniform prior"


@pytest.mark.slow
def test_always_followers_serve_the_newest_version_and_nothing_is_promoted(tmp_path, start_service):
    env = stack_env(tmp_path, "always")
    store, services = run_stack(tmp_path, start_service, env, web=False)
    gates = arena_rows(env["REPLAY_URL"])
    assert gates and all(gate is None for gate in gates.values()), "under always the arena only rates"
    assert store.best("tictactoe") is None
    actor = services["actor"]
    wait_until(lambda: loaded_versions(actor)[-1:] == [ITERATIONS], 60, "the actor to serve the newest version")
    assert loaded_versions(actor) == sorted(loaded_versions(actor))
