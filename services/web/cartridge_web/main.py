"""cartridge-web: the FastAPI app under uvicorn on HTTP_PORT (default 8080)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from cartridge.service import StopFlag, run_main
from cartridge.settings import Settings
from cartridge.telemetry import configure_logging

from .app import create_app


def _check_port(host: str, port: int) -> None:
    """Fail before start-up with one line: uvicorn would log a taken port as an error and exit 1."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None


def run() -> int:
    settings = Settings.from_env(http_port=8080)
    log = configure_logging(settings, "web")
    _check_port(settings.http_host, settings.http_port)
    app = create_app(settings)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores the handlers it found, then raises the
    # signal again; with these handlers in place that second delivery is recorded, not fatal, so a
    # stop requested by Kubernetes or Ctrl-C ends with exit code 0 instead of death by signal.
    stop = StopFlag().install()
    log.info("web starting", port=settings.http_port, env_id=settings.env_id, sims=settings.web_sims)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    log.info("web stopped", signal=stop.signal_name)
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-web", run))
