"""Opening the PostgreSQL buffer on a database that has its schema takes no table lock: a service that starts
while the pruner deletes (transitions, then episodes) neither waits for it nor deadlocks with it. Found by the
chaos suite: an actor restarted during pruning failed with "deadlock detected" at start-up."""

from __future__ import annotations

import psycopg

from cartridge.replay import ReplayTimeouts, open_replay


def test_opening_the_buffer_mid_prune_neither_waits_nor_deadlocks(postgres_database, make_episode):
    timeouts = ReplayTimeouts(statement_seconds=2)  # a lock wait fails within 2 s instead of the default 30
    with open_replay(postgres_database, timeouts) as replay:
        replay.append_episode(make_episode())
    with psycopg.connect(postgres_database) as pruner:  # the pruner's transaction, in its lock order
        pruner.execute("DELETE FROM transitions WHERE step < 0")
        # Before the fix this raised ReplayUnavailable (a lock wait).
        with open_replay(postgres_database, timeouts) as started:
            assert started.count_episodes() == 1
        pruner.execute("DELETE FROM episodes WHERE moves < 0")
        pruner.commit()
