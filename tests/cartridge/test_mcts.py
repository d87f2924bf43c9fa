from __future__ import annotations

import gc

import numpy as np
import pytest

from cartridge.games import TicTacToe, get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMCTS, MctsConfig, Node


class CountingEvaluator(UniformEvaluator):
    def __init__(self, action_size: int) -> None:
        super().__init__(action_size)
        self.batches: list[int] = []

    def evaluate(self, observations):
        self.batches.append(len(observations))
        return super().evaluate(observations)


def search(name, moves, sims=400, states=1, noise=False, evaluator=None, seed=0):
    g = get_game(name)
    ev = evaluator or UniformEvaluator(g.action_size)
    mcts = BatchedMCTS(g, ev, MctsConfig(simulations=sims), np.random.default_rng(seed))
    return mcts.search([g.from_actions(moves)] * states, add_noise=noise), mcts


def test_finds_a_win_in_one():
    result, _ = search("tictactoe", [0, 3, 1, 4])
    assert result.visits[0].argmax() == 2 and result.value[0] > 0.5
    result, _ = search("connect4", [3, 3, 4, 4, 5, 5])
    assert result.visits[0].argmax() in (2, 6)


def test_blocks_a_loss_in_one():
    result, _ = search("tictactoe", [0, 3, 1])
    assert result.visits[0].argmax() == 2
    result, _ = search("connect4", [3, 0, 4, 0, 5], sims=3000)
    assert result.visits[0].argmax() in (2, 6)


def test_visits_sum_to_the_simulations_and_illegal_moves_get_none():
    result, _ = search("tictactoe", [4, 0], sims=100, states=3)
    assert result.visits.sum(axis=1).tolist() == [100, 100, 100]
    assert (result.visits[:, [0, 4]] == 0).all()
    assert np.allclose(result.policy.sum(axis=1), 1)


def test_a_per_call_simulation_count_searches_as_a_config_with_that_count_would():
    # Self-play's fast searches (playout-cap randomisation) pass their own count to the full searches' instance.
    g = get_game("connect4")
    root = g.from_actions([3, 3])
    full = BatchedMCTS(g, UniformEvaluator(g.action_size), MctsConfig(simulations=64), np.random.default_rng(0))
    fast = full.search([root] * 2, add_noise=True, simulations=12)
    alone = BatchedMCTS(g, UniformEvaluator(g.action_size), MctsConfig(simulations=12), np.random.default_rng(0))
    assert fast.visits.sum(axis=1).tolist() == [12, 12]
    assert np.array_equal(fast.visits, alone.search([root] * 2, add_noise=True).visits)
    assert full.search([root]).visits.sum() == 64, "the config's count again when none is given"
    with pytest.raises(ValueError, match="simulations must be >= 1, got 0"):
        full.search([root], simulations=0)


def test_many_searches_share_network_calls():
    g = get_game("connect4")
    counting = CountingEvaluator(g.action_size)
    search("connect4", [3], sims=32, states=16, evaluator=counting)
    assert max(counting.batches) > 1, "leaves of different searches must be evaluated together"
    assert len(counting.batches) < 16 * 32 / 4


def test_noise_changes_the_root_only_when_asked():
    # Without noise the generator is never drawn from: other seeds, the same search.
    clean, _ = search("connect4", [], sims=50, states=4, seed=0)
    assert np.array_equal(clean.visits, search("connect4", [], sims=50, states=4, seed=1)[0].visits)
    assert len({row.tobytes() for row in clean.visits}) == 1, "identical roots searched alike"
    # With noise from the same seed: the root priors, and so the visits, differ from the clean search
    # and from one root to the next.
    noisy, _ = search("connect4", [], sims=50, states=4, noise=True, seed=0)
    assert not np.array_equal(noisy.visits, clean.visits)
    assert len({row.tobytes() for row in noisy.visits}) > 1


def test_terminal_roots_need_no_search():
    g = get_game("tictactoe")
    done = g.from_actions([0, 3, 1, 4, 2])
    counting = CountingEvaluator(g.action_size)
    result = BatchedMCTS(g, counting, MctsConfig(simulations=10)).search([done])
    assert result.visits.sum() == 0 and result.value[0] == -1 and counting.batches == []


@pytest.mark.parametrize("name", ["tictactoe", "connect4"])
def test_a_new_evaluator_clears_the_cache(name):
    g = get_game(name)
    first, second = CountingEvaluator(g.action_size), CountingEvaluator(g.action_size)
    mcts = BatchedMCTS(g, first, MctsConfig(simulations=20))
    mcts.search([g.initial_state()])
    mcts.set_evaluator(second)
    mcts.search([g.initial_state()])
    assert second.batches, "the second network was never asked"


def test_root_noise_uses_the_games_own_alpha_unless_the_config_sets_one():
    class SparseNoiseTicTacToe(TicTacToe):
        dirichlet_alpha = 0.25

    game = SparseNoiseTicTacToe()
    assert BatchedMCTS(game, UniformEvaluator(game.action_size)).alpha == 0.25
    assert BatchedMCTS(game, UniformEvaluator(game.action_size), MctsConfig(dirichlet_alpha=0.3)).alpha == 0.3


