"""cartridge-web: the FastAPI app under uvicorn on HTTP_PORT (default 8080)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from cartridge.service import run_main
from cartridge.settings import Settings
from cartridge.telemetry import configure_logging

from .app import create_app


def _check_port(host: str, port: int) -> None:
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
    log.info("web starting", port=settings.http_port, env_id=settings.env_id, sims=settings.web_sims)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False,
                timeout_graceful_shutdown=10)  # fmt: skip
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-web", run))
