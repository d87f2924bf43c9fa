"""Playing against the model: validate the history, apply the human's move, search for the reply."""

from __future__ import annotations

import threading

import numpy as np

from cartridge.games import Game, IllegalMove, State, get_game
from cartridge.inference import ModelWatcher
from cartridge.mcts import BatchedMCTS, MctsConfig
from cartridge.settings import Settings

from .schemas import Evaluation, GameView

# At most this many searches run at once; more requests wait their turn instead of starving the CPU.
MAX_CONCURRENT_SEARCHES = 2


class Referee:
    def __init__(self, watchers: dict[str, ModelWatcher], settings: Settings) -> None:
        self.watchers = watchers
        self.config = MctsConfig(simulations=settings.web_sims, batch_target=8)
        self._searches = threading.BoundedSemaphore(MAX_CONCURRENT_SEARCHES)

    def new_game(self, env_id: str, human_player: int) -> GameView:
        game = get_game(env_id)
        state = game.initial_state()
        if human_player == 2:
            return self._reply(game, [], state, human_player)
        return self._view(game, [], state, human_player, self.watchers[env_id].current.version)

    def play(self, env_id: str, human_player: int, moves: list[int], action: int) -> GameView:
        game = get_game(env_id)
        state = self._replay(game, moves)
        if state.terminal:
            raise IllegalMove(f"{env_id}: the game is already over")
        if state.to_play != human_player:
            raise IllegalMove(f"{env_id}: it is player {state.to_play}'s turn, not player {human_player}'s")
        state = game.apply(state, action)
        history = [*moves, action]
        if state.terminal:
            return self._view(game, history, state, human_player, self.watchers[env_id].current.version)
        return self._reply(game, history, state, human_player)

    def evaluate(self, env_id: str, moves: list[int]) -> Evaluation:
        game = get_game(env_id)
        state = self._replay(game, moves)
        evaluator = self.watchers[env_id].current
        legal = game.legal_actions(state)
        policy = np.zeros(game.action_size)
        value = 0.0
        if legal:
            logits, values = evaluator.evaluate(game.observations([state]))
            masked = np.full(game.action_size, -np.inf)
            masked[legal] = logits[0, legal]
            policy = np.exp(masked - masked.max())
            policy /= policy.sum()
            value = float(values[0])
        elif state.outcome is not None:
            value = float(state.outcome)
        return Evaluation(env_id=env_id, policy=[round(float(p), 6) for p in policy], value=round(value, 6),
                          legal_actions=legal, to_play=state.to_play, model_version=evaluator.version)  # fmt: skip

    @staticmethod
    def _replay(game: Game, moves: list[int]) -> State:
        state = game.initial_state()
        for i, action in enumerate(moves):
            try:
                state = game.apply(state, action)
            except IllegalMove as exc:
                raise IllegalMove(f"moves[{i}]: {exc}") from None
        return state

    def _reply(self, game: Game, history: list[int], state: State, human_player: int) -> GameView:
        evaluator = self.watchers[game.name].current  # one model for the whole search, even if a swap lands
        with self._searches:
            result = BatchedMCTS(game, evaluator, self.config).search([state], add_noise=False)
        visits = result.visits[0]
        best = np.flatnonzero(visits == visits.max())
        action = int(best[0])
        after = game.apply(state, action)
        return self._view(game, [*history, action], after, human_player, evaluator.version, action,
                          [round(float(p), 6) for p in result.policy[0]], round(float(result.value[0]), 6))  # fmt: skip

    @staticmethod
    def _view(game: Game, history: list[int], state: State, human_player: int, version: int,
              model_move: int | None = None, policy: list[float] | None = None,
              value: float | None = None) -> GameView:  # fmt: skip
        winner = game.winner(state)
        if winner is None:
            status = "in_progress"
        elif winner == 0:
            status = "draw"
        else:
            status = "human_won" if winner == human_player else "model_won"
        return GameView(
            env_id=game.name, moves=history, board=game.board(state), rows=game.rows, cols=game.cols,
            to_play=state.to_play, human_player=human_player, legal_actions=game.legal_actions(state),
            status=status, winner=winner, model_move=model_move, policy=policy, value=value, model_version=version,
        )  # fmt: skip
