"""The search's exact output on fixed positions, pinned from the code before its hot path was rewritten
for speed (issue 26, "Pure search"): the rewrite must change how fast the search runs, never what it
finds. Visit counts are integers and tie-breaking is part of the behaviour (a uniform prior makes every
first choice a tie), so equality is exact; root values are compared to 5 decimals.

Each case exercises one mechanism the rewrite could break: several leaves per tree kept apart by
virtual loss (few trees), one leaf per tree (many trees), Dirichlet noise drawn from the generator,
the evaluation cache off, the cache carried from one search to the next, and the uniform prior of the
bench's free-network figure.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from bench.games import openings
from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMCTS, MctsConfig
from testkit.support import LinearEvaluator


def run(name, count, sims, noise, cache_size, seed, searches=1, evaluator=None):
    game = get_game(name)
    states = openings(game, count, np.random.default_rng(seed))
    mcts = BatchedMCTS(
        game,
        evaluator or LinearEvaluator(game, seed),
        MctsConfig(simulations=sims, cache_size=cache_size),
        np.random.default_rng(seed),
    )
    results = [mcts.search(states, add_noise=noise) for _ in range(searches)]
    return results, mcts


def visits_and_values(result):
    return result.visits.astype(int).tolist(), [round(float(v), 5) for v in result.value]


def digest(results) -> str:
    text = repr([visits_and_values(r) for r in results])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_two_trees_several_leaves_each_with_noise():
    [result], mcts = run("connect4", 2, 300, noise=True, cache_size=200_000, seed=3)
    assert visits_and_values(result) == (
        [[1, 10, 19, 35, 44, 9, 182], [5, 8, 14, 2, 21, 234, 16]],
        [-0.31518, -0.29877],
    )
    assert (mcts.network_calls, mcts.network_positions) == (41, 431)


def test_one_tree_without_the_cache():
    [result], mcts = run("connect4", 1, 500, noise=False, cache_size=0, seed=4)
    assert visits_and_values(result) == ([[1, 1, 5, 22, 462, 8, 1]], [0.11736])
    assert (mcts.network_calls, mcts.network_positions) == (65, 461)


def test_the_cache_carries_over_to_the_next_search():
    results, mcts = run("connect4", 5, 64, noise=True, cache_size=200_000, seed=6, searches=2)
    assert [visits_and_values(r)[0] for r in results] == [
        [
            [4, 20, 4, 4, 13, 4, 15],
            [0, 5, 12, 22, 4, 14, 7],
            [2, 21, 9, 13, 6, 4, 9],
            [2, 1, 2, 3, 52, 2, 2],
            [22, 1, 6, 8, 9, 1, 17],
        ],
        [
            [4, 19, 4, 2, 16, 3, 16],
            [4, 5, 16, 22, 4, 10, 3],
            [1, 20, 11, 11, 2, 4, 15],
            [2, 1, 2, 2, 55, 1, 1],
            [23, 1, 0, 10, 12, 0, 18],
        ],
    ]
    assert (mcts.network_calls, mcts.network_positions) == (21, 317)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (("tictactoe", 40, 30, True, 200_000, 5), "eb9e91519a210905"),
        (("connect4", 32, 400, True, 200_000, 0), "102c4d9f3b862c7e"),
    ],
    ids=["tictactoe-many-trees", "connect4-free-network"],
)
def test_many_trees(case, expected):
    name, count, sims, noise, cache_size, seed = case
    evaluator = UniformEvaluator(get_game(name).action_size) if name == "connect4" else None
    results, _ = run(name, count, sims, noise, cache_size, seed, evaluator=evaluator)
    assert digest(results) == expected
