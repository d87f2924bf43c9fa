"""What the routes depend on: built once per app by ``create_app`` and handed to each route by FastAPI's
dependency injection, never held in module globals, so tests build many apps on temporary backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any

from fastapi import Depends, Request

from cartridge.modelstore import ModelStore
from cartridge.replay import ReplayBuffer
from cartridge.settings import Settings
from cartridge.stores import open_model_store

from .batching import InferenceBatcher
from .gameplay import Referee
from .metrics import WebMetrics
from .serving import LiveModels, SearchSlots
from .stats_cache import TrainingProgress


@dataclass(frozen=True)
class WebServices:
    settings: Settings
    metrics: WebMetrics
    models: LiveModels
    referee: Referee
    slots: SearchSlots
    training: TrainingProgress
    batcher: InferenceBatcher | None  # None with WEB_BATCHING=off and WEB_EVAL_CACHE=0 (off alone keeps the cache)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        self.training.close()

    @classmethod
    def build(cls, settings: Settings, replay: ReplayBuffer | None, store: ModelStore | None) -> WebServices:
        store = store or open_model_store(settings)
        metrics = WebMetrics()
        models = LiveModels(store, metrics, settings.followed_manifest, settings.ort_threads)
        batcher = None
        if settings.web_batching == "on" or settings.web_eval_cache:
            # Off: no shared calls (no worker threads), each search calls the network itself, through the cache.
            workers = 2 if settings.web_batching == "on" else 0
            batcher = InferenceBatcher(
                metrics, settings.web_batch_wait_ms / 1000, workers=workers, cache_size=settings.web_eval_cache
            )
        return cls(
            settings=settings,
            metrics=metrics,
            models=models,
            referee=Referee(models, settings.web_sims, batcher),
            slots=SearchSlots(settings.web_search_slots, settings.web_search_wait_seconds),
            training=TrainingProgress(settings, replay, store),
            batcher=batcher,
        )


def services(request: Request) -> WebServices:
    return request.app.state.services


def _part(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving one of the app's services (a typo fails at import, not at the first request).
    async: FastAPI would run a plain function in a worker thread for every request."""
    if name not in {f.name for f in fields(WebServices)}:
        raise AttributeError(f"WebServices has no {name!r}")

    async def part(request: Request) -> Any:
        return getattr(services(request), name)

    return part


SettingsDep = Annotated[Settings, Depends(_part("settings"))]
ModelsDep = Annotated[LiveModels, Depends(_part("models"))]
RefereeDep = Annotated[Referee, Depends(_part("referee"))]
SlotsDep = Annotated[SearchSlots, Depends(_part("slots"))]
TrainingDep = Annotated[TrainingProgress, Depends(_part("training"))]
MetricsDep = Annotated[WebMetrics, Depends(_part("metrics"))]
