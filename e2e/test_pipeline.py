"""End to end: episode generation, training progress and model rollout, on the target's real stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import requests

from cartridge.arena import MctsPlayer, MinimaxPlayer, play_pairs, result_for
from cartridge.arena.ratings import fit_ratings
from cartridge.arena.ratings_store import RATED, RatingsStore
from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.modelstore import sha256_hex
from cartridge.settings import Settings
from devtools.http import request_json as get_json
from testkit.replay_reads import episode_transitions, recent_episodes
from testkit.support import wait_until

ROLLOUT_SECONDS = 20  # MODEL_POLL_SECONDS is 1 locally and 2 on kind; the bound leaves room for a busy CPU
MINIMAX_GAMES = 20  # the local target's strength check: the newest rated model against perfect play
# The local target's model must have trained this long before it meets minimax. The e2e profile trains with the
# minimax-proof recipe (devtools/profiles.py E2E_DIFFERENCES): measured on it, v2-v48 lost 1 game in 1,880 against
# minimax at the arena's 64 sims (40 per version). v10 leaves a margin for a loaded machine, and is reached in
# about 80 s on a quiet one. (At 256 sims even v1 loses none: the search, not the network, would be measured.)
LOCAL_STRENGTH_VERSION = 10
MINIMAX_SIMS = 64  # the search of that measurement (the arena's default); the e2e arena rates at 16
ITERATIONS_WAIT = 240  # seconds for six training iterations
RATING_WAIT = 360  # seconds for the arena to rate the newest of them
# test_training_progress waits for both in turn, then plays the minimax match: pytest-timeout's 600 s (pyproject)
# would end it exactly at its two waits. Its own bound: both waits + a quarter for the match and the reads.
TRAINING_PROGRESS_TIMEOUT = 1.25 * (ITERATIONS_WAIT + RATING_WAIT)  # 750 s
# The on-demand match runs first: v1 is still in the store then (retention keeps the newest MODEL_KEEP_VERSIONS, and
# locally more than ten versions are published within minutes). It waits for v2 (kind's first two connect4 iterations
# take a few minutes; training_progress allows 240 s for six), then plays; its Job on kind starts in seconds (the arena
# image is on the node already) and four games at 16 simulations take seconds more.
MATCH_WAIT = 240  # seconds for a second published version
MATCH_SECONDS = 180  # the match itself: devtools, the process or the Job, four games, the record
MATCH_TIMEOUT = 1.25 * (MATCH_WAIT + MATCH_SECONDS) + 10  # 535 s


def stats(stack) -> dict:
    return get_json(f"{stack.web_url}/stats")


@pytest.mark.timeout(MATCH_TIMEOUT)
def test_an_on_demand_match_between_v1_and_latest(stack):
    """`devtools match v1 latest` on the target's runtime (a process locally, a Job on kind): its JSON result is
    printed, stored as a row of its own, and shown under matches in /stats."""
    env = stats(stack)["env_id"]
    store = stack.store()
    wait_until(lambda: (m := store.latest(env)) and m.version >= 2, MATCH_WAIT, "a second published version")
    options, environ = stack.devtools_match()
    match = ["match", "v1", "latest", "--games", "4", "--sims", "16", "-o", "json", *options]
    done = subprocess.run(
        [sys.executable, "-m", "devtools.cli", *match],
        capture_output=True,
        text=True,
        env=environ,
        timeout=MATCH_SECONDS,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    a, b, score = result["players"]["a"], result["players"]["b"], result["result"]
    assert (result["kind"], result["env_id"]) == ("cartridge.match", env)
    assert (a["name"], a["spec"], b["spec"]) == ("v1", "v1", "latest") and int(b["name"][1:]) >= 2
    assert score["games"] == 4 == score["wins"] + score["draws"] + score["losses"]
    assert score["score"] == (score["wins"] + score["draws"] / 2) / 4
    assert 0 <= score["score_low"] <= score["score"] <= score["score_high"] <= 1 and score["method"] == "wilson"
    for colour in ("a_first", "a_second"):
        assert sum(result["by_colour"][colour].values()) == 2  # colours alternate
    with stack.replay() as replay:
        stored = {row.match_id: row for row in RatingsStore.reader_beside(replay).matches()}
    assert stored[result["id"]].detail == result
    shown = wait_until(
        lambda: [m for m in stats(stack)["matches"] if m["match_id"] == result["id"]], 10, "the match in /stats"
    )
    assert shown[0]["player_a"] == "v1" and shown[0]["games"] == 4
    print(f"\nmatch v1 against {b['name']}: {score['wins']}/{score['draws']}/{score['losses']}, score {score['score']}")


def test_episode_generation(stack):
    first = stats(stack)["episodes"]
    wait_until(lambda: stats(stack)["episodes"] >= first + 20, 120, "20 more episodes")
    with stack.replay() as replay:
        env = stats(stack)["env_id"]
        wait_until(lambda: len({e["actor_id"] for e in recent_episodes(replay, env, 200)}) >= 2, 120, "two actors")
        recent = recent_episodes(replay, env, 200)
        assert len({e["episode_id"] for e in recent}) == len(recent), "duplicate episode ids"
        # Each value is (1 - m) z + m q (VALUE_TARGET_MIX = m): z the mover's result, q the root's value in [-1, 1].
        mix = Settings.from_env({"VALUE_TARGET_MIX": v} if (v := stack.actor_setting("VALUE_TARGET_MIX")) else {})
        m = mix.value_target_mix
        searched = 0  # values whose q is not the result itself: the search's root values show in the targets
        for episode in recent[:10]:
            transitions = episode_transitions(replay, episode["episode_id"])
            assert [t.step for t in transitions] == list(range(episode["moves"]))
            for t in transitions:
                assert abs(float(t.policy.sum()) - 1) < 1e-4 and t.policy[t.action] > 0
                assert set(np.unique(t.observation)) <= {0.0, 1.0}
            # The last mover won, so the results alternate back from it; a draw is 0 for both.
            n = len(transitions)
            results = [(-1.0) ** (n - 1 - i) if episode["winner"] else 0.0 for i in range(n)]
            for t, z in zip(transitions, results, strict=True):
                if m == 0:
                    assert t.value == z, (episode["winner"], t.step, t.value)
                    continue
                q = (t.value - (1 - m) * z) / m
                assert -1 - 1e-5 <= q <= 1 + 1e-5, (episode["winner"], t.step, t.value, m)
                searched += abs(q - z) > 1e-5
        assert m == 0 or searched, f"VALUE_TARGET_MIX={m} but every value is the game's result"


@pytest.mark.timeout(TRAINING_PROGRESS_TIMEOUT)
def test_training_progress(stack):
    wait_until(lambda: stats(stack)["iteration"] >= 6, ITERATIONS_WAIT, "six training iterations")
    history = stats(stack)["loss_history"]
    iterations = [p["iteration"] for p in history]
    assert iterations == list(range(1, len(history) + 1))
    versions = [p["model_version"] for p in history]
    assert versions == sorted(set(versions)), "each iteration publishes a new version"
    published = stack.store().versions(stats(stack)["env_id"])
    assert published and max(published) >= versions[-1], f"the store holds {published}, /stats says {versions}"
    early = np.mean([p["total_loss"] for p in history[:2]])
    late = np.mean([p["total_loss"] for p in history[-2:]])
    assert late < early, f"loss did not fall: {early:.3f} -> {late:.3f}"
    trained = versions[-1] if stack.target == "kind" else max(versions[-1], LOCAL_STRENGTH_VERSION)
    assert_strength_rose(stack, stats(stack)["env_id"], trained)


def rated_versions(stack, env: str) -> dict[int, float]:
    """Rated version -> rating on one ladder: fitted now over every game the arena stored (the replay database),
    as the arena fits it. (Each row's own rating was fitted when that version was rated, over fewer games: two
    of them are not on one scale.)"""
    with stack.replay() as replay:
        store = RatingsStore.reader_beside(replay)
        rated = [r.version for r in store.results(env) if r.status == RATED]
        games = store.games(env)
    ladder = fit_ratings((g.first, g.second, g.first_score) for g in games) if games else {}
    return {version: ladder[f"v{version}"] for version in rated if f"v{version}" in ladder}


def assert_strength_rose(stack, env: str, trained: int) -> None:
    """The arena rated version 1 and a version at least as new as the one trained by now, and that one is
    stronger: a higher rating than v1's, and (local, tictactoe) no loss in 20 games against perfect minimax;
    (kind, connect4) at least 0.9 against random in the arena's own games."""
    ratings = wait_until(
        lambda: (r := rated_versions(stack, env)) and max(r) >= trained and r,
        RATING_WAIT,
        f"the arena to rate v{trained} or newer",
    )
    assert 1 in ratings, f"version 1 was not rated (the arena rated {sorted(ratings)}): nothing to compare with"
    newest = max(ratings)
    assert ratings[newest] > ratings[1], f"v{newest} rated {ratings[newest]:.0f}, not above v1's {ratings[1]:.0f}"
    if stack.target == "local":
        game, sims = get_game(env), MINIMAX_SIMS
        model = MctsPlayer(game, OnnxEvaluator(stack.store().read_version(env, newest), version=newest), sims)
        minimax = ("minimax", lambda rng: MinimaxPlayer(game, rng))
        # Seeded openings, colours alternating: the arena's own match code, replayable game by game.
        games = play_pairs(game, (f"v{newest}", lambda rng: model), minimax, MINIMAX_GAMES, f"e2e:{env}")
        result = result_for(f"v{newest}", games)
        print(f"\nminimax: v{newest} ({sims} sims) lost {result.losses} of {MINIMAX_GAMES}")
        lost = [g.moves for g in games if g.winner != 0 and (g.winner == 1) == (g.first == "minimax")]
        assert not lost, f"v{newest} ({sims} sims) lost {len(lost)} of {MINIMAX_GAMES} to minimax; moves: {lost}"
    else:
        with stack.replay() as replay:
            (row,) = [r for r in RatingsStore.reader_beside(replay).results(env) if r.version == newest]
        assert row.scores["random"]["score"] >= 0.9, f"v{newest} against random: {row.scores['random']}"
    print(f"\nstrength: v1 rated {ratings[1]:.0f}, v{newest} rated {ratings[newest]:.0f}")


