"""The one way devtools (and the tests, e2e and bench through testkit) waits for something to become ready.

``wait_until_ready`` asks a "why not yet" callback (None once ready, else one short reason) until it says ready
or a bounded wait runs out. Every timeout is the same sentence, ``<what> did not become ready within <N> s
(<the last reason>)``, with a hint saying where to look.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from devtools.errors import DevtoolsError

WhyNot = Callable[[], str | None]  # None when ready, else why not yet (one short phrase)


class WaitTimeout(DevtoolsError):
    """A bounded wait ran out: ``what`` was still not ready after ``timeout`` seconds, for ``reason``."""

    def __init__(self, what: str, timeout: float, reason: str, hint: str = "") -> None:
        super().__init__(f"{what} did not become ready within {timeout:.0f} s ({reason})", hint)
        self.what = what
        self.timeout = timeout
        self.reason = reason


def wait_until_ready(
    what: str,
    why_not: WhyNot,
    timeout: float,
    *,
    hint: str = "",
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> None:
    """Call ``why_not`` every ``interval`` seconds until it returns None; after ``timeout`` seconds raise WaitTimeout
    with its last reason. It is asked at least once, and once more at the bound. ``progress`` (if given) hears
    "waiting for <what>: <reason>" after each answer that is not ready."""
    deadline = time.monotonic() + timeout
    while True:
        reason = why_not()
        if reason is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, timeout, reason, hint)
        if progress is not None:
            progress(f"waiting for {what}: {reason}")
        time.sleep(min(interval, left))
