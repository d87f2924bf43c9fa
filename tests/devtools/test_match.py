"""`devtools match` on the local runtime, as a person runs it: `python -m devtools.cli match A B` against a local
runtime's data directory (its models directory and SQLite database), the match a real process, its result printed and
stored; and the choice of runtime, the output and the errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cartridge.arena.ratings_store import RatingsStore
from cartridge.modelstore import open_model_store
from devtools.errors import DevtoolsError
from devtools.match import checked_players, runner_for, text_lines
from devtools.match_run import MatchRequest, log_line, result_from_lines
from devtools.paths import REPO_ROOT


@pytest.fixture
def data_dir(tmp_path, tictactoe_model):
    """A local runtime's data after training stopped: a models directory with v1 and v2 (and no stack running)."""
    data = tmp_path / "data"
    store = open_model_store(f"file://{data}/models")
    for _ in range(2):
        store.publish("tictactoe", tictactoe_model)
    return data


def devtools(*args: str, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    # No kind, kubectl, docker or tilt on PATH: auto finds no cluster and plays on the local runtime's data.
    env = {"PATH": os.path.dirname(sys.executable), "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO_ROOT))}
    return subprocess.run(
        [sys.executable, "-m", "devtools.cli", "match", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def stored(data_dir) -> list:
    ratings = RatingsStore.open(f"sqlite:///{data_dir}/replay.db")
    try:
        return ratings.matches()
    finally:
        ratings.close()


def test_a_match_on_the_local_runtimes_data_is_printed_and_stored(data_dir):
    done = devtools("latest", "minimax", "--games", "4", "--sims", "4", "--seed", "3", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr  # a loss to minimax is a result, not an error
    lines = done.stdout.splitlines()
    assert lines[0] == "v2 (latest) against minimax  ·  tictactoe  ·  4 games, 4 sims, seed 3"
    assert lines[1].startswith("v2: 0 wins, ")  # minimax loses no game
    assert (
        lines[2].startswith("score ") and "95 % CI" in lines[2] and "(Wilson interval; a draw counts half)" in lines[2]
    )
    assert lines[3].startswith("Elo difference ")
    assert "match " in done.stderr and "on the local runtime" in done.stderr
    assert "game 4/4 first=minimax" in done.stderr  # the progress, a line a game (the JSON log, rendered)
    (row,) = stored(data_dir)
    assert (row.player_a, row.player_b, row.games, row.seed) == ("v2", "minimax", 4, 3)
    assert f"recorded as match {row.match_id}" in done.stderr


def test_json_output_is_the_result_object(data_dir):
    done = devtools("v1", "random", "--games", "2", "--sims", "2", "-o", "json", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kind"] == "cartridge.match" and result["players"]["a"]["name"] == "v1"
    assert set(result["result"]) >= {"wins", "draws", "losses", "score", "score_low", "score_high", "elo", "method"}
    assert [r.match_id for r in stored(data_dir)] == [result["id"]]


def test_an_onnx_file_given_relative_to_where_devtools_runs_is_played(data_dir, tmp_path, tictactoe_model):
    (tmp_path / "mine.onnx").write_bytes(tictactoe_model)
    done = devtools("mine.onnx", "v1", "--games", "2", "--sims", "2", "--data-dir", str(data_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("file:mine.onnx against v1")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("stockfish", "random"), "error: player 'stockfish' is not one this project knows"),
        (("v7", "random"), "error: the match was refused: player 'v7': tictactoe has no version 7 in the store"),
        (("latest", "minimax", "--env-id", "connect4"), "connect4 has no latest model yet"),
    ],
)
def test_what_cannot_be_played_is_one_sentence_and_exit_1(data_dir, args, says):
    done = devtools(*args, "--data-dir", str(data_dir))
    assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == "" and stored(data_dir) == []


def test_without_a_stack_or_its_data_there_is_nothing_to_play_against(tmp_path):
    done = devtools("latest", "random", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1 and "error: nothing to play against" in done.stderr
    assert "hint: start the stack with `devtools up`" in done.stderr


def test_the_local_runtime_is_chosen_when_asked_or_when_its_data_is_there(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no kind here, whatever this machine runs
    assert runner_for("local", data_dir, print).name == "local"
    assert runner_for("auto", data_dir, print).name == "local"  # no cluster here: the data decides
    with pytest.raises(DevtoolsError, match="no local runtime data in"):
        runner_for("local", tmp_path / "absent", print)


def test_a_file_is_refused_for_the_cluster_before_anything_starts(tmp_path):
    request = MatchRequest("./mine.onnx", "random", match_id="x")
    with pytest.raises(DevtoolsError) as err:
        checked_players(request, files_allowed=False)
    assert "reads models from the cluster's model store only" in err.value.message
    assert "--runtime local" in err.value.hint
    # Locally the path is made absolute: the match process runs from the repository root, not from here.
    assert checked_players(request, files_allowed=True).a == str(Path("mine.onnx").resolve())


RESULT = {
    "kind": "cartridge.match",
    "env_id": "tictactoe",
    "seed": 4,
    "players": {
        "a": {"name": "v9", "spec": "best", "kind": "model", "sims": 64},
        "b": {"name": "random", "spec": "random", "kind": "reference"},
    },
    "result": {
        "games": 20,
        "wins": 20,
        "draws": 0,
        "losses": 0,
        "score": 1.0,
        "score_low": 0.8389,
        "score_high": 1.0,
        "elo": None,
        "elo_low": 286.2,
        "elo_high": None,
        "confidence": 0.95,
        "method": "wilson",
    },
    "by_colour": {"a_first": {"wins": 10, "draws": 0, "losses": 0}, "a_second": {"wins": 10, "draws": 0, "losses": 0}},
}


def test_the_text_says_unbounded_where_a_score_of_one_implies_no_finite_difference():
    assert text_lines(RESULT) == [
        "v9 (best) against random  ·  tictactoe  ·  20 games, 64 sims, seed 4",
        "v9: 20 wins, 0 draws, 0 losses  (moving first 10/0/0, second 10/0/0)",
        "score 1.000, 95 % CI 0.839 to 1.000 (Wilson interval; a draw counts half)",
        "Elo difference +inf, 95 % CI +286 to +inf",
    ]


def test_a_result_line_an_error_line_and_no_line_at_all():
    assert result_from_lines(["log", json.dumps(RESULT)], "x") == RESULT
    with pytest.raises(DevtoolsError, match="the match was refused: no version 3"):
        result_from_lines(['{"error": "no version 3"}'], "x")
    with pytest.raises(DevtoolsError) as err:
        result_from_lines(["game 1/4", "Killed"], "the log")
    assert err.value.message == "the match ended without a result (its last lines: game 1/4 | Killed)"
    assert err.value.hint == "see the log"


def test_json_log_lines_read_as_their_event_and_fields():
    line = json.dumps({"event": "game 2/4", "first": "v1", "level": "info", "timestamp": "t", "service": "match"})
    assert log_line(line) == "game 2/4 first=v1"
    assert log_line("plain text\n") == "plain text"


def test_an_option_of_the_other_runtime_is_a_usage_error_as_for_up(data_dir):
    """`--cluster` names a kind cluster: on the local runtime it would be ignored, so it is refused (exit 2)."""
    done = devtools("latest", "random", "--runtime", "local", "--cluster", "other", "--data-dir", str(data_dir))
    assert done.returncode == 2, done.stderr
    assert "--cluster applies to the kind runtime only, and this runs the local runtime" in done.stderr
    played = devtools("latest", "random", "--cluster", "other", "--games", "2", "--data-dir", str(data_dir))
    assert played.returncode == 2 and "the match plays on the local runtime" in played.stderr, played.stderr
    assert stored(data_dir) == []
