"""`python -m cartridge_arena.match` as a real process, as devtools runs it locally and the match Job runs it on kind:
the last line on stdout is one JSON object (the result, or an error), the log on stderr a line per game, and
`record` stores the result it is handed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from cartridge.arena.ratings_store import RatingsStore
from cartridge.modelstore import open_model_store
from cartridge.service import EXIT_CONFIG, EXIT_UNAVAILABLE
from testkit.support import free_port


def env_for(tmp_path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ENV_ID": "tictactoe",
        "LOG_FORMAT": "json",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        **extra,
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cartridge_arena.match", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def answer(done: subprocess.CompletedProcess) -> dict:
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"stdout holds exactly the answer line: {done.stdout!r}"
    return json.loads(lines[0])


def test_play_prints_the_result_last_and_record_stores_it(tmp_path, tictactoe_model):
    env = env_for(tmp_path)
    open_model_store(env["MODEL_STORE_URL"]).publish("tictactoe", tictactoe_model)
    played = run(env, "play", "latest", "minimax", "--games", "4", "--sims", "4", "--seed", "5", "--id", "abc")
    assert played.returncode == 0, played.stderr
    result = answer(played)
    assert (result["kind"], result["id"], result["seed"]) == ("cartridge.match", "abc", 5)
    assert result["players"]["a"]["name"] == "v1" and result["players"]["a"]["spec"] == "latest"
    assert result["result"]["games"] == 4 and result["result"]["wins"] == 0  # minimax loses no game
    log = [json.loads(line) for line in played.stderr.splitlines()]
    assert [e["event"] for e in log] == [
        "match started",
        "game 1/4",
        "game 2/4",
        "game 3/4",
        "game 4/4",
        "match finished",
    ]
    assert log[1]["first"] == "v1" and log[2]["first"] == "minimax"  # colours alternate

    stored = run(env, "record", stdin=played.stdout)
    assert stored.returncode == 0, stored.stderr
    assert answer(stored) == {"recorded": "abc", "new": True}
    assert answer(run(env, "record", stdin=played.stdout)) == {"recorded": "abc", "new": False}
    ratings = RatingsStore.open(env["REPLAY_URL"])
    try:
        (row,) = ratings.matches()
    finally:
        ratings.close()
    assert (row.match_id, row.player_a, row.player_b, row.games, row.seed) == ("abc", "v1", "minimax", 4, 5)


def test_the_same_seed_plays_the_same_match(tmp_path, tictactoe_model):
    env = env_for(tmp_path)
    open_model_store(env["MODEL_STORE_URL"]).publish("tictactoe", tictactoe_model)
    first, second = (
        answer(run(env, "play", "v1", "random", "--games", "6", "--sims", "4", "--seed", "9")) for _ in "ab"
    )
    assert first["result"] == second["result"] and first["by_colour"] == second["by_colour"]
    assert first["id"] != second["id"]  # each match a row of its own


@pytest.mark.parametrize(
    ("args", "extra", "code", "says"),
    [
        (("play", "v3", "random"), {}, EXIT_CONFIG, "tictactoe has no version 3 in the store"),
        (("play", "chess-engine", "random"), {}, EXIT_CONFIG, "is not one this project knows"),
        (("play", "random", "minimax", "--env-id", "connect4"), {}, EXIT_CONFIG, "connect4 has no minimax player"),
        (("play", "random", "minimax", "--env-id", "go"), {}, EXIT_CONFIG, "unknown game 'go'"),
        (("play", "random", "random"), {}, EXIT_CONFIG, "both players are random"),
        (("play", "random", "minimax", "--sims", "0"), {}, EXIT_CONFIG, "at least one simulation"),
        (("play", "random", "minimax"), {"ARENA_GAMES": "lots"}, EXIT_CONFIG, "ARENA_GAMES='lots' is not an integer"),
        (("record",), {}, EXIT_CONFIG, "no result on stdin"),
    ],
)
def test_what_cannot_be_played_is_one_sentence_on_the_last_line(tmp_path, args, extra, code, says):
    done = run(env_for(tmp_path, **extra), *args, stdin="")
    assert done.returncode == code, done.stderr
    assert says in answer(done)["error"]


def test_a_model_store_that_does_not_answer_is_named(tmp_path):
    env = env_for(
        tmp_path,
        MODEL_STORE_URL="s3://cartridge-models/models",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
    )
    done = run(env, "play", "latest", "random", "--games", "2")
    assert done.returncode == EXIT_UNAVAILABLE, done.stdout + done.stderr
    assert "error" in answer(done)


def test_record_refuses_a_line_that_is_no_result(tmp_path):
    done = run(env_for(tmp_path), "record", stdin='{"event": "game 1/4"}\n')
    assert done.returncode == EXIT_CONFIG
    assert "not a match result" in answer(done)["error"]


def test_sigterm_stops_the_match_between_games_with_nothing_to_report(tmp_path):
    env = env_for(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cartridge_arena.match", "play", "alphabeta:3", "random", "--games", "5000"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:  # the first game has ended: the match is under way
        if json.loads(line)["event"].startswith("game 1/"):
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert json.loads(out.splitlines()[-1]) == {"error": "stopped by SIGTERM before the last game: nothing to report"}
