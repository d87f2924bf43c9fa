"""The score's 95 % interval and the Elo difference it implies (cartridge.arena.scoring): values against hand-worked
figures, and coverage measured by simulation where the project's matches end (all draws, nearly all wins)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cartridge.arena.ratings import expected_score
from cartridge.arena.scoring import Z_95, elo_difference, score_interval, scored


def normal_interval(scores: np.ndarray) -> tuple[float, float]:
    """The interval Wilson's is chosen over: the mean of per-game scores +- 1.96 standard errors."""
    half = Z_95 * scores.std(ddof=1) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
    return scores.mean() - half, scores.mean() + half


def test_wilson_values_worked_by_hand():
    # p = 0.5, n = 20: centre 0.5, half = 1.96 / (1 + 3.8415/20) * sqrt(0.25/20 + 3.8415/1600) = 0.2009...
    low, high = score_interval(0.5, 20)
    assert (round(low, 4), round(high, 4)) == (0.2993, 0.7007)
    # Twenty wins: the interval reaches 1 and stays above 0.83.
    low, high = score_interval(1.0, 20)
    assert high == 1.0 and round(low, 4) == 0.8389
    low, high = score_interval(0.0, 20)
    assert low == 0.0 and round(high, 4) == 0.1611


def test_elo_difference_inverts_the_ratings_expected_score():
    for difference in (-600.0, -150.0, 0.0, 35.5, 400.0):
        assert elo_difference(expected_score(difference, 0.0)) == pytest.approx(difference)
    assert elo_difference(0.0) is None and elo_difference(1.0) is None


def test_scored_reports_unbounded_ends_as_none():
    all_wins = scored(20, 0, 0)
    assert (all_wins.score, all_wins.elo, all_wins.elo_high) == (1.0, None, None)
    assert all_wins.elo_low == round(elo_difference(score_interval(1.0, 20)[0]), 1) > 250
    drawn = scored(0, 20, 0)
    assert (drawn.score, drawn.elo) == (0.5, 0.0)
    assert drawn.elo_low == -drawn.elo_high and drawn.elo_high > 140
    assert drawn.to_dict()["games"] == 20 and drawn.method == "wilson"


def test_a_match_needs_a_game():
    with pytest.raises(ValueError, match="at least one game"):
        scored(0, 0, 0)


# (P(win), P(draw), P(loss)) where the project's matches land: a trained tictactoe model against minimax (all or
# nearly all draws), against random (nearly all wins), and two in between.
OUTCOMES = [(0.0, 1.0, 0.0), (0.0, 0.95, 0.05), (0.97, 0.03, 0.0), (0.9, 0.1, 0.0), (0.45, 0.2, 0.35), (0.1, 0.8, 0.1)]
TRIALS = 4000


def coverage(outcome: tuple[float, float, float], games: int, interval, seed: int = 7) -> float:
    """How often ``interval`` (per-game scores -> (low, high)) holds the true score over TRIALS simulated matches."""
    rng = np.random.default_rng(seed)
    truth = outcome[0] + outcome[1] / 2
    per_game = rng.choice([1.0, 0.5, 0.0], size=(TRIALS, games), p=outcome)
    held = 0
    for scores in per_game:
        low, high = interval(scores)
        held += low - 1e-12 <= truth <= high + 1e-12
    return held / TRIALS


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_wilsons_interval_covers_the_true_score_at_least_95_percent_of_the_time(outcome):
    """With draws the per-game variance is below a coin's, so Wilson errs wide: coverage at or above nominal (the
    margin is the simulation's: 4,000 matches put one standard error near 0.35 points)."""
    held = coverage(outcome, 20, lambda s: score_interval(float(s.mean()), len(s)))
    assert held >= 0.94, f"{outcome}: Wilson held the true score in {held:.1%} of matches"


def test_the_normal_interval_fails_where_the_projects_matches_end():
    """Why not the normal interval on per-game scores: nearly all wins collapse it to a point that misses."""
    assert coverage((0.97, 0.03, 0.0), 20, normal_interval) < 0.6
    assert coverage((0.0, 0.95, 0.05), 20, normal_interval) < 0.7
