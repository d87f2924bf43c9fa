"""Gumbel root search (MctsConfig.root="gumbel"): Sequential Halving's schedule, the completed q and pi' against a
numpy restatement of mctx's formulas (mctx/_src/qtransforms.py, policies.py), and what the method is for: a
policy target better than the prior at a handful of simulations."""

from __future__ import annotations

import numpy as np
import pytest

from bench.games import openings
from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import (
    BatchedMCTS,
    MctsConfig,
    Node,
    _completed_sigma,
    _considered_visits,
    _interior_choice,
)
from cartridge.selfplay import SelfPlay
from testkit.support import LinearEvaluator


def gumbel(game, evaluator=None, sims=32, considered=16, seed=0, rescale=True):
    return BatchedMCTS(
        game,
        evaluator or UniformEvaluator(game.action_size),
        MctsConfig(simulations=sims, root="gumbel", gumbel_considered=considered, gumbel_rescale=rescale),
        np.random.default_rng(seed),
    )


def reference_sigma(node: Node, rescale: bool = True) -> np.ndarray:
    """mctx qtransform_completed_by_mix_value with its defaults, vectorised, from the node's statistics; without
    ``rescale``, its rescale_values=False on (q + 1) / 2."""
    n, w = np.array(node.child_n), np.array(node.child_w)
    p = np.maximum(np.array(node.priors), 1e-30)
    visited = n > 0
    q = np.where(visited, w / np.maximum(n, 1), 0.0)
    weighted = (p * q)[visited].sum() / p[visited].sum() if visited.any() else 0.0
    mixed = (node.value + n.sum() * weighted) / (n.sum() + 1)
    completed = np.where(visited, q, mixed)
    if rescale:
        rescaled = (completed - completed.min()) / max(completed.max() - completed.min(), 1e-8)
    else:
        rescaled = (completed + 1) / 2
    return (50 + n.max()) * 0.1 * rescaled


def reference_policy(node: Node, rescale: bool = True) -> np.ndarray:
    logits = np.log(np.maximum(np.array(node.priors), 1e-30)) + reference_sigma(node, rescale)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_the_halving_schedule():
    # 8 considered over 24 simulations (8 x log2 8): one visit each, the best 4 two more each, the best 2 six more.
    assert _considered_visits(8, 24) == (0,) * 8 + (1,) * 4 + (2,) * 4 + (3, 3, 4, 4, 5, 5, 6, 6)
    # 7 considered (not a power of 2) over 24: 24 / (3 x 7) = 1 visit each, then 3 actions 24 / 9 = 2 more each,
    # then 2 actions for what is left.
    assert _considered_visits(7, 24) == (0,) * 7 + (1, 1, 1, 2, 2, 2) + (3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8)
    assert _considered_visits(8, 2) == (0, 0)  # fewer simulations than actions: the first ones only
    assert _considered_visits(1, 5) == (0, 1, 2, 3, 4)  # one action takes every visit
    for considered, sims in [(7, 64), (16, 400), (3, 10)]:
        assert len(_considered_visits(considered, sims)) == sims


@pytest.mark.parametrize("noise", [False, True], ids=["no-noise", "gumbel-noise"])
def test_visits_follow_the_halving_schedule_over_the_considered_actions_only(noise):
    game = get_game("connect4")
    states = openings(game, 3, np.random.default_rng(1))
    mcts = gumbel(game, LinearEvaluator(game, 1), sims=40, considered=4, seed=5)
    result = mcts.search(states, add_noise=noise)
    assert result.visits.sum(axis=1).tolist() == [40, 40, 40]
    # 4 of the 7 children get visits: log2 4 = 2 rounds, 40 / (2 x 4) = 5 each, then the best 2 share the 20 left.
    for visits in result.visits:
        assert sorted(visits.astype(int).tolist(), reverse=True) == [15, 15, 5, 5, 0, 0, 0]
    # The considered ones are those with the highest g + logits: the same generator's first draws.
    draws = np.random.default_rng(5)
    logits, _ = LinearEvaluator(game, 1).evaluate(game.observations(states))
    for k, visits in enumerate(result.visits):
        g = draws.gumbel(size=7) if noise else np.zeros(7)
        prior = logits[k] - logits[k].max()
        assert set(np.flatnonzero(visits)) == set(np.argsort(-(g + prior))[:4])


