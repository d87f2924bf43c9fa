"""Trainer throughput: samples trained per second by the trainer's own iteration, in each layout and precision.

The real ``train_iteration`` (replay sampling from SQLite, symmetry augmentation, forward, backward, AdamW) on a
buffer of random connect4 games, with the default network and BATCH_SIZE, one intra-op thread (TRAINER_THREADS'
default: the actors hold the other core). The configurations run in alternating rounds in one process, so a load
that changes during the run weighs on each alike; the table gives medians over the rounds and each one's ratio to
the trainer before issue 26 (fp32, NCHW).

    .venv/bin/python -m bench.bench_trainer
    .venv/bin/python -m bench.bench_trainer --batch-size 256 --rounds 8
    .venv/bin/python -m bench.bench_trainer --network 64x4 --network 32x4 --network 96x4

With ``--network CxB`` (NETWORK_CHANNELS x NETWORK_BLOCKS, repeatable) it measures those shapes instead, each as the
trainer runs it (channels_last, TRAINER_PRECISION=auto's choice on this CPU), and beside each the int8 model's
positions a second at the actors' batch (ACTOR_PARALLEL_GAMES positions a call, one thread): what a shape costs
self-play.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from bench.games import MEASURED_GAME
from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.replay import open_replay
from cartridge_trainer import precision
from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx, parameter_count
from cartridge_trainer.quantize import quantize_int8
from cartridge_trainer.training import train_iteration
from testkit.support import random_episode

EPISODES = 1_500  # about 30,000 transitions: more than a sample ever draws twice in a round
ACTOR_BATCH = 32  # ACTOR_PARALLEL_GAMES' default: the positions an actor sends the network at once


def configurations(force_bf16: bool) -> dict[str, tuple[torch.memory_format, str, NetConfig]]:
    """name -> (the weights' layout, the precision, the shape) for every configuration worth measuring here."""
    found = {
        "fp32, NCHW (before)": (torch.contiguous_format, "fp32", NetConfig()),
        "fp32, channels_last": (torch.channels_last, "fp32", NetConfig()),
    }
    if force_bf16 or precision.native_bf16():
        found["bf16, channels_last"] = (torch.channels_last, "bf16", NetConfig())
    return found


def shape(text: str) -> NetConfig:
    channels, _, blocks = text.partition("x")
    try:
        return NetConfig(int(channels), int(blocks))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected CHANNELSxBLOCKS, e.g. 64x4") from None


def positions_per_second(net_shape: NetConfig, game, calibration: np.ndarray, calls: int = 300) -> float:
    """A network of this shape as the actors run it (int8, one thread): positions a second at their batch (median of
    5 timings; the weights do not change the time, so a fresh network serves)."""
    model = quantize_int8(export_onnx(PolicyValueNet(game, net_shape), game), calibration)
    evaluator = OnnxEvaluator(model, threads=1)
    batch = calibration[:ACTOR_BATCH]
    for _ in range(calls // 10):
        evaluator.evaluate(batch)
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(calls):
            evaluator.evaluate(batch)
        timings.append((time.perf_counter() - began) / calls)
    return ACTOR_BATCH / statistics.median(timings)


def game_positions(replay, game) -> np.ndarray:
    """Observations of stored positions: the int8 models' calibration, and the batch they are timed on."""
    return replay.sample(game.name, 256, window=replay.count_transitions(game.name)).observations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per configuration and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--force-bf16", action="store_true", help="measure bf16 on a CPU without native bf16 too")
    parser.add_argument(
        "--network", type=shape, action="append", help="measure this CHANNELSxBLOCKS shape (repeatable) instead"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    game, rng = get_game(MEASURED_GAME), np.random.default_rng(0)
    chosen = precision.resolve("auto")
    configs = (
        {str(net): (torch.channels_last, chosen, net) for net in args.network}
        if args.network
        else configurations(args.force_bf16)
    )
    print(
        f"{MEASURED_GAME}, batch {args.batch_size}, {args.threads} thread(s), "
        f"{args.rounds} rounds x {args.steps} steps; native bf16: {precision.native_bf16()}, "
        f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})"
    )
    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as tmp, open_replay(f"sqlite:///{tmp}/r.db") as replay:
        for _ in range(EPISODES):
            replay.append_episode(random_episode(game, rng))
        window = replay.count_transitions(game.name)
        nets = {}
        for name, (layout, _, net_shape) in configs.items():
            torch.manual_seed(0)
            net = PolicyValueNet(game, net_shape).to(memory_format=layout)
            nets[name] = (net, torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4))
        wall: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        load = [os.getloadavg()[0]]
        for round_ in range(args.rounds + 1):  # round 0 warms oneDNN's kernels up and is not counted
            for name, (_, compute, _) in configs.items():
                net, optimizer = nets[name]
                began, began_cpu = time.perf_counter(), time.process_time()
                train_iteration(
                    net,
                    optimizer,
                    game,
                    replay,
                    steps=args.steps,
                    batch_size=args.batch_size,
                    window=window,
                    rng=rng,
                    precision=compute,
                )
                if round_:
                    samples = args.steps * args.batch_size
                    wall[name].append(samples / (time.perf_counter() - began))
                    cpu[name].append(samples / (time.process_time() - began_cpu))
            load.append(os.getloadavg()[0])
        if args.network:
            calibration = game_positions(replay, game)
            inference = {
                name: positions_per_second(net_shape, game, calibration) for name, (_, _, net_shape) in configs.items()
            }
            load.append(os.getloadavg()[0])
    base = next(iter(configs))
    if args.network:
        print(
            f"\n{'network':<26} {'parameters':>10} {'samples/s':>10} {'x first':>8} {'int8 positions/s':>17}"
            f"  ({chosen}, channels_last; load average {min(load):.1f}-{max(load):.1f})"
        )
        for name in configs:
            w = statistics.median(wall[name])
            ratio = statistics.median(a / b for a, b in zip(wall[name], wall[base], strict=True))
            print(
                f"{name:<26} {parameter_count(nets[name][0]):>10,} {w:>10.0f} {ratio:>7.2f}x {inference[name]:>17,.0f}"
            )
        return
    print(
        f"\n{'configuration':<22} {'samples/s':>10} {'per CPU s':>10} {'x before':>9}"
        f"  (load average {min(load):.1f}-{max(load):.1f})"
    )
    for name in configs:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        ratio = statistics.median(a / b for a, b in zip(wall[name], wall[base], strict=True))
        print(f"{name:<22} {w:>10.0f} {c:>10.0f} {ratio:>8.2f}x")
    print(f"\nthe trainer runs: channels_last, {chosen} (TRAINER_PRECISION=auto on this CPU)")


if __name__ == "__main__":
    main()
