"""One replay-buffer specification, run against SQLite and against a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.replay import IterationRecord, ReplayUnavailable, open_replay, open_training_log
from testkit.postgres import drop_connections
from testkit.replay_reads import episode_transitions, recent_episodes
from testkit.support import free_port, kill_9_while_running, random_episode


def test_an_episode_round_trips_exactly(replay, make_episode):
    episode = make_episode("connect4", model_version=3)
    replay.append_episode(episode)
    stored = episode_transitions(replay, episode.episode_id)
    assert len(stored) == len(episode.transitions)
    for a, b in zip(episode.transitions, stored, strict=True):
        assert a.step == b.step and a.action == b.action and a.value == b.value
        assert np.array_equal(a.observation, b.observation) and np.array_equal(a.policy, b.policy)
    (recent,) = recent_episodes(replay, "connect4")
    assert recent["episode_id"] == episode.episode_id and recent["model_version"] == 3
    assert recent["moves"] == len(episode.transitions) and recent["winner"] == episode.winner


def test_a_mixed_value_target_is_stored_and_sampled_as_written(replay, make_episode):
    # VALUE_TARGET_MIX puts values between the results: the column must not round them to -1, 0 or 1.
    # (Values exact in float32, as PostgreSQL's REAL keeps them.)
    episode = make_episode("tictactoe")
    mixed = [replace(t, value=(0.375, -0.625)[t.step % 2]) for t in episode.transitions]
    replay.append_episode(replace(episode, transitions=mixed))
    assert [t.value for t in episode_transitions(replay, episode.episode_id)] == [t.value for t in mixed]
    assert set(replay.sample("tictactoe", 64, 100).values.tolist()) == {0.375, -0.625}


def test_counts_are_per_game(replay, make_episode):
    episodes = [make_episode("tictactoe") for _ in range(3)] + [make_episode("connect4") for _ in range(2)]
    for e in episodes:
        replay.append_episode(e)
    assert replay.count_episodes() == 5 and replay.count_episodes("tictactoe") == 3
    assert replay.count_transitions("connect4") == sum(len(e.transitions) for e in episodes[3:])
    assert replay.episodes_per_second("tictactoe", 60) == pytest.approx(3 / 60)


def test_sample_draws_from_the_newest_window_only(replay):
    game, rng = get_game("tictactoe"), np.random.default_rng(0)
    old = [random_episode(game, rng, model_version=1) for _ in range(30)]
    new = [random_episode(game, rng, model_version=2) for _ in range(30)]
    for e in old + new:
        replay.append_episode(e)
    window = sum(len(e.transitions) for e in new)
    batch = replay.sample("tictactoe", 512, window)
    assert batch.observations.shape == (512, 2, 3, 3) and batch.policies.shape == (512, 9)
    new_rows = {(t.observation.tobytes(), t.policy.tobytes()) for e in new for t in e.transitions}
    sampled = {(o.tobytes(), p.tobytes()) for o, p in zip(batch.observations, batch.policies, strict=True)}
    assert sampled <= new_rows
    assert len(sampled) > window // 3, "sampling should spread over the window"
    assert replay.sample("connect4", 8, 100) is None


def test_a_failing_episode_leaves_no_rows(replay, make_episode):
    episode = make_episode()
    broken = replace(
        episode, transitions=[*episode.transitions[:-1], replace(episode.transitions[-1], policy=np.zeros(3))]
    )
    with pytest.raises(ValueError, match="do not match"):
        replay.append_episode(broken)
    with pytest.raises(ValueError, match="no transitions"):
        replay.append_episode(replace(episode, transitions=[]))
    shuffled = [episode.transitions[1], episode.transitions[0], *episode.transitions[2:]]
    with pytest.raises(ValueError, match="has step 1"):
        replay.append_episode(replace(episode, transitions=shuffled))
    with pytest.raises(ValueError, match="batch_size >= 1"):
        replay.sample(episode.env_id, 0, 100)
    duplicate = make_episode()
    replay.append_episode(duplicate)
    replay.append_episode(duplicate)  # a retry after a commit whose answer was lost: stored once, whole
    assert replay.count_episodes() == 1
    assert replay.count_transitions() == len(duplicate.transitions)
    assert len(episode_transitions(replay, duplicate.episode_id)) == len(duplicate.transitions)


def test_iterations_are_recorded_and_replaced(replay_url):
    with open_training_log(replay_url) as log:
        for i in (1, 2, 3):
            log.record_iteration(IterationRecord("connect4", i, i, 1.0 / i, 0.5, 1.0 / i + 0.5, 10 * i, 100 * i, 2.0))
        log.record_iteration(IterationRecord("connect4", 3, 4, 0.1, 0.1, 0.2, 30, 300, 2.0))
        records = log.iterations("connect4")
        assert [r.iteration for r in records] == [1, 2, 3] and records[-1].model_version == 4
        assert [r.iteration for r in log.iterations("connect4", limit=2)] == [2, 3]
        assert log.iterations("tictactoe") == []
        assert (log.last_iteration("connect4"), log.last_iteration("tictactoe")) == (3, 0)


def _write_episodes(url: str, count: int, seed: int) -> None:
    game, rng = get_game("connect4"), np.random.default_rng(seed)
    with open_replay(url) as replay:
        for _ in range(count):
            replay.append_episode(random_episode(game, rng, actor_id=f"writer-{seed}"))


def test_concurrent_writer_processes_lose_nothing(replay, replay_url):
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_episodes, args=(replay_url, 25, seed)) for seed in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    recent = recent_episodes(replay, "connect4", limit=1000)
    assert replay.count_episodes("connect4") == 100 == len({e["episode_id"] for e in recent})
    assert {e["actor_id"] for e in recent} == {f"writer-{i}" for i in range(4)}
    assert replay.count_transitions("connect4") == sum(e["moves"] for e in recent)


WRITER = """
import sys, numpy as np
from cartridge.games import get_game
from cartridge.replay import open_replay
from testkit.support import random_episode
game, rng = get_game("connect4"), np.random.default_rng()
with open_replay(sys.argv[1]) as replay:
    print("ready", flush=True)
    while True:
        replay.append_episode(random_episode(game, rng))
