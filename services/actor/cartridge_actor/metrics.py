"""The actor's Prometheus metrics: the pipeline's (episodes, transitions, simulations) and its games in flight."""

from __future__ import annotations

from prometheus_client import Gauge

from cartridge.selfplay import SelfPlay
from cartridge.telemetry import PipelineMetrics


class ActorMetrics(PipelineMetrics):
    def __init__(self, env_id: str, selfplay: SelfPlay) -> None:
        super().__init__()
        self.games_in_flight = Gauge(
            "cartridge_actor_games_in_flight",
            "Self-play games started and not yet finished (ACTOR_PARALLEL_GAMES while playing)",
            ["env_id"],
            registry=self.registry,
        )
        # Read at each scrape: the self-play loop keeps the count, and a scrape sees it between two moves.
        self.games_in_flight.labels(env_id).set_function(lambda: selfplay.in_flight)
        # The counters exist at 0 before the first episode: "actors write no episodes" must see a 0 rate from an
        # actor that never finishes one, not a missing series.
        for counter in (self.episodes, self.transitions):
            counter.labels(env_id)
