"""The actor as a real process: whole episodes only, clean stops, model swaps, clear errors."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from types import SimpleNamespace

import pytest
import structlog

from cartridge.games import get_game
from cartridge.modelstore import open_model_store, sha256_hex
from cartridge.modelstore.base import ModelManifest
from cartridge.replay import open_replay
from cartridge.settings import Settings
from cartridge_actor.main import Actor
from testkit.postgres import outage
from testkit.replay_reads import episode_transitions, recent_episodes
from testkit.support import free_port, thread_nice, wait_until
from tests.health_probe import unhealthy_body

FAST = {"ENV_ID": "tictactoe", "MCTS_MAX_SIMS": "8", "ACTOR_PARALLEL_GAMES": "8", "MODEL_POLL_SECONDS": "0.5"}


def actor_env(tmp_path, **extra: str) -> dict[str, str]:
    return FAST | {
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "HTTP_PORT": str(free_port()),
        **extra,
    }


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def episode_count(url: str) -> int:
    with open_replay(url) as replay:
        return replay.count_episodes("tictactoe")


def assert_every_episode_is_whole(url: str) -> int:
    """Every stored episode is a whole game: its steps run 0..n-1 and its moves, replayed from the start,
    end the game with the stored winner (an unfinished game written on a stop would not)."""
    game = get_game("tictactoe")
    with open_replay(url) as replay:
        episodes = recent_episodes(replay, "tictactoe", limit=100_000)
        for episode in episodes:
            transitions = episode_transitions(replay, episode["episode_id"])
            steps = [t.step for t in transitions]
            assert steps == list(range(episode["moves"])), f"partial episode {episode['episode_id']}: {steps}"
            state = game.initial_state()
            for t in transitions:
                state = game.apply(state, t.action)
            assert state.terminal, f"episode {episode['episode_id']} stops before the game ends"
            assert game.winner(state) == episode["winner"]
        assert replay.count_transitions("tictactoe") == sum(e["moves"] for e in episodes)
    return len(episodes)


def test_the_actors_search_is_configured_from_its_settings(tmp_path):
    env = actor_env(tmp_path, SELFPLAY_SEARCH="gumbel", GUMBEL_CONSIDERED="3", GUMBEL_RESCALE="off")
    with open_replay(env["REPLAY_URL"]) as replay:
        actor = Actor(Settings.from_env(env), "a", replay, SimpleNamespace(current=None), structlog.get_logger())
    config = actor.selfplay.config
    assert (config.simulations, config.root, config.gumbel_considered, config.gumbel_rescale) == (8, "gumbel", 3, False)


@pytest.mark.parametrize("search", ["puct", "gumbel"])
def test_actor_stops_after_actor_max_episodes_with_exactly_that_many(tmp_path, start_service, search):
    env = actor_env(tmp_path, ACTOR_MAX_EPISODES="12", SELFPLAY_SEARCH=search)
    actor = start_service("cartridge_actor", env, "actor")
    assert actor.wait(timeout=120) == 0, actor.log_text()
    assert assert_every_episode_is_whole(env["REPLAY_URL"]) == 12
    assert "max episodes reached" in actor.log_text()
    # The search the setting names made the policy targets: visit shares of 8 simulations, or Gumbel's pi'.
    with open_replay(env["REPLAY_URL"]) as replay:
        shares = {
            round(float(p) * 8, 4)
            for e in recent_episodes(replay, "tictactoe", limit=100)
            for t in episode_transitions(replay, e["episode_id"])
            for p in t.policy
        }
    assert all(s == round(s) for s in shares) == (search == "puct"), sorted(shares)[:10]


def test_health_and_metrics_answer_while_playing(tmp_path, start_service):
    env = actor_env(tmp_path)
    start_service("cartridge_actor", env, "actor")
    port = env["HTTP_PORT"]
    health = wait_until(lambda: _try(get_json, f"http://127.0.0.1:{port}/health"), 60, "actor /health")
    assert health["status"] == "ok" and health["model_version"] == 0
    wait_until(lambda: episode_count(env["REPLAY_URL"]) >= 3, 60, "three episodes")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    written = [line for line in metrics.splitlines() if line.startswith('cartridge_episodes_total{env_id="tictactoe"}')]
    assert written and float(written[0].split()[-1]) >= 1


def test_actor_nice_lowers_every_thread_of_the_actor(tmp_path, start_service):
    env = actor_env(tmp_path, ACTOR_NICE="9")
    actor = start_service("cartridge_actor", env, "actor")
    health = wait_until(lambda: _try(get_json, f"http://127.0.0.1:{env['HTTP_PORT']}/health"), 60, "actor /health")
    wait_until(lambda: episode_count(env["REPLAY_URL"]) >= 1, 60, "an episode")  # the search's threads are running
    nice = thread_nice(health["pid"])
    assert len(nice) > 1 and set(nice.values()) == {9}, nice
    assert '"nice": 9' in actor.log_text()


def test_an_actor_that_writes_no_episode_for_health_stall_seconds_reports_unhealthy(tmp_path, start_service):
    # A connect4 round at this many simulations outlasts the test: no episode is ever written.
    env = actor_env(tmp_path, ENV_ID="connect4", MCTS_MAX_SIMS="1000000", HEALTH_STALL_SECONDS="3")
    actor = start_service("cartridge_actor", env, "actor")
    body = wait_until(lambda: unhealthy_body(env["HTTP_PORT"]), 60, "/health to answer 503")
    assert body["status"] == "stalled" and "no episode written" in body["problem"], body
    assert actor.proc.poll() is None, "stalled is for Kubernetes to act on: the process keeps running"
    # What the ActorsWriteNoEpisodes alert reads (k8s/components/monitoring): a counter at 0, not an absent series.
    with urllib.request.urlopen(f"http://127.0.0.1:{env['HTTP_PORT']}/metrics", timeout=5) as response:
        metrics = response.read().decode().splitlines()
    assert 'cartridge_episodes_total{env_id="connect4"} 0.0' in metrics


def test_sigterm_stops_promptly_and_writes_no_partial_episode(tmp_path, start_service):
    env = actor_env(tmp_path)
    actor = start_service("cartridge_actor", env, "actor")
    wait_until(lambda: episode_count(env["REPLAY_URL"]) >= 5, 60, "five episodes")
    started = time.monotonic()
    assert actor.stop(timeout=15) == 0
    assert time.monotonic() - started < 15
    assert "actor stopped" in actor.log_text() and "SIGTERM" in actor.log_text()
    assert assert_every_episode_is_whole(env["REPLAY_URL"]) >= 5


def test_kill_9_while_writing_never_leaves_a_partial_episode(tmp_path, start_service):
    env = actor_env(tmp_path)
    rng = random.Random(5)
    for _ in range(4):
        actor = start_service("cartridge_actor", env, "actor")
        before = episode_count(env["REPLAY_URL"])
        wait_until(lambda before=before: episode_count(env["REPLAY_URL"]) > before, 60, "an episode")
        time.sleep(rng.uniform(0.0, 0.5))
        actor.kill()
    assert assert_every_episode_is_whole(env["REPLAY_URL"]) >= 4


def test_actor_swaps_models_skips_a_corrupt_one_and_keeps_playing(tmp_path, start_service, tictactoe_model):
    env = actor_env(tmp_path)
    store = open_model_store(env["MODEL_STORE_URL"])
    actor = start_service("cartridge_actor", env, "actor")
    port = env["HTTP_PORT"]
    wait_until(lambda: episode_count(env["REPLAY_URL"]) >= 2, 60, "episodes before any model")

    store.publish("tictactoe", tictactoe_model)
    wait_until(lambda: get_json(f"http://127.0.0.1:{port}/health")["model_version"] == 1, 30, "the actor on v1")

    # A publication whose bytes match its manifest but are not a model: skipped, v1 stays in use.
    garbage = b"not an onnx model" * 100
    (tmp_path / "models" / "tictactoe" / "v000002.onnx").write_bytes(garbage)
    manifest = ModelManifest("tictactoe", 2, sha256_hex(garbage), len(garbage), time.time(), {})
    (tmp_path / "models" / "tictactoe" / "latest.json").write_bytes(manifest.to_json())
    wait_until(lambda: "model skipped" in actor.log_text(), 30, "the corrupt model to be skipped")
    count = episode_count(env["REPLAY_URL"])
    wait_until(lambda: episode_count(env["REPLAY_URL"]) > count, 60, "episodes after the corrupt publication")
    assert get_json(f"http://127.0.0.1:{port}/health")["model_version"] == 1

    store.publish("tictactoe", tictactoe_model)  # v3
    wait_until(lambda: get_json(f"http://127.0.0.1:{port}/health")["model_version"] == 3, 30, "the actor on v3")
    assert actor.proc.poll() is None, "the actor restarted or died"
    with open_replay(env["REPLAY_URL"]) as replay:
        versions = {e["model_version"] for e in recent_episodes(replay, "tictactoe", limit=10_000)}
    assert 0 in versions and 1 in versions


def test_bad_configuration_is_one_line_naming_the_variable(tmp_path, start_service):
    actor = start_service("cartridge_actor", actor_env(tmp_path, ENV_ID="chess", MCTS_MAX_SIMS="lots"), "actor")
    assert actor.wait(timeout=30) == 2
    out = actor.log_text()
    assert "ENV_ID" in out and "MCTS_MAX_SIMS" in out and "Traceback" not in out
    threads = start_service("cartridge_actor", actor_env(tmp_path, ORT_THREADS="many"), "actor-ort")
    assert threads.wait(timeout=30) == 2
    assert "ORT_THREADS='many'" in threads.log_text() and "Traceback" not in threads.log_text()


def test_a_taken_health_port_is_a_clear_error(tmp_path, start_service):
    import socket

    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        env = actor_env(tmp_path, HTTP_PORT=str(holder.getsockname()[1]))
        actor = start_service("cartridge_actor", env, "actor")
        assert actor.wait(timeout=30) == 3
    out = actor.log_text()
    assert "cannot listen" in out and env["HTTP_PORT"] in out and "Traceback" not in out


def _try(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None


def held_episode_ids(log_text: str) -> set[str]:
    """Ids of the finished episodes the actor held while the replay buffer was unavailable."""
    events = (json.loads(line) for line in log_text.splitlines() if line.startswith("{"))
    return {e["episode_id"] for e in events if e.get("event", "").startswith("replay buffer unavailable: holding")}


def test_a_database_restart_costs_the_actor_no_episode(postgres_database, tmp_path, start_service):
    """The database goes down for a while (its connections dropped, new ones refused): the actor holds
    the episode it finished meanwhile, retries, and once the database is back stores that very episode
    whole; nothing is lost, written twice or partial."""
    url = postgres_database
    actor = start_service("cartridge_actor", actor_env(tmp_path, REPLAY_URL=url), "actor")
    wait_until(lambda: episode_count(url) >= 3, 60, "three episodes")
    with outage(url):
        held = wait_until(lambda: held_episode_ids(actor.log_text()), 60, "the actor to hold a finished episode")
    wait_until(lambda: stored_ids(url) >= held, 60, f"the held episodes {sorted(held)} to be stored")
    before = episode_count(url)
    wait_until(lambda: episode_count(url) >= before + 3, 60, "episodes after the outage")
    assert actor.proc.poll() is None, actor.log_text()
    assert actor.stop(timeout=15) == 0
    assert assert_every_episode_is_whole(url) >= before + 3  # the held episodes among them, each whole


def stored_ids(url: str) -> set[str]:
    with open_replay(url) as replay:
        return {e["episode_id"] for e in recent_episodes(replay, "tictactoe", limit=100_000)}
