"""The solver-labelled connect4 positions, and the share of them where a player's move is optimal.

data/connect4_positions.jsonl holds one position a line: {"moves": [columns played from the empty board],
"value": 1 | 0 | -1 for the player to move, "optimal": [columns that keep that value], "ply": len(moves)}.
data/README.md says how it was made; ``python -m cartridge.arena.make_positions`` makes it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..games import Game, State

SHARE_BATCH = 256  # positions per batched search in optimal_share: big enough to batch, small enough to stop
POSITIONS_FILE = Path(__file__).resolve().parent / "data" / "connect4_positions.jsonl"


@dataclass(frozen=True)
class LabelledPosition:
    moves: tuple[int, ...]
    value: int
    optimal: frozenset[int]

    def to_json(self) -> str:
        return json.dumps({"ply": len(self.moves), "moves": list(self.moves), "value": self.value,
                           "optimal": sorted(self.optimal)})  # fmt: skip


def load_positions(path: Path = POSITIONS_FILE) -> list[LabelledPosition]:
    """The labelled positions; ValueError naming the file and line for a malformed one."""
    positions = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            position = LabelledPosition(tuple(int(m) for m in row["moves"]), int(row["value"]),
                                        frozenset(int(m) for m in row["optimal"]))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled position ({exc})") from None
        if position.value not in (-1, 0, 1) or not position.optimal:
            raise ValueError(f"{path}:{number}: value must be -1, 0 or 1 and optimal must not be empty")
        positions.append(position)
    return positions


def optimal_share(
    game: Game,
    positions: Sequence[LabelledPosition],
    choose_many: Callable[[list[State]], list[int]],
    should_stop: Callable[[], bool] = lambda: False,
) -> float | None:
    """Share of ``positions`` where ``choose_many`` (one move per state, in order) picks an optimal move; None
    when ``should_stop`` says so, checked between batches (a search over all of tictactoe's ~3200 positions takes
    seconds: a stopping service must not wait for it)."""
    if not positions:
        raise ValueError("optimal_share needs at least one labelled position")
    hits = 0
    for start in range(0, len(positions), SHARE_BATCH):
        if should_stop():
            return None
        batch = positions[start : start + SHARE_BATCH]
        chosen = choose_many([game.from_actions(p.moves) for p in batch])
        hits += sum(move in p.optimal for move, p in zip(chosen, batch, strict=True))
    return hits / len(positions)


def solved_tictactoe_positions(game: Game) -> list[LabelledPosition]:
    """Every reachable running tictactoe position, labelled by perfect minimax (exhaustive)."""
    from .players import MinimaxPlayer

    judge = MinimaxPlayer(game, rng=None)
    found: dict[tuple[int, int], LabelledPosition] = {}
    frontier: list[tuple[int, ...]] = [()]
    while frontier:
        moves = frontier.pop()
        state = game.from_actions(moves)
        if state.terminal or (state.mine, state.theirs) in found:
            continue
        values = judge.move_values(state)
        best = max(values.values())
        found[state.mine, state.theirs] = LabelledPosition(
            moves, best, frozenset(a for a, v in values.items() if v == best)
        )
        frontier.extend((*moves, a) for a in values)
    return sorted(found.values(), key=lambda p: (len(p.moves), p.moves))


def tictactoe_positions(game: Game) -> list[LabelledPosition]:
    """The solved positions with a wrong move in them (the others cannot tell a good move from a bad one)."""
    return [p for p in solved_tictactoe_positions(game)
            if len(p.optimal) < len(game.legal_actions(game.from_actions(p.moves)))]  # fmt: skip


@cache
def labelled_positions(game: Game) -> tuple[LabelledPosition, ...]:
    """The positions the arena measures the share of optimal moves on, for ``game`` (made once per process)."""
    if game.name == "connect4":
        return tuple(load_positions())
    if game.name == "tictactoe":
        return tuple(tictactoe_positions(game))
    raise ValueError(f"no labelled positions for game {game.name!r}")
