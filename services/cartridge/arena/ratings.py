"""Bradley-Terry ratings over every game played, on the Elo scale, anchored so the random player is 0.

Each player i has a strength g_i; i scores against j with probability g_i / (g_i + g_j). A draw counts half a win
for each side. The maximum-likelihood strengths come from Hunter's MM iteration (2004), which needs no step size
and converges from any start. A player who won or lost every game would drift to infinity, so every pair that met
gets ``prior_draws`` virtual drawn games (BayesElo does the same): it moves a rating little once a pair has played
a few dozen games, and it keeps every rating finite. Ratings are 400 * log10(g_i / g_anchor), so 400 points mean
10:1 odds. The fit depends only on the games, not on their order: the same games give the same ratings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

ANCHOR = "random"


def fit_ladder(games: Iterable) -> dict[str, float]:
    """The ratings of every player over stored games (records with ``first``, ``second``, ``first_score``): the
    arena's ladder, and the one /stats shows."""
    return fit_ratings((g.first, g.second, g.first_score) for g in games)


def fit_ratings(
    results: Iterable[tuple[str, str, float]],
    anchor: str = ANCHOR,
    prior_draws: float = 1.0,
    tolerance: float = 1e-9,
    max_iterations: int = 100_000,
) -> dict[str, float]:
    """Elo-scale ratings from (first player, second player, first player's score 1 / 0.5 / 0) results."""
    games: dict[tuple[str, str], float] = defaultdict(float)  # games between a pair, key sorted
    score: dict[str, float] = defaultdict(float)
    for first, second, first_score in results:
        if first == second:
            raise ValueError(f"a player cannot play itself: {first!r}")
        if first_score not in (0.0, 0.5, 1.0):
            raise ValueError(f"a game's score must be 1, 0.5 or 0, got {first_score!r} ({first} v {second})")
        games[tuple(sorted((first, second)))] += 1.0
        score[first] += first_score
        score[second] += 1.0 - first_score
    for a, b in games:
        games[a, b] += prior_draws
        score[a] += prior_draws / 2
        score[b] += prior_draws / 2
    players = sorted(score)
    if not players:
        return {}
    _check_connected(players, games, anchor)
    opponents: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (a, b), n in games.items():
        opponents[a].append((b, n))
        opponents[b].append((a, n))
    strength = dict.fromkeys(players, 1.0)
    for _ in range(max_iterations):
        updated = {p: score[p] / sum(n / (strength[p] + strength[q]) for q, n in opponents[p]) for p in players}
        norm = updated[anchor]
        updated = {p: g / norm for p, g in updated.items()}
        change = max(abs(math.log(updated[p] / strength[p])) for p in players)
        strength = updated
        if change < tolerance:
            break
    return {p: 400.0 * math.log10(strength[p]) for p in players}


def _check_connected(players: list[str], games: dict[tuple[str, str], float], anchor: str) -> None:
    if anchor not in players:
        raise ValueError(f"no games against the anchor {anchor!r}: ratings would have no zero")
    links: dict[str, set[str]] = defaultdict(set)
    for a, b in games:
        links[a].add(b)
        links[b].add(a)
    reached, frontier = {anchor}, [anchor]
    while frontier:
        for q in links[frontier.pop()] - reached:
            reached.add(q)
            frontier.append(q)
    if missing := sorted(set(players) - reached):
        raise ValueError(f"no chain of games links {', '.join(missing)} to {anchor!r}: their ratings are undefined")


def expected_score(rating: float, opponent: float) -> float:
    """Bradley-Terry expectation of ``rating`` against ``opponent`` (Elo scale)."""
    return 1.0 / (1.0 + 10 ** ((opponent - rating) / 400.0))
