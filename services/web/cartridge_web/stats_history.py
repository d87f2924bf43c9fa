"""Incremental /stats: ``GET /stats?since=<cursor>`` sends only the history rows newer than the cursor.

Each of the three histories in /stats (``loss_history``, ``arena.versions``, ``matches``) is a window: the newest
N rows of a table that grows at its new end. A cursor records, for each, how many rows the client holds and the
identities of its newest and oldest rows (a row's key and when it finished). An answer to ``since`` carries every
other field as a full answer does, and in the three lists only the rows ordered after the newest; the client adds
them at the new end and keeps the newest ``lengths`` rows, which is the full answer's window, also when the window
slid past all it held (the server trims the same way). Where the rows the client holds cannot be the older part of
the current window, the answer is whole and says ``reset``: the newest held row is gone or changed (a fresh
database, a re-recorded iteration); more rows sit at or below it than the client holds; the rows from its oldest
to its newest are not as many as it holds (a row recorded behind the cursor, or one gone); or the window's old
end moved past the oldest held row with no row added at the new end (a row recorded behind a full window).

One case stays out of reach of counts: in the same interval between two polls, a full window gets new rows at its
new end and a row recorded behind the cursor; the client then misses that one row until its next whole answer.
Telling it apart would take every held row in the cursor (1,000 loss rows: too long for a URL).

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


_Version = tuple[int, float]
_Match = tuple[float, str]


class _Cursor(BaseModel):
    """For each history: [rows the client holds, the newest row's identity, the oldest's], or null when it holds
    none. A cursor without the oldest (issued before it was kept, e.g. across a rolling upgrade) still reads."""

    model_config = ConfigDict(extra="forbid")
    loss_history: tuple[NonNegativeInt, _Version, _Version] | tuple[NonNegativeInt, _Version] | None
    arena_versions: tuple[NonNegativeInt, _Version, _Version] | tuple[NonNegativeInt, _Version] | None
    matches: tuple[NonNegativeInt, _Match, _Match] | tuple[NonNegativeInt, _Match] | None


def cursor_of(stats: Stats) -> str:
    """The cursor for a client that holds the whole of ``stats``' histories."""
    marks = {}
    for history in HISTORIES:
        marks_of_rows = [history.identity(r) for r in history.rows(stats)]
        if not marks_of_rows:
            marks[history.name] = None
            continue
        newest, oldest = max(marks_of_rows, key=history.order), min(marks_of_rows, key=history.order)
        marks[history.name] = [len(marks_of_rows), list(newest), list(oldest)]
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
    held, newest, *rest = mark
    cut = history.order(newest)
    marks = [history.identity(r) for r in rows]
    older = [m for m in marks if history.order(m) <= cut]
    if older and (newest not in older or len(older) > held):
        raise ContinuityLost
    added = len(marks) - len(older)
    if rest and older:
        oldest = rest[0]
        if oldest in older:  # the window still reaches back to it: the rows between are the ones the client holds
            if sum(history.order(m) >= history.order(oldest) for m in older) != held:
                raise ContinuityLost
        elif not added or history.order(oldest) >= min(history.order(m) for m in marks):
            # It left the window though nothing came at the new end (a row recorded behind a full window), or it
            # is gone from inside the window.
            raise ContinuityLost
    return [r for r, m in zip(rows, marks, strict=True) if history.order(m) > cut]


def lengths_of(stats: Stats) -> HistoryLengths:
    return HistoryLengths(**{h.name: len(h.rows(stats)) for h in HISTORIES})
