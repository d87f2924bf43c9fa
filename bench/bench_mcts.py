"""MCTS simulations per second on connect4 at MCTS_MAX_SIMS=400, on one core.

Compares the batched search (cartridge.mcts: many trees, one network call per round, evaluation
cache) with a straightforward MCTS written here that evaluates one position per network call and,
like the real search, creates a child only when it first selects it. Both search the same openings.
Each is run with PyTorch eager (as alpha-zero-general calls its network) and ONNX Runtime fp32 and
int8, for the default network, a network the size of alpha-zero-general's connect4 net (~11M
parameters), and a free network (uniform prior, no inference: the cost of the tree alone). The
headline ratio (the actors' setup against the textbook one) is printed as what it is, next to the
like-for-like ratios it is the product of.

    .venv/bin/python -m bench.bench_mcts [--sims 400] [--openings 32] [--azg-openings 4]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from bench.games import MEASURED_GAME, openings
from cartridge.games import Game, get_game
from cartridge.inference import OnnxEvaluator, UniformEvaluator
from cartridge.mcts import BatchedMCTS, MctsConfig
from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx, parameter_count
from cartridge_trainer.quantize import quantize_int8


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
    """One position. Expanding it stores the legal actions and their priors; a child is created only
    when the search first selects it, as in cartridge.mcts, so the two differ in batching alone."""

    def __init__(self, state) -> None:
        self.state = state
        self.actions: list[int] = []
        self.priors: list[float] | None = None  # None until expanded (never, for a terminal position)
        self.children: list[NaiveNode | None] = []
        self.child_n: list[int] = []
        self.child_w: list[float] = []  # summed values for the player choosing the action
        self.visits = 0


def naive_search(game: Game, evaluator, root_state, sims: int, c_puct: float = MctsConfig().c_puct) -> None:
    """The textbook loop: select, expand with ONE network call for ONE position, back up."""

    def expand(node: NaiveNode) -> float:
        if node.state.terminal:
            return float(node.state.outcome)
        logits, values = evaluator.evaluate(game.observation(node.state)[None])
        legal = game.legal_actions(node.state)
        exp = np.exp(logits[0][legal] - logits[0][legal].max())
        node.actions, node.priors = legal, (exp / exp.sum()).tolist()
        node.children, node.child_n, node.child_w = [None] * len(legal), [0] * len(legal), [0.0] * len(legal)
        return float(values[0])  # for the player to move at ``node``

    root = NaiveNode(root_state)
    expand(root)
    for _ in range(sims):
        node, path = root, []
        while node.priors is not None:
            scale = c_puct * math.sqrt(node.visits + 1)
            n, w, priors = node.child_n, node.child_w, node.priors
            best = max(
                range(len(priors)), key=lambda i: (w[i] / n[i] if n[i] else 0.0) + scale * priors[i] / (1 + n[i])
            )
            if node.children[best] is None:
                node.children[best] = NaiveNode(game.apply(node.state, node.actions[best]))
            path.append((node, best))
            node = node.children[best]
        value = expand(node)
        for parent, i in reversed(path):
            value = -value  # now for the player choosing at ``parent``
            parent.child_n[i] += 1
            parent.child_w[i] += value
            parent.visits += 1


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


def batched_rate(game: Game, evaluator, states: list, sims: int, cache_size: int = 200_000) -> dict:
    timed = Timed(evaluator)
    mcts = BatchedMCTS(game, timed, MctsConfig(simulations=sims, cache_size=cache_size), np.random.default_rng(1))
    started = time.perf_counter()
    mcts.search(states, add_noise=True)
    seconds = time.perf_counter() - started
    return {
        "rate": len(states) * sims / seconds,
        "inference": timed.seconds / seconds,
        "per_call": mcts.network_positions / max(1, mcts.network_calls),
    }


def naive_rate(game: Game, evaluator, states: list, sims: int) -> dict:
    timed = Timed(evaluator)
    started = time.perf_counter()
    for state in states:
        naive_search(game, timed, state, sims)
    seconds = time.perf_counter() - started
    return {"rate": len(states) * sims / seconds, "inference": timed.seconds / seconds}


COLUMNS = ["batched int8", "batched fp32", "batched fp32 no cache", "naive eager", "naive fp32", "naive int8"]


def measure(game: Game, label: str, net, count: int, sims: int) -> dict:
    """Every column on the same ``count`` openings: batched (int8, the model the trainer publishes, and fp32)
    and naive (PyTorch eager, ONNX Runtime fp32 and int8)."""
    rng = np.random.default_rng(0)
    fp32 = export_onnx(net, game)
    int8 = quantize_int8(fp32, game.observations(openings(game, 512, rng, max_plies=30)))
    states = openings(game, count, rng)
    return {
        "network": label,
        "openings": count,
        "batched int8": batched_rate(game, OnnxEvaluator(int8, 1), states, sims),
        "batched fp32": batched_rate(game, OnnxEvaluator(fp32, 1), states, sims),
        "batched fp32 no cache": batched_rate(game, OnnxEvaluator(fp32, 1), states, sims, cache_size=0),
        "naive eager": naive_rate(game, TorchEagerEvaluator(net), states, sims),
        "naive fp32": naive_rate(game, OnnxEvaluator(fp32, 1), states, sims),
        "naive int8": naive_rate(game, OnnxEvaluator(int8, 1), states, sims),
    }


# (label, numerator column, denominator column): each changes one thing, and the first four multiply to
# the headline (batched int8 / naive eager).
LIKE_FOR_LIKE = [
    ("runtime: ORT fp32 / PyTorch eager, one position per call", "naive fp32", "naive eager"),
    ("batching alone: batched / naive, ORT fp32, no cache", "batched fp32 no cache", "naive fp32"),
    ("evaluation cache: batched fp32 with / without", "batched fp32", "batched fp32 no cache"),
    ("int8 / fp32, batched with cache", "batched int8", "batched fp32"),
    ("int8 / fp32, one position per call", "naive int8", "naive fp32"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=400, help="simulations per search (MCTS_MAX_SIMS)")
    parser.add_argument("--openings", type=int, default=32, help="openings searched, default network")
    parser.add_argument("--azg-openings", type=int, default=4, help="openings searched, azg-size network")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # one core, as the issue asks
    os.environ["ORT_THREADS"] = "1"
    game = get_game(MEASURED_GAME)
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    default, azg = PolicyValueNet(game, NetConfig()), PolicyValueNet(game, NetConfig(channels=256, blocks=10))
    rows = [
        measure(game, f"default 64x4 ({parameter_count(default) / 1e6:.2f}M)", default, args.openings, args.sims),
        measure(game, f"azg-size 256x10 ({parameter_count(azg) / 1e6:.1f}M)", azg, args.azg_openings, args.sims),
    ]
    free_states = openings(game, args.openings, np.random.default_rng(0))
    free = {
        "batched": batched_rate(game, UniformEvaluator(7), free_states, args.sims),
        "naive": naive_rate(game, UniformEvaluator(7), free_states, args.sims),
    }
    print(f"connect4, MCTS_MAX_SIMS={args.sims}, one core (sched_setaffinity), ONNX Runtime 1 thread")
    print("simulations per second (share of time in network inference); every column of a row searches the same")
    print(f"openings: {rows[0]['openings']} for the default network and the free one, {rows[1]['openings']} azg-size\n")
    print(f"{'network':26}" + "".join(f"{c:>22}" for c in COLUMNS))
    for r in rows:
        print(
            f"{r['network']:26}" + "".join(f"{r[c]['rate']:>14.0f} ({100 * r[c]['inference']:3.0f}%)" for c in COLUMNS)
        )
    print(f"{'free (uniform, no net)':26}{free['batched']['rate']:>14.0f}{'':>74}{free['naive']['rate']:>14.0f}")
    print(f"{'':26}(free: batched / naive {free['batched']['rate'] / free['naive']['rate']:.1f}x, the trees alone)")
    for r in rows:
        rate = {c: r[c]["rate"] for c in COLUMNS}
        print(
            f"\n{r['network']}, positions per network call (batched, no cache): "
            f"{r['batched fp32 no cache']['per_call']:.1f}"
        )
        print(
            f"  actors' setup / textbook: batched int8 ORT + cache / naive fp32 PyTorch eager  "
            f"{rate['batched int8'] / rate['naive eager']:5.1f}x  (unlike things: the product of the next four)"
        )
        for label, top, bottom in LIKE_FOR_LIKE:
            print(f"  {label:78}{rate[top] / rate[bottom]:5.1f}x")
    print(
        "\nbatched int8 = what actors run (the trainer publishes int8 by default; EXPORT_PRECISION=fp32 turns it off)"
    )
    print("naive eager = one position per PyTorch eager call, as alpha-zero-general calls its network")


if __name__ == "__main__":
    main()
