from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest

from cartridge.games import get_game
from cartridge.inference import UniformEvaluator
from cartridge.mcts import BatchedMCTS, MctsConfig, Node, SearchResult
from cartridge.replay.codec import check_transitions
from cartridge.selfplay import SelfPlay
from testkit.support import FirstPlayerLosing


def play(name="tictactoe", **kwargs):
    g = get_game(name)
    sp = SelfPlay(g, MctsConfig(simulations=16), parallel_games=8, rng=np.random.default_rng(0), actor_id="t")
    return g, sp, kwargs


@pytest.mark.parametrize("reuse", [False, True], ids=["fresh-roots", "reused-subtrees"])
def test_episodes_are_well_formed_and_replay_to_their_observations(reuse):
    g, sp, _ = play()
    sp.reuse_tree = reuse
    network = UniformEvaluator(9)  # one model: under reuse, the kept subtrees are searched
    episodes = list(sp.play(lambda: network, max_episodes=10))
    assert len(episodes) == 10 and len({e.episode_id for e in episodes}) == 10
    for episode in episodes:
        state = g.initial_state()
        for t in episode.transitions:
            assert np.array_equal(t.observation, g.observation(state))
            assert abs(t.policy.sum() - 1) < 1e-5 and t.policy[t.action] > 0
            state = g.apply(state, t.action)
        assert state.terminal and g.winner(state) == episode.winner
        values = [t.value for t in episode.transitions]
        if episode.winner:
            assert values[-1] == 1 and all(a == -b for a, b in itertools.pairwise(values))
        else:
            assert set(values) == {0.0}
        assert episode.actor_id == "t" and episode.model_version == 0 and episode.duration_s >= 0


def test_should_stop_ends_between_rounds_without_yielding_partial_games():
    _g, sp, _ = play("connect4")
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        return rounds["n"] > 5

    assert list(sp.play(lambda: UniformEvaluator(7), should_stop=stop)) == []  # no connect4 game ends in 5 moves


def test_a_new_evaluator_is_used_from_the_next_round():
    _g, sp, _ = play()

    class Versioned(UniformEvaluator):
        def __init__(self, version):
            super().__init__(9)
            self.version = version

    calls = {"n": 0}

    def evaluator():
        calls["n"] += 1
        return Versioned(0 if calls["n"] < 20 else 7)

    versions = [e.model_version for e in sp.play(evaluator, max_episodes=40)]
    assert versions[0] == 0 and versions[-1] == 7 and versions == sorted(versions)


def test_exploration_lasts_the_games_own_temperature_moves_unless_given():
    for game in (get_game("tictactoe"), get_game("connect4")):
        assert SelfPlay(game, MctsConfig(simulations=4), parallel_games=1).temperature_moves == game.temperature_moves
        assert SelfPlay(game, MctsConfig(simulations=4), parallel_games=1, temperature_moves=2).temperature_moves == 2


def test_in_flight_counts_the_games_in_play_and_drops_to_0_when_play_ends():
    _g, sp, _ = play()
    assert sp.in_flight == 0
    games = sp.play(lambda: UniformEvaluator(9), max_episodes=10)
    next(games)
    assert sp.in_flight == 8  # parallel_games, each finished game replaced while the budget lasts
    rest = list(games)
    assert len(rest) == 9 and sp.in_flight == 0
    stopped = sp.play(lambda: UniformEvaluator(9))
    next(stopped)
    stopped.close()  # the actor stops between episodes
    assert sp.in_flight == 0


# -- training targets: playout-cap randomisation and value-target mixing ------------------------------------------


class SearchSpy:
    """Every BatchedMCTS.search call self-play makes: its arguments and its real result."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[int, int | None, bool, SearchResult]] = []  # states, simulations, noise, result
        # Per call, each root's visits per move when it came in (none for a fresh root) and those moves.
        self.reused: list[list[tuple[list[float], list[int]]]] = []
        real = BatchedMCTS.search_trees

        def search_trees(mcts, roots, add_noise=True, simulations=None):
            self.reused.append([(list(r.child_n), list(r.actions)) for r in roots])
            result = real(mcts, roots, add_noise=add_noise, simulations=simulations)
            self.calls.append((len(roots), simulations, add_noise, result))
            return result

        monkeypatch.setattr(BatchedMCTS, "search_trees", search_trees)  # search() calls it too

    def full(self):
        return [c for c in self.calls if c[1] is None]

    def fast(self):
        return [c for c in self.calls if c[1] is not None]

    def searched(self, policy: np.ndarray) -> tuple[tuple[int, int | None, bool, SearchResult], int]:
        """The call and row whose result a transition's policy is (the same memory, not an equal copy)."""
        for call in self.calls:
            for k in range(call[0]):
                if np.shares_memory(policy, call[3].policy[k]):
                    return call, k
        raise AssertionError("a transition's policy came from no search")


