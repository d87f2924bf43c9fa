"""The stack's own set-up bound, apart from pytest-timeout's per-test one.

pytest-timeout (`timeout = 600` in pyproject) times a test's fixtures together with the test unless
`func_only` is set, so a first deploy on kind (four image builds, then every rollout) would be killed
at 600 s inside the session fixture with a bare traceback. The e2e tests are marked `func_only`, and
bringing the stack up gets its own bound and message: which target, how long, and the last step it
reached. The signal method is pytest-timeout's own (SIGALRM in the main thread).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator

import pytest

SETUP_SECONDS = {"local": 300.0, "kind": 2400.0}  # kind: cluster, add-ons, 4 builds, rollouts on 2 cores


class StackSetupTimeout(Exception):
    """The stack did not come up within its bound."""


class Steps:
    """The progress messages of a set-up, so a timeout can say how far it got."""

    def __init__(self) -> None:
        self.last = "starting"

    def __call__(self, message: str) -> None:
        self.last = message


@contextlib.contextmanager
def bounded(seconds: float, what: str, steps: Steps) -> Iterator[None]:
    def expire(signum, frame):
        raise StackSetupTimeout(f"{what} did not come up within {seconds:.0f} s (last step: {steps.last})")

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # an alarm someone else had set (pytest-timeout's) keeps the time it had left
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


def time_tests_only(items: list[pytest.Item], directory: Callable[[pytest.Item], bool]) -> None:
    """pytest-timeout's bound for these tests covers the test function, not the session fixtures."""
    for item in items:
        if directory(item):
            marker = item.get_closest_marker("timeout")
            seconds = marker.args[0] if marker and marker.args else item.config.getini("timeout")
            item.add_marker(pytest.mark.timeout(float(seconds or 0), func_only=True))
