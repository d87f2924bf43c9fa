"""Playing against the model: validate the history, apply the human's move, search for the reply.

Validation is cheap and runs before a request waits for a search slot; ``reply`` is the CPU-bound
part and runs in a worker thread (see serving.SearchSlots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartridge.games import Game, IllegalMove, State, get_game
from cartridge.mcts import BatchedMCTS, MctsConfig

from .batching import InferenceBatcher
from .schemas import Evaluation, GameView
from .serving import LiveModels

# Leaves per network call in a single-game search: fewer, larger ONNX calls are faster, while
# more virtual-loss leaves per round would spread a 100-simulation search too thin.
SEARCH_BATCH = 8


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


@dataclass(frozen=True)
class ModelReply:
    """The model's move, and what its search saw before it."""

    version: int  # the model version that searched (0: the uniform prior, before any model)
    move: int  # the action it played
    policy: list[float]  # [action_size] the root's visit shares, rounded to 6 places
    value: float  # the root's mean value for the model (the player to move before its move), in [-1, 1]


class Referee:
    def __init__(self, models: LiveModels, simulations: int, batcher: InferenceBatcher | None = None) -> None:
        self.models = models
        self.batcher = batcher  # None: each search calls the network alone
        self.config = MctsConfig(simulations=simulations, batch_target=SEARCH_BATCH)

    def position(self, env_id: str, moves: list[int]) -> tuple[Game, State]:
        """The state after ``moves``; IllegalMove (a 422) names the first move that breaks the rules."""
        game = get_game(env_id)
        if len(moves) > game.max_plies:
            raise IllegalMove(f"moves: {len(moves)} moves, but a {env_id} game ends within {game.max_plies}")
        state = game.initial_state()
        for i, action in enumerate(moves):
            try:
                state = game.apply(state, action)
            except IllegalMove as exc:
                raise IllegalMove(f"moves[{i}]: {exc}") from None
        return game, state

    def human_move(self, env_id: str, human_player: int, moves: list[int], action: int) -> tuple[Game, State]:
        game, state = self.position(env_id, moves)
        if state.terminal:
            raise IllegalMove(f"action {action}: the game is already over after {len(moves)} moves")
        if state.to_play != human_player:
            raise IllegalMove(f"action {action}: it is player {state.to_play}'s turn, not player {human_player}'s")
        try:
            return game, game.apply(state, action)
        except IllegalMove as exc:
            raise IllegalMove(f"action: {exc}") from None

    def evaluate(self, env_id: str, moves: list[int]) -> Evaluation:
        game, state = self.position(env_id, moves)
        model = self.models.current(env_id)
        legal = game.legal_actions(state)
        policy = np.zeros(game.action_size)
        value = float(state.outcome or 0)  # a finished game: its result for the player to move
        if legal:
            logits, values = model.evaluator.evaluate(game.observations([state]))
            masked = np.full(game.action_size, -np.inf)
            masked[legal] = logits[0, legal]
            policy = np.exp(masked - masked.max())
            policy /= policy.sum()
            value = float(np.clip(values[0], -1, 1))
        return Evaluation(
            env_id=env_id,
            policy=_rounded(policy),
            value=round(value, 6),
            legal_actions=legal,
            to_play=state.to_play,
            model_version=model.version,
        )

    def reply(self, game: Game, moves: list[int], state: State, human_player: int) -> GameView:
        """The model's move from ``state`` (the position after ``moves``): CPU-bound, call it in a thread."""
        model = self.models.current(game.name)  # one model for the whole search, even if a swap lands
        if self.batcher is None:
            result = BatchedMCTS(game, model.evaluator, self.config).search([state], add_noise=False)
        else:
            with self.batcher.search(model.evaluator) as evaluator:
                result = BatchedMCTS(game, evaluator, self.config).search([state], add_noise=False)
        visits = result.visits[0]
        action = int(np.flatnonzero(visits == visits.max())[0])  # most visited; ties to the lowest action
        reply = ModelReply(model.version, action, _rounded(result.policy[0]), round(float(result.value[0]), 6))
        return self.view(game, [*moves, action], game.apply(state, action), human_player, reply=reply)

    def view(
        self, game: Game, moves: list[int], state: State, human_player: int, *, reply: ModelReply | None = None
    ) -> GameView:
        """The game after ``moves`` (``state``) as the client sees it: with the model's ``reply`` when the model just
        moved, else with the version the web serves now."""
        winner = game.winner(state)
        if winner is None:
            status = "in_progress"
        elif winner == 0:
            status = "draw"
        else:
            status = "human_won" if winner == human_player else "model_won"
        version = self.models.current(game.name).version if reply is None else reply.version
        return GameView(
            env_id=game.name,
            moves=moves,
            board=game.board(state),
            rows=game.rows,
            cols=game.cols,
            to_play=state.to_play,
            human_player=human_player,
            legal_actions=game.legal_actions(state),
            status=status,
            winner=winner,
            model_move=None if reply is None else reply.move,
            policy=None if reply is None else reply.policy,
            value=None if reply is None else reply.value,
            model_version=version,
        )
