"""Request and response models: the OpenAPI document is the contract the frontend codes against."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from cartridge.games import GAME_NAMES, GAMES, Game

GameName = Literal[GAME_NAMES]  # type: ignore[valid-type]  # the registry's names, in its order
Player = Literal[1, 2]
# Bounds that hold for every game; the referee then checks the requested game's own rules.
MAX_ACTION = max(g.action_size for g in GAMES) - 1
MAX_PLIES = max(g.max_plies for g in GAMES)


def _json_integer(value: object) -> object:
    """JSON Schema integers: 3 and 3.0, but not true/false or "3" (lax pydantic would accept those)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "Input should be a valid integer, got a fractional number")
        return int(value)
    return value


def _action_help(game: Game) -> str:
    unit = f"cell row*{game.cols}+col" if game.action_kind == "cell" else "column"
    return f"{game.name}: {unit} (0-{game.action_size - 1})"


Action = Annotated[
    int,
    BeforeValidator(_json_integer),
    Field(ge=0, le=MAX_ACTION),
    # Spelled out: with a BeforeValidator, pydantic would render the bounds as non-standard ge/le keys.
    WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": MAX_ACTION, "description": "; ".join(map(_action_help, GAMES))}
    ),
]
Moves = Annotated[list[Action], Field(max_length=MAX_PLIES, description="every action played so far, in order")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewGameRequest(_Strict):
    env_id: GameName | None = Field(None, description="defaults to the server's ENV_ID")
    human_player: Player = 1


class MoveRequest(_Strict):
    env_id: GameName | None = None
    human_player: Player = 1
    moves: Moves = []
    action: Action


class EvaluateRequest(_Strict):
    env_id: GameName | None = None
    moves: Moves = []


class GameView(BaseModel):
    env_id: GameName
    moves: list[int]
    board: list[list[int]] = Field(description="0 empty, 1 first player, 2 second player; row 0 at the top")
    rows: int
    cols: int
    to_play: Player
    human_player: Player
    legal_actions: list[int]
    status: Literal["in_progress", "human_won", "model_won", "draw"]
    winner: Literal[0, 1, 2] | None
    model_move: int | None = Field(None, description="the model's reply to this request, if it moved")
    policy: list[float] | None = Field(None, description="the model's MCTS visit distribution for its move")
    value: float | None = Field(None, description="the model's value estimate for its move, from its side")
    model_version: int = Field(description="0 while no model exists: the search then uses a uniform prior")


class Evaluation(BaseModel):
    env_id: GameName
    policy: list[float] = Field(description="the network's move probabilities over legal moves (0 elsewhere)")
    value: float = Field(description="the network's value for the player to move, in [-1, 1]")
    legal_actions: list[int]
    to_play: Player
    model_version: int


class ModelInfo(BaseModel):
    env_id: GameName
    version: int
    published_at: float | None
    sha256: str | None
    has_model: bool
    message: str


class ModelSummary(BaseModel):
    version: int
    published_at: float
    sha256: str


class IterationPoint(BaseModel):
    iteration: int
    policy_loss: float
    value_loss: float
    total_loss: float
    model_version: int
    episodes_seen: int
    transitions_seen: int
    duration_s: float
    finished_at: float


class OpponentScore(BaseModel):
    games: int
    wins: int
    draws: int
    losses: int
    score: float = Field(description="wins plus half the draws, per game (0..1)")


class VersionRating(BaseModel):
    version: int
    status: Literal["rated", "skipped"]
    rating: float | None = Field(description="Bradley-Terry rating on the Elo scale, random = 0 (rated only)")
    note: str = Field(description="why a skipped version was skipped")
    scores: dict[str, OpponentScore] = Field(description="by opponent: each reference, and earlier versions (vN)")
    optimal_search: float | None = Field(description="share of labelled positions where the arena's search is optimal")
    optimal_network: float | None = Field(description="the same for the raw network's top move")
    games: int
    finished_at: float


class ArenaRatings(BaseModel):
    references: list[str] = Field(description="the reference opponents every version plays (random is the anchor)")
    reference_ratings: dict[str, float] = Field(
        description="each reference's rating over every game the arena stored (random = 0); none before its games"
    )
    versions: list[VersionRating] = Field(description="every version the arena reached, oldest first")
    message: str = Field(description="what the arena has done, or why there is nothing to show yet")


class MatchSummary(BaseModel):
    """One on-demand match (`devtools match A B`), from player A's side."""

    match_id: str
    env_id: GameName
    player_a: str = Field(description="v12, random, alphabeta-d4, minimax, file:NAME.onnx")
    player_b: str
    games: int
    wins: int
    draws: int
    losses: int
    score: float = Field(description="A's wins plus half the draws, per game (0..1)")
    score_low: float = Field(description="the score's 95 % Wilson interval, low end")
    score_high: float
    elo: float | None = Field(description="the Elo difference (A - B) the score implies; null for a score of 0 or 1")
    elo_low: float | None = Field(description="the difference's 95 % interval; null: unbounded on that side")
    elo_high: float | None
    seed: int
    finished_at: float


class HistoryLengths(BaseModel):
    """How many rows each history of the full answer holds: after merging an increment, keep this many newest."""

    loss_history: int
    arena_versions: int = Field(description="rows of arena.versions")
    matches: int


class Stats(BaseModel):
    """Training progress. With ``since``, the three histories (``loss_history``, ``arena.versions`` and
    ``matches``) hold only the rows newer than that cursor, unless ``reset`` says the answer is whole."""

    env_id: GameName
    episodes: int
    transitions: int
    episodes_per_second: float
    replay_buffer_size: int
    iteration: int
    training_iterations: int
    model: ModelSummary | None
    model_message: str
    model_versions: list[int]
    served_model_version: int
    loss_history: list[IterationPoint]
    arena: ArenaRatings
    matches: list[MatchSummary] = Field(description="on-demand matches of every game (`devtools match`), newest first")
    generated_at: float
    cursor: str = Field(
        description="opaque: pass it as `since` on the next poll to get only the history rows added since this answer"
    )
    reset: bool = Field(
        description="true: the histories are whole (no `since`, or history the cursor no longer continues): replace "
        "what you hold; false: they hold only rows newer than `since`: add loss_history and arena.versions at the "
        "end (oldest first), matches at the start (newest first), then keep the newest `lengths` rows of each"
    )
    lengths: HistoryLengths


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    replay: str
    model_store: str
    model_version: int | None


class Problem(BaseModel):
    detail: str


class CatalogGame(BaseModel):
    name: GameName
    label: str = Field(description="the game's name for people")
    rows: int
    cols: int
    action_size: int
    action_kind: Literal["cell", "column"] = Field(
        description="how a click becomes an action: cell (row * cols + col) or column (stones drop)"
    )
    max_plies: int = Field(description="the longest possible game")


class Catalog(BaseModel):
    default: GameName = Field(description="the server's ENV_ID: the game it trains")
    games: list[CatalogGame]
