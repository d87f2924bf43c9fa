"""cartridge-arena: rate each newest model version by play; ratings and scores go to the replay database.

The loop lives in cartridge.arena.loop; this module reads the settings, opens the database and the store, serves
/health and /metrics, and keeps the loop alive through database or store outages (it waits and tries again).
SIGTERM stops it between games: the version in play is dropped, and played again from its seeds on the next start.
"""

from __future__ import annotations

import os
import sys
import time

from cartridge.arena.gate import GateConfig
from cartridge.arena.loop import Arena, ArenaConfig
from cartridge.arena.metrics import ArenaMetrics
from cartridge.arena.ratings_store import RATED, RatingsStore
from cartridge.games import get_game
from cartridge.modelstore import CorruptModel, ModelStoreUnavailable
from cartridge.replay import ReplayUnavailable
from cartridge.service import StopFlag, run_main
from cartridge.settings import Settings
from cartridge.stores import open_model_store, open_replay_database
from cartridge.telemetry import configure_logging, serve_health


def run() -> int:
    settings = Settings.from_env(http_port=9100)
    log = configure_logging(settings, "arena")
    stop = StopFlag().install()
    game = get_game(settings.env_id)
    ratings = RatingsStore(open_replay_database(settings))
    store = open_model_store(settings)
    store.ping()
    metrics = ArenaMetrics(settings.env_id)
    gate = GateConfig(settings.gate_threshold, settings.gate_games) if settings.rollout_policy == "gated" else None
    arena = Arena(
        game,
        store=store,
        ratings=ratings,
        config=ArenaConfig(settings.arena_games, settings.arena_sims, settings.ort_threads),
        log=log,
        on_result=metrics.observe,
        should_stop=stop.is_set,
        gate=gate,
    )
    rated = [r for r in ratings.results(settings.env_id) if r.status == RATED]
    metrics.show(rated[-1] if rated else None, arena.ladder())
    started = time.time()

    def health() -> dict:
        newest = max((r.version for r in rated), default=None)
        return {
            "status": "ok",
            "rated_version": newest,
            "busy_with": arena.busy_with,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - started, 1),
        }

    server = serve_health(settings.http_host, settings.http_port, metrics.registry, health)
    log.info(
        "arena started",
        games_per_opponent=settings.arena_games,
        sims=settings.arena_sims,
        references=list(arena.references),
        rated_versions=len(rated),
        port=settings.http_port,
        rollout_policy=settings.rollout_policy,
    )
    while not stop.is_set():
        try:
            arena.calibrate()
            result = arena.step()
        except (ReplayUnavailable, ModelStoreUnavailable, CorruptModel) as exc:
            # A database restart or a store outage: nothing of the version in play was written; try again.
            log.warning("arena round failed, retrying", error=str(exc), retry_in_s=settings.model_poll_seconds)
            stop.wait(settings.model_poll_seconds)
            continue
        if result is not None and result.status == RATED:
            rated.append(result)
        elif result is None:
            stop.wait(settings.model_poll_seconds)
    server.shutdown()
    ratings.close()
    log.info("arena stopped", reason=stop.signal_name, rated_versions=len(rated))
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-arena", run))
