"""MCTS simulations per second on connect4 at MCTS_MAX_SIMS=400, on one core.

Compares the batched search (cartridge.mcts: many trees, one network call per round, evaluation
cache) with a straightforward MCTS written here that evaluates one position per network call, for
the default network, a network the size of alpha-zero-general's connect4 net (~11M parameters),
and a free network (uniform prior, no inference: the cost of the tree alone).

    .venv/bin/python -m bench.bench_mcts
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from cartridge.games import Game, get_game
from cartridge.inference import OnnxEvaluator, UniformEvaluator
from cartridge.mcts import BatchedMCTS, MctsConfig
from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx, parameter_count

SIMS = 400


class Timed:
    """Wraps an evaluator and accumulates the time spent inside it."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0
        self.version = getattr(inner, "version", 0)

    def evaluate(self, observations):
        started = time.perf_counter()
        try:
            return self.inner.evaluate(observations)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


class NaiveNode:
    def __init__(self, state, prior: float) -> None:
        self.state, self.prior = state, prior
        self.children: dict[int, NaiveNode] = {}
        self.n, self.w = 0, 0.0


def naive_search(game: Game, evaluator, root_state, sims: int, c_puct: float = 1.5) -> None:
    """The textbook loop: select, expand with ONE network call for ONE position, back up."""

    def expand(node: NaiveNode) -> float:
        if node.state.terminal:
            return float(node.state.outcome)
        logits, values = evaluator.evaluate(game.observation(node.state)[None])
        legal = game.legal_actions(node.state)
        exp = np.exp(logits[0][legal] - logits[0][legal].max())
        for action, p in zip(legal, exp / exp.sum(), strict=True):
            node.children[action] = NaiveNode(game.apply(node.state, action), float(p))
        return float(values[0])

    root = NaiveNode(root_state, 1.0)
    expand(root)
    for _ in range(sims):
        node, path = root, [root]
        while node.children:
            total = math.sqrt(node.n + 1)
            node = max(node.children.values(),
                       key=lambda c: (-c.w / c.n if c.n else 0.0) + c_puct * c.prior * total / (1 + c.n))  # fmt: skip
            path.append(node)
        value = expand(node)
        for visited in reversed(path):
            visited.n += 1
            visited.w += value  # value for the player to move at `visited`
            value = -value


class TorchEagerEvaluator:
    """The network as most straightforward AlphaZero code calls it: PyTorch eager, one position at a time
    (alpha-zero-general's approach, the issue's reference)."""

    version = 1

    def __init__(self, net) -> None:
        import torch

        self.torch, self.net = torch, net.eval()

    def evaluate(self, observations):
        with self.torch.no_grad():
            logits, values = self.net(self.torch.from_numpy(observations))
        return logits.numpy(), values.numpy()


def openings(game: Game, count: int, rng: np.random.Generator) -> list:
    states = []
    while len(states) < count:
        state = game.initial_state()
        for _ in range(int(rng.integers(0, 8))):
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not state.terminal:
            states.append(state)
    return states


def measure(label: str, evaluator_factory, batched_states: int, naive_states: int, eager_factory=None) -> dict:
    game = get_game("connect4")
    rng = np.random.default_rng(0)
    row = {"network": label}
    for name, cache in (("batched", 200_000), ("batched-nocache", 0)):
        timed = Timed(evaluator_factory())
        mcts = BatchedMCTS(game, timed, MctsConfig(simulations=SIMS, cache_size=cache), np.random.default_rng(1))
        states = openings(game, batched_states, rng)
        started = time.perf_counter()
        mcts.search(states, add_noise=True)
        seconds = time.perf_counter() - started
        row[name] = len(states) * SIMS / seconds
        row[f"{name}-inference-share"] = timed.seconds / seconds
        row[f"{name}-positions-per-call"] = mcts.network_positions / max(1, mcts.network_calls)
    timed = Timed(evaluator_factory())
    states = openings(game, naive_states, rng)
    started = time.perf_counter()
    for state in states:
        naive_search(game, timed, state, SIMS)
    seconds = time.perf_counter() - started
    row["naive"] = len(states) * SIMS / seconds
    row["naive-inference-share"] = timed.seconds / seconds
    row["naive-torch"] = float("nan")
    if eager_factory is not None:
        eager = eager_factory()
        started = time.perf_counter()
        for state in states:
            naive_search(game, eager, state, SIMS)
        row["naive-torch"] = len(states) * SIMS / (time.perf_counter() - started)
    return row


def main() -> None:
    os.sched_setaffinity(0, {0})  # one core, as the issue asks
    os.environ["ORT_THREADS"] = "1"
    game = get_game("connect4")
    import torch

    torch.set_num_threads(1)
    nets = {}
    for label, config in (("default", NetConfig()), ("azg-size", NetConfig(channels=256, blocks=10))):
        net = PolicyValueNet(game, config)
        nets[label] = (parameter_count(net), export_onnx(net, game), net)
    rows = [
        measure(f"default ({nets['default'][0] / 1e6:.2f}M params)",
                lambda: OnnxEvaluator(nets["default"][1], 1), batched_states=32, naive_states=4,
                eager_factory=lambda: TorchEagerEvaluator(nets["default"][2])),
        measure(f"azg-size ({nets['azg-size'][0] / 1e6:.1f}M params)",
                lambda: OnnxEvaluator(nets["azg-size"][1], 1), batched_states=4, naive_states=1,
                eager_factory=lambda: TorchEagerEvaluator(nets["azg-size"][2])),
        measure("free (uniform, no inference)", lambda: UniformEvaluator(7), batched_states=32, naive_states=8),
    ]  # fmt: skip
    print(f"connect4, MCTS_MAX_SIMS={SIMS}, one core (sched_setaffinity), ONNX Runtime 1 thread\n")
    print(f"{'network':34} {'batched':>9} {'no cache':>9} {'naive':>8} {'ratio':>7} {'ratio nc':>8} "
          f"{'naive-pt':>9} {'ratio-pt':>8} {'infer% b':>8} {'infer% n':>8} {'pos/call':>8}")  # fmt: skip
    for r in rows:
        print(f"{r['network']:34} {r['batched']:9.0f} {r['batched-nocache']:9.0f} {r['naive']:8.0f} "
              f"{r['batched'] / r['naive']:6.1f}x {r['batched-nocache'] / r['naive']:7.1f}x "
              f"{r['naive-torch']:9.0f} {r['batched'] / r['naive-torch']:7.1f}x "
              f"{100 * r['batched-inference-share']:7.0f}% "
              f"{100 * r['naive-inference-share']:7.0f}% {r['batched-nocache-positions-per-call']:8.1f}")  # fmt: skip
    print("\nsimulations per second; ratio = batched / naive (target >= 10x); nc = evaluation cache off;")
    print("naive = one position per ONNX Runtime call; naive-pt = one position per PyTorch eager call;")
    print("reference on this machine: alpha-zero-general ~210 sims/s with its 10.8M net, ~9,000 with a free net")


if __name__ == "__main__":
    main()