def capped(full_share=1.0, fast_sims=4, value_mix=0.0, seed=3, sims=16, games=4, name="tictactoe", **options):
    g = get_game(name)
    sp = SelfPlay(
        g,
        MctsConfig(simulations=sims),
        parallel_games=games,
        rng=np.random.default_rng(seed),
        full_share=full_share,
        fast_sims=fast_sims,
        value_mix=value_mix,
        **options,
    )
    return g, sp


def test_a_full_share_of_1_plays_exactly_as_self_play_did_before_playout_caps():
    # Pinned from the self-play of the commit before playout caps (same seed, config and games): drawing a coin
    # at a share of 1, or searching any move with other settings, would change these.
    _g, sp = capped(full_share=1.0, fast_sims=4, value_mix=0.0)
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=6))
    pinned = [
        ((2, 0, 4, 7, 6), 24.4375),
        ((6, 1, 4, 0, 2), 19.6875),
        ((6, 1, 8, 0, 7), 22.1875),
        ((2, 7, 4, 3, 6), 21.6875),
        ((4, 6, 0, 2, 8), 22.3125),
        ((1, 5, 0, 4, 2), 19.375),
    ]
    played = [
        (tuple(t.action for t in e.transitions), round(float(sum(t.policy @ np.arange(9) for t in e.transitions)), 4))
        for e in episodes
    ]
    assert played == pinned
    assert sp.simulations == 480 and sp.unrecorded_games == 0


def test_only_fully_searched_moves_are_recorded_and_every_simulation_is_counted(monkeypatch):
    spy = SearchSpy(monkeypatch)
    g, sp = capped(full_share=0.4, fast_sims=5, sims=24)
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=30))
    assert len(episodes) == 30 and spy.full() and spy.fast()
    assert all(noise for _, _, noise, _ in spy.full()) and not any(noise for _, _, noise, _ in spy.fast())
    assert {sims for _, sims, _, _ in spy.fast()} == {5}
    assert sp.simulations == sum(n * (sims or 24) for n, sims, _, _ in spy.calls)
    for e in episodes:
        check_transitions(g.name, e.transitions)  # what the replay buffer checks: 0..n-1, never empty
        for t in e.transitions:
            (_n, sims, _noise, result), k = spy.searched(t.policy)
            assert sims is None and result.visits[k].sum() == 24 and result.visits[k][t.action] > 0
    # A tic-tac-toe game lasts 5 to 9 moves: episodes this short lost their fast-searched moves.
    assert min(len(e.transitions) for e in episodes) < 5
    assert sum(len(e.transitions) for e in episodes) <= sum(n for n, _, _, _ in spy.full())


def test_a_game_with_no_full_search_is_not_an_episode_and_does_not_count_toward_max_episodes():
    g, sp = capped(full_share=0.05, fast_sims=4)
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=5))
    assert len(episodes) == 5 and sp.unrecorded_games > 0
    for e in episodes:
        check_transitions(g.name, e.transitions)
    assert sp.in_flight == 0


def test_the_value_target_mixes_the_game_result_and_the_searched_root_value(monkeypatch):
    spy = SearchSpy(monkeypatch)
    _g, sp = capped(value_mix=0.25)
    episodes = list(sp.play(lambda: UniformEvaluator(9), max_episodes=6))
    for e in episodes:
        for i, t in enumerate(e.transitions):
            (_n, _sims, _noise, result), k = spy.searched(t.policy)
            mover = i % 2 + 1  # every move recorded (a full share of 1): the first player moves at even plies
            z = 0.0 if e.winner == 0 else (1.0 if mover == e.winner else -1.0)
            assert t.value == pytest.approx(0.75 * z + 0.25 * float(result.value[k]))
    # q is for the mover, like z: the winner's last search, a win in one, values its position above 0.
    _g, sp = capped(value_mix=1.0)
    decisive = [e for e in sp.play(lambda: UniformEvaluator(9), max_episodes=6) if e.winner]
    assert decisive and all(e.transitions[-1].value > 0 for e in decisive)


