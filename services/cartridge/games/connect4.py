from __future__ import annotations

import numpy as np

from .base import Game, IllegalMove, State

# The bitboard layout (public: cartridge.arena.solver searches the same boards). Column c holds bits
# c * COLUMN_STRIDE upwards from the bottom row.
ROWS, COLS = 6, 7
COLUMN_STRIDE = ROWS + 1  # one sentinel bit per column keeps shifted lines from wrapping
COLUMN_MASKS = [((1 << ROWS) - 1) << (c * COLUMN_STRIDE) for c in range(COLS)]
BOTTOM_BITS = [1 << (c * COLUMN_STRIDE) for c in range(COLS)]
_TOP = [1 << (c * COLUMN_STRIDE + ROWS - 1) for c in range(COLS)]
BOARD_MASK = sum(COLUMN_MASKS)
_TOP_ROW = sum(_TOP)
# The legal columns for each set of full columns (the top row's stones): legal_actions is one lookup. MCTS asks
# it once per position it evaluates.
_LEGAL = {
    full: tuple(c for c in range(COLS) if not full & _TOP[c])
    for full in (sum(_TOP[c] for c in range(COLS) if pattern >> c & 1) for pattern in range(1 << COLS))
}


def _wins(b: int) -> bool:
    for d in (1, COLUMN_STRIDE, COLUMN_STRIDE - 1, COLUMN_STRIDE + 1):  # vertical, horizontal, two diagonals
        m = b & (b >> d)
        if m & (m >> (2 * d)):
            return True
    return False


class Connect4(Game):
    """7 columns by 6 rows, stones drop; action = column."""

    name = "connect4"
    label = "Connect Four"
    rows = ROWS
    cols = COLS
    action_size = COLS
    action_kind = "column"
    max_plies = ROWS * COLS
    dirichlet_alpha = 1.0
    temperature_moves = 12
    win_length = 4
    # Open threes (5) far above open twos (2), as in the usual connect4 evaluation; the centre column is part of the
    # most windows.
    line_weights = (0, 0, 2, 5)
    centre_weight = 3
    reference_depth = 4
    opening_plies = 2  # 7 x 7 two-ply openings
    solvable = False
    positions_file = "connect4_positions.jsonl"  # labelled by cartridge.arena.solver (see data/README.md there)

    def legal_actions(self, state: State) -> list[int]:
        if state.terminal:
            return []
        return list(_LEGAL[(state.mine | state.theirs) & _TOP_ROW])

    def apply(self, state: State, action: int) -> State:
        self._check_action(state, action)
        occupied = state.mine | state.theirs
        if occupied & _TOP[action]:
            raise IllegalMove(f"connect4: column {action} is full")
        # Adding the column's bottom bit to its occupied bits carries into the lowest free cell.
        bit = (occupied + BOTTOM_BITS[action]) & COLUMN_MASKS[action]
        bit &= ~occupied
        mover = state.mine | bit
        outcome = None
        if _wins(mover):
            outcome = -1
        elif (mover | state.theirs) == BOARD_MASK:
            outcome = 0
        return State(state.theirs, mover, state.ply + 1, outcome, action)

    def cell_bit(self, row: int, col: int) -> int:
        return 1 << (col * COLUMN_STRIDE + (ROWS - 1 - row))

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (obs, policy),
            (np.ascontiguousarray(np.flip(obs, axis=2)), np.ascontiguousarray(policy[::-1])),
        ]
