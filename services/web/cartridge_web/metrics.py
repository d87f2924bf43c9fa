"""The web's Prometheus metrics, in a registry of their own per app (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class WebMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
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
