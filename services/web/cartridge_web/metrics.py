"""The web's Prometheus metrics, in a registry of their own per app (tests build many apps)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cartridge.telemetry import service_registry

METHODS = {"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}


class WebMetrics:
    def __init__(self) -> None:
        self.registry = r = service_registry()
        self.requests = Counter("cartridge_web_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "cartridge_web_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.model_version = Gauge("cartridge_model_version", "Model version served", ["env_id"], registry=r)
        self.model_swaps = Counter("cartridge_web_model_swaps", "Models loaded without restart", ["env_id"], registry=r)
        # `follow` (latest, or best under gated rollout) tells an alert whether lagging the trainer is a fault or
        # the gate at work.
        self.model_iteration = Gauge(
            "cartridge_web_model_iteration",
            "Training iteration of the model served (0: none yet)",
            ["env_id", "follow"],
            registry=r,
        )
        self.model_published = Gauge(
            "cartridge_web_model_published_timestamp_seconds",
            "When the model served was published (Unix time): its age is time() minus this",
            ["env_id"],
            registry=r,
        )
        # Positions per network call of the move searches (batching.InferenceBatcher): how much concurrent
        # searches share their calls. One search alone sends up to gameplay.SEARCH_BATCH per call.
        self.inference_batch_size = Histogram(
            "cartridge_web_inference_batch_size",
            "Positions per network call of the move searches",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )


class RequestMetrics:
    """Counts requests by method, route and status and times them. Plain ASGI rather than an
    ``@app.middleware("http")`` function, whose per-request task and streams cost more than a /stats hit.
    The app's ``WebMetrics`` is ``metrics_of(app)``, so one middleware class serves every app."""

    def __init__(self, app: ASGIApp, metrics_of) -> None:
        self.app = app
        self.metrics_of = metrics_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server sends if the app raises before it starts a response

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = scope.get("route")  # set by the router on this same scope
            path = route.path if route is not None else "unmatched"  # bounded labels: no raw client paths
            method = scope["method"] if scope["method"] in METHODS else "other"
            metrics: WebMetrics = self.metrics_of(scope["app"])
            metrics.requests.labels(method, path, str(status)).inc()
            metrics.latency.labels(path).observe(time.perf_counter() - started)
