"""What a match's wins, draws and losses say: the score, its 95 % confidence interval, and the rating difference.

The score is wins plus half the draws, per game (as everywhere in the arena). Its interval is Wilson's score
interval (Wilson 1927) for a proportion, with the score as the proportion and the games as the trials. Why Wilson,
and not the normal interval on per-game scores (mean +- 1.96 standard errors of the 1 / 0.5 / 0 values):

- The matches this project plays end at the extremes: a trained tictactoe model draws every game against perfect
  minimax and wins nearly every game against random. There every game scores the same, the sample's variance is 0,
  and the normal interval shrinks to a point ("0.5 +- 0") that claims certainty from 20 games. Wilson's width comes
  from the proportion it tests, not from the sample, so 20 draws give 0.30-0.70 and 20 wins 0.84-1.00.
- Draws make a game's score vary less than a coin's: its variance is P(win) + P(draw)/4 - score², at most the
  score(1 - score) that Wilson assumes. So with draws Wilson is conservative: it covers the true score at least 95 %
  of the time and is wider than it would need to be in a drawish match (tests/cartridge/arena/test_scoring.py
  measures both). An interval for the trinomial would be narrower there; this one never misleads.
- It stays inside [0, 1], so its ends always map to rating differences.

The rating difference a score implies is the Elo (logistic) one the arena's ratings use
(cartridge.arena.ratings.expected_score): D = 400 log10(s / (1 - s)). It is monotone in s, so the interval's ends
map to an interval for D. A score of 0 or 1 implies no finite difference: that end is None (unbounded).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval
INTERVAL_METHOD = "wilson"


def score_interval(score: float, games: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's interval for ``score`` (0..1) over ``games`` games."""
    if games < 1:
        raise ValueError(f"an interval needs at least one game, got {games}")
    if not 0 <= score <= 1:
        raise ValueError(f"a score is between 0 and 1, got {score}")
    z2n = z * z / games
    centre = (score + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(score * (1 - score) / games + z2n / (4 * games))
    # Rounding may put an end a hair outside [0, 1] at the extremes.
    return max(0.0, centre - half), min(1.0, centre + half)


def elo_difference(score: float) -> float | None:
    """The Elo difference that makes ``score`` the expected score; None for 0 or 1 (no finite difference)."""
    if not 0 < score < 1:
        return None
    return 400.0 * math.log10(score / (1 - score))


@dataclass(frozen=True)
class Scored:
    """A match from one player's side: wins, draws and losses, the score, its interval, the Elo difference."""

    wins: int
    draws: int
    losses: int
    score: float
    score_low: float
    score_high: float
    elo: float | None  # None: unbounded (a score of 0 or 1), or, for elo_low / elo_high, that end is
    elo_low: float | None
    elo_high: float | None
    confidence: float = 0.95
    method: str = INTERVAL_METHOD

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    def to_dict(self) -> dict:
        return {**asdict(self), "games": self.games}


def scored(wins: int, draws: int, losses: int) -> Scored:
    """Score, 95 % Wilson interval and Elo difference (with its interval) of a result, rounded for reading."""
    games = wins + draws + losses
    score = (wins + 0.5 * draws) / games if games else math.nan
    low, high = score_interval(score, games)

    def elo(s: float) -> float | None:
        d = elo_difference(s)
        return None if d is None else round(d, 1)

    return Scored(wins, draws, losses, round(score, 4), round(low, 4), round(high, 4), elo(score), elo(low), elo(high))
