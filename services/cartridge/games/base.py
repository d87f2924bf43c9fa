"""The one game interface that MCTS, the trainer and the web speak.

States are immutable and *canonical*: ``mine`` holds the stones of the player
to move, ``theirs`` the opponent's, so the network always sees the position
from the mover's side. Boards are bitboards (Python ints): applying a move and
checking a win are a few integer operations, so the game never limits MCTS.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np


@dataclass(frozen=True, slots=True, init=False)
class State:
    mine: int
    theirs: int
    ply: int = 0
    # None while the game runs; else the result for the player to move:
    # -1 (the previous move won), 0 (draw).
    outcome: int | None = None
    last_action: int | None = None

    def __init__(
        self, mine: int, theirs: int, ply: int = 0, outcome: int | None = None, last_action: int | None = None
    ) -> None:
        # The generated __init__ of a frozen dataclass sets each field through object.__setattr__ (a global
        # lookup and a call per field, CPython's Lib/dataclasses.py, _field_assign); the slots' own setters,
        # bound once below, do the same in under half the time. MCTS makes a State per tree node.
        _set_mine(self, mine)
        _set_theirs(self, theirs)
        _set_ply(self, ply)
        _set_outcome(self, outcome)
        _set_last_action(self, last_action)

    @property
    def terminal(self) -> bool:
        return self.outcome is not None

    @property
    def to_play(self) -> int:
        """1 when the first player moves, 2 when the second does."""
        return 1 if self.ply % 2 == 0 else 2


# The slot descriptors' setters (bypassing the frozen __setattr__, as dataclasses' own __init__ does).
_set_mine, _set_theirs, _set_ply, _set_outcome, _set_last_action = (
    State.__dict__[name].__set__ for name in ("mine", "theirs", "ply", "outcome", "last_action")
)


class IllegalMove(ValueError):
    """The action is not legal in this state (occupied, full column, game over, out of range)."""


class Game(ABC):
    """One game: its rules, and the facts that settings, MCTS, self-play, the web API, the devtools CLI
    and the frontend read from the registry (``cartridge.games.GAMES``) instead of writing them again."""

    name: ClassVar[str]  # the ENV_ID
    label: ClassVar[str]  # for people (the frontend's game menu)
    rows: ClassVar[int]
    cols: ClassVar[int]
    action_size: ClassVar[int]
    # How a click becomes an action: "cell" (action = row * cols + col) or "column" (stones drop: the
    # action is the column).
    action_kind: ClassVar[Literal["cell", "column"]]
    max_plies: ClassVar[int]  # the longest possible game
    # Root noise for self-play. AlphaZero scaled alpha inversely with the number of legal moves (0.3 chess,
    # 0.15 shogi, 0.03 go: about 10 / moves); with at most 7-9 moves, 10 / moves > 1 would make the noise
    # nearly uniform, so our games use 1.0 (flat over the simplex), as alpha-zero-general does.
    dirichlet_alpha: ClassVar[float]
    # Self-play samples moves in proportion to visits for this many plies (exploration), then plays the
    # most visited move.
    temperature_moves: ClassVar[int]

    # What the arena (cartridge.arena) needs to know of a game to rate models at it.
    win_length: ClassVar[int]  # stones in a straight line that win; alpha-beta's heuristic scores lines this long
    # Alpha-beta's static evaluation, for the player to move: a line of ``win_length`` cells holding k stones of one
    # side and none of the other scores ``line_weights[k]`` for that side (k < win_length); each stone in the
    # centre column scores ``centre_weight``.
    line_weights: ClassVar[tuple[int, ...]]
    centre_weight: ClassVar[int]
    reference_depth: ClassVar[int]  # plies the arena's alpha-beta reference player searches ("alphabeta-d<depth>")
    # Random plies that open each arena game: enough to vary games between deterministic players, few enough that
    # the position stays balanced.
    opening_plies: ClassVar[int]
    # Small enough to solve by exhaustive minimax: the arena then has a perfect reference player ("minimax") and
    # labels every reachable position itself. A game that is not needs ``positions_file``.
    solvable: ClassVar[bool]
    # The arena's labelled positions as a JSON-lines file in cartridge/arena/data/ (made offline by a solver), or
    # None for a solvable game, whose positions the arena labels itself.
    positions_file: ClassVar[str | None]

    planes = 2

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (self.planes, self.rows, self.cols)

    def initial_state(self) -> State:
        return State(0, 0)

    @abstractmethod
    def legal_actions(self, state: State) -> list[int]: ...

    @abstractmethod
    def apply(self, state: State, action: int) -> State:
        """The state after ``action``; raises IllegalMove for an illegal one."""

    @abstractmethod
    def cell_bit(self, row: int, col: int) -> int:
        """Bit of the cell at (row, col), row 0 at the top as a person sees the board."""

    @abstractmethod
    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Equivalent (observation, policy) pairs including the identity."""

    def from_actions(self, actions: Iterable[int]) -> State:
        state = self.initial_state()
        for action in actions:
            state = self.apply(state, int(action))
        return state

    def observation(self, state: State) -> np.ndarray:
        return self.observations([state])[0]

    def observations(self, states: list[State]) -> np.ndarray:
        """(N, 2, rows, cols) float32 planes for many states at once (vectorised bit tests)."""
        bits = self._cell_bits()
        boards = np.array([(s.mine, s.theirs) for s in states], dtype=np.int64).reshape(len(states), 2, 1)
        planes = (boards & bits) != 0
        return planes.astype(np.float32).reshape(len(states), 2, self.rows, self.cols)

    def _cell_bits(self) -> np.ndarray:
        cached = getattr(self, "_bits", None)
        if cached is None:
            cells = [self.cell_bit(r, c) for r in range(self.rows) for c in range(self.cols)]
            cached = self._bits = np.array(cells, dtype=np.int64).reshape(1, 1, -1)
        return cached

    def board(self, state: State) -> list[list[int]]:
        """Absolute board for people: 0 empty, 1 first player, 2 second player."""
        first, second = (state.mine, state.theirs) if state.to_play == 1 else (state.theirs, state.mine)
        grid = []
        for r in range(self.rows):
            row = []
            for c in range(self.cols):
                bit = self.cell_bit(r, c)
                row.append(1 if first & bit else 2 if second & bit else 0)
            grid.append(row)
        return grid

    def winner(self, state: State) -> int | None:
        """1 or 2 for the winning player, 0 for a draw, None while the game runs."""
        if state.outcome is None:
            return None
        if state.outcome == 0:
            return 0
        return 2 if state.to_play == 1 else 1

    def _check_action(self, state: State, action: int) -> None:
        if state.terminal:
            raise IllegalMove(f"{self.name}: the game is over")
        if not 0 <= action < self.action_size:
            raise IllegalMove(f"{self.name}: action {action} is out of range 0..{self.action_size - 1}")
