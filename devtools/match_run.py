"""What one match is in both runtimes: the request, the arguments of `python -m cartridge_arena.match`, and what it
answers.

services/arena/cartridge_arena/match.py is the other side: `play` prints one JSON object as its last line, the result
(kind "cartridge.match") or {"error": one sentence}; `record` answers {"recorded": ID} or {"error": ...}. Everything
before the last line is its log, shown as progress (``log_line`` renders the cluster's JSON log lines for a person).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from devtools.errors import DevtoolsError
from devtools.process import Progress

MODULE = "cartridge_arena.match"
RESULT_KIND = "cartridge.match"  # what the result line says it is (cartridge.arena.ondemand.RESULT_KIND)


@dataclass(frozen=True)
class MatchRequest:
    """What `devtools match` was asked; None leaves the stack's own setting (ARENA_GAMES, ARENA_SIMS, ENV_ID)."""

    a: str
    b: str
    games: int | None = None
    sims: int | None = None
    env_id: str | None = None
    seed: int | None = None
    match_id: str = ""

    def play_args(self) -> list[str]:
        """The arguments of `python -m cartridge_arena.match` for this match."""
        options = {"--games": self.games, "--sims": self.sims, "--env-id": self.env_id, "--seed": self.seed}
        given = [item for name, value in options.items() if value is not None for item in (name, str(value))]
        return ["play", self.a, self.b, *given, "--id", self.match_id]


def new_match_id() -> str:
    """Eight hex digits: the Job's name on kind (cartridge-match-<id>) and the row's key in the ratings store."""
    return secrets.token_hex(4)


def last_answer(lines: list[str]) -> dict | None:
    """The JSON object on the last non-empty line, or None when there is none."""
    last = next((line for line in reversed(lines) if line.strip()), "")
    try:
        answer = json.loads(last)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def result_from_lines(lines: list[str], where: str) -> dict:
    """The result a match printed as its last line; DevtoolsError with its one sentence when it printed an error,
    or with its last lines when it ended without either (killed, out of memory)."""
    answer = last_answer(lines)
    if answer is not None and "error" in answer:
        raise DevtoolsError(f"the match was refused: {answer['error']}", f"see {where}")
    if answer is None or answer.get("kind") != RESULT_KIND:
        tail = " | ".join(line.strip() for line in lines[-3:] if line.strip()) or "no output"
        raise DevtoolsError(f"the match ended without a result (its last lines: {tail})", f"see {where}")
    return answer


def recorded(lines: list[str], log: str) -> dict:
    """What `record` answered; DevtoolsError with its sentence when it stored nothing."""
    answer = last_answer(lines) or {"error": (log.strip().splitlines() or ["no answer"])[-1]}
    if "recorded" not in answer:
        raise DevtoolsError(
            f"the match finished but its result was not stored in the ratings store: {answer.get('error')}",
            "the result is printed above: `python -m cartridge_arena.match record` stores it from its JSON, "
            "where the arena's database login is",
        )
    return answer


def log_line(line: str) -> str:
    """A match's log line for a person: a JSON log line (LOG_FORMAT=json, the cluster's) as its event and fields."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line.rstrip()
    if not isinstance(entry, dict) or "event" not in entry:
        return line.rstrip()
    skip = {"event", "timestamp", "level", "service", "env_id"}
    return " ".join([str(entry["event"]), *(f"{k}={v}" for k, v in entry.items() if k not in skip)])


def show_lines(lines: Iterable[str], progress: Progress) -> list[str]:
    """Each line to ``progress`` as it comes (rendered by ``log_line``); all of them kept."""
    kept = []
    for line in lines:
        kept.append(line)
        if line.strip():
            progress(log_line(line))
    return kept