def test_model_rollout(stack):
    env = stats(stack)["env_id"]
    store = stack.store()
    current = store.latest(env).version if store.latest(env) else 0
    wait_until(lambda: (m := store.latest(env)) and m.version > current, 180, "a new publication")
    new = store.latest(env).version
    published_at = time.monotonic()
    # One bound for the whole rollout: web and every actor within ROLLOUT_SECONDS of the publication.
    wait_until(
        lambda: get_json(f"{stack.web_url}/api/model?env_id={env}")["version"] >= new,
        ROLLOUT_SECONDS,
        "the web to serve the new model",
    )
    left = max(0.5, ROLLOUT_SECONDS - (time.monotonic() - published_at))
    wait_until(lambda: min(stack.actor_model_versions()) >= new, left, "every actor on the new model")
    took = time.monotonic() - published_at
    assert took <= ROLLOUT_SECONDS + 1, f"rollout took {took:.1f} s"
    served = get_json(f"{stack.web_url}/api/model?env_id={env}")
    assert served["sha256"] == sha256_hex(store.read_version(env, served["version"]))
    reply = get_json(f"{stack.web_url}/api/games/move", "POST", {"env_id": env, "moves": [], "action": 0})
    assert reply["model_version"] >= new and reply["model_move"] is not None
    print(f"\nrollout of v{new}: web and actors within {took:.1f} s")


