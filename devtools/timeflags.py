"""The time flags of the CLI, read as kubectl and docker read them: `up --timeout DURATION` and
`logs --since DURATION|TIME`.

A duration is Go's (time.ParseDuration, which kubectl's `--since` and `tilt ci --timeout` use): a sequence
of decimal numbers with a unit each, `90s`, `10m`, `1h30m`, `1.5h`, `500ms`. A bare number is refused, as Go
refuses it: `--since 10` would be ten what? A time is RFC3339 (`2025-06-01T10:00:00Z`, with an offset or
fractional seconds), as kubectl's `--since-time` wants; docker also takes one without a zone and reads it as
local time, and so do we.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
DURATION_EXAMPLES = "a duration like 30s, 10m, 1h or 1h30m"


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1h30m`` is 5400.0); ValueError for anything else, negative ones included."""
    text = text.strip()
    position, seconds = 0, 0.0
    while position < len(text):
        term = _TERM.match(text, position)
        if term is None:
            raise ValueError(f"{text!r} is not {DURATION_EXAMPLES}")
        seconds += float(term.group(1)) * _UNITS[term.group(2)]
        position = term.end()
    if not text:
        raise ValueError(f"an empty value is not {DURATION_EXAMPLES}")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400`` as ``1h30m``, ``90`` as ``1m30s``, ``42.5`` as ``42.5s``: how a user would write it."""
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def format_time(moment: datetime) -> str:
    """RFC3339 in UTC with a Z, to the microsecond: what the local runtime writes before each log line."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC3339 time (a zone-less one is local time) as an aware datetime; ValueError otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC3339 time like 2025-06-01T10:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


@dataclass(frozen=True)
class Since:
    """`--since`: a duration back from now, or an instant."""

    seconds: float | None = None
    time: datetime | None = None  # aware

    @classmethod
    def parse(cls, text: str) -> Since:
        try:
            return cls(seconds=parse_duration(text))
        except ValueError:
            pass
        try:
            return cls(time=parse_time(text))
        except ValueError:
            raise ValueError(f"{text!r} is neither {DURATION_EXAMPLES} nor a time like 2025-06-01T10:00:00Z") from None

    def cutoff(self, now: datetime | None = None) -> datetime:
        """The earliest time shown."""
        if self.time is not None:
            return self.time
        return (now or datetime.now(UTC)) - timedelta(seconds=self.seconds or 0)

    def kubectl_flag(self) -> str:
        """kubectl's own flag for it: `--since=<whole seconds>s` (it takes no fraction) or `--since-time`."""
        if self.time is not None:
            return f"--since-time={format_time(self.time).replace('.000000Z', 'Z')}"
        return f"--since={max(1, math.ceil(self.seconds or 0))}s"


class DurationType(click.ParamType):
    """A click parameter for a positive Go duration, in seconds."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} is not a positive duration", param, ctx)
        return seconds


class SinceType(click.ParamType):
    """A click parameter for `--since`: a Go duration or an RFC3339 time."""

    name = "duration|time"

    def convert(self, value, param, ctx) -> Since:
        if isinstance(value, Since):
            return value
        try:
            return Since.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
