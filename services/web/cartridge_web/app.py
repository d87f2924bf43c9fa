"""The web API: health, readiness, training stats, metrics, and the game API against the current model.

``create_app`` takes its settings and (optionally) a replay buffer and model store, so tests build
apps on temporary backends; nothing lives in module globals. Games are stateless on the server (the
client sends the move history, the server replays it to validate), so any replica answers any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from cartridge.games import IllegalMove
from cartridge.modelstore import CorruptModel, ModelStore, ModelStoreUnavailable, open_model_store
from cartridge.replay import ReplayBuffer, ReplayUnavailable, TrainingLog, open_replay, training_log_beside
from cartridge.settings import Settings
from cartridge.telemetry import get_logger

from .gameplay import Referee
from .limits import BodySizeLimit
from .metrics import WebMetrics
from .schemas import (
    EvaluateRequest,
    Evaluation,
    GameName,
    GameView,
    Health,
    IterationPoint,
    ModelInfo,
    ModelSummary,
    MoveRequest,
    NewGameRequest,
    Problem,
    Readiness,
    Stats,
)
from .serving import LiveModels, SearchSlots, ServerBusy

log = get_logger("web")

# Two cores: two searches at once keep both busy; more would only slow each other down.
SEARCH_SLOTS = 2
# A move waits at most this long for a slot, then gets a 503 with Retry-After instead of hanging.
SEARCH_WAIT_SECONDS = 15.0
LOSS_HISTORY_LIMIT = 1000  # keeps /stats bounded (~200 KB) however long training runs
METHODS = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}
NO_MODEL_YET = "no model yet: the trainer publishes v1 after its first iteration; games use a uniform prior until then"


class Backends:
    """The replay buffer and model store. The buffer is opened on first use, so the web starts (and
    reports not-ready) while PostgreSQL is still coming up."""

    def __init__(self, settings: Settings, replay: ReplayBuffer | None, store: ModelStore | None) -> None:
        self.settings = settings
        self._replay = replay
        self.store = store or open_model_store(
            settings.model_store_url, settings.s3_endpoint_url, settings.model_keep_versions, settings.model_max_bytes
        )
        self._lock = threading.Lock()

    @property
    def replay(self) -> ReplayBuffer:
        with self._lock:
            if self._replay is None:
                self._replay = open_replay(self.settings.replay_url)
            return self._replay

    @property
    def training_log(self) -> TrainingLog:
        return training_log_beside(self.replay)  # the same database and connection


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(settings: Settings, replay: ReplayBuffer | None = None, store: ModelStore | None = None) -> FastAPI:
    backends = Backends(settings, replay, store)
    metrics = WebMetrics()
    models = LiveModels(backends.store, metrics)
    referee = Referee(models, settings.web_sims)
    slots = SearchSlots(SEARCH_SLOTS, SEARCH_WAIT_SECONDS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def poll_forever() -> None:
            while True:
                try:
                    await run_in_threadpool(models.poll)
                except Exception as exc:  # a bug or an unforeseen store error must not end hot reload for good
                    log.error("model poll failed", error=repr(exc))
                await asyncio.sleep(settings.model_poll_seconds)

        poller = asyncio.create_task(poll_forever())
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    app = FastAPI(
        title="Cartridge web API",
        version="1",
        description="Watch self-play training and play the current model.",
        lifespan=lifespan,
        responses={
            400: {"model": Problem, "description": "unreadable request"},
            413: {"model": Problem, "description": "request body too large"},
            422: {"model": Problem, "description": "invalid request or illegal move: the detail says what is wrong"},
        },
    )
    app.state.models = models
    app.state.slots = slots
    app.state.backends = backends
    app.add_middleware(BodySizeLimit)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = route.path if route is not None else "unmatched"  # bounded labels: no raw client paths
        method = request.method if request.method in METHODS else "other"
        metrics.requests.labels(method, path, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, e.g. "body.action: Input should be less than or equal to 8".
        problems = ["{}: {}".format(".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()]
        return _problem(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(IllegalMove)
    async def illegal_move(request: Request, exc: IllegalMove) -> JSONResponse:
        return _problem(422, str(exc))

    @app.exception_handler(ServerBusy)
    async def busy(request: Request, exc: ServerBusy) -> JSONResponse:
        return _problem(503, str(exc), {"Retry-After": "1"})

    @app.exception_handler(ReplayUnavailable)
    async def replay_down(request: Request, exc: ReplayUnavailable) -> JSONResponse:
        return _problem(503, f"replay buffer unavailable: {exc}")

    busy_response = {503: {"model": Problem, "description": "every search slot busy; retry after Retry-After"}}

    @app.get("/health", response_model=Health, tags=["probes"])
    async def health() -> Health:
        return Health(status="ok")

    @app.get("/ready", response_model=Readiness, tags=["probes"], responses={503: {"model": Readiness}})
    def ready() -> JSONResponse:
        replay_state = store_state = "ok"
        try:
            backends.replay.ping()
        except ReplayUnavailable as exc:
            replay_state = str(exc)
        try:
            backends.store.ping()
        except ModelStoreUnavailable as exc:
            store_state = str(exc)
        served = models.current(settings.env_id)
        body = Readiness(
            ready=replay_state == store_state == "ok",
            replay=replay_state,
            model_store=store_state,
            model_version=served.version or None,
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)

    @app.get("/metrics", tags=["probes"], response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/stats", response_model=Stats, tags=["training"], responses={503: {"model": Problem}})
    def stats() -> Stats:
        env = settings.env_id
        replay = backends.replay
        records = backends.training_log.iterations(env, limit=LOSS_HISTORY_LIMIT)
        counts = replay.counts(env)  # counter rows, no table scan
        served = models.current(env).version
        manifest, versions, message = None, [], NO_MODEL_YET
        try:
            manifest = backends.store.latest(env)
            versions = backends.store.versions(env)
        except CorruptModel as exc:
            message = f"the latest manifest is unreadable ({exc}); serving v{served}"
        except (ModelStoreUnavailable, OSError) as exc:
            # Training progress is still worth showing while the store is away. (OSError: the directory
            # store lets path errors such as NotADirectoryError through.)
            message = f"model store unreachable ({exc}); serving v{served}"
        if manifest is not None:
            message = _model_message(manifest.version, served)
        return Stats(
            env_id=env,
            episodes=counts.episodes,
            transitions=counts.transitions,
            episodes_per_second=round(replay.episodes_per_second(env, 60.0), 3),
            replay_buffer_size=min(counts.stored_transitions, settings.replay_window),
            iteration=records[-1].iteration if records else 0,
            training_iterations=settings.training_iterations,
            model=ModelSummary(version=manifest.version, published_at=manifest.created_at, sha256=manifest.sha256)
            if manifest
            else None,
            model_message=message,
            model_versions=versions,
            served_model_version=served,
            loss_history=[IterationPoint(**{k: getattr(r, k) for k in IterationPoint.model_fields}) for r in records],
            generated_at=time.time(),
        )

    @app.get("/api/model", response_model=ModelInfo, tags=["game"])
    async def model(env_id: GameName | None = None) -> ModelInfo:
        env = env_id or settings.env_id
        manifest = models.current(env).manifest
        if manifest is None:
            return ModelInfo(env_id=env, version=0, published_at=None, sha256=None, has_model=False,
                             message=NO_MODEL_YET)  # fmt: skip
        return ModelInfo(env_id=env, version=manifest.version, published_at=manifest.created_at,
                         sha256=manifest.sha256, has_model=True, message=f"serving v{manifest.version}")  # fmt: skip

    @app.post("/api/games", response_model=GameView, tags=["game"], responses=busy_response)
    async def new_game(request: NewGameRequest) -> GameView:
        game, state = referee.position(request.env_id or settings.env_id, [])
        if request.human_player == 1:
            return referee.view(game, [], state, 1)
        return await slots.run(referee.reply, game, [], state, 2)

    @app.post("/api/games/move", response_model=GameView, tags=["game"], responses=busy_response)
    async def move(request: MoveRequest) -> GameView:
        env, player = request.env_id or settings.env_id, request.human_player
        game, state = referee.human_move(env, player, request.moves, request.action)
        history = [*request.moves, request.action]
        if state.terminal:
            return referee.view(game, history, state, player)
        return await slots.run(referee.reply, game, history, state, player)

    @app.post("/api/evaluate", response_model=Evaluation, tags=["game"])
    def evaluate(request: EvaluateRequest) -> Evaluation:
        return referee.evaluate(request.env_id or settings.env_id, request.moves)

    return app


def _model_message(published: int, served: int) -> str:
    if served < published:
        return f"v{published} published; this replica still serves v{served} until its next poll"
    return f"serving v{served}"
