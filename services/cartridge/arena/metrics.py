"""The arena's Prometheus metrics: the ladder, the newest rated version's scores, the share of optimal moves."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..telemetry import service_registry
from .loop import player_name
from .ratings_store import RATED, SKIPPED, VersionResult


class ArenaMetrics:
    def __init__(self, env_id: str, registry: CollectorRegistry | None = None) -> None:
        self.env_id = env_id
        self.registry = r = registry or service_registry()
        self.rating = Gauge(
            "cartridge_arena_rating",
            "Bradley-Terry rating over all games (Elo scale, random = 0)",
            ["env_id", "player"],
            registry=r,
        )
        self.score = Gauge(
            "cartridge_arena_score",
            "Newest rated version's score against each opponent (0..1)",
            ["env_id", "opponent"],
            registry=r,
        )
        self.optimal = Gauge(
            "cartridge_arena_optimal_share",
            "Newest rated version's share of optimal moves on the labelled positions",
            ["env_id", "player"],
            registry=r,
        )
        self.newest = Gauge(
            "cartridge_arena_newest_rating",
            "Newest rated version's rating (Elo scale, random = 0)",
            ["env_id"],
            registry=r,
        )
        self.version = Gauge("cartridge_arena_rated_version", "Newest rated model version", ["env_id"], registry=r)
        self.versions = Counter(
            "cartridge_arena_versions", "Versions reached, by outcome", ["env_id", "status"], registry=r
        )
        self.games = Counter("cartridge_arena_games", "Arena games played", ["env_id"], registry=r)
        # At 0 from the start, so "the arena has rated nothing for hours" sees a 0 increase after a restart too.
        for status in (RATED, SKIPPED):
            self.versions.labels(env_id, status)
        self.games.labels(env_id)

    def observe(self, result: VersionResult, ladder: dict[str, float]) -> None:
        """A new arena row and the ladder refitted with its games."""
        self.versions.labels(self.env_id, result.status).inc()
        self.games.labels(self.env_id).inc(result.games)
        self.show(result, ladder)

    def show(self, result: VersionResult | None, ladder: dict[str, float]) -> None:
        """Set the gauges (also at start-up, from the stored rows, without counting anything again)."""
        env = self.env_id
        for player, rating in ladder.items():
            self.rating.labels(env, player).set(rating)
        if result is None or result.status != RATED:
            return
        self.version.labels(env).set(result.version)
        self.newest.labels(env).set(ladder.get(player_name(result.version), result.rating))
        for opponent, score in result.scores.items():
            self.score.labels(env, opponent).set(score["score"])
        for player, share in (("mcts", result.optimal_search), ("network", result.optimal_network)):
            if share is not None:
                self.optimal.labels(env, player).set(share)
