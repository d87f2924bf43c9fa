"""The actor's Prometheus metrics: the pipeline's (episodes, transitions, simulations), its games in flight, and its
resignations."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
        # Resignation (RESIGN_THRESHOLD): false positives / checks is the share of resignations that were wrong.
        # Added as each episode is written, like the simulations; at 0 from the start for the same reason.
        self.resigned_games = Counter(
            "cartridge_actor_resigned_games",
            "Self-play games ended by resignation",
            ["env_id"],
            registry=self.registry,
        )
        self.resign_checks = Counter(
            "cartridge_actor_resign_checks",
            "Check games (played on, resignation off) in which a player met the resignation rule",
            ["env_id"],
            registry=self.registry,
        )
        self.resign_false_positives = Counter(
            "cartridge_actor_resign_false_positives",
            "Check games the player who met the resignation rule went on to win or draw",
            ["env_id"],
            registry=self.registry,
        )
        for counter in (self.resigned_games, self.resign_checks, self.resign_false_positives):
            counter.labels(env_id)
