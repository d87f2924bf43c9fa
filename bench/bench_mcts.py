"""MCTS simulations per second on connect4 at MCTS_MAX_SIMS=400, on one core.

Compares the batched search (cartridge.mcts: many trees, one network call per round, evaluation
cache) running the int8 model the trainer publishes, with a straightforward MCTS written here that
evaluates one position per network call (PyTorch eager as alpha-zero-general does, and ONNX Runtime
fp32 and int8 so the gain from batching alone is visible too), for the default network, a network
the size of alpha-zero-general's connect4 net (~11M parameters), and a free network (uniform prior,
no inference: the cost of the tree alone).

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
from cartridge_trainer.quantize import quantize_int8

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


def openings(game: Game, count: int, rng: np.random.Generator, max_plies: int = 8) -> list:
    states = []
    while len(states) < count:
        state = game.initial_state()
        for _ in range(int(rng.integers(0, max_plies))):
            if state.terminal:
                break
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not state.terminal:
            states.append(state)
    return states


def batched_rate(game: Game, evaluator, states: list, cache_size: int = 200_000) -> dict:
    timed = Timed(evaluator)
    mcts = BatchedMCTS(game, timed, MctsConfig(simulations=SIMS, cache_size=cache_size), np.random.default_rng(1))
    started = time.perf_counter()
    mcts.search(states, add_noise=True)
    seconds = time.perf_counter() - started
    return {"rate": len(states) * SIMS / seconds, "inference": timed.seconds / seconds,
            "per_call": mcts.network_positions / max(1, mcts.network_calls)}  # fmt: skip


def naive_rate(game: Game, evaluator, states: list) -> dict:
    timed = Timed(evaluator)
    started = time.perf_counter()
    for state in states:
        naive_search(game, timed, state, SIMS)
    seconds = time.perf_counter() - started
    return {"rate": len(states) * SIMS / seconds, "inference": timed.seconds / seconds}


def measure(game: Game, label: str, net, batched_states: int, naive_states: int) -> dict:
    """Batched (fp32 and the int8 model the trainer publishes) against the naive search (PyTorch eager
    and ONNX Runtime fp32, int8), all on the same openings."""
    rng = np.random.default_rng(0)
    fp32 = export_onnx(net, game)
    int8 = quantize_int8(fp32, game.observations(openings(game, 512, rng, max_plies=30)))
    batch_states, naive_states_ = openings(game, batched_states, rng), openings(game, naive_states, rng)
    return {
        "network": label,
        "batched int8": batched_rate(game, OnnxEvaluator(int8, 1), batch_states),
        "batched fp32": batched_rate(game, OnnxEvaluator(fp32, 1), batch_states),
        "batched fp32 no cache": batched_rate(game, OnnxEvaluator(fp32, 1), batch_states, cache_size=0),
        "naive eager": naive_rate(game, TorchEagerEvaluator(net), naive_states_),
        "naive fp32": naive_rate(game, OnnxEvaluator(fp32, 1), naive_states_),
        "naive int8": naive_rate(game, OnnxEvaluator(int8, 1), naive_states_),
    }


def main() -> None:
    os.sched_setaffinity(0, {0})  # one core, as the issue asks
    os.environ["ORT_THREADS"] = "1"
    game = get_game("connect4")
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    default, azg = PolicyValueNet(game, NetConfig()), PolicyValueNet(game, NetConfig(channels=256, blocks=10))
    rows = [
        measure(game, f"default 64x4 ({parameter_count(default) / 1e6:.2f}M)", default, 32, 4),
        measure(game, f"azg-size 256x10 ({parameter_count(azg) / 1e6:.1f}M)", azg, 4, 1),
    ]
    free = {"batched": batched_rate(game, UniformEvaluator(7), openings(game, 32, np.random.default_rng(0))),
            "naive": naive_rate(game, UniformEvaluator(7), openings(game, 8, np.random.default_rng(0)))}  # fmt: skip
    print(f"connect4, MCTS_MAX_SIMS={SIMS}, one core (sched_setaffinity), ONNX Runtime 1 thread")
    print("simulations per second (share of time in network inference)\n")
    columns = ["batched int8", "batched fp32", "batched fp32 no cache", "naive eager", "naive fp32", "naive int8"]
    print(f"{'network':26}" + "".join(f"{c:>22}" for c in columns))
    for r in rows:
        print(
            f"{r['network']:26}" + "".join(f"{r[c]['rate']:>14.0f} ({100 * r[c]['inference']:3.0f}%)" for c in columns)
        )
    print(f"{'free (uniform, no net)':26}{free['batched']['rate']:>14.0f}{'':>74}{free['naive']['rate']:>14.0f}")
    print("\nratios (target: batched >= 10x a straightforward MCTS with one position per network call)")
    for r in rows:
        rate = {c: r[c]["rate"] for c in columns}
        actor = rate["batched int8"]
        print(f"  {r['network']}: actor (batched int8) / naive eager {actor / rate['naive eager']:.1f}x, "
              f"/ naive fp32 ORT {actor / rate['naive fp32']:.1f}x; "
              f"batching alone: fp32 {rate['batched fp32'] / rate['naive fp32']:.1f}x, "
              f"int8 {rate['batched int8'] / rate['naive int8']:.1f}x; "
              f"positions per network call {r['batched fp32 no cache']['per_call']:.1f}")  # fmt: skip
    print(
        "\nbatched int8 = what actors run (the trainer publishes int8 by default; EXPORT_PRECISION=fp32 turns it off)"
    )
    print("naive eager = one position per PyTorch eager call, as alpha-zero-general calls its network;")
    print("reference on this machine: alpha-zero-general ~210 sims/s with its 10.8M net, ~9,000 with a free net")


if __name__ == "__main__":
    main()
