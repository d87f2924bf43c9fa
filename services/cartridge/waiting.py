"""The one bounded wait of the project: ask "why not yet?" until the answer is "ready" or the time is up.

It lives in the shared library because both sides wait: the images (the replay set-up Job waits for PostgreSQL)
and devtools, which wraps it in ``devtools.wait`` to add a hint for the person at the terminal. Every timeout is
the same sentence: ``<what> did not become ready within <N> s (<the last reason>)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WhyNot = Callable[[], str | None]  # None when ready, else why not yet (one short phrase)


class Waiting(str):
    """What ``progress`` hears while a wait goes on: the text "waiting for <what>: <reason>", and both parts. A
    str, so any callback takes it; one that knows the type (devtools.progress) shows it on the waiting step's own
    line instead of a line of its own each second."""

    what: str
    reason: str

    def __new__(cls, what: str, reason: str) -> Waiting:
        message = super().__new__(cls, f"waiting for {what}: {reason}")
        message.what, message.reason = what, reason
        return message


class NotReadyInTime(Exception):
    """A bounded wait ran out: ``what`` was still not ready after ``timeout`` seconds, for ``reason``."""

    def __init__(self, what: str, timeout: float, reason: str) -> None:
        super().__init__(f"{what} did not become ready within {timeout:.0f} s ({reason})")
        self.what = what
        self.timeout = timeout
        self.reason = reason


def wait_until_ready(
    what: str,
    why_not: WhyNot,
    timeout: float,
    *,
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> None:
    """Call ``why_not`` every ``interval`` seconds until it returns None; after ``timeout`` seconds raise
    NotReadyInTime with its last reason. It is asked at least once, and once more at the bound. ``progress``
    (if given) hears "waiting for <what>: <reason>" after each answer that is not ready."""
    deadline = time.monotonic() + timeout
    while True:
        reason = why_not()
        if reason is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotReadyInTime(what, timeout, reason)
        if progress is not None:
            progress(Waiting(what, reason))
        time.sleep(min(interval, left))