@pytest.mark.parametrize("rescale", [True, False], ids=["rescaled-per-node", "value-range"])
def test_the_policy_is_pi_prime_from_the_roots_completed_q_and_the_action_the_best_most_visited(rescale):
    game = get_game("connect4")
    # 48 simulations visit all 7 children; 5 leave 2 unvisited, their q completed by the mixed value.
    roots = [Node(s) for s in openings(game, 4, np.random.default_rng(2))]
    result = gumbel(game, LinearEvaluator(game, 2), sims=48, rescale=rescale).search_trees(roots, add_noise=False)
    few = [Node(s) for s in openings(game, 4, np.random.default_rng(2))]
    few_result = gumbel(game, LinearEvaluator(game, 2), sims=5, rescale=rescale).search_trees(few, add_noise=False)
    network = LinearEvaluator(game, 2)
    for k, root in enumerate(few):
        assert root.value == pytest.approx(float(network.evaluate(game.observations([root.state]))[1][0]), abs=1e-6)
        assert sum(n == 0 for n in root.child_n) == 2
        assert np.allclose(few_result.policy[k][root.actions], reference_policy(root, rescale), atol=1e-6)
    for k, root in enumerate(roots):
        expected = np.zeros(game.action_size)
        expected[root.actions] = reference_policy(root, rescale)
        assert np.allclose(result.policy[k], expected, atol=1e-6)
        most = [a for a, n in zip(root.actions, root.child_n, strict=True) if n == max(root.child_n)]
        assert result.action[k] == max(most, key=lambda a: expected[a]), "no noise: the best pi' of the most visited"
        assert root.gumbel is None, "the search's draws go with it"


def test_interior_nodes_choose_the_child_lagging_most_behind_pi_prime():
    game = get_game("connect4")
    node = Node(game.initial_state())
    node.expand(list(range(7)), [0.05, 0.1, 0.15, 0.3, 0.2, 0.1, 0.1], 0.2)
    node.child_n = [0.0, 3.0, 5.0, 9.0, 0.0, 2.0, 1.0]
    node.child_w = [0.0, 2.5, -1.0, 3.0, 0.0, -2.0, 0.5]
    pi = reference_policy(node)
    n = np.array(node.child_n)
    assert _interior_choice(node) == int(np.argmax(pi - n / (1 + n.sum())))
    # Children 0 and 4 are unvisited: their q is the mixed value, between the network's 0.2 and the visited q's.
    assert np.allclose(_completed_sigma(node), reference_sigma(node))
    assert np.allclose(_completed_sigma(node, rescale=False), reference_sigma(node, rescale=False))
    n = np.array(node.child_n)
    assert _interior_choice(node, rescale=False) == int(np.argmax(reference_policy(node, False) - n / (1 + n.sum())))
    assert reference_sigma(node).min() == 0 and reference_sigma(node).max() == pytest.approx(5.9)


@pytest.mark.parametrize(
    ("name", "moves", "win"),
    [("tictactoe", [0, 3, 1, 4], 2), ("tictactoe", [0, 3, 1], 2), ("connect4", [3, 3, 4, 4, 5, 5], (2, 6))],
)
def test_wins_and_blocks_in_one(name, moves, win):
    game = get_game(name)
    result = gumbel(game, sims=64).search([game.from_actions(moves)], add_noise=True)
    assert result.action[0] in np.atleast_1d(win) and result.policy[0].argmax() in np.atleast_1d(win)


class Misleading(UniformEvaluator):
    """tictactoe's priors with square 2 at logit -2 (everything else alike: a prior of 0.03 on it); values 0."""

    def evaluate(self, observations):
        logits, values = super().evaluate(observations)
        logits[:, 2] = -2.0
        return logits, values


def test_pi_prime_improves_on_the_prior_at_a_few_simulations_more_than_visit_shares_do():
    # X to move with a win at square 2, which the prior plays down. At 8 simulations Gumbel gives each legal move a
    # visit, sees the win's q and moves pi' onto it; PUCT's visit shares are coarse at 8 (the win gets 4 of them).
    game = get_game("tictactoe")
    state = game.from_actions([0, 3, 1, 4])
    evaluator = Misleading(9)
    logits = evaluator.evaluate(game.observations([state]))[0][0][game.legal_actions(state)]
    prior_of_win = np.exp(-2.0) / np.exp(logits).sum()
    improved = gumbel(game, evaluator, sims=8).search([state], add_noise=False)
    puct = BatchedMCTS(game, evaluator, MctsConfig(simulations=8), np.random.default_rng(0)).search([state], False)
    assert prior_of_win < 0.05
    assert improved.policy[0][2] > 0.85 and improved.action[0] == 2
    assert puct.policy[0][2] <= 0.5