class GcObservingEvaluator(UniformEvaluator):
    def __init__(self, action_size: int) -> None:
        super().__init__(action_size)
        self.gc_enabled: set[bool] = set()

    def evaluate(self, observations):
        self.gc_enabled.add(gc.isenabled())
        return super().evaluate(observations)


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_cyclic_collector_is_off_during_a_search_and_as_it_was_after(enabled_before):
    g = get_game("connect4")
    observing = GcObservingEvaluator(g.action_size)
    was = gc.isenabled()
    try:
        gc.enable() if enabled_before else gc.disable()
        BatchedMCTS(g, observing, MctsConfig(simulations=50)).search([g.initial_state()] * 3)
        assert observing.gc_enabled == {False}
        assert gc.isenabled() is enabled_before
        with pytest.raises(ZeroDivisionError):  # a failing network leaves it as it found it, too
            BatchedMCTS(g, _Failing(g.action_size), MctsConfig(simulations=5)).search([g.initial_state()])
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable() if was else gc.disable()


class _Failing(UniformEvaluator):
    def evaluate(self, observations):
        raise ZeroDivisionError


def test_a_search_leaves_no_cyclic_garbage():
    # Why pausing the collector loses nothing: reference counting alone frees a finished search's trees.
    g = get_game("connect4")
    mcts = BatchedMCTS(g, UniformEvaluator(g.action_size), MctsConfig(simulations=200), np.random.default_rng(0))
    was = gc.isenabled()
    gc.collect()
    gc.disable()  # else the first allocation after the search could collect (and hide) its garbage
    try:
        mcts.search([g.initial_state(), g.from_actions([3, 3])] * 4, add_noise=True)
        assert gc.collect() == 0
    finally:
        gc.enable() if was else gc.disable()


def test_overlapping_searches_in_threads_leave_the_collector_as_the_first_found_it():
    """The web runs searches in request threads that begin and end in any order: the collector stays off while
    any runs and is on again once the last has ended (a per-search restore turned it on under a running search,
    and could leave it off for good)."""
    import threading

    g = get_game("tictactoe")
    entered, release = threading.Event(), threading.Event()

    class Holding(UniformEvaluator):  # the first search waits inside its network call until released
        def evaluate(self, observations):
            entered.set()
            release.wait(10)
            return super().evaluate(observations)

    first = threading.Thread(
        target=lambda: BatchedMCTS(g, Holding(g.action_size), MctsConfig(simulations=2)).search([g.initial_state()])
    )
    seen_after_first_ended: list[bool] = []

    class EndingTheFirst(UniformEvaluator):  # the second search lets the first end while it still runs
        def evaluate(self, observations):
            if not seen_after_first_ended:
                release.set()
                first.join(10)
                seen_after_first_ended.append(gc.isenabled())
            return super().evaluate(observations)

    was = gc.isenabled()
    gc.enable()
    try:
        first.start()
        assert entered.wait(10)
        BatchedMCTS(g, EndingTheFirst(g.action_size), MctsConfig(simulations=8)).search([g.initial_state()])
        assert seen_after_first_ended == [False], "the first search's end turned the collector on under the second"
        assert gc.isenabled(), "the last search to end did not turn the collector back on"
    finally:
        release.set()
        gc.enable() if was else gc.disable()


def test_a_reused_subtree_is_topped_up_to_the_budget_counting_the_visits_it_holds():
    g = get_game("connect4")
    ev = CountingEvaluator(g.action_size)
    mcts = BatchedMCTS(g, ev, MctsConfig(simulations=64), np.random.default_rng(0))
    root = Node(g.from_actions([3, 3]))
    first = mcts.search_trees([root], add_noise=False)
    played = int(first.visits[0].argmax())
    child = root.children[root.actions.index(played)]
    held = list(child.child_n)
    assert child.state == g.apply(root.state, played) and 0 < sum(held) < 64
    sent = sum(ev.batches)
    again = mcts.search_trees([child], add_noise=False)
    assert again.visits[0].sum() == 64 and np.all(again.visits[0][child.actions] >= held)
    assert np.allclose(again.policy.sum(), 1) and again.policy[0][child.actions] == pytest.approx(
        np.array(child.child_n) / 64
    )
    # Fewer new positions than a fresh 64-simulation search of the same position sends.
    fresh = CountingEvaluator(g.action_size)
    BatchedMCTS(g, fresh, MctsConfig(simulations=64), np.random.default_rng(0)).search([child.state], add_noise=False)
    assert sum(ev.batches) - sent < sum(fresh.batches)
    # A root already holding the budget is not searched: its visits come back as they were.
    calls = len(ev.batches)
    full = mcts.search_trees([child], add_noise=True, simulations=16)
    assert full.visits[0].sum() == 64 and len(ev.batches) == calls


def test_root_noise_is_drawn_afresh_for_each_search_and_never_compounds():
    g = get_game("connect4")
    mcts = BatchedMCTS(g, UniformEvaluator(g.action_size), MctsConfig(simulations=32), np.random.default_rng(0))
    seen: list[tuple[list[float], list[float]]] = []  # each noised root's priors before and after the noise
    real = mcts._add_noise

    def add_noise(root):
        before = root.priors
        real(root)
        seen.append((before, root.priors))

    mcts._add_noise = add_noise
    root = Node(g.from_actions([3]))
    for simulations in (32, 64, 96):  # the same root searched on: each search tops it up with noise of its own
        mcts.search_trees([root], add_noise=True, simulations=simulations)
        assert root.priors == pytest.approx([1 / 7] * 7), "the root leaves a search with the network's priors"
    assert len(seen) == 3
    assert all(before == pytest.approx([1 / 7] * 7) for before, _ in seen), "noise mixed into earlier noise"
    noised = [after for _, after in seen]
    assert all(sum(n) == pytest.approx(1) for n in noised) and noised[0] != noised[1] != noised[2]
