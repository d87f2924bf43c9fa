"""Playing strength against training time: train from scratch for a fixed wall-clock time, then rate what was made.

The pipeline runs as in the stack (two actors, or ``--actors``, and the trainer as real processes on SQLite and a
models directory, every version kept); each version's publication time is noted. When the time is up the processes
stop, and versions spread over the run are rated by the arena's own code (cartridge.arena.loop: the references,
earlier versions, the labelled positions), so the rating never competes with training for the 2 cores. Last, the
newest version plays the target match: 200 games against perfect minimax (tictactoe) or depth-4 alpha-beta
(connect4).

    .venv/bin/python -m bench.bench_strength --game tictactoe --seconds 180
    .venv/bin/python -m bench.bench_strength --game connect4 --seconds 1800 --out runs/connect4-new.json

``--out`` keeps the run's figures as JSON, which ``bench.plot_strength`` draws (strength against wall-clock time,
several runs on one chart). ``--services-tree`` trains with another checkout's services (an older commit in a git
worktree) while this tree's arena rates the result, so an old and a new run are measured by the same yardstick.

Targets (issue 17): tictactoe, 0 losses in 200 games against minimax within 3 minutes; connect4, within 30 minutes,
>= 0.95 against depth-4 alpha-beta and >= 90 % optimal moves with the arena's search (75 % from the raw network).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import structlog
from prometheus_client.parser import text_string_to_metric_families

from bench.games import STRENGTH_PIPELINE
from cartridge.arena import play_pairs, result_for
from cartridge.arena.loop import Arena, ArenaConfig, player_name
from cartridge.arena.ratings_store import RatingsStore
from cartridge.games import DEFAULT_GAME, Game, get_game
from cartridge.modelstore import open_model_store
from cartridge.settings import Settings, SettingsError
from testkit.support import ServiceProcess, free_port


def target_opponent(game: Game) -> str:
    """The reference the newest version plays its target match against: perfect minimax where the game has it,
    else the arena's alpha-beta."""
    return "minimax" if game.solvable else f"alphabeta-d{game.reference_depth}"


# The import roots of the services in a checkout: the shared library and each service's package.
SERVICE_ROOTS = ("services", "services/actor", "services/trainer")


def services_path(tree: Path) -> str:
    """PYTHONPATH that makes ``python -m cartridge_actor`` and ``cartridge_trainer`` import ``tree``'s code (ahead
    of the editable install's paths, which site adds after PYTHONPATH)."""
    missing = [root for root in SERVICE_ROOTS if not (tree / root).is_dir()]
    if missing:
        raise SystemExit(f"--services-tree {tree}: not a checkout of this project (no {', '.join(missing)})")
    return os.pathsep.join(str((tree / root).resolve()) for root in SERVICE_ROOTS)


def tree_commit(tree: Path) -> str:
    """The commit a checkout is at (with "+changes" when its services differ from it), for the results file."""
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "diff", "--quiet", "HEAD", "--", "services"]).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


# What the pipeline's processes count (their /metrics): episodes and positions the actors wrote, the trainer's last
# iteration. Read just before they stop: the replay buffer itself is pruned to REPLAY_MAX_TRANSITIONS meanwhile.
COUNTED = ("cartridge_episodes_total", "cartridge_transitions_total", "cartridge_iteration")


def scrape_counts(ports: list[int]) -> dict[str, float] | None:
    """The COUNTED samples summed over the processes answering on ``ports`` (each its own /metrics); None when one
    does not answer, so a run's figures never rest on part of its processes."""
    totals = dict.fromkeys(COUNTED, 0.0)
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in totals:
                    totals[sample.name] += sample.value
    return totals


def self_play_use(counts: dict[str, float] | None, env: dict[str, str]) -> dict[str, float] | None:
    """What self-play wrote and how often the trainer drew each position: samples trained (iterations x
    TRAIN_STEPS_PER_ITERATION x BATCH_SIZE) over positions written."""
    if counts is None:
        return None
    iterations = int(counts["cartridge_iteration"])
    samples = iterations * int(env["TRAIN_STEPS_PER_ITERATION"]) * int(env["BATCH_SIZE"])
    transitions = int(counts["cartridge_transitions_total"])
    return {
        "episodes": int(counts["cartridge_episodes_total"]),
        "transitions": transitions,
        "iterations": iterations,
        "samples_trained": samples,
        "draws_per_transition": round(samples / transitions, 2) if transitions else None,
    }


