"""The connect4 solver against positions of known value and against exhaustive search near the end of games."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.arena.players import MinimaxPlayer
from cartridge.arena.positions import load_positions, positions_path
from cartridge.arena.solver import SolveBudgetExceeded, Solver, non_losing_moves, winning_cells
from cartridge.games import get_game

connect4 = get_game("connect4")


def solve(moves):
    return Solver().solve(connect4.from_actions(moves))


def test_winning_cells_find_every_shape_of_four():
    # The first player holds columns 0, 1, 2 of the bottom row: column 3's bottom cell wins.
    state = connect4.from_actions([0, 6, 1, 6, 2, 5])
    first = state.mine  # first player to move again
    assert winning_cells(first, state.mine | state.theirs) == connect4.cell_bit(5, 3)
    # A gap in the middle: 0, 1, _, 3.
    state = connect4.from_actions([0, 6, 1, 6, 3, 5])
    assert winning_cells(state.mine, state.mine | state.theirs) == connect4.cell_bit(5, 2)


def test_an_immediate_win_is_a_win_and_the_winning_column_is_optimal():
    # Late positions of random games (the optimal set means solving every move: cheap only near the end).
    found = 0
    for moves in _late_positions(40, empty=14, seed=5):
        state = connect4.from_actions(moves)
        winning = {a for a in connect4.legal_actions(state) if connect4.apply(state, a).outcome == -1}
        if winning:
            solution = Solver().solve(state)
            assert solution.value == 1 and winning <= set(solution.optimal_moves), moves
            found += 1
    assert found >= 3


def test_two_open_threats_win_in_three_plies():
    # Bottom row: X on 2 and 3, O on top of them. X plays 1 or 4 and threatens both ends of an open three.
    assert Solver().value(connect4.from_actions([3, 3, 2, 2])) == 1
    # Checked by hand: after X plays 4, every reply of O leaves X a move that completes four.
    after = connect4.from_actions([3, 3, 2, 2, 4])
    for reply in connect4.legal_actions(after):
        child = connect4.apply(after, reply)
        assert any(connect4.apply(child, a).outcome == -1 for a in connect4.legal_actions(child))


def test_two_threats_of_the_opponent_lose_whatever_the_move():
    # O holds the bottom row's columns 2, 3, 4 with both ends open; X to move cannot block both.
    solution = solve([0, 2, 0, 3, 6, 4])
    assert solution.value == -1 and solution.optimal_moves == tuple(
        connect4.legal_actions(connect4.from_actions([0, 2, 0, 3, 6, 4]))
    )
    assert non_losing_moves(*_bitboards([0, 2, 0, 3, 6, 4])) == 0


def _bitboards(moves):
    state = connect4.from_actions(moves)
    return state.mine, state.mine | state.theirs


def _late_positions(count: int, empty: int, seed: int):
    """Running positions of random games with ``empty`` cells left (exhaustive search stays cheap there)."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < count:
        state, moves = connect4.initial_state(), []
        while not state.terminal and len(moves) < 42 - empty:
            moves.append(int(rng.choice(connect4.legal_actions(state))))
            state = connect4.apply(state, moves[-1])
        if not state.terminal:
            found.append(moves)
    return found


@pytest.mark.parametrize("seed", range(3))
def test_solver_agrees_with_exhaustive_search_near_the_end(seed):
    perfect = MinimaxPlayer(connect4, rng=None)
    solver = Solver()
    for moves in _late_positions(12, empty=9, seed=seed):
        state = connect4.from_actions(moves)
        values = perfect.move_values(state)
        best = max(values.values())
        solution = solver.solve(state)
        assert (solution.value, set(solution.optimal_moves)) == (best, {a for a, v in values.items() if v == best}), (
            moves
        )


def test_a_position_over_the_node_budget_is_refused_not_searched_forever():
    with pytest.raises(SolveBudgetExceeded):
        Solver(node_budget=1000).solve(connect4.initial_state())


def test_the_committed_positions_are_labelled_as_the_solver_labels_them():
    positions = load_positions(positions_path(connect4))
    assert len(positions) >= 200
    plies = [len(p.moves) for p in positions]
    assert min(plies) >= 8 and max(plies) <= 30
    solver = Solver(node_budget=300_000)
    # Re-label every tenth position (all depths) and compare.
    for p in positions[::10]:
        solution = solver.solve(connect4.from_actions(p.moves))
        assert (solution.value, frozenset(solution.optimal_moves)) == (p.value, p.optimal), p.moves
