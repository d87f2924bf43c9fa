"""Strength against wall-clock time, one line per bench_strength run, as a PNG (README, docs/benchmarks.md).

    .venv/bin/python -m bench.plot_strength runs/connect4-before.json runs/connect4-after.json \\
        -o docs/images/strength-connect4.png

Three panels share the time axis: the score of each rated version against the game's target opponent (20 arena
games a point: +-0.1 or so), and its share of optimal moves on the arena's labelled positions with the arena's
search and from the raw network. The issue's targets are drawn as dotted lines; each run's target match (200
games, its newest version) as a larger marker at its publication time.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

# The targets of issue 26 per game: score against the target opponent, optimal moves with search, raw network.
# tictactoe's is no loss against minimax: a score of 0.5 with every game drawn.
TARGETS = {"connect4": (0.95, 0.90, 0.75), "tictactoe": (0.5, None, None)}
LABEL_WIDTH = 110  # characters a legend line holds at the figure's width and the legend's font size
LINE_STYLES = ("-", "--", "-.", ":")


class ResultsError(ValueError):
    """A results file cannot be plotted; the message names it."""


def load(path: Path) -> dict:
    try:
        run = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not a bench_strength results file ({exc})") from None
    missing = {"label", "game", "rated", "target"} - set(run)
    if missing:
        raise ResultsError(f"{path}: not a bench_strength results file (no {', '.join(sorted(missing))})")
    return run


def plot(runs: list[dict], out: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(runs)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def figure(runs: list[dict]):
    """The chart of ``runs`` as a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a CI machine or a container
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    games = {run["game"] for run in runs}
    if len(games) != 1:
        raise ResultsError(f"runs of different games cannot share a chart: {sorted(games)}")
    game = games.pop()
    score_target, search_target, raw_target = TARGETS.get(game, (None, None, None))
    opponent = runs[0]["target"]["opponent"]
    labels = [
        textwrap.fill(f"{run['label']}: v{run['target']['version']} scored {run['target']['score']:.3f}", LABEL_WIDTH)
        for run in runs
    ]
    # The legend goes below the panels, an entry per run (long labels wrapped to the figure's width), so it never
    # covers a curve however many runs there are.
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, axes = plt.subplots(3, 1, figsize=(8, 9 + 0.2 * lines), sharex=True, layout="constrained")
    panels = (
        (axes[0], f"score against {opponent}", score_target),
        (axes[1], "optimal moves, arena's search", search_target),
        (axes[2], "optimal moves, raw network", raw_target),
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (run, label) in enumerate(zip(runs, labels, strict=True)):
        # A colour each, and past the palette's end the next line style: every run its own look, none dropped.
        colour, style = colours[k % len(colours)], LINE_STYLES[k // len(colours) % len(LINE_STYLES)]
        rated = run["rated"]
        minutes = [r["seconds"] / 60 for r in rated]
        series = (
            [r["scores"].get(opponent) for r in rated],
            [r["optimal_search"] for r in rated],
            [r["optimal_network"] for r in rated],
        )
        target = run["target"]
        for (ax, _, _), values in zip(panels, series, strict=True):
            ax.plot(minutes, values, marker="o", linestyle=style, color=colour, label=label if ax is axes[0] else None)
        axes[0].plot(target["seconds"] / 60, target["score"], "D", color=colour, markersize=9)
    for ax, title, goal in panels:
        if goal is not None:
            ax.axhline(goal, linestyle=":", color="black", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1.02)
    axes[0].set_xlim(left=0)
    for ax in axes[1:]:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    games = runs[0]["target"]["games"]
    keys = [
        Line2D([], [], marker="D", linestyle="none", color="grey", markersize=8, label=f"{games}-game target match"),
        Line2D([], [], linestyle=":", color="black", label="target"),
    ]
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend([*handles, *keys], [*labels, *(k.get_label() for k in keys)], loc="outside lower center", fontsize=8)
    axes[2].set_xlabel("wall-clock training time (minutes, 2 cores)")
    fig.suptitle(f"{game}: strength against training time")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench_strength --out files")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args()
    try:
        plot([load(path) for path in args.runs], args.out)
    except ResultsError as exc:
        parser.exit(2, f"plot_strength: {exc}\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