def train(
    game: str,
    seconds: float,
    workdir: Path,
    overrides: dict[str, str] | None = None,
    services: Path | None = None,
    actors: int = 2,
) -> tuple[dict[str, str], dict[int, float], dict[str, float] | None]:
    """Run ``actors`` actors and the trainer for ``seconds``; the environment used, each version's publication
    time and what the processes counted at the end (``scrape_counts``)."""
    env = {
        "ENV_ID": game,
        "ACTOR_PARALLEL_GAMES": "32",
        "BATCH_SIZE": "128",
        "MODEL_POLL_SECONDS": "1",
        "TRAINING_ITERATIONS": "0",
        "MODEL_KEEP_VERSIONS": "100000",
        "REPLAY_URL": f"sqlite:///{workdir}/replay.db",
        "MODEL_STORE_URL": f"file://{workdir}/models",
        "CHECKPOINT_DIR": str(workdir / "checkpoints"),
        **STRENGTH_PIPELINE[game],
        **(overrides or {}),
    }
    if services is not None:
        env["PYTHONPATH"] = services_path(services)
    store = open_model_store(env["MODEL_STORE_URL"], keep_versions=100000)
    roles = [("cartridge_actor", f"actor-{i}") for i in range(actors)] + [("cartridge_trainer", "t")]
    ports = [free_port() for _ in roles]
    processes = [
        ServiceProcess(module, env | {"HTTP_PORT": str(port), "ACTOR_ID": name}, workdir / f"{name}.log")
        for (module, name), port in zip(roles, ports, strict=True)
    ]
    started = time.monotonic()
    published: dict[int, float] = {}
    counts = None
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            manifest = store.latest(game)
            if manifest is not None and manifest.version not in published:
                published[manifest.version] = elapsed
                print(f"  {elapsed:6.0f} s  v{manifest.version} published", flush=True)
            time.sleep(1.0)
        counts = scrape_counts(ports)
    finally:
        for process in processes:
            process.stop()
    return env, published, counts


