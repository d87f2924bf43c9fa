"""bench_strength's results file and bench.plot_strength's chart of several runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_strength import services_path, write_results
from bench.plot_strength import LABEL_WIDTH, ResultsError, figure, load, plot

ROOT = Path(__file__).resolve().parent.parent


def run_file(tmp_path: Path, name: str, game: str = "connect4", scale: float = 1.0) -> Path:
    """A results file as bench_strength --out writes it, with made-up figures."""
    rated = [
        {
            "version": v,
            "seconds": 60.0 * v,
            "rating": 100.0 * v,
            "scores": {"random": 1.0, "alphabeta-d4": min(1.0, 0.1 * v * scale)},
            "optimal_search": 0.5 + 0.05 * v * scale,
            "optimal_network": 0.4 + 0.05 * v * scale,
        }
        for v in range(1, 6)
    ]
    target = {"version": 5, "seconds": 300.0, "opponent": "alphabeta-d4", "games": 200, "score": 0.61}
    path = tmp_path / f"{name}.json"
    write_results(path, {"label": name, "game": game, "rated": rated, "target": target})
    return path


def test_two_runs_make_one_png(tmp_path):
    out = tmp_path / "strength.png"
    plot([load(run_file(tmp_path, "before")), load(run_file(tmp_path, "after", scale=1.5))], out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert not list(tmp_path.glob("*.partial"))  # results are renamed into place whole


def test_every_run_gets_its_own_line_and_whole_legend_entry_past_the_palettes_end(tmp_path):
    # 13 runs, more than the 10 colours of matplotlib's palette, one with a label longer than a legend line.
    runs = [load(run_file(tmp_path, f"run {k}", scale=1 + k / 10)) for k in range(13)]
    runs[4]["label"] = "bf16, LR half-life 40, VALUE_TARGET_MIX=0.5, " * 4 + "the end"
    fig = figure(runs)
    try:
        lines = fig.axes[0].get_lines()[: 13 * 2 : 2]  # each run's curve, then its target-match marker
        assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 13
        entries = [text.get_text() for text in fig.legends[0].get_texts()]
        assert len(entries) == 13 + 2  # the runs, then the target-match marker and the target line
        assert [entries[k].split(":")[0] for k in range(13) if k != 4] == [f"run {k}" for k in range(13) if k != 4]
        assert entries[4].replace("\n", " ").startswith(runs[4]["label"]) and "\n" in entries[4]
        assert max(len(line) for entry in entries for line in entry.split("\n")) <= LABEL_WIDTH
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_runs_of_different_games_are_refused(tmp_path):
    runs = [load(run_file(tmp_path, "a")), load(run_file(tmp_path, "b", game="tictactoe"))]
    with pytest.raises(ResultsError, match="different games"):
        plot(runs, tmp_path / "x.png")


def test_a_file_that_is_not_a_results_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"label": "x"}))
    result = subprocess.run(
        [sys.executable, "-m", "bench.plot_strength", str(bad), "-o", str(tmp_path / "x.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "bad.json: not a bench_strength results file (no game, rated, target)" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_services_tree_must_be_a_checkout_and_puts_its_services_first(tmp_path):
    with pytest.raises(SystemExit, match="not a checkout of this project"):
        services_path(tmp_path)
    path = services_path(ROOT).split(":")
    assert path[0] == str(ROOT / "services") and str(ROOT / "services" / "trainer") in path
