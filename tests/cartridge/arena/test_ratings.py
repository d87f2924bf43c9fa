"""Bradley-Terry ratings: anchored at random = 0, ordered by results, finite for unbeaten players, reproducible."""

from __future__ import annotations

import random

import pytest

from cartridge.arena.ratings import expected_score, fit_ratings


def test_ratings_recover_the_strengths_that_produced_the_games():
    truth = {"random": 0.0, "a": 200.0, "b": 500.0}
    rng = random.Random(7)
    games = []
    for x in truth:
        for y in truth:
            if x < y:
                for _ in range(2000):
                    games.append((x, y, 1.0 if rng.random() < expected_score(truth[x], truth[y]) else 0.0))
    ratings = fit_ratings(games)
    assert ratings["random"] == 0.0
    assert ratings["a"] == pytest.approx(200, abs=30) and ratings["b"] == pytest.approx(500, abs=40)


def test_an_unbeaten_player_gets_a_finite_rating_above_the_others():
    games = [("perfect", "random", 1.0)] * 20 + [("random", "perfect", 0.0)] * 20 + [("model", "random", 0.5)] * 10
    ratings = fit_ratings(games)
    assert ratings["perfect"] > ratings["model"] == pytest.approx(0.0, abs=1e-6)
    assert ratings["perfect"] < 2000


def test_draws_count_half_and_the_order_of_games_does_not_matter():
    games = [("a", "random", 1.0), ("a", "random", 0.0)] * 5 + [("b", "random", 0.5)] * 10 + [("a", "b", 0.5)] * 4
    ratings = fit_ratings(games)
    assert ratings["a"] == pytest.approx(0.0, abs=1e-6) and ratings["b"] == pytest.approx(0.0, abs=1e-6)
    assert fit_ratings(list(reversed(games))) == pytest.approx(ratings)


def test_bad_input_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"score must be 1, 0\.5 or 0"):
        fit_ratings([("a", "random", 2.0)])
    with pytest.raises(ValueError, match="no chain of games links c, d"):
        fit_ratings([("a", "random", 1.0), ("c", "d", 1.0)])
    with pytest.raises(ValueError, match="no games against the anchor"):
        fit_ratings([("a", "b", 1.0)])