def test_self_play_refuses_targets_outside_their_ranges():
    for bad in ({"full_share": 0.0}, {"full_share": 1.5}, {"fast_sims": 0}, {"value_mix": -0.1}, {"value_mix": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            capped(**bad)


# -- subtree reuse -------------------------------------------------------------------------------------------------


def reusing(**kwargs):
    return capped(reuse_tree=True, **kwargs)


def live_nodes() -> int:
    return sum(isinstance(o, Node) for o in gc.get_objects())


def test_reused_roots_keep_their_visits_and_the_policy_is_the_whole_root_distribution(monkeypatch):
    spy = SearchSpy(monkeypatch)
    _g, sp = reusing(sims=24)
    network = UniformEvaluator(9)  # one model throughout: a new one drops the trees
    assert len(list(sp.play(lambda: network, max_episodes=12))) == 12
    reused = 0
    for (n, _sims, noise, result), roots in zip(spy.calls, spy.reused, strict=True):
        assert noise  # every move searched fully: fresh root noise on reused roots too
        assert np.allclose(result.policy[:n].sum(axis=1), 1)
        for k, (before, actions) in enumerate(roots):
            # The budget counts the reused visits (a fresh root has none), and every move keeps what it had.
            assert result.visits[k].sum() == max(24, sum(before))
            assert np.all(result.visits[k][actions] >= before)
            reused += sum(before) > 0
    assert reused > 12  # most moves after the first start from the played child's subtree
    # What was searched is counted, not what was reused: fewer simulations than moves x budget.
    searched = sum(int(r.visits.sum()) for *_, r in spy.calls) - sum(sum(sum(b) for b, _ in rs) for rs in spy.reused)
    assert sp.simulations == searched < sum(n for n, *_ in spy.calls) * 24


def test_a_new_model_drops_the_kept_trees(monkeypatch):
    spy = SearchSpy(monkeypatch)
    _g, sp = reusing()
    # One call builds the search, then one per round: a new model from the 4th round on.
    networks = iter([UniformEvaluator(9)] * 4 + [UniformEvaluator(9)] * 100)
    list(sp.play(lambda: next(networks), max_episodes=4))
    came_in = [sum(sum(before) for before, _ in roots) for roots in spy.reused]
    assert came_in[0] == 0 and came_in[1] > 0 and came_in[2] > 0
    assert came_in[3] == 0, "the new model searched the old one's trees"
    assert came_in[4] > 0


def test_reuse_with_fast_rounds_and_no_tree_outlives_its_game(monkeypatch):
    # Fast rounds (fewer simulations, no noise) top up reused roots too, and may find them full already.
    spy = SearchSpy(monkeypatch)
    g, sp = reusing(full_share=0.5, fast_sims=4, sims=16)
    network = UniformEvaluator(9)
    peak = 0
    for e in sp.play(lambda: network, max_episodes=20):
        check_transitions(g.name, e.transitions)
        peak = max(peak, live_nodes())
    fast = [(c, roots) for c, roots in zip(spy.calls, spy.reused, strict=True) if c[1] is not None]
    assert fast and not any(noise for (_n, _s, noise, _r), _ in fast)
    assert any(sum(before) > 4 for _, roots in fast for before, _ in roots), "some fast root came in already full"
    for (n, _s, _noise, result), roots in fast:
        assert result.visits[:n].sum(axis=1).tolist() == [max(4, sum(before)) for before, _ in roots]
    # During play at most each game's tree (no more nodes than the budget's visits, plus the root) is alive;
    # after it none.
    assert 0 < peak <= 4 * (16 + 1)
    assert live_nodes() == 0


# -- resignation -----------------------------------------------------------------------------------------------------


def resigning(threshold=0.8, check_share=0.0, seed=3):
    g = get_game("tictactoe")
    sp = SelfPlay(
        g,
        MctsConfig(simulations=16),
        parallel_games=4,
        rng=np.random.default_rng(seed),
        resign_threshold=threshold,
        resign_check_share=check_share,
    )
    return g, sp


def test_a_player_whose_root_value_stays_below_the_threshold_for_2_own_moves_resigns_and_the_opponent_wins(
    monkeypatch,
):
    spy = SearchSpy(monkeypatch)
    g, sp = resigning(threshold=0.8)
    network = FirstPlayerLosing()
    episodes = list(sp.play(lambda: network, max_episodes=6))
    assert len(episodes) == 6 and sp.resigned_games == 6 and sp.resign_checks == 0
    first_values = [float(r.value[k]) for n, _s, _noise, r in spy.calls[:1] for k in range(n)]
    assert all(v < -0.8 for v in first_values)  # what the rule saw on the first player's first move
    for e in episodes:
        # The first player moved at ply 0 (one low value), the second at ply 1, and at ply 2 the first player's
        # second low value ended the game before a move: two moves recorded, the second player the winner.
        check_transitions(g.name, e.transitions)
        assert e.winner == 2 and [t.value for t in e.transitions] == [-1.0, 1.0]
    # A threshold the values never go below: nobody resigns, every game is played to its end.
    _g, sp = resigning(threshold=0.95)
    episodes = list(sp.play(lambda: network, max_episodes=6))
    assert sp.resigned_games == 0 and all(len(e.transitions) >= 5 for e in episodes)


class FirstPlayerLowAtPlies0And4(UniformEvaluator):
    """Values by the stones on the board, chosen so that the first player's searched root value (its children's
    values negated, and its grandchildren's) is about -0.9 at ply 0, 0.9 at ply 2, and often below -0.5 at ply 4."""

    VALUES = np.array([0.0, 0.9, -0.9, -0.9, 0.9, 0.9, -0.9, 0.9, -0.9, 0.0], dtype=np.float32)

    def __init__(self) -> None:
        super().__init__(9)

    def evaluate(self, observations):
        logits, _ = super().evaluate(observations)
        stones = observations.reshape(len(observations), -1).sum(axis=1).astype(int)
        return logits, self.VALUES[stones]


def test_a_high_value_between_two_low_ones_breaks_the_run(monkeypatch):
    spy = SearchSpy(monkeypatch)
    _g, sp = resigning(threshold=0.5)
    network = FirstPlayerLowAtPlies0And4()
    episodes = list(sp.play(lambda: network, max_episodes=8))
    first_player = [float(v) for n, _s, _noise, r in spy.calls for v in r.value[:n]]
    assert sum(v < -0.5 for v in first_player) > len(spy.calls[0][3].value), "low values after ply 0 as well"
    # Low at ply 0, high at ply 2, low again at ply 4: not 2 in a row, so nobody resigns.
    assert sp.resigned_games == 0 and all(len(e.transitions) >= 5 for e in episodes)


def test_check_games_play_on_and_count_the_resignations_that_would_have_been_wrong():
    g, sp = resigning(threshold=0.3, check_share=0.5, seed=5)
    network = FirstPlayerLosing()
    episodes = list(sp.play(lambda: network, max_episodes=30))
    played_out = [e for e in episodes if len(e.transitions) > 2]
    assert sp.resigned_games == len(episodes) - len(played_out) > 0
    assert sp.resign_checks == len(played_out) > 0  # the first player met the rule in every one of them
    for e in played_out:  # played to the end: the result is the board's
        state = g.initial_state()
        for t in e.transitions:
            state = g.apply(state, t.action)
        assert state.terminal and g.winner(state) == e.winner
    # The first player would have resigned: a win or a draw of its own afterwards proves that wrong.
    wrong = sum(e.winner != 2 for e in played_out)
    assert 0 < sp.resign_false_positives == wrong < len(played_out)


def test_self_play_refuses_resignation_settings_outside_their_ranges():
    for bad in ({"threshold": -0.1}, {"threshold": 1.0}, {"check_share": 1.5}, {"check_share": -0.1}):
        name = "resign_threshold" if "threshold" in bad else "resign_check_share"
        with pytest.raises(ValueError, match=name):
            resigning(**bad)
