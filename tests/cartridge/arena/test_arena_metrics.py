"""The arena's metrics: the versions it reaches count from 0, so "rated nothing for hours" is a 0 increase."""

from __future__ import annotations

from cartridge.arena.metrics import ArenaMetrics
from cartridge.arena.ratings_store import RATED, SKIPPED, VersionResult


def versions(metrics: ArenaMetrics, status: str) -> float | None:
    labels = {"env_id": "tictactoe", "status": status}
    return metrics.registry.get_sample_value("cartridge_arena_versions_total", labels)


def test_the_version_counters_start_at_0_and_count_each_outcome():
    metrics = ArenaMetrics("tictactoe")
    assert versions(metrics, RATED) == 0 and versions(metrics, SKIPPED) == 0
    assert metrics.registry.get_sample_value("cartridge_arena_games_total", {"env_id": "tictactoe"}) == 0
    metrics.observe(VersionResult("tictactoe", 1, RATED, rating=120.0, games=6), {"random": 0.0, "v1": 120.0})
    metrics.observe(VersionResult("tictactoe", 2, SKIPPED, note="deleted by retention"), {"random": 0.0, "v1": 120.0})
    assert versions(metrics, RATED) == 1 and versions(metrics, SKIPPED) == 1
    assert metrics.registry.get_sample_value("cartridge_arena_games_total", {"env_id": "tictactoe"}) == 6