def test_scaling_actors_adds_episode_throughput(stack):
    if stack.target != "kind":
        pytest.skip("the local runtime runs a fixed set of actors; scaling a Deployment is a kind-target check")

    def rate(seconds: float = 60) -> float:
        with stack.replay() as replay:
            start = replay.count_episodes()
            time.sleep(seconds)
            return (replay.count_episodes() - start) / seconds

    stack.scale_actors(1)
    one = rate()
    stack.scale_actors(3)
    three = rate()
    print(f"\nepisodes/s: 1 actor {one:.2f}, 3 actors {three:.2f}")
    assert three > one * 1.3


def test_the_gateway_serves_the_frontend_at_root_and_the_api_under_api(stack):
    if stack.gateway_url is None:
        pytest.skip("the local runtime has no Gateway; its web and frontend answer on their own ports")
    page = requests.get(f"{stack.gateway_url}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<div id="app">' in page.text, page.text[:300]
    model = requests.get(f"{stack.gateway_url}/api/model", timeout=10)
    assert model.status_code == 200 and model.headers["content-type"].startswith("application/json")
    assert {"version", "has_model"} <= set(model.json())
    assert requests.get(f"{stack.gateway_url}/stats", timeout=10).json()["env_id"] == stats(stack)["env_id"]


def test_the_actor_autoscaler_sees_cpu_utilization(stack):
    """kind has no metrics-server of its own: without the one devtools installs, the HPA shows <unknown>
    and never scales. metrics-server samples every 15 s, so the first reading takes a little while."""
    if stack.target != "kind":
        pytest.skip("the local runtime has no HorizontalPodAutoscaler")
    (utilization,) = wait_until(
        lambda: (u := stack.actor_cpu_utilization()) is not None and (u,),
        180,
        "the actor HPA to report current CPU utilization",
    )
    assert utilization >= 0
