"""Gated rollout (ROLLOUT_POLICY=gated): a rated version becomes the best, the model actors and web serve, only when
it scores at least GATE_THRESHOLD over GATE_GAMES games against the current best.

Before the first promotion the best is what actors and web serve then: MCTS over the uniform prior (``UNIFORM``), so
the first candidate, too, must beat what it would replace. Gate games are played like the arena's other matches
(cartridge.arena.match.play_pairs): colours alternate, each pair of games shares a seeded opening, and every game
replays from its seed (``seed_base`` below). They stay out of the ratings: the ladder is fitted over the rating
games alone, whatever the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..games import Game
from .match import PlayerFactory, play_pairs, result_for

UNIFORM = "uniform-prior"  # the gate's opponent before any promotion


@dataclass(frozen=True)
class GateConfig:
    threshold: float  # GATE_THRESHOLD: the candidate's score (wins + draws / 2, per game) needed to be promoted
    games: int  # GATE_GAMES

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1 or self.games < 2:
            raise ValueError(f"gate threshold must be in (0, 1] and games >= 2 (got {self.threshold}, {self.games})")


@dataclass(frozen=True)
class GateResult:
    against: str  # the best it played: "v<N>", or UNIFORM before the first promotion
    games: int
    wins: int
    draws: int
    losses: int
    score: float
    threshold: float
    promoted: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def reason(self) -> str:
        """The best manifest's why."""
        return f"gate: scored {self.score} against {self.against} over {self.games} games (threshold {self.threshold})"


def seed_base(game: Game, candidate: str) -> str:
    return f"{game.name}:gate:{candidate}"


def play_gate(
    game: Game,
    candidate: tuple[str, PlayerFactory],
    best: tuple[str, PlayerFactory],
    config: GateConfig,
    should_stop: Callable[[], bool] = lambda: False,
) -> GateResult | None:
    """The candidate against the best over ``config.games`` games; None when stopped before the last one."""
    records = play_pairs(game, candidate, best, config.games, seed_base(game, candidate[0]), should_stop)
    if len(records) < config.games:
        return None
    result = result_for(candidate[0], records)
    score = round(result.score, 4)
    return GateResult(
        best[0],
        result.games,
        result.wins,
        result.draws,
        result.losses,
        score,
        config.threshold,
        promoted=result.score >= config.threshold,
    )