"""


def test_kill_9_while_writing_never_leaves_a_partial_episode(replay, replay_url):
    for round_ in range(5):
        kill_9_while_running(WRITER, replay_url, 0.2 + 0.15 * round_)
    episodes = recent_episodes(replay, "connect4", limit=100_000)
    assert len(episodes) > 5
    for episode in episodes:
        steps = [t.step for t in episode_transitions(replay, episode["episode_id"])]
        assert steps == list(range(episode["moves"])), episode["episode_id"]
    assert replay.count_transitions("connect4") == sum(e["moves"] for e in episodes)


def test_an_unreachable_server_is_a_prompt_clear_error():
    url = f"postgresql://cartridge:hunter2@127.0.0.1:{free_port()}/replay"
    started = time.monotonic()
    with pytest.raises(ReplayUnavailable) as err:
        open_replay(url)
    assert time.monotonic() - started < 10
    assert "127.0.0.1" in str(err.value) and "hunter2" not in str(err.value)


@pytest.mark.parametrize("url", ["sqlite://relative.db", "mysql://x/y"])
def test_bad_urls_are_rejected_with_the_accepted_forms(url):
    with pytest.raises(ReplayUnavailable, match="sqlite:///"):
        open_replay(url)


def test_an_unopenable_sqlite_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReplayUnavailable, match="cannot open the SQLite replay buffer"):
        open_replay(f"sqlite:///{blocker}/replay.db")


def test_postgres_reconnects_after_the_server_drops_the_connection(postgres_database, make_episode):
    with open_replay(postgres_database) as replay:
        replay.append_episode(make_episode())
        drop_connections(postgres_database)  # what a server restart does to an open connection
        with pytest.raises(ReplayUnavailable, match="failed"):
            replay.count_episodes()  # the operation that finds the connection gone fails, clearly
        assert replay.count_episodes() == 1  # the next one reconnects
        replay.ping()
        replay.append_episode(make_episode())
        assert replay.count_episodes() == 2


def test_the_password_can_come_from_pgpassword_as_in_the_cluster(monkeypatch, docker_engine):
    """k8s sets REPLAY_URL without a password and PGPASSWORD from the Secret: a generated password with
    '@', '/', ':' and '%' in it would break a URL, but not libpq's variable."""
    from testkit.postgres import postgres_server

    password = "p@ss/w:rd%41"
    with postgres_server(password=password) as url:
        assert password not in url
        monkeypatch.setenv("PGPASSWORD", password)
        with open_replay(url) as replay:
            replay.ping()
            assert replay.count_episodes() == 0
        monkeypatch.setenv("PGPASSWORD", "wrong")
        with pytest.raises(ReplayUnavailable, match="password authentication failed"):
            open_replay(url)
