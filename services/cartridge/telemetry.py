"""Logs (console or JSON lines), Prometheus metrics, and the small /health + /metrics server.

The actor and trainer serve ``/health`` and ``/metrics`` on HTTP_PORT from a
stdlib threading server; the web serves them from FastAPI instead and only uses
the logging half of this module.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from .settings import Settings

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(settings: Settings, service: str) -> structlog.stdlib.BoundLogger:
    """Route structlog and stdlib logging to stderr, as console text or one JSON object per line."""
    level = _LEVELS[settings.log_level]
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through stdlib logging; render them the same way.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # LOG_LEVEL=debug is for our own events; third-party libraries (boto, uvicorn) stay at info.
    root.setLevel(max(level, logging.INFO))
    structlog.contextvars.bind_contextvars(service=service, env_id=settings.env_id)
    return structlog.get_logger(service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def service_registry() -> CollectorRegistry:
    """A service's registry: its own (tests build many), with the process collector prometheus_client's global
    registry would have had (process_cpu_seconds_total, memory, open files), which the serving dashboard's CPU per
    pod reads from each service's own /metrics on either runtime."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


class PipelineMetrics:
    """The self-play pipeline's Prometheus metrics, in a registry of their own (one per process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or service_registry()
        r = self.registry
        self.episodes = Counter("cartridge_episodes", "Self-play episodes written", ["env_id"], registry=r)
        self.transitions = Counter("cartridge_transitions", "Transitions written", ["env_id"], registry=r)
        self.simulations = Counter("cartridge_mcts_simulations", "MCTS simulations run", ["env_id"], registry=r)
        self.episode_seconds = Histogram(
            "cartridge_episode_duration_seconds",
            "Wall time of one self-play episode",
            ["env_id"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.model_version = Gauge("cartridge_model_version", "Model version in use", ["env_id"], registry=r)
        self.loss = Gauge("cartridge_loss", "Training loss of the last iteration", ["env_id", "kind"], registry=r)
        self.iteration = Gauge("cartridge_iteration", "Last finished training iteration", ["env_id"], registry=r)


def serve_health(
    host: str,
    port: int,
    registry: CollectorRegistry,
    health: Callable[[], dict] = lambda: {"status": "ok"},
) -> ThreadingHTTPServer:
    """Serve GET /health (JSON from ``health``; 503 if it says status != ok) and GET /metrics.

    Raises OSError (with the port in the message) when the port is taken.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                try:
                    body = health()
                except Exception as exc:  # a probe must answer, not crash the server thread
                    body = {"status": "error", "error": str(exc)}
                status = 200 if body.get("status") == "ok" else 503
                self._send(status, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "application/json", b'{"detail": "not found: use /health or /metrics"}')

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: stay quiet
            pass

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on {host}:{port} for /health: {exc.strerror}") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()
    return server


class StallWatch:
    """Health's view of progress: stalled when progress was expected and none came for ``stall_seconds``.

    The service says when it starts expecting progress (an actor playing; a trainer with enough new
    episodes) and when progress comes (an episode written; an iteration finished); while it expects none
    (a trainer waiting for episodes, a service stopping) it is never stalled."""

    def __init__(self, stall_seconds: float, what: str) -> None:
        self.stall_seconds = stall_seconds
        self.what = what
        self._expected_since: float | None = None
        self._lock = threading.Lock()

    def expect(self) -> None:
        """Progress is expected from now on (no-op when it already was: the wait keeps its start)."""
        with self._lock:
            if self._expected_since is None:
                self._expected_since = time.monotonic()

    def progressed(self, expect_more: bool = True) -> None:
        with self._lock:
            self._expected_since = time.monotonic() if expect_more else None

    def idle(self) -> None:
        with self._lock:
            self._expected_since = None

    def problem(self) -> str | None:
        """Why the service is stalled, or None."""
        with self._lock:
            since = self._expected_since
        if since is None or (waited := time.monotonic() - since) <= self.stall_seconds:
            return None
        return f"no {self.what} for {waited:.0f} s (HEALTH_STALL_SECONDS={self.stall_seconds:g})"

    def health(self, **fields: object) -> dict:
        """A /health body: status ok, or stalled with the reason (served as 503, so Kubernetes restarts)."""
        problem = self.problem()
        return {"status": "ok", **fields} if problem is None else {"status": "stalled", "problem": problem, **fields}
