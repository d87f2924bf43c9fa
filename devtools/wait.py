"""The one way devtools (and the tests, e2e and bench through testkit) waits for something to become ready.

The wait itself is ``cartridge.waiting.wait_until_ready`` (the images wait with it too); this adds the hint that
says where to look, and raises a DevtoolsError, so the CLI prints the one sentence and the hint.

It also holds `devtools up --timeout`: inside ``with deadline(seconds):`` every wait is bounded by the time left
until that deadline, instead of its own bound (the rollouts' 600 s, the add-ons' minutes), so one number bounds
all the waiting of one `up`, as `kubectl wait --timeout` and `tilt ci --timeout` do for theirs. A wait that runs
out of it says so (``WaitTimeout.deadline``), for the CLI to name the step.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from cartridge import waiting
from cartridge.waiting import Waiting, WhyNot
from devtools.errors import DevtoolsError

__all__ = ["WaitTimeout", "Waiting", "WhyNot", "deadline", "time_left", "wait_until_ready"]

# (the bound in seconds, its end on the monotonic clock) of the `with deadline(...)` around this code, if any
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("devtools_wait_deadline", default=None)


class WaitTimeout(DevtoolsError):
    """A bounded wait ran out (``cause`` says what, the bound and the last reason), with devtools' hint.
    ``deadline`` is the `--timeout` in seconds when that was the bound that ran out, else None."""

    def __init__(self, cause: waiting.NotReadyInTime, hint: str = "", deadline: float | None = None) -> None:
        super().__init__(str(cause), hint)
        self.what, self.timeout, self.reason = cause.what, cause.timeout, cause.reason
        self.deadline = deadline


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Bound every wait inside by one deadline ``seconds`` from now (None: each wait keeps its own bound)."""
    token = _DEADLINE.set(None if seconds is None else (seconds, time.monotonic() + seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds until the deadline of the `with deadline(...)` around the caller (never below 0); None without one."""
    bound = _DEADLINE.get()
    return None if bound is None else max(0.0, bound[1] - time.monotonic())


def deadline_ran_out(what: str, reason: str, hint: str = "") -> WaitTimeout:
    """The WaitTimeout of a wait that `up --timeout`'s deadline bounded outside wait_until_ready (`tilt ci`, which
    devtools waits for as a process): it names the --timeout as given, as wait_until_ready's own does."""
    bound = _DEADLINE.get()
    seconds = None if bound is None else bound[0]
    return WaitTimeout(waiting.NotReadyInTime(what, seconds or 0, reason), hint, deadline=seconds)


def wait_until_ready(
    what: str,
    why_not: WhyNot,
    timeout: float,
    *,
    hint: str = "",
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> None:
    """``cartridge.waiting.wait_until_ready``, whose timeout becomes a WaitTimeout carrying ``hint``; inside
    ``with deadline(...)`` bounded by the time left instead of ``timeout``."""
    bound = _DEADLINE.get()
    left = time_left()
    try:
        waiting.wait_until_ready(what, why_not, timeout if left is None else left, progress=progress, interval=interval)
    except waiting.NotReadyInTime as exc:
        if bound is not None:
            raise WaitTimeout(waiting.NotReadyInTime(exc.what, bound[0], exc.reason), hint, deadline=bound[0]) from None
        raise WaitTimeout(exc, hint) from None
