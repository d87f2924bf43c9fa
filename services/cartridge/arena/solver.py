"""A connect4 solver: bitboard negamax with alpha-beta, a transposition table and threat-aware move pruning.

It follows Pascal Pons' solver (http://blog.gamesolver.org), in pure Python and as a *weak* solver: values are
1 (the player to move wins), 0 (draw), -1 (loses), which is what "the best move" means for the labelled test set
(a move is optimal when it keeps the position's value). Pure Python makes it slow; it runs offline, once, and
a node budget stops it on a position too hard to solve in time (SolveBudgetExceeded), which the caller skips.

Bitboards are the game's own (games/connect4.py): column c holds bits c*7 .. c*7+5 from the bottom up, with one
sentinel bit on top. ``position`` is the stones of the player to move, ``mask`` all stones; ``position + mask``
is a unique key (the lowest empty cell of each column marks where the stones end).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..games.base import State
from ..games.connect4 import BOARD_MASK, BOTTOM_BITS, COLS, COLUMN_MASKS, ROWS, Connect4
from ..games.connect4 import COLUMN_STRIDE as H  # bits per column, the sentinel included

SOLVED_GAME = Connect4.name  # the game whose bitboards the solver reads
CELLS = ROWS * COLS
BOTTOM_MASK = sum(BOTTOM_BITS)
# Centre columns first: they take part in the most lines, so the best move is usually found first and cuts early.
CENTRE_ORDER = sorted(range(COLS), key=lambda c: abs(c - COLS // 2))


class SolveBudgetExceeded(RuntimeError):
    """The position needs more nodes than the budget allows."""


def winning_cells(position: int, mask: int) -> int:
    """Empty cells (reachable or not) where one more stone of ``position`` completes four."""
    p = position
    r = (p << 1) & (p << 2) & (p << 3)  # vertical: three below
    for d in (H, H - 1, H + 1):  # horizontal and the two diagonals: any gap among the four
        pair = (p << d) & (p << 2 * d)
        r |= pair & (p << 3 * d)
        r |= pair & (p >> d)
        pair = (p >> d) & (p >> 2 * d)
        r |= pair & (p << d)
        r |= pair & (p >> 3 * d)
    return r & (BOARD_MASK ^ mask)


def playable(mask: int) -> int:
    """The lowest empty cell of every column that is not full."""
    return (mask + BOTTOM_MASK) & BOARD_MASK


def non_losing_moves(position: int, mask: int) -> int:
    """Playable cells that do not hand the opponent an immediate win (0: every move loses at once).

    The player to move must block an opponent's immediate win (two of them cannot be blocked), and must not play
    just below a cell where the opponent would complete four."""
    possible = playable(mask)
    threats = winning_cells(position ^ mask, mask)
    forced = possible & threats
    if forced:
        if forced & (forced - 1):
            return 0
        possible = forced
    return possible & ~(threats >> 1)


@dataclass(frozen=True)
class Solution:
    value: int  # for the player to move: 1 win, 0 draw, -1 loss
    optimal_moves: tuple[int, ...]  # columns that keep that value
    nodes: int


class Solver:
    """Weak connect4 solver; the transposition table persists across calls (positions of one game share a lot)."""

    def __init__(self, node_budget: int = 2_000_000, table_size: int = 2_000_000) -> None:
        self.node_budget, self.table_size = node_budget, table_size
        # key -> (lower, upper) bound of the value: an exact value has lower == upper.
        self.table: dict[int, tuple[int, int]] = {}
        self.nodes, self._limit = 0, node_budget

    def _negamax(self, position: int, mask: int, moves: int, alpha: int, beta: int) -> int:
        """Value for the player to move, who cannot win at once (every caller makes sure), within [alpha, beta]."""
        self.nodes += 1
        if self.nodes > self._limit:
            raise SolveBudgetExceeded(f"more than {self.node_budget} nodes")
        possible = non_losing_moves(position, mask)
        if not possible:
            return -1
        if moves >= CELLS - 2:  # neither side can win with the last two stones (both were checked above)
            return 0
        key = position + mask
        bounds = self.table.get(key)
        if bounds is not None:
            lower, upper = bounds
            if lower >= beta or lower == upper:
                return lower
            if upper <= alpha:
                return upper
            alpha, beta = max(alpha, lower), min(beta, upper)
        alpha0 = alpha
        candidates = []
        for c in CENTRE_ORDER:
            move = possible & COLUMN_MASKS[c]
            if move:
                # More threats made by the move first (a stable sort keeps the centre order among equals).
                candidates.append((-winning_cells(position | move, mask).bit_count(), len(candidates), move))
        candidates.sort()
        best = -1
        opponent = position ^ mask
        for _, _, move in candidates:
            value = -self._negamax(opponent, mask | move, moves + 1, -beta, -alpha)
            if value > best:
                best = value
                if value > alpha:
                    alpha = value
                    if alpha >= beta:
                        break
        if len(self.table) >= self.table_size:
            self.table.clear()  # cheaper than eviction bookkeeping; it refills within one position
        old_lower, old_upper = bounds if bounds is not None else (-1, 1)
        if best >= beta:
            self.table[key] = (max(best, old_lower), old_upper)
        elif best <= alpha0:
            self.table[key] = (old_lower, min(best, old_upper))
        else:
            self.table[key] = (best, best)
        return best

    def _value_after(self, position: int, mask: int, moves: int, column: int, alpha: int, beta: int) -> int:
        """Value for the player who plays ``column`` (within [alpha, beta] unless it wins or loses at once)."""
        move = playable(mask) & COLUMN_MASKS[column]
        if winning_cells(position, mask) & move:
            return 1
        child_position, child_mask = position ^ mask, mask | move
        if moves + 1 == CELLS:
            return 0
        if winning_cells(child_position, child_mask) & playable(child_mask):
            return -1  # the opponent completes four at once
        return -self._negamax(child_position, child_mask, moves + 1, -beta, -alpha)

    def value(self, state: State) -> int:
        """The position's value for the player to move; SolveBudgetExceeded past the node budget."""
        return self._solve(state, with_moves=False).value

    def solve(self, state: State) -> Solution:
        """Value and optimal moves of a running game; SolveBudgetExceeded past the node budget."""
        return self._solve(state, with_moves=True)

    def _solve(self, state: State, with_moves: bool) -> Solution:
        if state.terminal:
            raise ValueError("solve: the game is over")
        position, mask, moves = state.mine, state.mine | state.theirs, state.ply
        self.nodes, self._limit = 0, self.node_budget
        # Moves making the most threats first, as inside the search: a quick proof of a win usually starts there.
        columns = sorted(
            (c for c in CENTRE_ORDER if playable(mask) & COLUMN_MASKS[c]),
            key=lambda c: -winning_cells(position | (playable(mask) & COLUMN_MASKS[c]), mask).bit_count(),
        )
        # A move is optimal when its value equals the best: values are whole numbers, so "at least v" is one
        # null-window search. Find the best value from the top, then test each move against it.
        value = -1
        for target in (1, 0):
            if any(self._value_after(position, mask, moves, c, target - 1, target) >= target for c in columns):
                value = target
                break
        if not with_moves:
            return Solution(value, (), self.nodes)
        optimal = tuple(
            sorted(c for c in columns if self._value_after(position, mask, moves, c, value - 1, value) >= value)
        )
        return Solution(value, optimal, self.nodes)
