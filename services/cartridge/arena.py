"""Matches between players, for judging a trained model (random, perfect minimax, MCTS + network)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from .games import Game, State
from .inference import Evaluator


class Player(Protocol):
    def choose(self, state: State) -> int: ...


class RandomPlayer:
    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng

    def choose(self, state: State) -> int:
        return int(self.rng.choice(self.game.legal_actions(state)))


class MinimaxPlayer:
    """Perfect play by exhaustive negamax (small games only); ties broken at random so games vary."""

    def __init__(self, game: Game, rng: np.random.Generator) -> None:
        self.game, self.rng = game, rng
        self._value = lru_cache(maxsize=None)(self._negamax)

    def _negamax(self, state: State) -> int:
        if state.terminal:
            return state.outcome  # -1 lost, 0 draw: for the player to move
        return max(-self._value(self.game.apply(state, a)) for a in self.game.legal_actions(state))

    def choose(self, state: State) -> int:
        scored = [(-self._value(self.game.apply(state, a)), a) for a in self.game.legal_actions(state)]
        best = max(score for score, _ in scored)
        return int(self.rng.choice([a for score, a in scored if score == best]))


class MctsPlayer:
    """The model as it plays in the web: MCTS with the network, no noise, the most visited move."""

    def __init__(self, game: Game, evaluator: Evaluator, simulations: int) -> None:
        from .mcts import BatchedMCTS, MctsConfig

        self.search = BatchedMCTS(game, evaluator, MctsConfig(simulations=simulations))

    def choose(self, state: State) -> int:
        return int(np.argmax(self.search.search([state], add_noise=False).visits[0]))


@dataclass(frozen=True)
class MatchResult:
    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.games


def play_match(game: Game, player: Player, opponent: Player, games: int, player_first: bool) -> MatchResult:
    """``player`` against ``opponent``; results from ``player``'s side."""
    tally: Counter[str] = Counter()
    for _ in range(games):
        state = game.initial_state()
        seats = {1: player, 2: opponent} if player_first else {1: opponent, 2: player}
        while not state.terminal:
            state = game.apply(state, seats[state.to_play].choose(state))
        winner = game.winner(state)
        me = 1 if player_first else 2
        tally["draw" if winner == 0 else "win" if winner == me else "loss"] += 1
    return MatchResult(tally["win"], tally["draw"], tally["loss"])
