"""The frontend in real headless Chromium (Playwright), against the real web service with a real model.

Plays a whole tictactoe game by clicking (moves named as the board shows them, the model thinking, one status line,
the newest moves ringed; again at 360 px), checks that /stats is asked for only on the Training tab, incrementally
after its first answer, and reads the Training tab drawn from real /stats data at a phone's width (360 px, touch), a
desktop's (1280 px) and in the dark scheme. Screenshots of each page land in artifacts/frontend/ (play-midgame.png,
play-360.png, dashboard-1280.png, dashboard-360.png and dashboard-1280-dark.png among them), and the README's two in
artifacts/readme-screenshots/ (`make screenshots` writes those over docs/images/, to commit when the pages look
different).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager

import pytest

from cartridge.arena.match import GameRecord
from cartridge.arena.ratings_store import CALIBRATION, RATED, MatchRow, RatingsStore, VersionResult
from cartridge.games import GAMES, get_game
from cartridge.modelstore import open_model_store
from cartridge.replay import IterationRecord, open_replay, open_training_log
from cartridge_trainer.network import PolicyValueNet, export_onnx
from devtools.http import probe_json
from devtools.paths import REPO_ROOT
from testkit.support import free_port, wait_until
from tests.frontend.chromium import CHROMIUM, play, read_dashboard
from tests.frontend.screenshots import screenshot_dir

ARTIFACTS = REPO_ROOT / "artifacts" / "frontend"


@pytest.fixture
def web_with_a_model(tmp_path, start_service, make_episode):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make system-deps)")
    replay_url, store_url = f"sqlite:///{tmp_path}/replay.db", f"file://{tmp_path}/models"
    game = get_game("tictactoe")
    store = open_model_store(store_url)
    started = time.time() - 600  # iterations two minutes apart, the last two minutes ago: times a person reads
    with open_replay(replay_url) as replay, open_training_log(replay_url) as log:
        for iteration, loss in enumerate([2.1, 1.6, 1.3, 1.1], start=1):
            for _ in range(5):
                replay.append_episode(make_episode())
            manifest = store.publish("tictactoe", export_onnx(PolicyValueNet(game), game), {"iteration": iteration})
            record = IterationRecord(
                "tictactoe",
                iteration,
                manifest.version,
                loss * 0.8,
                loss * 0.2,
                loss,
                5 * iteration,
                40 * iteration,
                10.0 + iteration,
                started + 120 * iteration,
            )
            log.record_iteration(record)
    ratings = RatingsStore.open(replay_url)  # the arena's rows: the calibration, v2 skipped, the others rated
    # The references' games with each other (as the arena's calibration plays them): minimax won 3 of 3 against
    # random, alpha-beta 2 and a draw, so /stats rates them 400 * log10(3.5 / 0.5) = 338 and 400 * log10(3) = 191.
    calibration = [GameRecord("random", "minimax", seed, (), 2) for seed in range(3)]
    calibration += [GameRecord("random", "alphabeta-d2", 10 + seed, (), won) for seed, won in enumerate((2, 2, 0))]
    ratings.record(VersionResult("tictactoe", 0, CALIBRATION, games=len(calibration)), calibration)
    for version, rating in ((1, 10.0), (3, 180.0), (4, 320.0)):
        scores = {
            "random": {"games": 4, "wins": 3, "draws": 1, "losses": 0, "score": 0.875},
            "minimax": {"games": 4, "wins": 0, "draws": version, "losses": 4 - version, "score": version / 8},
        }
        ratings.record(
            VersionResult(
                "tictactoe",
                version,
                RATED,
                rating=rating,
                scores=scores,
                optimal_search=0.5 + version / 10,
                optimal_network=0.2 + version / 10,
                games=8,
            ),
            [],
        )
    ratings.record_skipped("tictactoe", {2: "published while the arena was busy"})
    # One on-demand match (`devtools match v4 minimax`): the dashboard's Matches table.
    ratings.record_match(
        MatchRow("m1", "tictactoe", "v4", "minimax", 4, 0, 4, 0, 0.5, 0.1500, 0.8500, 7, 1.7e9 - 30, 1.7e9, {})
    )
    ratings.close()
    port = free_port()
    env = {
        "HTTP_PORT": str(port),
        "REPLAY_URL": replay_url,
        "MODEL_STORE_URL": store_url,
        "ENV_ID": "tictactoe",
        "WEB_SIMS": "16",
        "MODEL_POLL_SECONDS": "0.5",
    }
    start_service("cartridge_web", env, "web")
    wait_until(lambda: probe_json(f"http://127.0.0.1:{port}/ready"), 60, "the web service")
    return port


@contextmanager
def vite_server(frontend_dir, web_port, log_path):
    """The Vite dev server proxying the API to the web on ``web_port``; yields its URL."""
    frontend_port = free_port()
    with open(log_path, "wb") as vite_log:  # the child keeps its own copy of the descriptor
        vite = subprocess.Popen(
            ["npx", "vite", "--host", "127.0.0.1", "--port", str(frontend_port), "--strictPort"],
            cwd=frontend_dir,
            env={**os.environ, "WEB_URL": f"http://127.0.0.1:{web_port}"},
            stdout=vite_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # npx starts vite as a child: stop the whole group
        )
    try:
        wait_until(lambda: probe_json(f"http://127.0.0.1:{frontend_port}/"), 60, "the Vite dev server")
        yield f"http://127.0.0.1:{frontend_port}"
    finally:
        os.killpg(vite.pid, signal.SIGTERM)
        vite.wait(10)


def test_a_person_plays_a_whole_game(web_with_a_model, frontend_dir, tmp_path):
    with vite_server(frontend_dir, web_with_a_model, tmp_path / "vite.log") as frontend_url:
        if ARTIFACTS.exists():
            shutil.rmtree(ARTIFACTS)
        images = screenshot_dir()
        (images / "play.png").unlink(missing_ok=True)
        result = play(frontend_dir, frontend_url, ARTIFACTS, DOCS_IMAGES_DIR=str(images))
    assert result["games"] == [game.label for game in GAMES], result  # the menu is the registry's, via /api/catalog
    assert result["status"].startswith("Game over"), result
    assert result["cspViolations"] == [] and result["pageErrors"] == [], result
    assert result["marks"] >= 5 and result["moves"] >= 3, result
    # The Play tab: moves named as the board shows them (cells a1-c3), never by action index.
    assert result["midgameMoves"][0] == "1. a3 (you)", result  # the first open cell: the top left
    cells = {f"{col}{row}" for col in "abc" for row in "123"}
    named = [m.split()[1] for m in result["finalMoves"]] + [p.split(":")[0] for p in result["midgamePolicy"]]
    assert named and set(named) <= cells, result
    assert not any("move " in line for line in result["midgamePolicy"] + result["finalMoves"]), result
    # The model thinking after each of the person's moves (board busy, spinner), at 1200 px and at 360 px (2).
    assert result["thinkingSeen"] == result["moves"] + 2, result
    assert result["gameOverLines"] == 1 and result["lastMarks"] == ["model", "you"], result
    assert result["phoneOverflow"] <= 0, result  # nothing sticks out sideways at 360 px
    # /stats only on the Training tab: its first poll whole, the next since the first answer's cursor.
    assert result["statsRequestsOnPlay"] == 0, result
    assert result["statsRequests"][0] == "" and result["statsRequests"][1].startswith("?since="), result
    for shot in ("play-start.png", "play-midgame.png", "play-game-over.png", "play-360.png"):
        assert (ARTIFACTS / shot).stat().st_size > 5_000, f"{shot} missing or empty"
    width, height = png_size(images / "play.png")  # this run's, in the page's width
    assert width == 1200 and height > 300, ("play.png", width, height)


CLOCK_TIME = re.compile(r"^\d\d:\d\d(:\d\d)?$")
CHARTS = ("chart-loss", "chart-throughput", "chart-iteration-time", "chart-rating", "chart-optimal")


def test_the_training_tab_reads_on_a_phone_and_a_desktop(web_with_a_model, frontend_dir, tmp_path):
    with vite_server(frontend_dir, web_with_a_model, tmp_path / "vite.log") as frontend_url:
        images = screenshot_dir()
        for name in ("dashboard-1280.png", "dashboard-360.png", "dashboard-1280-dark.png"):
            (ARTIFACTS / name).unlink(missing_ok=True)
        (images / "dashboard.png").unlink(missing_ok=True)
        result = read_dashboard(frontend_dir, frontend_url, ARTIFACTS, DOCS_IMAGES_DIR=str(images))
    assert result["cspViolations"] == [] and result["pageErrors"] == [], result
    for width in ("1280", "360"):
        seen = result[width]
        charts = seen["charts"]
        # The incremental poll reaches the web through the dev server's proxy, and nothing says the web is away.
        assert seen["incremental"] == {"status": 200, "type": "application/json"}, seen["incremental"]
        assert seen["banners"] == [], seen["banners"]
        # Axes people read: iterations and versions as whole numbers, the throughput against clock times.
        for chart in ("chart-loss", "chart-iteration-time", "chart-rating", "chart-optimal"):
            assert charts[chart]["xTicks"] and all(t.isdigit() for t in charts[chart]["xTicks"]), (chart, charts[chart])
            assert len(charts[chart]["yTicks"]) >= 2, (chart, charts[chart])
        assert {"1", "4"} <= set(charts["chart-loss"]["xTicks"]), charts["chart-loss"]  # the four iterations
        assert all(CLOCK_TIME.match(t) for t in charts["chart-throughput"]["xTicks"]), charts["chart-throughput"]
        assert all(t.endswith(" %") for t in charts["chart-optimal"]["yTicks"]), charts["chart-optimal"]
        # Legends: the three losses on one chart, both rates, the rating with random's line, both optimal shares.
        assert charts["chart-loss"]["legend"] == ["iteration", "policy", "value", "total"], charts["chart-loss"]
        assert charts["chart-throughput"]["legend"] == ["time", "episodes/s", "transitions/s"]
        assert charts["chart-rating"]["legend"] == ["model version", "rating", "random", "alphabeta-d2", "minimax"]
        assert charts["chart-optimal"]["legend"] == ["model version", "network alone", "with search"]
        # Nothing wider than the page; the tables scroll in their own boxes instead.
        viewport = seen["viewport"]
        assert viewport["scrollWidth"] <= viewport["innerWidth"], (width, viewport)
        for chart in CHARTS:
            assert charts[chart]["box"]["left"] >= 0 and charts[chart]["box"]["right"] <= viewport["innerWidth"], chart
        assert all(box["right"] <= viewport["innerWidth"] for box in seen["tableScroll"]), seen["tableScroll"]
        # Progress: the iteration against TRAINING_ITERATIONS (the web's default, 100), the model's age.
        assert seen["progress"].startswith("iteration 4 of 100 · serving v4, published "), seen["progress"]
        assert re.search(r"updated \d\d:\d\d:\d\d$", seen["progress"]), seen["progress"]
        assert seen["modelVersion"] == "v4"
        # The arena: the table newest first, the skipped version saying why.
        assert [row.split()[:2] for row in seen["arenaRows"]] == [
            ["v4", "320"],
            ["v3", "180"],
            ["v2", "skipped:"],
            ["v1", "10"],
        ], seen
        assert "0.50 (0/4/0)" in seen["arenaRows"][0] and "published while the arena was busy" in seen["arenaRows"][2]
        # Matches: the one match, from A's side, its score's interval and the Elo difference's (tab-separated cells).
        en_dash, minus = "\u2013", "\u2212"  # as the dashboard prints ranges and negative numbers
        expected = ["v4 vs minimax", "tictactoe", "4", "0/4/0", f"0.50 (0.15{en_dash}0.85)", f"+0 ({minus}301 to +301)"]
        assert [row.split("\t") for row in seen["matchRows"]] == [[*expected, "2023-11-14 22:13"]], seen
        # The rating chart's cursor on v4: its rating, and the references' lines: random at 0, the others as rated.
        references = {name: seen["ratingLegend"][name] for name in ("random", "alphabeta-d2", "minimax")}
        assert seen["ratingLegend"]["rating"] == "320", seen["ratingLegend"]
        assert references == {"random": "0", "alphabeta-d2": "191", "minimax": "338"}, seen["ratingLegend"]
    # At 360 px the arena's table is wider than its box, which scrolls; at 1280 px it fits.
    assert any(box["scrollWidth"] > box["clientWidth"] for box in result["360"]["tableScroll"]), result["360"]
    assert all(box["scrollWidth"] <= box["clientWidth"] for box in result["1280"]["tableScroll"]), result["1280"]
    # The cursor's values: a hover at 1280 px, a finger's tap at 360 px, on the last iteration (losses 1.1 * 0.8, ...).
    # A tap's values stay: Chromium's mouseleave after the tap's emulated clicks, and the next poll, keep them.
    tapped = (("tapped", result["360"]["tapped"]), ("a poll after the tap", result["360"]["tappedLater"]))
    for how, legend in (("hovered", result["1280"]["hovered"]), *tapped):
        shown = (legend["iteration"], legend["policy"], legend["value"], legend["total"])
        assert shown == ("4", "0.880", "0.220", "1.10"), (how, legend)
    smoothed = float(result["1280"]["smoothed"]["total"])  # pulled up towards the earlier, higher losses
    assert 1.1 < smoothed < 2.1, result["1280"]["smoothed"]
    log_ticks = result["1280"]["logYTicks"]
    assert log_ticks != result["1280"]["charts"]["chart-loss"]["yTicks"] and "1" in log_ticks, log_ticks
    assert result["1280"]["ratingLegendLater"] == result["1280"]["ratingLegend"], result["1280"]
    # Dark: the page follows prefers-color-scheme.
    assert result["dark"]["viewport"]["background"] == "rgb(18, 21, 28)", result["dark"]["viewport"]
    assert result["1280"]["viewport"]["background"] == "rgb(246, 247, 251)", result["1280"]["viewport"]
    for name in ("dashboard-1280.png", "dashboard-360.png", "dashboard-1280-dark.png"):
        assert (ARTIFACTS / name).stat().st_size > 5_000, f"{name} missing or empty"
    assert png_size(ARTIFACTS / "dashboard-360.png")[0] == 360
    width, height = png_size(images / "dashboard.png")  # the README's: this run's 1280 px page
    assert width == 1280 and height > 600, ("dashboard.png", width, height)


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24, big-endian)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
