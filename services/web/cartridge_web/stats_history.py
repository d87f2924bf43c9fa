"""Incremental /stats: ``GET /stats?since=<cursor>`` sends only the history rows newer than the cursor.

Each of the three histories in /stats (``loss_history``, ``arena.versions``, ``matches``) is a window: the newest
N rows of a table that grows at its new end. A cursor records, for each, how many rows the client holds and the
identity of its newest row (its key and when it finished). An answer to ``since`` carries every other field as a
full answer does, and in the three lists only the rows ordered after that row; the client adds them at the new
end and keeps the newest ``lengths`` rows, which is the full answer's window, also when the window slid past all
it held (the server trims the same way). Where the rows the client holds cannot be the older part of the current
window (the newest one is gone or changed, or more rows sit at or below it than the client holds: a fresh
database, a re-recorded iteration, a row recorded behind the cursor), the answer is whole and says ``reset``.

The cursor is opaque to clients: base64url of a small JSON object, read back through a pydantic model, so a
cursor this server did not issue is a 422, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError

from .schemas import HistoryLengths, Stats

# Far above any real cursor (~200 characters), and small enough that decoding a hostile one costs nothing.
CURSOR_MAX_LENGTH = 1024
NOT_A_CURSOR = "not a cursor this server issued"


class BadCursor(ValueError):
    """A ``since`` that is no cursor this server issued."""


class ContinuityLost(Exception):
    """The client's rows are not the older part of the current window: it needs the whole answer."""


@dataclass(frozen=True)
class History:
    """One history list of /stats: where it sits, how its rows are told apart and ordered."""

    name: str  # its key in the cursor and in ``lengths``
    rows: Callable[[Stats], list]
    identity: Callable[[Any], tuple]  # what the cursor keeps of the newest row
    order: Callable[[tuple], Any]  # an identity's place in the window, oldest lowest
    update: Callable[[Stats, list], dict]  # the model_copy update that puts ``rows`` in place


HISTORIES = (
    History(
        "loss_history",
        rows=lambda s: s.loss_history,
        identity=lambda p: (p.iteration, p.finished_at),
        order=lambda mark: mark[0],
        update=lambda s, rows: {"loss_history": rows},
    ),
    History(
        "arena_versions",
        rows=lambda s: s.arena.versions,
        identity=lambda v: (v.version, v.finished_at),
        order=lambda mark: mark[0],
        update=lambda s, rows: {"arena": s.arena.model_copy(update={"versions": rows})},
    ),
    History(
        "matches",
        rows=lambda s: s.matches,
        identity=lambda m: (m.finished_at, m.match_id),  # several matches may finish in the same second
        order=lambda mark: mark,
        update=lambda s, rows: {"matches": rows},
    ),
)


class _Cursor(BaseModel):
    """For each history: [rows the client holds, the newest row's identity], or null when it holds none."""

    model_config = ConfigDict(extra="forbid")
    loss_history: tuple[NonNegativeInt, tuple[int, float]] | None
    arena_versions: tuple[NonNegativeInt, tuple[int, float]] | None
    matches: tuple[NonNegativeInt, tuple[float, str]] | None


def cursor_of(stats: Stats) -> str:
    """The cursor for a client that holds the whole of ``stats``' histories."""
    marks = {}
    for history in HISTORIES:
        rows = history.rows(stats)
        newest = max((history.identity(r) for r in rows), key=history.order, default=None)
        marks[history.name] = None if newest is None else [len(rows), list(newest)]
    raw = json.dumps(marks, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(text: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return _Cursor.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError):  # ValidationError covers bad JSON too
        raise BadCursor(NOT_A_CURSOR) from None


def increment(full: Stats, since: _Cursor) -> Stats:
    """``full`` with only the history rows newer than ``since`` (``reset`` false), or ``full`` itself (``reset``
    true) when the client's rows cannot continue into the current windows."""
    update: dict = {"reset": False}
    try:
        for history in HISTORIES:
            rows = history.rows(full)
            newer = _newer(history, rows, getattr(since, history.name))
            update |= history.update(full, newer)
    except ContinuityLost:
        return full
    return full.model_copy(update=update)


def _newer(history: History, rows: list, mark: tuple | None) -> list:
    if mark is None:
        return rows
    held, newest = mark
    cut = history.order(newest)
    older = [r for r in rows if history.order(history.identity(r)) <= cut]
    if older and (newest not in {history.identity(r) for r in older} or len(older) > held):
        raise ContinuityLost
    return [r for r in rows if history.order(history.identity(r)) > cut]


def lengths_of(stats: Stats) -> HistoryLengths:
    return HistoryLengths(**{h.name: len(h.rows(stats)) for h in HISTORIES})
