"""The frontend in real headless Chromium (Playwright), against the real web service with a real model.

Plays a whole tictactoe game by clicking (moves named as the board shows them, the model thinking, one status line,
the newest moves ringed; again at 360 px), then checks the dashboard charts drawn from real /stats data, and that
/stats is asked for only on the Training tab, incrementally after its first answer. Screenshots of each page land
in artifacts/frontend/ (play-midgame.png and play-360.png among them), and the README's two in
artifacts/readme-screenshots/ (`make screenshots` writes those over docs/images/, to commit when the pages look
different).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from cartridge.arena.ratings_store import RATED, MatchRow, RatingsStore, VersionResult
from cartridge.games import GAMES, get_game
from cartridge.modelstore import open_model_store
from cartridge.replay import IterationRecord, open_replay, open_training_log
from cartridge_trainer.network import PolicyValueNet, export_onnx
from devtools.http import probe_json
from devtools.paths import REPO_ROOT
from testkit.support import free_port, wait_until
from tests.frontend.chromium import CHROMIUM, play
from tests.frontend.screenshots import README_SCREENSHOTS, screenshot_dir

ARTIFACTS = REPO_ROOT / "artifacts" / "frontend"


@pytest.fixture
def web_with_a_model(tmp_path, start_service, make_episode):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make system-deps)")
    replay_url, store_url = f"sqlite:///{tmp_path}/replay.db", f"file://{tmp_path}/models"
    game = get_game("tictactoe")
    store = open_model_store(store_url)
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
                1.0,
                1_000 + iteration,
            )
            log.record_iteration(record)
    ratings = RatingsStore.open(replay_url)  # the arena's rows: v2 skipped, the others rated
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
                optimal_search=0.5,
                optimal_network=0.4,
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


def test_a_person_plays_a_whole_game_and_sees_the_training_charts(web_with_a_model, frontend_dir, tmp_path):
    web_port, frontend_port = web_with_a_model, free_port()
    with open(tmp_path / "vite.log", "wb") as vite_log:  # the child keeps its own copy of the descriptor
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
        if ARTIFACTS.exists():
            shutil.rmtree(ARTIFACTS)
        images = screenshot_dir()
        for name in README_SCREENSHOTS:
            (images / name).unlink(missing_ok=True)
        result = play(frontend_dir, f"http://127.0.0.1:{frontend_port}", ARTIFACTS, DOCS_IMAGES_DIR=str(images))
    finally:
        os.killpg(vite.pid, signal.SIGTERM)
        vite.wait(10)
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
    # Four iteration records; episodes over time also has one point per /stats poll (at least one).
    assert result["lossPoints"] == 4 and result["versionPoints"] == 4 and result["episodePoints"] >= 5, result
    assert result["modelVersion"] == "v4", result
    # The arena: three rated versions on the rating chart; the table newest first, the skipped one saying why.
    assert result["ratingPoints"] == 3, result
    assert [row.split()[:2] for row in result["arenaRows"]] == [
        ["v4", "320"],
        ["v3", "180"],
        ["v2", "skipped:"],
        ["v1", "10"],
    ], result
    assert "0.50 (0/4/0)" in result["arenaRows"][0] and "published while the arena was busy" in result["arenaRows"][2]
    # Matches: the one match, from A's side, its score's interval and the Elo difference's (tab-separated cells).
    en_dash, minus = "\u2013", "\u2212"  # as the dashboard prints ranges and negative numbers
    expected = ["v4 vs minimax", "tictactoe", "4", "0/4/0", f"0.50 (0.15{en_dash}0.85)", f"+0 ({minus}301 to +301)"]
    assert [row.split("\t") for row in result["matchRows"]] == [[*expected, "2023-11-14 22:13"]], result
    for shot in ("play-start.png", "play-midgame.png", "play-game-over.png", "play-360.png", "dashboard.png"):
        assert (ARTIFACTS / shot).stat().st_size > 5_000, f"{shot} missing or empty"
    for name in README_SCREENSHOTS:  # this run's, in the page's width
        width, height = png_size(images / name)
        assert width == 1200 and height > 300, (name, width, height)


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24, big-endian)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