def spread(versions: list[int], count: int) -> list[int]:
    """Up to ``count`` versions evenly spread over ``versions``, always with the first and the last."""
    if len(versions) <= count:
        return versions
    step = (len(versions) - 1) / (count - 1)
    return sorted({versions[round(i * step)] for i in range(count)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", choices=sorted(STRENGTH_PIPELINE), default=DEFAULT_GAME)
    parser.add_argument("--seconds", type=float, default=180, help="wall-clock training time")
    parser.add_argument("--games", type=int, default=20, help="arena games per opponent for each rated version")
    parser.add_argument("--sims", type=int, default=64, help="the arena's MCTS simulations per move")
    parser.add_argument("--versions", type=int, default=5, help="versions to rate, spread over the run")
    parser.add_argument("--target-games", type=int, default=200)
    parser.add_argument("--actors", type=int, default=2, help="actor processes beside the trainer (the stack's: 2)")
    parser.add_argument("--out", type=Path, help="write the run's figures to this JSON file (bench.plot_strength)")
    parser.add_argument("--label", help="the run's name in the results file and on the plot (default: its commit)")
    parser.add_argument(
        "--services-tree",
        type=Path,
        help="train with the services of this checkout (e.g. a git worktree of an older commit); rated here",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline setting (repeatable), to see what limits strength",
    )
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(overrides) != len(args.set):
        parser.error(f"--set takes NAME=VALUE, got {[item for item in args.set if '=' not in item]}")
    known = {f.metadata.get("env") or f.name.upper() for f in dataclasses.fields(Settings)}
    if unknown := sorted(set(overrides) - known):
        parser.error(f"--set: no such setting {unknown} (the services read {sorted(known)})")
    try:
        Settings.from_env(STRENGTH_PIPELINE[args.game] | overrides)
    except SettingsError as exc:
        parser.error(f"--set: {exc}")
    if args.actors < 1:
        parser.error(f"--actors {args.actors}: at least one actor is needed to make episodes")
    if args.services_tree is not None:
        services_path(args.services_tree)  # a wrong directory fails now, not after the training time
    if args.out is not None and not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: directory {args.out.parent} does not exist")
    game = get_game(args.game)
    commit = tree_commit(args.services_tree or Path(__file__).resolve().parent.parent)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-strength-") as tmp:
        workdir = Path(tmp)
        settings = STRENGTH_PIPELINE[args.game] | overrides
        print(
            f"training {args.game} from scratch for {args.seconds:.0f} s ({args.actors} actors + trainer): "
            + ", ".join(f"{name}={value}" for name, value in settings.items())
        )
        env, published, counts = train(args.game, args.seconds, workdir, overrides, args.services_tree, args.actors)
        use = self_play_use(counts, env)
        if use is None:
            print("a process did not answer /metrics at the end: what self-play wrote is not known")
        else:
            print(
                f"self-play wrote {use['episodes']} episodes ({use['transitions']} positions); the trainer drew "
                f"{use['samples_trained']} samples in {use['iterations']} iterations: "
                f"each position {use['draws_per_transition']} times on average"
            )
        load_during = os.getloadavg()
        if not published:
            print("no version was published in time: nothing to rate")
            return
        store = open_model_store(env["MODEL_STORE_URL"], keep_versions=100000)
        ratings = RatingsStore.open(f"sqlite:///{workdir}/arena.db")
        arena = Arena(
            game, store=store, ratings=ratings, config=ArenaConfig(args.games, args.sims), log=structlog.get_logger()
        )
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # the table says it all
        arena.calibrate()
        rows = []
        for version in spread(sorted(published), args.versions):
            rated_at = time.monotonic()
            result = arena.rate(version)
            rows.append((published[version], result, time.monotonic() - rated_at))
        references = list(arena.references)
        print(
            f"\nstrength against training time ({args.games} games per opponent, {args.sims} sims; "
            "rating: Bradley-Terry, Elo scale, random = 0):"
        )
        header = f"{'time':>6} {'version':>7} {'rating':>7} " + " ".join(f"{r:>13}" for r in references)
        print(header + f" {'opt.mcts':>8} {'opt.net':>8}")
        for elapsed, result, _ in rows:
            scores = " ".join(f"{result.scores[r]['score']:>13.2f}" for r in references)
            print(
                f"{elapsed:>5.0f}s {player_name(result.version):>7} {result.rating:>7.0f} {scores} "
                f"{result.optimal_search:>8.1%} {result.optimal_network:>8.1%}"
            )
        ladder = arena.ladder()
        print("ladder now: " + ", ".join(f"{p} {r:.0f}" for p, r in sorted(ladder.items(), key=lambda x: -x[1])))
        newest = max(published)
        model, _ = arena.model_player(newest)
        target = target_opponent(game)
        records = play_pairs(
            game,
            (player_name(newest), lambda rng: model),
            (target, arena.references[target]),
            args.target_games,
            "bench",
        )
        result = result_for(player_name(newest), records)
        print(
            f"\ntarget match: {player_name(newest)} (published at {published[newest]:.0f} s) against {target}: "
            f"{result.wins} wins, {result.draws} draws, {result.losses} losses in {result.games} games "
            f"(score {result.score:.3f})"
        )
        ratings.close()
        if args.out is not None:
            write_results(
                args.out,
                {
                    "label": args.label or commit,
                    "commit": commit,
                    "game": args.game,
                    "seconds": args.seconds,
                    "settings": settings,
                    "actors": args.actors,
                    "load_average": {"before": load_before[0], "end_of_training": load_during[0]},
                    "arena": {"games": args.games, "sims": args.sims, "references": references},
                    "published": {str(v): round(t, 1) for v, t in sorted(published.items())},
                    "self_play": use,
                    "rated": [
                        {
                            "version": r.version,
                            "seconds": round(elapsed, 1),
                            "rating": round(r.rating, 1),
                            "scores": {name: r.scores[name]["score"] for name in references},
                            "optimal_search": r.optimal_search,
                            "optimal_network": r.optimal_network,
                        }
                        for elapsed, r, _ in rows
                    ],
                    "target": {
                        "version": newest,
                        "seconds": round(published[newest], 1),
                        "opponent": target,
                        "games": result.games,
                        "wins": result.wins,
                        "draws": result.draws,
                        "losses": result.losses,
                        "score": result.score,
                    },
                },
            )
            print(f"results written to {args.out}")


def write_results(path: Path, results: dict) -> None:
    """The run's figures as JSON, written whole or not at all (a second run may read the directory)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(path)


if __name__ == "__main__":
    main()
