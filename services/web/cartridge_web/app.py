"""The web API: health, readiness, training stats, metrics, and the game API against the current model.

``create_app`` takes its settings and (optionally) a replay buffer and model store, builds the services
the routes depend on (``dependencies.WebServices``) and includes the routers (``routes``); nothing
lives in module globals, so tests build apps on temporary backends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cartridge.games import IllegalMove
from cartridge.modelstore import ModelStore
from cartridge.replay import ReplayBuffer
from cartridge.settings import Settings
from cartridge.telemetry import get_logger

from .batching import BatcherClosed
from .dependencies import WebServices
from .limits import BodySizeLimit
from .metrics import RequestMetrics
from .routes import ROUTERS
from .schemas import Problem
from .serving import ServerBusy

log = get_logger("web")

# The app takes requests once the first model-store poll has ended, so a published model answers the
# first move; a store that is away delays start-up this long at most (readiness then waits for the poll).
FIRST_POLL_WAIT_SECONDS = 5.0


def create_app(settings: Settings, replay: ReplayBuffer | None = None, store: ModelStore | None = None) -> FastAPI:
    app = FastAPI(
        title="Cartridge web API",
        version="1",
        description="Watch self-play training and play the current model.",
        lifespan=_lifespan,
        responses={
            400: {"model": Problem, "description": "unreadable request"},
            413: {"model": Problem, "description": "request body too large"},
            422: {"model": Problem, "description": "invalid request or illegal move: the detail says what is wrong"},
        },
    )
    app.state.services = WebServices.build(settings, replay, store)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestMetrics, metrics_of=lambda app: app.state.services.metrics)  # outermost: sees the 413s
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(IllegalMove, _illegal_move)
    app.add_exception_handler(ServerBusy, _busy)
    app.add_exception_handler(BatcherClosed, _busy)
    for router in ROUTERS:
        app.include_router(router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    web: WebServices = app.state.services

    async def poll_forever(first: asyncio.Future) -> None:
        poll = first
        while True:
            try:
                await poll
            except Exception as exc:  # a bug or an unforeseen store error must not end hot reload for good
                log.error("model poll failed", error=repr(exc))
            await asyncio.sleep(web.settings.model_poll_seconds)
            poll = run_in_threadpool(web.models.poll)

    if web.batcher is not None:
        web.batcher.start()
    first = asyncio.ensure_future(run_in_threadpool(web.models.poll))
    await asyncio.wait({first}, timeout=FIRST_POLL_WAIT_SECONDS)
    poller = asyncio.create_task(poll_forever(first))
    try:
        yield
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        web.close()


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # One readable sentence per problem, e.g. "body.action: Input should be less than or equal to 8".
    problems = ["{}: {}".format(".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()]
    return _problem(422, "; ".join(problems) or "invalid request")


async def _illegal_move(request: Request, exc: IllegalMove) -> JSONResponse:
    return _problem(422, str(exc))


async def _busy(request: Request, exc: ServerBusy | BatcherClosed) -> JSONResponse:
    return _problem(503, str(exc), {"Retry-After": "1"})
