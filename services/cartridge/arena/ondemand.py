"""An on-demand match between any two players (`devtools match A B`), and its result as one JSON object.

The games are the arena's (cartridge.arena.match.play_pairs): colours alternate, games 2k and 2k+1 share a seeded
opening of the game's ``opening_plies`` random plies, and every game replays from its seed. The seeds come from
``seed`` and the players' names, so the same players, games and seed replay the same match.

The result is from player A's side: wins, draws, losses, the score with its 95 % Wilson interval and the Elo
difference it implies (cartridge.arena.scoring), and the same split by the colour A played. It travels as one JSON
object (``to_json``), the last line a match process prints: devtools reads it from the process locally and from the
Job's log on kind, and hands it back to ``python -m cartridge_arena.match record``, which stores it as its own row
(RatingsStore.record_match).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..games import Game
from .contenders import Contender, PlayerError
from .match import GameRecord, play_pairs, result_for
from .ratings_store import MatchRow
from .scoring import scored

RESULT_KIND = "cartridge.match"  # what a result line says it is, so a reader never takes a log line for one
RESULT_FORMAT = 1


def seed_base(game: Game, seed: int) -> str:
    return f"{game.name}:match:{seed}"


@dataclass(frozen=True)
class MatchResult:
    match_id: str
    env_id: str
    a: dict  # Contender.describe()
    b: dict
    games: list[GameRecord]
    seed: int
    started_at: float
    finished_at: float

    def tally(self, a_first: bool | None = None) -> tuple[int, int, int]:
        """A's wins, draws and losses (only the games where A moved first, or second, when ``a_first`` is set)."""
        name = self.a["name"]
        games = [g for g in self.games if a_first is None or (g.first == name) == a_first]
        result = result_for(name, games)
        return result.wins, result.draws, result.losses

    def to_json(self) -> dict:
        colour = {
            side: dict(zip(("wins", "draws", "losses"), self.tally(a_first), strict=True))
            for side, a_first in (("a_first", True), ("a_second", False))
        }
        return {
            "kind": RESULT_KIND,
            "format": RESULT_FORMAT,
            "id": self.match_id,
            "env_id": self.env_id,
            "players": {"a": self.a, "b": self.b},
            "seed": self.seed,
            "result": scored(*self.tally()).to_dict(),
            "by_colour": colour,
            "started_at": round(self.started_at, 3),
            "finished_at": round(self.finished_at, 3),
        }


def row_from_json(result: dict) -> MatchRow:
    """The ratings-store row of a result line; ValueError naming the first field that is missing or wrong."""
    if result.get("kind") != RESULT_KIND or result.get("format") != RESULT_FORMAT:
        raise ValueError(f"not a match result (kind {RESULT_KIND}, format {RESULT_FORMAT}): {str(result)[:200]}")

    def field(path: str, kind: type):
        value = result
        try:
            for key in path.split("."):
                value = value[key]
            return kind(value)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"a match result without a valid {path}") from None

    counts = [field(f"result.{name}", int) for name in ("games", "wins", "draws", "losses")]
    scores = [field(f"result.{name}", float) for name in ("score", "score_low", "score_high")]
    return MatchRow(
        field("id", str),
        field("env_id", str),
        field("players.a.name", str),
        field("players.b.name", str),
        *counts,
        *scores,
        field("seed", int),
        field("started_at", float),
        field("finished_at", float),
        detail=result,
    )


def play_on_demand(
    game: Game,
    a: Contender,
    b: Contender,
    *,
    games: int,
    seed: int,
    match_id: str,
    on_game: Callable[[int, GameRecord], None] = lambda index, record: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> MatchResult | None:
    """``games`` games of A against B; None when stopped before the last one. ``on_game`` hears each game (its
    number from 1, its record) as it ends."""
    if games < 1:
        raise PlayerError(f"a match needs at least one game, got {games}")
    if a.name == b.name:
        raise PlayerError(f"both players are {a.name}: a player against itself tells nothing; name two players")
    started = time.time()
    played = iter(range(1, games + 1))
    records = play_pairs(
        game,
        (a.name, a.factory),
        (b.name, b.factory),
        games,
        seed_base(game, seed),
        should_stop,
        on_game=lambda record: on_game(next(played), record),
    )
    if len(records) < games:
        return None
    return MatchResult(match_id, game.name, a.describe(), b.describe(), records, seed, started, time.time())
