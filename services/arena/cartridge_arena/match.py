"""``python -m cartridge_arena.match``: an on-demand match (`devtools match A B`), run from the arena's image.

  play A B [--games N] [--sims S] [--env-id GAME] [--seed N] [--id ID]
      A against B (cartridge.arena.contenders names the players) with the models of MODEL_STORE_URL; the result
      is the last line of stdout. It needs no database: the Job that runs it on kind may reach MinIO and DNS only.
  record
      a result line on stdin, stored as its own row in the ratings store of REPLAY_URL. devtools runs it where the
      arena's database login is: the local runtime's environment, or the arena's pod on kind.

The last line on stdout is always one JSON object, the result or {"error": "one sentence"}: devtools reads it from
this process, or from the Job's log. Progress goes to the log on stderr, one line per game. Exit codes: 0 done;
2 a player, option or setting that cannot be used (cartridge.service.EXIT_CONFIG); 3 the store or the database
cannot be reached (EXIT_UNAVAILABLE); 1 stopped by a signal before the last game.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence

from cartridge.arena.contenders import PlayerError, parse_player, resolve
from cartridge.arena.ondemand import play_on_demand, row_from_json
from cartridge.arena.ratings_store import RatingsStore
from cartridge.games import get_game
from cartridge.modelstore import CorruptModel, ModelStoreUnavailable
from cartridge.replay import ReplayUnavailable
from cartridge.service import EXIT_CONFIG, EXIT_UNAVAILABLE, StopFlag
from cartridge.settings import Settings, SettingsError
from cartridge.stores import open_model_store, open_replay_database
from cartridge.telemetry import configure_logging

EXIT_STOPPED = 1
SEED_BOUND = 2**31  # seeds fit every database's integer


class Refused(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m cartridge_arena.match", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    play = commands.add_parser("play", help="play a match; its result is the last line of stdout")
    play.add_argument("a", help="player A (the result is from A's side)")
    play.add_argument("b", help="player B")
    play.add_argument("--games", type=int, default=None, help="games (default ARENA_GAMES); colours alternate")
    play.add_argument("--sims", type=int, default=None, help="MCTS simulations per model move (default ARENA_SIMS)")
    play.add_argument("--env-id", default=None, help="the game (default ENV_ID)")
    play.add_argument("--seed", type=int, default=None, help="the openings' seed (default: a random one, reported)")
    play.add_argument("--id", default=None, help="the match's id, its key in the ratings store (default: random)")
    commands.add_parser("record", help="store the result line read on stdin in the ratings store")
    return top


def play(args: argparse.Namespace, settings: Settings) -> dict:
    log = configure_logging(settings, "match")
    try:
        game = get_game(args.env_id or settings.env_id)
    except ValueError as exc:
        raise Refused(str(exc), EXIT_CONFIG) from None
    games = settings.arena_games if args.games is None else args.games
    sims = settings.arena_sims if args.sims is None else args.sims
    if sims < 1:
        raise Refused(f"--sims {sims}: a model needs at least one simulation a move", EXIT_CONFIG)
    seed = secrets.randbelow(SEED_BOUND) if args.seed is None else args.seed % SEED_BOUND
    specs = [parse_player(text) for text in (args.a, args.b)]
    store = open_model_store(settings)
    limits = {"ort_threads": settings.ort_threads, "max_model_bytes": settings.model_max_bytes}
    a, b = (resolve(spec, game, store, sims=sims, **limits) for spec in specs)
    match_id = args.id or secrets.token_hex(6)
    log.info("match started", id=match_id, a=a.name, b=b.name, env_id=game.name, games=games, sims=sims, seed=seed)
    stop = StopFlag().install()

    def progress(number: int, record) -> None:
        outcome = "draw" if record.winner == 0 else f"{record.first if record.winner == 1 else record.second} won"
        log.info(f"game {number}/{games}", first=record.first, second=record.second, outcome=outcome)

    result = play_on_demand(
        game, a, b, games=games, seed=seed, match_id=match_id, on_game=progress, should_stop=stop.is_set
    )
    if result is None:
        raise Refused(f"stopped by {stop.signal_name} before the last game: nothing to report", EXIT_STOPPED)
    line = result.to_json()
    score = line["result"]
    log.info("match finished", id=match_id, wins=score["wins"], draws=score["draws"], losses=score["losses"])
    return line


def record(settings: Settings, text: str) -> dict:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise Refused("no result on stdin: pipe in the last line `play` printed", EXIT_CONFIG)
    try:
        row = row_from_json(json.loads(lines[-1]))
    except ValueError as exc:
        raise Refused(f"the last line on stdin is not a match result: {exc}", EXIT_CONFIG) from None
    ratings = RatingsStore(open_replay_database(settings))
    try:
        new = ratings.record_match(row)
    finally:
        ratings.close()
    return {"recorded": row.match_id, "new": new}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        answer = play(args, settings) if args.command == "play" else record(settings, sys.stdin.read())
        code = 0
    except Refused as exc:
        answer, code = {"error": str(exc)}, exc.code
    except (PlayerError, SettingsError, CorruptModel) as exc:
        answer, code = {"error": str(exc)}, EXIT_CONFIG
    except (ModelStoreUnavailable, ReplayUnavailable) as exc:
        answer, code = {"error": str(exc)}, EXIT_UNAVAILABLE
    sys.stdout.flush()
    print(json.dumps(answer, sort_keys=True), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
