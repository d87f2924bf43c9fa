"""What each service's /metrics declares: every metric family, its type, and the services that export it, read
from the `# TYPE` lines of the real registries (a labelled metric nobody touched yet still declares its type)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest

from cartridge.arena.metrics import ArenaMetrics
from cartridge.games import get_game
from cartridge.mcts import MctsConfig
from cartridge.selfplay import SelfPlay
from cartridge_actor.metrics import ActorMetrics
from cartridge_trainer.metrics import TrainerMetrics
from cartridge_web.metrics import WebMetrics

# The registry each service serves on /metrics, as its entry module builds it.
REGISTRIES: dict[str, Callable[[], CollectorRegistry]] = {
    "actor": lambda: (
        ActorMetrics("tictactoe", SelfPlay(get_game("tictactoe"), MctsConfig(), parallel_games=1)).registry
    ),
    "trainer": lambda: TrainerMetrics("tictactoe", episodes_per_iteration=8, max_transitions=1000).registry,
    "arena": lambda: ArenaMetrics("tictactoe").registry,
    "web": lambda: WebMetrics().registry,
}
# The sample names a family of each type puts in the exposition, besides the `_created` prometheus_client adds.
SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed family name (a counter's with `_total`) -> (type, the services that declare it)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for service, registry in REGISTRIES.items():
        for line in generate_latest(registry()).decode().splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                if name.endswith("_created"):  # the start time prometheus_client adds to each counter and histogram
                    continue
                found.setdefault(name, (kind, set()))[1].add(service)
    return {name: (kind, frozenset(services)) for name, (kind, services) in found.items()}


def exported_sample_names() -> set[str]:
    """Every sample name a query may use: a histogram's `_bucket`, `_count` and `_sum`, the rest as declared."""
    return {name + suffix for name, (kind, _) in exported_metrics().items() for suffix in SUFFIXES[kind]}
