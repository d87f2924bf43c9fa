"""The Grafana dashboards, as code: "Cartridge training" and "Cartridge serving", built with grafana-foundation-sdk
(the builders generated from Grafana 11.6's own schemas) and written as JSON to k8s/components/monitoring/dashboards/,
where the monitoring component provisions them from. `make dashboards` (``python -m devtools.dashboards``) writes
them; ``--check`` says whether the committed files are the generator's output.

Every query reads only metrics of docs/metrics.md. Every panel reads the Prometheus datasource whose uid is
``DATASOURCE_UID``: the provisioned datasource carries that uid, so the dashboards need no datasource variable."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from devtools.local.prometheus import SCRAPED_KINDS
from devtools.paths import REPO_ROOT

DATASOURCE_UID = "prometheus"  # the uid the provisioned Prometheus datasource must carry
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
DIRECTORY = REPO_ROOT / "k8s" / "components" / "monitoring" / "dashboards"
REGENERATE = "make dashboards"

# Template variables: the namespace (the cluster's `cartridge`, the local runtime's `local`) and the game.
NAMESPACE = 'namespace=~"$namespace"'
GAME = 'namespace=~"$namespace", env_id=~"$env"'
# The Cartridge services' scrape jobs (the monitors' jobLabel, the local runtime's jobs): process_* series come from
# every process a cluster's Prometheus scrapes, Grafana and Prometheus among them.
SERVICES = f'job=~"{"|".join(SCRAPED_KINDS)}"'
WIDE, HALF, THIRD = 24, 12, 8


def query(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DATASOURCE)


def chart(title: str, unit: str, description: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(HALF)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common_builder.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE))
    )
    for ref_id, target in zip("ABCDEF", queries, strict=False):
        panel = panel.with_target(target.ref_id(ref_id))
    return panel


def figure(title: str, unit: str, description: str, target: prometheus.Dataquery) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(4)
        .span(THIRD)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .with_target(target)
    )


def namespace_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("namespace")
        .label("Namespace")
        .datasource(DATASOURCE)
        .query("label_values(cartridge_model_version, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def env_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("env")
        .label("Game")
        .datasource(DATASOURCE)
        .query('label_values(cartridge_model_version{namespace=~"$namespace"}, env_id)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["cartridge"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
    )


def training() -> dashboard.Dashboard:
    rate = "[$__rate_interval]"
    iteration_buckets = (
        f"sum by (le, env_id) (rate(cartridge_trainer_iteration_duration_seconds_bucket{{{GAME}}}{rate}))"
    )
    return (
        base("cartridge-training", "Cartridge training", "Self-play, training and the arena: is the model learning?")
        .with_variable(namespace_variable())
        .with_variable(env_variable())
        .with_panel(
            chart(
                "Self-play per second",
                "short",
                "Episodes and transitions (positions) the actors write to the replay buffer, per second.",
                query(f"sum by (env_id) (rate(cartridge_episodes_total{{{GAME}}}{rate}))", "{{env_id}} episodes/s"),
                query(
                    f"sum by (env_id) (rate(cartridge_transitions_total{{{GAME}}}{rate}))", "{{env_id}} transitions/s"
                ),
            )
        )
        .with_panel(
            chart(
                "Loss",
                "none",
                "The last iteration's policy loss (cross-entropy) and value loss (squared error).",
                query(f"max by (env_id, kind) (cartridge_loss{{{GAME}}})", "{{env_id}} {{kind}}"),
            )
        )
        .with_panel(
            chart(
                "Iteration time",
                "s",
                "Wall time of one training iteration, publication included (the trainer's histogram).",
                query(f"histogram_quantile(0.5, {iteration_buckets})", "{{env_id}} p50"),
                query(f"histogram_quantile(0.9, {iteration_buckets})", "{{env_id}} p90"),
            )
        )
        .with_panel(
            chart(
                "Replay buffer",
                "short",
                "Transitions stored after the pruner's last round, against REPLAY_MAX_TRANSITIONS, the bound it keeps.",
                query(f"max by (env_id) (cartridge_replay_stored_transitions{{{GAME}}})", "{{env_id}} stored"),
                query(f"max by (env_id) (cartridge_replay_max_transitions{{{GAME}}})", "{{env_id}} bound"),
            )
        )
        .with_panel(
            figure(
                "Iteration",
                "none",
                "The last finished training iteration.",
                query(f"max by (env_id) (cartridge_iteration{{{GAME}}})", "{{env_id}}"),
            )
        )
        .with_panel(
            figure(
                "Model served",
                "none",
                "The model version the web serves (the lowest over its replicas).",
                query(f'min by (env_id) (cartridge_model_version{{job="web", {GAME}}})', "{{env_id}}"),
            )
        )
        .with_panel(
            figure(
                "Age of the model served",
                "s",
                "Time since the model the web serves was published (the oldest over its replicas).",
                query(
                    f"time() - min by (env_id) (cartridge_web_model_published_timestamp_seconds{{{GAME}}} > 0)",
                    "{{env_id}}",
                ),
            )
        )
        .with_panel(
            chart(
                "Rating",
                "none",
                "Bradley-Terry rating, Elo scale (random = 0): the newest rated version and the reference players.",
                query(f"max by (env_id) (cartridge_arena_newest_rating{{{GAME}}})", "{{env_id}} newest"),
                query(
                    f'max by (env_id, player) (cartridge_arena_rating{{player!~"v[0-9]+", {GAME}}})',
                    "{{env_id}} {{player}}",
                ),
            ).span(WIDE)
        )
    )


def serving() -> dashboard.Dashboard:
    rate = "[$__rate_interval]"
    requests = f"cartridge_web_requests_total{{{NAMESPACE}}}"
    latency = f"sum by (le, route) (rate(cartridge_web_request_seconds_bucket{{{NAMESPACE}}}{rate}))"
    return (
        base("cartridge-serving", "Cartridge serving", "The web: requests, latency, errors, model swaps; CPU per pod.")
        .with_variable(namespace_variable())
        .with_panel(
            chart(
                "Requests per second",
                "reqps",
                "HTTP requests per route template (`unmatched` for none).",
                query(f"sum by (route) (rate({requests}{rate}))", "{{route}}"),
            )
        )
        .with_panel(
            chart(
                "Latency",
                "s",
                "p50 and p99 request latency per route template.",
                query(f"histogram_quantile(0.5, {latency})", "{{route}} p50"),
                query(f"histogram_quantile(0.99, {latency})", "{{route}} p99"),
            )
        )
        .with_panel(
            chart(
                "5xx share",
                "percentunit",
                "Share of the web's requests that end in a 5xx (0 while none do).",
                query(
                    f'(sum(rate(cartridge_web_requests_total{{status=~"5..", {NAMESPACE}}}{rate})) or vector(0))'
                    f" / sum(rate({requests}{rate}))",
                    "5xx",
                ),
            )
        )
        .with_panel(
            chart(
                "Model swaps",
                "short",
                "Models the web loaded without a restart, per pod, and the training iteration each serves.",
                query(
                    f"sum by (pod) (increase(cartridge_web_model_swaps_total{{{NAMESPACE}}}{rate}))", "{{pod}} swaps"
                ),
                query(f"max by (pod) (cartridge_web_model_iteration{{{NAMESPACE}}})", "{{pod}} iteration"),
            )
        )
        .with_panel(
            chart(
                "CPU per pod",
                "percentunit",
                "CPU each service's process uses (1 = one core), from its own process_cpu_seconds_total.",
                query(f"sum by (pod) (rate(process_cpu_seconds_total{{{SERVICES}, {NAMESPACE}}}{rate}))", "{{pod}}"),
            ).span(WIDE)
        )
    )


@dataclass(frozen=True)
class Board:
    file: str  # in DIRECTORY
    build: Callable[[], dashboard.Dashboard]


BOARDS = (Board("training.json", training), Board("serving.json", serving))


def render(board: Board) -> str:
    """The dashboard's JSON as committed: the SDK's encoding, keys sorted, two-space indents, one final newline."""
    encoded = json.loads(json.dumps(board.build().build(), cls=JSONEncoder))
    return json.dumps(encoded, indent=2, sort_keys=True) + "\n"


def write(directory: Path | None = None) -> list[Path]:
    directory = directory or DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for board in BOARDS:
        (path := directory / board.file).write_text(render(board))
        written.append(path)
    return written


def stale(directory: Path | None = None) -> list[str]:
    """The files in ``directory`` that are not what the generator writes (missing ones too)."""
    directory = directory or DIRECTORY
    return [b.file for b in BOARDS if not (p := directory / b.file).is_file() or p.read_text() != render(b)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        if differ := stale():
            print(f"{', '.join(differ)} in {DIRECTORY} differ from devtools/dashboards.py: run `{REGENERATE}`")
            return 1
        return 0
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
