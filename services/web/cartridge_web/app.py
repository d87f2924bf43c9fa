"""The web API: health, readiness, training stats, metrics, and the game API against the current model.

``create_app`` takes its settings and (optionally) a replay buffer and model store, so tests build
apps on temporary backends. Games are stateless on the server (the client sends the move history,
the server replays it to validate), so any replica answers any request.
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

from cartridge.games import IllegalMove, get_game
from cartridge.inference import ModelWatcher
from cartridge.modelstore import CorruptModel, ModelStore, ModelStoreUnavailable, open_model_store
from cartridge.replay import ReplayBuffer, ReplayUnavailable, open_replay
from cartridge.settings import GAMES, Settings
from cartridge.telemetry import get_logger

from .gameplay import Referee
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

log = get_logger("web")


class Backends:
    """The replay buffer and model store, opened on first use so the web starts (and reports
    not-ready) while PostgreSQL or MinIO are still coming up."""

    def __init__(self, settings: Settings, replay: ReplayBuffer | None, store: ModelStore | None) -> None:
        self.settings = settings
        self._replay = replay
        self.store = store or open_model_store(
            settings.model_store_url, settings.s3_endpoint_url, settings.model_keep_versions
        )
        self._lock = threading.Lock()

    @property
    def replay(self) -> ReplayBuffer:
        with self._lock:
            if self._replay is None:
                self._replay = open_replay(self.settings.replay_url)
            return self._replay


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(settings: Settings, replay: ReplayBuffer | None = None, store: ModelStore | None = None) -> FastAPI:
    backends = Backends(settings, replay, store)
    watchers = {name: ModelWatcher(backends.store, name, get_game(name).action_size) for name in GAMES}
    referee = Referee(watchers, settings)
    metrics = WebMetrics()

    def poll_models() -> None:
        for name, watcher in watchers.items():
            try:
                manifest = watcher.poll()
            except CorruptModel as exc:
                log.warning("model skipped: corrupt publication, keeping the current model", env=name, error=str(exc))
                continue
            except ModelStoreUnavailable as exc:
                log.warning("model store unreachable, keeping the current model", error=str(exc))
                return
            if manifest is not None:
                metrics.model_version.labels(name).set(manifest.version)
                metrics.model_swaps.labels(name).inc()
                log.info("model loaded", env=name, version=manifest.version, sha256=manifest.sha256[:12])

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def poller() -> None:
            while True:
                await run_in_threadpool(poll_models)
                await asyncio.sleep(settings.model_poll_seconds)

        task = asyncio.create_task(poller())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(
        title="Cartridge web API",
        version="1",
        description="Watch self-play training and play the current model.",
        lifespan=lifespan,
        responses={
            400: {"model": Problem, "description": "unreadable request body"},
            409: {"model": Problem, "description": "illegal move or history: the detail names the move"},
            422: {"model": Problem, "description": "invalid request: the detail says what is wrong"},
        },
    )
    app.state.watchers = watchers
    app.state.backends = backends
    app.state.poll_models = poll_models

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = route.path if route is not None else "unmatched"
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, e.g. "body.action: Input should be less than or equal to 8".
        problems = ["{}: {}".format(".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()]
        return _problem(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(IllegalMove)
    async def illegal_move(request: Request, exc: IllegalMove) -> JSONResponse:
        # Well-formed, but against the rules of the game from this position: a conflict.
        return _problem(409, str(exc))

    @app.exception_handler(ReplayUnavailable)
    async def replay_down(request: Request, exc: ReplayUnavailable) -> JSONResponse:
        return _problem(503, f"replay buffer unavailable: {exc}")

    @app.exception_handler(ModelStoreUnavailable)
    async def store_down(request: Request, exc: ModelStoreUnavailable) -> JSONResponse:
        return _problem(503, f"model store unavailable: {exc}")

    @app.get("/health", response_model=Health, tags=["probes"])
    def health() -> Health:
        return Health(status="ok")

    @app.get("/ready", response_model=Readiness, tags=["probes"], responses={503: {"model": Readiness}})
    def ready():
        replay_state = store_state = "ok"
        try:
            backends.replay.ping()
        except ReplayUnavailable as exc:
            replay_state = str(exc)
        try:
            backends.store.ping()
        except ModelStoreUnavailable as exc:
            store_state = str(exc)
        manifest = watchers[settings.env_id].manifest
        body = Readiness(
            ready=replay_state == store_state == "ok",
            replay=replay_state,
            model_store=store_state,
            model_version=manifest.version if manifest else None,
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)

    @app.get("/metrics", tags=["probes"], response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/stats", response_model=Stats, tags=["training"], responses={503: {"model": Problem}})
    def stats() -> Stats:
        env = settings.env_id
        replay = backends.replay
        records = replay.iterations(env, limit=1000)
        transitions = replay.count_transitions(env)
        try:
            manifest = backends.store.latest(env)
        except CorruptModel:
            manifest = None
        versions = backends.store.versions(env)
        served = watchers[env].current.version
        return Stats(
            env_id=env,
            episodes=replay.count_episodes(env),
            transitions=transitions,
            episodes_per_second=round(replay.episodes_per_second(env, 60.0), 3),
            replay_buffer_size=min(transitions, settings.replay_window),
            iteration=records[-1].iteration if records else 0,
            training_iterations=settings.training_iterations,
            model=ModelSummary(version=manifest.version, published_at=manifest.created_at, sha256=manifest.sha256)
            if manifest
            else None,
            model_message=_model_message(manifest.version if manifest else 0, served),
            model_versions=versions,
            served_model_version=served,
            loss_history=[IterationPoint(**{k: getattr(r, k) for k in IterationPoint.model_fields}) for r in records],
            generated_at=time.time(),
        )

    @app.get("/api/model", response_model=ModelInfo, tags=["game"])
    def model(env_id: GameName | None = None) -> ModelInfo:
        env = env_id or settings.env_id
        manifest = watchers[env].manifest
        if manifest is None:
            return ModelInfo(env_id=env, version=0, published_at=None, sha256=None, has_model=False,
                             message=_model_message(0, 0))  # fmt: skip
        return ModelInfo(env_id=env, version=manifest.version, published_at=manifest.created_at,
                         sha256=manifest.sha256, has_model=True, message=f"serving v{manifest.version}")  # fmt: skip

    @app.post("/api/games", response_model=GameView, tags=["game"])
    def new_game(request: NewGameRequest) -> GameView:
        return referee.new_game(request.env_id or settings.env_id, request.human_player)

    @app.post("/api/games/move", response_model=GameView, tags=["game"])
    def move(request: MoveRequest) -> GameView:
        return referee.play(request.env_id or settings.env_id, request.human_player, request.moves, request.action)

    @app.post("/api/evaluate", response_model=Evaluation, tags=["game"])
    def evaluate(request: EvaluateRequest) -> Evaluation:
        return referee.evaluate(request.env_id or settings.env_id, request.moves)

    return app


def _model_message(published: int, served: int) -> str:
    if published == 0:
        return "no model yet: the trainer publishes v1 after its first iteration; games use a uniform prior until then"
    if served < published:
        return f"v{published} published; this replica still serves v{served} until its next poll"
    return f"serving v{served}"
