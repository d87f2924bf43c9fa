"""Self-play: many games advance together, one batched search per move round.

Each round asks ``evaluator()`` for the network to use, so a model loaded by the poller is used
from the next move on. Moves are sampled in proportion to visit counts for the first
``temperature_moves`` plies (exploration), then the most visited move is played.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .games import Game, State
from .inference import Evaluator
from .mcts import BatchedMCTS, MctsConfig
from .replay import Episode, transitions_from_steps


@dataclass
class _Game:
    state: State
    started: float = field(default_factory=time.time)
    steps: list[tuple[np.ndarray, np.ndarray, int, int]] = field(default_factory=list)  # obs, policy, action, mover


class SelfPlay:
    def __init__(
        self,
        game: Game,
        config: MctsConfig,
        parallel_games: int,
        temperature_moves: int | None = None,
        rng: np.random.Generator | None = None,
        actor_id: str = "",
    ) -> None:
        self.game = game
        self.config = config
        self.parallel_games = parallel_games
        self.temperature_moves = game.temperature_moves if temperature_moves is None else temperature_moves
        self.rng = rng or np.random.default_rng()
        self.actor_id = actor_id
        self.simulations = 0  # searches run x simulations, for metrics
        self.in_flight = 0  # games started and not yet finished, for metrics (0 outside play)

    def play(
        self,
        evaluator: Callable[[], Evaluator],
        should_stop: Callable[[], bool] = lambda: False,
        max_episodes: int | None = None,
    ) -> Iterator[Episode]:
        first = evaluator()
        mcts = BatchedMCTS(self.game, first, self.config, self.rng)
        budget = max_episodes if max_episodes is not None else float("inf")
        slots = [_Game(self.game.initial_state()) for _ in range(int(min(self.parallel_games, budget)))]
        started, finished = len(slots), 0
        try:
            while slots and not should_stop():
                self.in_flight = len(slots)
                current = evaluator()
                mcts.set_evaluator(current)
                result = mcts.search([g.state for g in slots], add_noise=True)
                self.simulations += len(slots) * self.config.simulations
                observations = self.game.observations([g.state for g in slots])
                still_running = []
                for k, g in enumerate(slots):
                    action = self._choose(g.state, result.visits[k])
                    g.steps.append((observations[k], result.policy[k], action, g.state.to_play))
                    g.state = self.game.apply(g.state, action)
                    if not g.state.terminal:
                        still_running.append(g)
                        continue
                    finished += 1
                    yield self._episode(g, current.version)
                    if finished >= budget:
                        return
                    if started < budget:
                        still_running.append(_Game(self.game.initial_state()))
                        started += 1
                slots = still_running
        finally:  # also when the consumer stops early (the generator closed)
            self.in_flight = 0

    def _choose(self, state: State, visits: np.ndarray) -> int:
        if state.ply < self.temperature_moves:
            return int(self.rng.choice(len(visits), p=visits / visits.sum()))
        best = np.flatnonzero(visits == visits.max())
        return int(self.rng.choice(best))

    def _episode(self, g: _Game, model_version: int) -> Episode:
        winner = self.game.winner(g.state)
        transitions = transitions_from_steps(g.steps, winner)
        return Episode(
            env_id=self.game.name,
            transitions=transitions,
            winner=winner,
            model_version=model_version,
            actor_id=self.actor_id,
            duration_s=time.time() - g.started,
        )
