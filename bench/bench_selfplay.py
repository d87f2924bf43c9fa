"""Self-play cost with subtree reuse off and on (SELFPLAY_REUSE_TREE) at the same MCTS_MAX_SIMS.

The real ``SelfPlay`` plays connect4 episodes with the actors' model path: the default network (random weights,
seeded) exported to ONNX and, by default, quantized to int8 as the trainer publishes it, run by ONNX Runtime on one
thread and one core (``--evaluator uniform``: the tests' uniform evaluator, no network). Each round plays
``--episodes`` episodes with ``--games`` in parallel, reuse off then on from the same seed, alternating in one
process, so a load that changes during the run weighs on both alike; the table gives medians over the rounds:

- positions recorded per second (every move is a fully searched training position: no playout caps here),
- network evaluations per recorded position (positions sent to the evaluator, the cache's hits not counted),
- simulations searched per recorded position (under reuse, a move's kept visits are not searched again),
- the cyclic garbage collector's time per round (kept trees live between searches, outside the search's pause).

A random network spreads its visits wider than a trained one, so the kept subtree is smaller: a trained model's
saving is larger than this one's.

    .venv/bin/python -m bench.bench_selfplay
    .venv/bin/python -m bench.bench_selfplay --sims 400 --games 32 --episodes 32 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import numpy as np

from bench.games import MEASURED_GAME, openings
from cartridge.games import Game, get_game
from cartridge.inference import OnnxEvaluator, UniformEvaluator
from cartridge.mcts import MctsConfig
from cartridge.selfplay import SelfPlay


class Counting:
    """Wraps an evaluator and counts the positions sent to it."""

    def __init__(self, inner) -> None:
        self.inner, self.positions = inner, 0
        self.version = getattr(inner, "version", 0)

    def evaluate(self, observations):
        self.positions += len(observations)
        return self.inner.evaluate(observations)


class GcClock:
    """The cyclic collector's time while installed (gc.callbacks brackets each collection)."""

    def __init__(self) -> None:
        self.seconds, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def evaluator_for(game: Game, kind: str):
    if kind == "uniform":
        return UniformEvaluator(game.action_size)
    import torch

    from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx
    from cartridge_trainer.quantize import quantize_int8

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = export_onnx(PolicyValueNet(game, NetConfig()), game)
    if kind == "int8":
        model = quantize_int8(model, game.observations(openings(game, 512, np.random.default_rng(0), max_plies=30)))
    return OnnxEvaluator(model, 1, threads=1)


def play_round(game: Game, network, reuse: bool, args: argparse.Namespace, seed: int) -> dict[str, float]:
    counting = Counting(network)
    selfplay = SelfPlay(
        game,
        MctsConfig(simulations=args.sims),
        parallel_games=args.games,
        rng=np.random.default_rng(seed),
        reuse_tree=reuse,
    )
    clock = GcClock()
    gc.callbacks.append(clock)
    started = time.perf_counter()
    try:
        positions = sum(len(e.transitions) for e in selfplay.play(lambda: counting, max_episodes=args.episodes))
    finally:
        seconds = time.perf_counter() - started
        gc.callbacks.remove(clock)
    return {
        "positions/s": positions / seconds,
        "evals/position": counting.positions / positions,
        "sims/position": selfplay.simulations / positions,
        "gc ms": 1000 * clock.seconds,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100, help="MCTS_MAX_SIMS of every search")
    parser.add_argument("--games", type=int, default=16, help="games played in parallel (ACTOR_PARALLEL_GAMES)")
    parser.add_argument("--episodes", type=int, default=16, help="episodes per round and side")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each reuse off then on")
    parser.add_argument("--evaluator", choices=("int8", "fp32", "uniform"), default="int8")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # one core, as bench_mcts: the machine's other core is someone else's
    os.environ["ORT_THREADS"] = "1"
    game = get_game(MEASURED_GAME)
    network = evaluator_for(game, args.evaluator)
    sides = {"reuse off": False, "reuse on": True}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for r in range(args.rounds):
        for name, reuse in sides.items():
            figures[name].append(play_round(game, network, reuse, args, seed=r))
            f = figures[name][-1]
            print(f"round {r + 1} {name:9} {f['positions/s']:7.1f} positions/s in {f['seconds']:5.1f} s", flush=True)
    columns = ["positions/s", "evals/position", "sims/position", "gc ms"]
    print(
        f"\n{game.name}, MCTS_MAX_SIMS={args.sims}, {args.games} games in parallel, {args.episodes} episodes per round,"
        f" {args.rounds} rounds; evaluator: {args.evaluator}"
        + (" (default network, random weights, ONNX Runtime 1 thread)" if args.evaluator != "uniform" else "")
    )
    print("medians over the rounds\n")
    print(f"{'':10}" + "".join(f"{c:>16}" for c in columns))
    median = {name: {c: statistics.median(f[c] for f in rows) for c in columns} for name, rows in figures.items()}
    for name in sides:
        print(f"{name:10}" + "".join(f"{median[name][c]:>16.2f}" for c in columns))
    pairs = zip(figures["reuse off"], figures["reuse on"], strict=True)
    ratios = [on["positions/s"] / off["positions/s"] for off, on in pairs]
    print(f"\non / off, positions per second: {statistics.median(ratios):.2f}x (median of the rounds' ratios)")


if __name__ == "__main__":
    main()
