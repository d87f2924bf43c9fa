"""Make the solver-labelled connect4 test set from the project's own self-play games.

    python -m cartridge.arena.make_positions    # writes cartridge/arena/data/connect4_positions.jsonl

The defaults made the committed file (data/README.md says what it covers); the run is deterministic.

Games come from cartridge.selfplay with the uniform prior (MCTS with no network: what the actors play before the
first model), so the set needs no training run; the first plies are sampled from the visit counts, which varies
the games. Positions between --min-ply and --max-ply plies are solved with the weak solver, deepest first (fewer
moves left: cheap, and their table entries help the shallower ones of the same game); a position needing more
than --node-budget nodes is skipped. Each ply gets an equal share of --count so the set spans the range, and
positions where every legal move keeps the value are left out: they cannot tell a good move from a bad one.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..games import get_game
from ..inference import UniformEvaluator
from ..mcts import MctsConfig
from ..selfplay import SelfPlay
from .positions import LabelledPosition, positions_path
from .solver import SOLVED_GAME, SolveBudgetExceeded, Solver


def self_play_openings(games: int, sims: int, seed: int, min_ply: int, max_ply: int) -> dict[int, list[tuple]]:
    """Distinct running positions of uniform-prior self-play games, as move lists grouped by ply."""
    game = get_game(SOLVED_GAME)
    selfplay = SelfPlay(
        game, MctsConfig(simulations=sims), parallel_games=min(games, 32), rng=np.random.default_rng(seed)
    )
    by_ply: dict[int, list[tuple]] = defaultdict(list)
    seen = set()
    for episode in selfplay.play(lambda: UniformEvaluator(game.action_size), max_episodes=games):
        moves = tuple(t.action for t in episode.transitions)
        for ply in range(min_ply, min(max_ply, len(moves) - 1) + 1):
            state = game.from_actions(moves[:ply])
            if (state.mine, state.theirs) not in seen:
                seen.add((state.mine, state.theirs))
                by_ply[ply].append(moves[:ply])
    return by_ply


def label(by_ply: dict[int, list[tuple]], count: int, node_budget: int, max_seconds: float, log) -> list:
    game = get_game(SOLVED_GAME)
    solver = Solver(node_budget=node_budget)
    quota = math.ceil(count / max(1, len(by_ply)))
    labelled: list[LabelledPosition] = []
    started = time.monotonic()
    for ply in sorted(by_ply, reverse=True):
        kept = skipped = trivial = 0
        for moves in by_ply[ply]:
            if kept >= quota or time.monotonic() - started > max_seconds:
                break
            state = game.from_actions(moves)
            try:
                solution = solver.solve(state)
            except SolveBudgetExceeded:
                skipped += 1
                continue
            if len(solution.optimal_moves) == len(game.legal_actions(state)):
                trivial += 1
                continue
            labelled.append(LabelledPosition(tuple(moves), solution.value, frozenset(solution.optimal_moves)))
            kept += 1
        log(
            f"ply {ply}: {kept} labelled, {skipped} over the node budget, {trivial} with no wrong move "
            f"({time.monotonic() - started:.0f} s)"
        )
    return sorted(labelled, key=lambda p: (len(p.moves), p.moves))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cartridge.arena.make_positions", description=__doc__.split("\n")[0]
    )
    game = get_game(SOLVED_GAME)
    parser.add_argument("--out", type=Path, default=positions_path(game))
    parser.add_argument("--games", type=int, default=200, help="self-play games to draw positions from")
    parser.add_argument("--sims", type=int, default=64, help="MCTS simulations per self-play move")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--min-ply", type=int, default=12)
    parser.add_argument("--max-ply", type=int, default=30)
    parser.add_argument("--count", type=int, default=266, help="positions wanted (an equal share per ply)")
    parser.add_argument("--node-budget", type=int, default=300_000, help="solver nodes before a position is skipped")
    parser.add_argument("--max-seconds", type=float, default=1200, help="stop labelling after this long")
    args = parser.parse_args(argv)
    if not 0 < args.min_ply <= args.max_ply < game.max_plies:
        parser.error(f"need 0 < --min-ply <= --max-ply < {game.max_plies} (got {args.min_ply}, {args.max_ply})")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    by_ply = self_play_openings(args.games, args.sims, args.seed, args.min_ply, args.max_ply)
    log(f"{sum(map(len, by_ply.values()))} distinct positions from {args.games} self-play games")
    labelled = label(by_ply, args.count, args.node_budget, args.max_seconds, log)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text("".join(p.to_json() + "\n" for p in labelled))
    tmp.replace(args.out)
    plies = [len(p.moves) for p in labelled]
    log(f"wrote {len(labelled)} positions, plies {min(plies, default=0)}-{max(plies, default=0)}, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
