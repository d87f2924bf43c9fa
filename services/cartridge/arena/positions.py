"""Each game's labelled positions, and the share of them where a player's move is optimal.

A ``Game.solvable`` game's positions are every reachable running position, labelled here by exhaustive minimax.
Another game names a file in data/ (``Game.positions_file``) that holds one position a line: {"moves": [actions
played from the empty board], "value": 1 | 0 | -1 for the player to move, "optimal": [actions that keep that value],
"ply": len(moves)}. data/README.md says how connect4's was made; ``python -m cartridge.arena.make_positions`` makes
it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..games import Game, State

SHARE_BATCH = 256  # positions per batched search in optimal_share: big enough to batch, small enough to stop
DATA_DIR = Path(__file__).resolve().parent / "data"  # the files games name in ``Game.positions_file``


@dataclass(frozen=True)
class LabelledPosition:
    moves: tuple[int, ...]
    value: int
    optimal: frozenset[int]

    def to_json(self) -> str:
        return json.dumps(
            {"ply": len(self.moves), "moves": list(self.moves), "value": self.value, "optimal": sorted(self.optimal)}
        )


def positions_path(game: Game) -> Path:
    """The file of ``game``'s labelled positions; ValueError for a game that names none."""
    if game.positions_file is None:
        raise ValueError(f"game {game.name!r} names no labelled positions file (Game.positions_file)")
    return DATA_DIR / game.positions_file


def load_positions(path: Path) -> list[LabelledPosition]:
    """The labelled positions; ValueError naming the file and line for a malformed one."""
    positions = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            position = LabelledPosition(
                tuple(int(m) for m in row["moves"]), int(row["value"]), frozenset(int(m) for m in row["optimal"])
            )
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
    when ``should_stop`` says so, checked between batches (a search over all of a solvable game's positions, ~3200
    in tictactoe, takes seconds: a stopping service must not wait for it)."""
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


def solved_positions(game: Game) -> list[LabelledPosition]:
    """Every reachable running position of a ``Game.solvable`` game, labelled by perfect minimax (exhaustive)."""
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


def solved_positions_with_a_wrong_move(game: Game) -> list[LabelledPosition]:
    """The solved positions with a wrong move in them (the others cannot tell a good move from a bad one)."""
    return [p for p in solved_positions(game) if len(p.optimal) < len(game.legal_actions(game.from_actions(p.moves)))]


@cache
def labelled_positions(game: Game) -> tuple[LabelledPosition, ...]:
    """The positions the arena measures the share of optimal moves on, for ``game`` (made once per process): its
    file if it names one, else, for a solvable game, every position with a wrong move in it."""
    if game.positions_file is not None:
        return tuple(load_positions(positions_path(game)))
    if game.solvable:
        return tuple(solved_positions_with_a_wrong_move(game))
    raise ValueError(f"no labelled positions for game {game.name!r}: it is not solvable and names no positions file")
