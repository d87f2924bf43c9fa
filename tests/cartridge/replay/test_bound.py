"""REPLAY_MAX_TRANSITIONS: pruning keeps the buffer bounded, episodes whole, counts that never fall, and
sampling inside the window; run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.replay import open_replay
from testkit.replay_reads import episode_transitions, recent_episodes, stored_transitions
from testkit.support import random_episode

BOUND = 300  # transitions; tictactoe episodes are 5-9 moves, so ten times it is ~450 episodes


def assert_whole_and_counted(replay, env_id: str) -> list[dict]:
    """Every stored episode has all its transitions, and the counter rows agree with the rows."""
    stored = recent_episodes(replay, env_id, limit=100_000)
    for episode in stored:
        steps = [t.step for t in episode_transitions(replay, episode["episode_id"])]
        assert steps == list(range(episode["moves"])), f"partial episode {episode['episode_id']}"
    counts = replay.counts(env_id)
    assert counts.stored_episodes == len(stored)
    assert counts.stored_transitions == stored_transitions(replay, env_id) == sum(e["moves"] for e in stored)
    return stored


def test_writing_ten_times_the_bound_keeps_the_newest_whole_episodes_within_it(replay):
    game, rng = get_game("tictactoe"), np.random.default_rng(5)
    written = []
    while sum(len(e.transitions) for e in written) < 10 * BOUND:
        written.append(random_episode(game, rng, model_version=len(written)))
        replay.append_episode(written[-1])
        replay.prune("tictactoe", BOUND, batch_transitions=40)
        assert stored_transitions(replay, "tictactoe") <= BOUND
    stored = assert_whole_and_counted(replay, "tictactoe")
    # Oldest first: what is left is exactly the newest episodes, and nearly all the bound holds.
    kept = {e["episode_id"] for e in stored}
    assert kept == {e.episode_id for e in written[-len(kept) :]}
    assert sum(e["moves"] for e in stored) > BOUND - 9
    # The counts the trainer's trigger and /stats use never fell.
    counts = replay.counts("tictactoe")
    assert counts.episodes == replay.count_episodes("tictactoe") == len(written)
    assert counts.transitions == sum(len(e.transitions) for e in written)
    # Sampling draws only from the window, the newest transitions.
    window, newest_rows = 60, set()
    for episode in reversed(written):
        newest_rows |= {(t.observation.tobytes(), t.policy.tobytes()) for t in episode.transitions}
        window -= len(episode.transitions)
        if window <= 0:
            break
    batch = replay.sample("tictactoe", 256, 60)
    assert {(o.tobytes(), p.tobytes()) for o, p in zip(batch.observations, batch.policies, strict=True)} <= newest_rows


def test_pruning_beside_a_writer_loses_no_count_and_leaves_no_partial_episode(replay, replay_url):
    done, errors, written = threading.Event(), [], []

    def write() -> None:
        game, rng = get_game("connect4"), np.random.default_rng(8)
        try:
            with open_replay(replay_url) as writer:
                while writer.count_transitions("connect4") < 10 * BOUND:
                    episode = random_episode(game, rng)
                    writer.append_episode(episode)
                    writer.append_episode(episode)  # an idempotent retry: counted once
                    written.append(len(episode.transitions))
        except Exception as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    pruned = 0
    while not done.is_set():
        pruned += replay.prune("connect4", BOUND, batch_transitions=50)
    thread.join()
    assert not errors, errors
    pruned += replay.prune("connect4", BOUND, batch_transitions=50)
    stored = assert_whole_and_counted(replay, "connect4")
    counts = replay.counts("connect4")
    assert pruned > 0 and counts.stored_transitions <= BOUND
    assert counts.transitions == pruned + counts.stored_transitions == sum(written) >= 10 * BOUND
    assert counts.episodes == len(written) > len(stored)


def test_prune_refuses_a_bound_below_one(replay):
    with pytest.raises(ValueError, match="max_transitions >= 1"):
        replay.prune("tictactoe", 0)
