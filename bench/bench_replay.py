"""Replay-buffer insert rate with 4 concurrent writer processes (PostgreSQL and SQLite) while a pruner keeps
the buffer under a bound a quarter of what they write (as the trainer does under REPLAY_MAX_TRANSITIONS),
and sample rate.

Writers append realistic connect4 episodes (random games: ~20-40 moves, 2x6x7 observation, 7-way
policy). PostgreSQL is a real server in a container (testkit/postgres.py: testcontainers, POSTGRES_IMAGE), or
CARTRIDGE_TEST_POSTGRES_URL; a Docker engine must answer.

    .venv/bin/python -m bench.bench_replay
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
import uuid

import numpy as np

from bench.games import MEASURED_GAME
from cartridge.games import get_game
from cartridge.replay import open_replay
from testkit.postgres import fresh_database, postgres_server
from testkit.support import random_episode

WRITERS = 4
EPISODES_PER_WRITER = 150
TARGET_PG = 5_000
BOUND = 4_000  # transitions kept; the writers add ~18,000


def writer(url: str, seed: int, start: multiprocessing.Event, out: multiprocessing.Queue) -> None:
    game, rng = get_game(MEASURED_GAME), np.random.default_rng(seed)
    episodes = [random_episode(game, rng) for _ in range(EPISODES_PER_WRITER)]  # made before the clock starts
    with open_replay(url) as replay:
        start.wait()
        began = time.perf_counter()
        for episode in episodes:
            replay.append_episode(episode)
        out.put((sum(len(e.transitions) for e in episodes), began, time.perf_counter()))


def pruner(url: str, start: multiprocessing.Event, stop: multiprocessing.Event, out: multiprocessing.Queue) -> None:
    """Prunes as the trainer does, but every 50 ms instead of every second: more, smaller deletes beside
    the inserts, the harder case for the writers."""
    with open_replay(url) as replay:
        start.wait()
        pruned = 0
        while not stop.wait(0.05):
            pruned += replay.prune(MEASURED_GAME, BOUND)
        out.put(pruned + replay.prune(MEASURED_GAME, BOUND))


def insert_rate(url: str) -> tuple[float, int, int]:
    """Transitions/s into the buffer with the pruner running; transitions pruned; transitions left."""
    ctx = multiprocessing.get_context("spawn")
    start, stop, out, pruned_out = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    open_replay(url).close()  # schema first, outside the measurement
    procs = [ctx.Process(target=writer, args=(url, s, start, out)) for s in range(WRITERS)]
    prune_proc = ctx.Process(target=pruner, args=(url, start, stop, pruned_out))
    for p in [*procs, prune_proc]:
        p.start()
    time.sleep(3)  # let every writer build its episodes and connect
    start.set()
    results = [out.get(timeout=600) for _ in procs]
    stop.set()
    pruned = pruned_out.get(timeout=600)
    for p in [*procs, prune_proc]:
        p.join()
    with open_replay(url) as replay:
        left = replay.counts(MEASURED_GAME).stored_transitions
    rows = sum(r[0] for r in results)
    return rows / (max(r[2] for r in results) - min(r[1] for r in results)), pruned, left


def sample_rate(url: str, seconds: float = 3.0) -> float:
    with open_replay(url) as replay:
        batches, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            replay.sample(MEASURED_GAME, 128, 50_000)
            batches += 1
    return batches * 128 / (time.perf_counter() - began)


def main() -> None:
    # fsync and synchronous commit on: the durability the cluster's PostgreSQL has.
    with postgres_server(durable=True) as server, fresh_database(server, f"bench_{uuid.uuid4().hex[:8]}") as pg_url:
        (pg_insert, pg_pruned, pg_left), pg_sample = insert_rate(pg_url), sample_rate(pg_url)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/replay.db"
        (sqlite_insert, sqlite_pruned, sqlite_left), sqlite_sample = insert_rate(sqlite_url), sample_rate(sqlite_url)
    print(
        f"{WRITERS} writer processes x {EPISODES_PER_WRITER} connect4 episodes each (2 cores), one pruner keeping "
        f"{BOUND:,} transitions; PostgreSQL with fsync and synchronous commit on, SQLite WAL with synchronous=NORMAL\n"
    )
    print(
        f"{'backend':12} {'insert transitions/s':>22} {'vs target':>10} {'pruned':>8} {'left':>6} "
        f"{'sampled transitions/s':>23}"
    )
    print(
        f"{'postgresql':12} {pg_insert:22,.0f} {pg_insert / TARGET_PG:9.1f}x {pg_pruned:8,} {pg_left:6,} "
        f"{pg_sample:23,.0f}"
    )
    print(f"{'sqlite':12} {sqlite_insert:22,.0f} {'':>10} {sqlite_pruned:8,} {sqlite_left:6,} {sqlite_sample:23,.0f}")
    print(f"\ntarget: >= {TARGET_PG:,} transitions/s into PostgreSQL with {WRITERS} concurrent writers, pruning on")


if __name__ == "__main__":
    main()
