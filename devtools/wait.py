"""The one way devtools (and the tests, e2e and bench through testkit) waits for something to become ready.

The wait itself is ``cartridge.waiting.wait_until_ready`` (the images wait with it too); this adds the hint that
says where to look, and raises a DevtoolsError, so the CLI prints the one sentence and the hint.
"""

from __future__ import annotations

from collections.abc import Callable

from cartridge import waiting
from cartridge.waiting import WhyNot
from devtools.errors import DevtoolsError

__all__ = ["WaitTimeout", "WhyNot", "wait_until_ready"]


class WaitTimeout(DevtoolsError):
    """A bounded wait ran out (``cause`` says what, the bound and the last reason), with devtools' hint."""

    def __init__(self, cause: waiting.NotReadyInTime, hint: str = "") -> None:
        super().__init__(str(cause), hint)
        self.what, self.timeout, self.reason = cause.what, cause.timeout, cause.reason


def wait_until_ready(
    what: str,
    why_not: WhyNot,
    timeout: float,
    *,
    hint: str = "",
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> None:
    """``cartridge.waiting.wait_until_ready``, whose timeout becomes a WaitTimeout carrying ``hint``."""
    try:
        waiting.wait_until_ready(what, why_not, timeout, progress=progress, interval=interval)
    except waiting.NotReadyInTime as exc:
        raise WaitTimeout(exc, hint) from None
