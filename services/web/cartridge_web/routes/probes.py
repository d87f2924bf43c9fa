"""Probes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..dependencies import MetricsDep, ModelsDep, SettingsDep, TrainingDep
from ..outages import MODEL_STORE_UNAVAILABLE, REPLAY_SLOW
from ..schemas import Health, Readiness

# Kubernetes gives /ready 5 s: the replay buffer's state is reported, never waited on for longer than this.
READY_REPLAY_WAIT_SECONDS = 1.0

router = APIRouter(tags=["probes"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(settings: SettingsDep, models: ModelsDep, training: TrainingDep) -> JSONResponse:
    # Ready when moves can be answered: after the first model-store poll, with the model it found or the
    # uniform prior. The replay buffer and the store are reported, but their outages only degrade /stats.
    try:
        snapshot = await asyncio.wait_for(training.snapshot(), READY_REPLAY_WAIT_SECONDS)
        replay = snapshot.replay_problem or "ok"
    except TimeoutError:
        replay = REPLAY_SLOW
    store = "ok" if models.store_outage.error is None else f"{MODEL_STORE_UNAVAILABLE}; games use the models loaded"
    body = Readiness(
        ready=models.first_poll_done.is_set(),
        replay=replay,
        model_store=store,
        model_version=models.current(settings.env_id).version or None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get("/metrics", response_class=Response)
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
