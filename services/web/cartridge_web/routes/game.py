"""The game API: the catalog of games, the served model, new games, moves and evaluations.

Games are stateless on the server (the client sends the move history, the server replays it to
validate), so any replica answers any request.
"""

from __future__ import annotations

from fastapi import APIRouter

from cartridge.games import GAMES

from ..dependencies import ModelsDep, RefereeDep, SettingsDep, SlotsDep
from ..schemas import (
    Catalog,
    CatalogGame,
    EvaluateRequest,
    Evaluation,
    GameName,
    GameView,
    ModelInfo,
    MoveRequest,
    NewGameRequest,
    Problem,
)
from .stats import NO_MODEL_YET

BUSY = {503: {"model": Problem, "description": "every search slot busy; retry after Retry-After"}}

router = APIRouter(tags=["game"])


@router.get("/api/model", response_model=ModelInfo)
async def model(settings: SettingsDep, models: ModelsDep, env_id: GameName | None = None) -> ModelInfo:
    env = env_id or settings.env_id
    manifest = models.current(env).manifest
    if manifest is None:
        return ModelInfo(env_id=env, version=0, published_at=None, sha256=None, has_model=False, message=NO_MODEL_YET)
    return ModelInfo(
        env_id=env,
        version=manifest.version,
        published_at=manifest.created_at,
        sha256=manifest.sha256,
        has_model=True,
        message=f"serving v{manifest.version}",
    )


@router.post("/api/games", response_model=GameView, responses=BUSY)
async def new_game(request: NewGameRequest, settings: SettingsDep, referee: RefereeDep, slots: SlotsDep) -> GameView:
    game, state = referee.position(request.env_id or settings.env_id, [])
    if request.human_player == 1:
        return referee.view(game, [], state, 1)
    return await slots.run(referee.reply, game, [], state, 2)


@router.post("/api/games/move", response_model=GameView, responses=BUSY)
async def move(request: MoveRequest, settings: SettingsDep, referee: RefereeDep, slots: SlotsDep) -> GameView:
    env, player = request.env_id or settings.env_id, request.human_player
    game, state = referee.human_move(env, player, request.moves, request.action)
    history = [*request.moves, request.action]
    if state.terminal:
        return referee.view(game, history, state, player)
    return await slots.run(referee.reply, game, history, state, player)


@router.post("/api/evaluate", response_model=Evaluation)
def evaluate(request: EvaluateRequest, settings: SettingsDep, referee: RefereeDep) -> Evaluation:
    return referee.evaluate(request.env_id or settings.env_id, request.moves)


@router.get("/api/catalog", response_model=Catalog)
async def catalog(settings: SettingsDep) -> Catalog:
    """The games this server plays, for the frontend's menu and boards (from the game registry)."""
    games = [
        CatalogGame(
            name=g.name,
            label=g.label,
            rows=g.rows,
            cols=g.cols,
            action_size=g.action_size,
            action_kind=g.action_kind,
            max_plies=g.max_plies,
        )
        for g in GAMES
    ]
    return Catalog(default=settings.env_id, games=games)
