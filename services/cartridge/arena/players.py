"""Players the arena pits against each other: random, perfect minimax (a ``Game.solvable`` game), depth-limited
alpha-beta with a line heuristic, and the model (MCTS + network as served, or the raw network's policy).

Every player that breaks ties at random takes its generator at construction, so a game built from a seed replays
move for move.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Protocol

import numpy as np

from ..games import Game, State
from ..inference import Evaluator


class Player(Protocol):
    def choose(self, state: State) -> int: ...


class RandomPlayer:
    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng

    def choose(self, state: State) -> int:
        return int(self.rng.choice(self.game.legal_actions(state)))


@cache
def _perfect_value(game: Game, mine: int, theirs: int, outcome: int | None) -> int:
    """Game-theoretic value for the player to move: 1 win, 0 draw, -1 loss (exhaustive; small games only)."""
    if outcome is not None:
        return outcome
    state = State(mine, theirs, outcome=outcome)
    return max(-_child_value(game, game.apply(state, a)) for a in game.legal_actions(state))


def _child_value(game: Game, child: State) -> int:
    return _perfect_value(game, child.mine, child.theirs, child.outcome)


class MinimaxPlayer:
    """Perfect play by exhaustive negamax (a ``Game.solvable`` game); ties broken at random so games vary."""

    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng

    def move_values(self, state: State) -> dict[int, int]:
        """Value of each legal move for the player making it: 1 win, 0 draw, -1 loss."""
        # ply only decides whose turn it is, which canonical states already encode: dropping it shares the cache.
        root = State(state.mine, state.theirs)
        return {a: -_child_value(self.game, self.game.apply(root, a)) for a in self.game.legal_actions(state)}

    def choose(self, state: State) -> int:
        values = self.move_values(state)
        best = max(values.values())
        return int(self.rng.choice([a for a, v in values.items() if v == best]))


def straight_lines(game: Game, length: int) -> list[int]:
    """Bit masks of every run of ``length`` cells in a row, column or diagonal of the board."""
    lines = []
    for r in range(game.rows):
        for c in range(game.cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(length)]
                if all(0 <= rr < game.rows and 0 <= cc < game.cols for rr, cc in cells):
                    lines.append(sum(game.cell_bit(rr, cc) for rr, cc in cells))
    return lines


class LineHeuristic:
    """Static evaluation for the player to move, from the lines that can still be completed.

    A line (a window of four in connect4, a row/column/diagonal in tictactoe) that holds k stones of one side and
    none of the other is still open for that side and scores ``weights[k]`` for it, against its owner's opponent.
    Stones in the centre column add ``centre_weight`` each (in connect4 that column is part of the most windows).
    Wins and losses are not scored here: the search sees them as terminal states.
    """

    def __init__(self, lines: list[int], weights: tuple[int, ...], centre: int = 0, centre_weight: int = 0) -> None:
        self.lines, self.weights, self.centre, self.centre_weight = lines, weights, centre, centre_weight

    def __call__(self, state: State) -> float:
        mine, theirs, w = state.mine, state.theirs, self.weights
        score = 0
        for line in self.lines:
            m, t = mine & line, theirs & line
            if not t:
                score += w[m.bit_count()]
            elif not m:
                score -= w[t.bit_count()]
        centre = (mine & self.centre).bit_count() - (theirs & self.centre).bit_count()
        return float(score + self.centre_weight * centre)


def heuristic_for(game: Game) -> LineHeuristic:
    """The game's line heuristic: its ``win_length``, ``line_weights`` and ``centre_weight``."""
    centre = sum(game.cell_bit(r, game.cols // 2) for r in range(game.rows))
    return LineHeuristic(straight_lines(game, game.win_length), game.line_weights, centre, game.centre_weight)


WIN_SCORE = 1_000_000.0


class AlphaBetaPlayer:
    """Depth-limited negamax with alpha-beta pruning and ``heuristic_for(game)`` at the horizon.

    A win scores WIN_SCORE plus the depth left, so a sooner win (or a later loss) is preferred. Moves are tried
    centre first, which is where the cuts are. Ties between the best root moves are broken at random.
    """

    def __init__(self, game: Game, rng: np.random.Generator, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"alpha-beta depth must be >= 1, got {depth}")
        self.game, self.rng, self.depth = game, rng, depth
        self.heuristic = heuristic_for(game)
        centre = (game.action_size - 1) / 2
        self.order = sorted(range(game.action_size), key=lambda a: abs(a - centre))

    def _search(self, state: State, depth: int, alpha: float, beta: float) -> float:
        if state.terminal:
            return state.outcome * (WIN_SCORE + depth)
        if depth == 0:
            return self.heuristic(state)
        legal = set(self.game.legal_actions(state))
        best = -math.inf
        for action in self.order:
            if action not in legal:
                continue
            value = -self._search(self.game.apply(state, action), depth - 1, -beta, -alpha)
            if value > best:
                best = value
                alpha = max(alpha, value)
                if alpha >= beta:
                    break
        return best

    def move_values(self, state: State) -> dict[int, float]:
        # Each root move gets a full window, so equal best moves are known as equal and the tie-break is fair.
        return {
            a: -self._search(self.game.apply(state, a), self.depth - 1, -math.inf, math.inf)
            for a in self.game.legal_actions(state)
        }

    def choose(self, state: State) -> int:
        values = self.move_values(state)
        best = max(values.values())
        return int(self.rng.choice([a for a, v in values.items() if v == best]))


class MctsPlayer:
    """The model as it plays in the web: MCTS with the network, no noise, the most visited move.

    Without the evaluation cache: a cached position is expanded at once where a new one waits for the round's
    network call, so with a cache the tree (and the move) would depend on the positions searched before, and a
    game would not replay from its seed."""

    def __init__(self, game: Game, evaluator: Evaluator, simulations: int) -> None:
        from ..mcts import BatchedMCTS, MctsConfig

        self.search = BatchedMCTS(game, evaluator, MctsConfig(simulations=simulations, cache_size=0))

    def choose(self, state: State) -> int:
        return int(np.argmax(self.search.search([state], add_noise=False).visits[0]))

    def choose_many(self, states: list[State]) -> list[int]:
        """One batched search for many positions (the labelled test set)."""
        return [int(a) for a in np.argmax(self.search.search(states, add_noise=False).visits, axis=1)]


class NetworkPlayer:
    """The raw network: the legal move with the highest policy logit, no search."""

    def __init__(self, game: Game, evaluator: Evaluator) -> None:
        self.game, self.evaluator = game, evaluator

    def choose(self, state: State) -> int:
        return self.choose_many([state])[0]

    def choose_many(self, states: list[State]) -> list[int]:
        logits, _ = self.evaluator.evaluate(self.game.observations(states))
        masks = np.zeros((len(states), self.game.action_size), dtype=bool)
        for row, state in zip(masks, states, strict=True):
            row[self.game.legal_actions(state)] = True
        return [int(a) for a in np.argmax(np.where(masks, logits, -np.inf), axis=1)]
