"""bench.bench_strength's target match is against one of the arena's own references, for every game it trains."""

from __future__ import annotations

import pytest

from bench.bench_strength import target_opponent
from bench.games import STRENGTH_PIPELINE
from cartridge.arena.loop import reference_players
from cartridge.games import GAME_NAMES, GAMES, get_game


@pytest.mark.parametrize("game", GAMES, ids=GAME_NAMES)
def test_the_target_opponent_is_the_perfect_player_where_there_is_one_else_alphabeta(game):
    target = target_opponent(game)
    assert target in reference_players(game)
    assert target == ("minimax" if game.solvable else f"alphabeta-d{game.reference_depth}")


def test_every_game_the_benchmark_trains_is_a_registered_game():
    assert all(get_game(name) for name in STRENGTH_PIPELINE)
