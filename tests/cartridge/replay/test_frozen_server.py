"""A PostgreSQL server frozen (its container paused by the cgroup freezer: every server process stops, as under
SIGSTOP, and the kernel still acknowledges TCP as a hung host's does, so no keepalive or TCP timeout fires) is
noticed within the stated bound, and the buffer recovers once it is thawed."""

from __future__ import annotations

import os
import threading

import pytest

from cartridge.replay import ReplayTimeouts, ReplayUnavailable, open_replay
from testkit.postgres import frozen_server

STATEMENT_TIMEOUT = 2  # seconds: the bound is this + 1 s (postgres.DEADLINE_GRACE_SECONDS)
WAIT_AT_MOST = 60  # seconds the test waits for an operation before calling it hung (no timing is asserted)


def outcome(operation) -> BaseException | str:
    """What ``operation`` raised, "returned", or "hung" when it has not finished within WAIT_AT_MOST."""
    result: list[BaseException | str] = []

    def run() -> None:
        try:
            operation()
            result.append("returned")
        except BaseException as exc:  # reported to the test
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT_AT_MOST)
    return result[0] if result else "hung"


def test_a_frozen_server_fails_each_operation_within_the_bound_and_the_buffer_recovers(postgres_database, make_episode):
    if os.environ.get("CARTRIDGE_TEST_POSTGRES_URL"):
        pytest.skip("the server is not ours to freeze (CARTRIDGE_TEST_POSTGRES_URL)")
    timeouts = ReplayTimeouts(connect_seconds=STATEMENT_TIMEOUT, statement_seconds=STATEMENT_TIMEOUT)
    with open_replay(postgres_database, timeouts) as replay:
        replay.append_episode(make_episode())
        with frozen_server(postgres_database):
            # On the open connection: the watchdog shuts it down (no server-side timeout can fire).
            first = outcome(lambda: replay.append_episode(make_episode()))
            assert isinstance(first, ReplayUnavailable), first
            assert f"no answer within {STATEMENT_TIMEOUT + 1} s" in str(first)
            # The next one reconnects, and the frozen server does not answer the connection either.
            second = outcome(replay.count_episodes)
            assert isinstance(second, ReplayUnavailable) and "cannot reach" in str(second), second
        # Thawed: the next operation reconnects and works; the interrupted episode is whole or absent.
        replay.append_episode(make_episode())
        assert replay.count_episodes() in (2, 3)
