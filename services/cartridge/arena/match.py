"""Games and matches between players, each game reproducible from its seed.

A game's seed fixes its opening (a few random plies, so games between deterministic players still differ) and the
generators of both players (their tie-breaks and random moves): replaying the seed replays the game move for move.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..games import Game
from .players import Player

PlayerFactory = Callable[[np.random.Generator], Player]


@dataclass(frozen=True)
class MatchResult:
    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.games

    @property
    def score(self) -> float:
        """Wins plus half the draws, per game."""
        return (self.wins + 0.5 * self.draws) / self.games


@dataclass(frozen=True)
class GameRecord:
    first: str  # player names
    second: str
    seed: int
    moves: tuple[int, ...]
    winner: int  # 1 first player, 2 second player, 0 draw

    @property
    def first_score(self) -> float:
        return {1: 1.0, 0: 0.5, 2: 0.0}[self.winner]


def game_seed(*parts: object) -> int:
    """A stable 32-bit seed from names and numbers (the same in every process, unlike hash())."""
    return zlib.crc32(":".join(map(str, parts)).encode())


def play_game(
    game: Game,
    first: tuple[str, PlayerFactory],
    second: tuple[str, PlayerFactory],
    seed: int,
    opening_plies: int | None = None,
) -> GameRecord:
    """One game from ``seed``: a random opening of ``opening_plies`` plies (the game's ``opening_plies`` when
    None), then the players."""
    opening_rng, first_rng, second_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    plies = game.opening_plies if opening_plies is None else opening_plies
    seats = {1: first[1](first_rng), 2: second[1](second_rng)}
    state, moves = game.initial_state(), []
    while not state.terminal:
        if state.ply < plies:
            action = int(opening_rng.choice(game.legal_actions(state)))
        else:
            action = seats[state.to_play].choose(state)
        moves.append(action)
        state = game.apply(state, action)
    return GameRecord(first[0], second[0], seed, tuple(moves), game.winner(state))


def play_pairs(
    game: Game,
    player: tuple[str, PlayerFactory],
    opponent: tuple[str, PlayerFactory],
    games: int,
    seed_base: str,
    should_stop: Callable[[], bool] = lambda: False,
    on_game: Callable[[GameRecord], None] = lambda record: None,
) -> list[GameRecord]:
    """``games`` games with alternating colours; games 2k and 2k+1 share an opening seed, so each opening is
    played once from each side and an unbalanced opening favours no one. Fewer games if ``should_stop`` says so.
    ``on_game`` hears each game as it ends (progress)."""
    records = []
    for i in range(games):
        if should_stop():
            break
        seed = game_seed(seed_base, player[0], opponent[0], i // 2)
        seats = (player, opponent) if i % 2 == 0 else (opponent, player)
        records.append(play_game(game, *seats, seed=seed))
        on_game(records[-1])
    return records


def result_for(name: str, records: list[GameRecord]) -> MatchResult:
    """Wins, draws and losses of player ``name`` over the games it played in ``records``."""
    tally: Counter[str] = Counter()
    for r in records:
        if name not in (r.first, r.second):
            continue
        seat = 1 if r.first == name else 2
        tally["draw" if r.winner == 0 else "win" if r.winner == seat else "loss"] += 1
    return MatchResult(tally["win"], tally["draw"], tally["loss"])


def play_match(game: Game, player: Player, opponent: Player, games: int, player_first: bool) -> MatchResult:
    """``player`` against ``opponent``, always in the same seat, no opening moves; results from ``player``'s side."""
    mine, theirs = ("player", lambda rng: player), ("opponent", lambda rng: opponent)
    seats = (mine, theirs) if player_first else (theirs, mine)
    records = [play_game(game, *seats, seed=i, opening_plies=0) for i in range(games)]
    return result_for("player", records)
