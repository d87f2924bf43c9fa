"""A PostgreSQL server frozen with SIGSTOP (as a hung host is: its kernel still acknowledges TCP, so no
keepalive or TCP timeout fires) is noticed within the stated bound, and the buffer recovers after SIGCONT."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartridge.replay import ReplayUnavailable, open_replay

STATEMENT_TIMEOUT = 2  # seconds: the bound is this + 1 s (postgres.DEADLINE_GRACE_SECONDS)
WAIT_AT_MOST = 60  # seconds the test waits for an operation before calling it hung (no timing is asserted)


def server_pids(backend_pid: int) -> list[int]:
    """The postmaster serving ``backend_pid`` and every process it started."""
    postmaster = int(Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    for pid in pids:  # the postmaster first, so it starts no process that would miss the freeze
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


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


def test_a_frozen_server_fails_each_operation_within_the_bound_and_the_buffer_recovers(
    postgres_database, make_episode, monkeypatch
):
    if os.environ.get("CARTRIDGE_TEST_POSTGRES_URL"):
        pytest.skip("the server is not ours to freeze (CARTRIDGE_TEST_POSTGRES_URL)")
    monkeypatch.setenv("REPLAY_STATEMENT_TIMEOUT", str(STATEMENT_TIMEOUT))
    monkeypatch.setenv("REPLAY_CONNECT_TIMEOUT", str(STATEMENT_TIMEOUT))
    with open_replay(postgres_database) as replay:
        replay.append_episode(make_episode())
        ((backend,),) = replay._fetch("SELECT pg_backend_pid()")
        with frozen(server_pids(backend)):
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
