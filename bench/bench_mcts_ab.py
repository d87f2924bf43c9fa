"""The search at two commits, measured in one run: bench_mcts's free-network and batched int8 figures, A then B
in alternating rounds, and B / A.

The machine these run on is shared, and its load moves from one minute to the next, so two runs of bench_mcts minutes
apart differ by more than most changes to the search. Here each side is a worker process importing ``cartridge`` from
its own tree (the base commit's ``services/`` from ``git archive``, or this working tree), both pinned to one core
as bench_mcts is, and the rounds alternate A, B, A, B...: both sides see the same load, and the ratio of each round's
pair is the figure. Each round searches the same openings as bench_mcts (32 openings, 400 simulations) from a
fresh search object, as bench_mcts does.

    .venv/bin/python -m bench.bench_mcts_ab --base <commit> [--new <commit>] [--rounds 15] [--int8-rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIMS, OPENINGS = 400, 32


def worker() -> None:
    """One side: read a request per line ("free" or "int8 <model path>"), search, answer with simulations/s."""
    os.sched_setaffinity(0, {0})
    os.environ["ORT_THREADS"] = "1"
    import cartridge
    from bench.bench_mcts import batched_rate
    from bench.games import MEASURED_GAME, openings
    from cartridge.games import get_game
    from cartridge.inference import OnnxEvaluator, UniformEvaluator

    game = get_game(MEASURED_GAME)
    evaluators = {}
    print(json.dumps({"ready": cartridge.__file__}), flush=True)
    for line in sys.stdin:
        kind, _, model = line.strip().partition(" ")
        if kind == "free":
            evaluator, states = UniformEvaluator(game.action_size), openings(game, OPENINGS, np.random.default_rng(0))
        else:
            if model not in evaluators:
                evaluators[model] = OnnxEvaluator(Path(model).read_bytes(), 1, threads=1)
            # bench_mcts.measure's openings: drawn after the 512 calibration positions.
            rng = np.random.default_rng(0)
            openings(game, 512, rng, max_plies=30)
            evaluator, states = evaluators[model], openings(game, OPENINGS, rng)
        cpu = time.process_time()
        rate = batched_rate(game, evaluator, states, SIMS)["rate"]
        cpu = time.process_time() - cpu
        print(json.dumps({"rate": rate, "cpu_rate": len(states) * SIMS / cpu}), flush=True)


class Side:
    def __init__(self, label: str, services: Path) -> None:
        self.label = label
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(services), str(ROOT / "services" / "trainer"), str(ROOT)])
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_mcts_ab", "--worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.cartridge = json.loads(self.process.stdout.readline())["ready"]

    def run(self, request: str) -> dict[str, float]:
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def base_tree(commit: str, into: Path) -> Path:
    """``services/`` as it was at ``commit`` (the search, the games, the inference it imports)."""
    archive = subprocess.run(
        ["git", "archive", commit, "services/cartridge"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "services"


def int8_model(path: Path) -> None:
    """bench_mcts's default network, exported and quantised as bench_mcts.measure does."""
    import torch

    from bench.games import MEASURED_GAME, openings
    from cartridge.games import get_game
    from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx
    from cartridge_trainer.quantize import quantize_int8

    torch.manual_seed(0)
    game = get_game(MEASURED_GAME)
    fp32 = export_onnx(PolicyValueNet(game, NetConfig()), game)
    path.write_bytes(quantize_int8(fp32, game.observations(openings(game, 512, np.random.default_rng(0), 30))))


def rounds(a: Side, b: Side, request: str, count: int) -> dict[str, dict[str, list[float]]]:
    """Per measure ("rate": simulations per wall-clock second, "cpu_rate": per second of the worker's CPU time),
    each side's figures by round."""
    out: dict[str, dict[str, list[float]]] = {
        "rate": {a.label: [], b.label: []},
        "cpu_rate": {a.label: [], b.label: []},
    }
    for k in range(count):
        first, second = (a, b) if k % 2 == 0 else (b, a)  # alternate who goes first, too
        for side in (first, second):
            figures = side.run(request)
            for measure in out:
                out[measure][side.label].append(figures[measure])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="the commit to compare this working tree against (A)")
    parser.add_argument("--new", help="the commit to measure as B (default: this working tree)")
    parser.add_argument("--rounds", type=int, default=15, help="free-network rounds (each: one search per side)")
    parser.add_argument("--int8-rounds", type=int, default=3, help="batched int8 rounds; 0 skips them")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if not args.base:
        parser.error("--base is required")
    with tempfile.TemporaryDirectory() as tmp:
        a = Side(f"A {args.base[:12]}", base_tree(args.base, Path(tmp) / "a"))
        if args.new:
            b = Side(f"B {args.new[:12]}", base_tree(args.new, Path(tmp) / "b"))
        else:
            b = Side("B working tree", ROOT / "services")
        try:
            for side in (a, b):
                print(f"{side.label}: cartridge from {side.cartridge}")
            print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)")
            started = time.time()
            results = {"free": rounds(a, b, "free", args.rounds)}
            if args.int8_rounds:
                model = Path(tmp) / "int8.onnx"
                int8_model(model)
                results["batched int8"] = rounds(a, b, f"int8 {model}", args.int8_rounds)
            print(f"load after: {os.getloadavg()[0]:.2f}, {time.time() - started:.0f} s")
        finally:
            a.close()
            b.close()
    print(f"connect4, {OPENINGS} openings x {SIMS} simulations, simulations/s, rounds alternating A and B")
    print("wall: per wall-clock second (what bench_mcts prints); cpu: per second of the worker's own CPU time, which")
    print("the other processes on a loaded machine disturb far less (the ratio to trust when the load is high)")
    for name, measures in results.items():
        print(f"\n{name}:")
        for measure, by_side in measures.items():
            label = "wall" if measure == "rate" else "cpu"
            for side, rates in by_side.items():
                print(f"  {label:4} {side:22} median {statistics.median(rates):8.0f}  rounds {_join(rates, '.0f')}")
            ratios = [nb / na for na, nb in zip(*by_side.values(), strict=True)]
            print(f"  {label:4} B / A per round {_join(ratios, '.3f')}; median {statistics.median(ratios):.3f}")


def _join(values: list[float], spec: str) -> str:
    return " ".join(format(v, spec) for v in values)


if __name__ == "__main__":
    main()
