from __future__ import annotations

import numpy as np

from .base import Game, IllegalMove, State

_FULL = 0x1FF
_LINES = tuple(
    sum(1 << i for i in cells)
    for cells in (
        (0, 1, 2),
        (3, 4, 5),
        (6, 7, 8),
        (0, 3, 6),
        (1, 4, 7),
        (2, 5, 8),
        (0, 4, 8),
        (2, 4, 6),
    )
)


class TicTacToe(Game):
    """3x3 noughts and crosses; action = row * 3 + col."""

    name = "tictactoe"
    label = "Tic-tac-toe"
    rows = 3
    cols = 3
    action_size = 9
    action_kind = "cell"
    max_plies = 9
    dirichlet_alpha = 1.0
    temperature_moves = 4
    win_length = 3
    line_weights = (0, 1, 10)  # two of mine and none of theirs threatens a win: worth ten lines with one
    centre_weight = 0
    reference_depth = 2  # at full depth alpha-beta would be the perfect player again
    opening_plies = 1  # 9 first moves
    solvable = True  # a few thousand reachable positions
    positions_file = None

    def legal_actions(self, state: State) -> list[int]:
        if state.terminal:
            return []
        free = ~(state.mine | state.theirs) & _FULL
        return [a for a in range(9) if free >> a & 1]

    def apply(self, state: State, action: int) -> State:
        self._check_action(state, action)
        bit = 1 << action
        if (state.mine | state.theirs) & bit:
            raise IllegalMove(f"tictactoe: cell {action} is occupied")
        mover = state.mine | bit
        outcome = None
        if any(mover & line == line for line in _LINES):
            outcome = -1
        elif (mover | state.theirs) == _FULL:
            outcome = 0
        return State(state.theirs, mover, state.ply + 1, outcome, action)

    def cell_bit(self, row: int, col: int) -> int:
        return 1 << (row * 3 + col)

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        grid = policy.reshape(3, 3)
        out = []
        for k in range(4):
            o, p = np.rot90(obs, k, axes=(1, 2)), np.rot90(grid, k)
            out.append((o, p.reshape(-1)))
            out.append((np.flip(o, axis=2), np.fliplr(p).reshape(-1)))
        return [(np.ascontiguousarray(o), np.ascontiguousarray(p)) for o, p in out]