def test_terminal_roots_get_no_action():
    game = get_game("tictactoe")
    done = game.from_actions([0, 3, 1, 4, 2])
    result = gumbel(game).search([done, game.initial_state()])
    assert result.action[0] == -1 and result.policy[0].sum() == 0 and result.action[1] in range(9)


def test_self_play_records_pi_prime_and_plays_the_searchs_choice(monkeypatch):
    chosen: dict[tuple[int, int], set[int]] = {}  # position -> the actions its searches chose

    class Recording(BatchedMCTS):  # the real search, its choices noted
        def search(self, states, add_noise=True, simulations=None):
            result = super().search(states, add_noise, simulations)
            for state, action in zip(states, result.action, strict=True):
                chosen.setdefault((state.mine, state.theirs), set()).add(int(action))
            return result

    monkeypatch.setattr("cartridge.selfplay.BatchedMCTS", Recording)
    game = get_game("tictactoe")
    config = MctsConfig(simulations=16, root="gumbel")
    # Every ply under temperature: a PUCT self-play would sample its moves from the visits.
    sp = SelfPlay(game, config, parallel_games=4, temperature_moves=9, rng=np.random.default_rng(0), value_mix=0.5)
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=6))
    assert len(episodes) == 6
    shares = set()
    for episode in episodes:
        state = game.initial_state()
        for t in episode.transitions:
            assert abs(t.policy.sum() - 1) < 1e-5 and t.policy[t.action] > 0
            assert all(t.policy[a] == 0 for a in range(9) if a not in game.legal_actions(state))
            assert t.action in chosen[(state.mine, state.theirs)], "the move played is the search's choice"
            shares.update((t.policy * 16).round(6).tolist())
            state = game.apply(state, t.action)
        assert state.terminal and game.winner(state) == episode.winner
    assert any(s != round(s) for s in shares), "pi', not visit counts over 16"
    with pytest.raises(ValueError, match="reuse_tree needs root='puct'"):
        SelfPlay(game, config, parallel_games=1, reuse_tree=True)


def test_gumbel_self_play_draws_noise_in_the_opening_plies_only(monkeypatch):
    flags: list[tuple[int, bool]] = []  # (ply, noise) per searched root

    class Recording(BatchedMCTS):
        def search(self, states, add_noise=True, simulations=None):
            flags.extend(zip([s.ply for s in states], add_noise, strict=True))
            return super().search(states, add_noise, simulations)

    monkeypatch.setattr("cartridge.selfplay.BatchedMCTS", Recording)
    game = get_game("tictactoe")
    sp = SelfPlay(game, MctsConfig(simulations=8, root="gumbel"), 4, temperature_moves=3, rng=np.random.default_rng(0))
    assert len(list(sp.play(lambda: UniformEvaluator(9), max_episodes=4))) == 4
    assert {ply for ply, _ in flags} >= set(range(5))
    assert all(noise == (ply < 3) for ply, noise in flags)


@pytest.mark.parametrize("root", ["puct", "gumbel"])
def test_noise_flags_per_root_noise_those_roots_alone(root):
    game = get_game("connect4")
    a, b = openings(game, 2, np.random.default_rng(4))
    network = LinearEvaluator(game, 4)

    def run(states, noise):  # one leaf per tree a round, no shared cache: each tree searches as if alone
        config = MctsConfig(simulations=30, root=root, batch_target=1, cache_size=0)
        return BatchedMCTS(game, network, config, np.random.default_rng(9)).search(states, add_noise=noise)

    mixed = run([a, b], [False, True])
    assert np.array_equal(mixed.visits[0], run([a], False).visits[0])
    assert np.array_equal(mixed.visits[1], run([b], True).visits[0])
    assert not np.array_equal(mixed.visits[1], run([b], False).visits[0])


def test_the_config_refuses_an_unknown_root_and_no_considered_actions():
    with pytest.raises(ValueError, match="root must be 'puct' or 'gumbel'"):
        MctsConfig(root="gumble")
    with pytest.raises(ValueError, match="gumbel_considered must be >= 1"):
        MctsConfig(root="gumbel", gumbel_considered=0)
