"""Reference players and seeded games: the heuristic, the alpha-beta search, perfect play, reproducible games."""

from __future__ import annotations

import numpy as np
import pytest

from cartridge.arena import AlphaBetaPlayer, MinimaxPlayer, RandomPlayer, play_game, play_pairs, result_for
from cartridge.arena.players import heuristic_for, straight_lines
from cartridge.games import TicTacToe, get_game

tictactoe, connect4 = get_game("tictactoe"), get_game("connect4")


def test_the_boards_have_the_lines_of_their_rules():
    assert len(straight_lines(tictactoe, 3)) == 8
    assert len(straight_lines(connect4, 4)) == 69  # 24 horizontal, 21 vertical, 2 x 12 diagonal


def test_connect4_heuristic_counts_open_threes_twos_and_the_centre():
    h = heuristic_for(connect4)
    # First player: three in the bottom row (columns 0-2); second player: stacked in column 6.
    state = connect4.from_actions([0, 6, 1, 6, 2])
    # The second player is to move: the first player's open three (window 0-3) and its open twos weigh against it.
    assert h(state) < 0
    # The centre counts: one stone in column 3 against one in column 0.
    assert h(connect4.from_actions([3, 0])) > h(connect4.from_actions([0, 3])) == -h(connect4.from_actions([3, 0]))


def test_tictactoe_heuristic_scores_lines_still_open_to_one_side():
    h = heuristic_for(tictactoe)
    # X in the centre, O in a corner, X to move: X's centre is in 4 lines, O's corner blocks 2 of them.
    state = tictactoe.from_actions([4, 0])
    assert h(state) == (4 - 2) * 1 - (3 - 2) * 1  # open lines of X minus open lines of O


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_alphabeta_takes_a_win_and_blocks_a_loss_in_connect4(depth):
    rng = np.random.default_rng(0)
    player = AlphaBetaPlayer(connect4, rng, depth)
    assert player.choose(connect4.from_actions([0, 6, 1, 6, 2, 5])) == 3  # three in a row: complete it
    if depth >= 2:
        assert player.choose(connect4.from_actions([0, 6, 1, 6, 2])) == 3  # the opponent's three: block it


def test_alphabeta_matches_exhaustive_search_at_full_depth():
    # At depth 9 alpha-beta sees every tictactoe game to its end: its value is the perfect one, and its best moves
    # are perfect ones (fewer where several win: it prefers the quickest win).
    rng = np.random.default_rng(0)
    alphabeta, perfect = AlphaBetaPlayer(tictactoe, rng, 9), MinimaxPlayer(tictactoe, rng)
    for moves in ([], [4], [0, 4], [0, 4, 8], [1, 4, 7, 3]):
        state = tictactoe.from_actions(moves)
        ab, pm = alphabeta.move_values(state), perfect.move_values(state)
        assert np.sign(max(ab.values())) == max(pm.values())
        assert {a for a, v in ab.items() if v == max(ab.values())} <= {
            a for a, v in pm.items() if v == max(pm.values())
        }


def test_perfect_minimax_never_loses_and_beats_depth_2_alphabeta_sometimes():
    players = {
        "minimax": lambda rng: MinimaxPlayer(tictactoe, rng),
        "alphabeta": lambda rng: AlphaBetaPlayer(tictactoe, rng, 2),
    }
    records = play_pairs(tictactoe, ("minimax", players["minimax"]), ("alphabeta", players["alphabeta"]), 40, "t")
    result = result_for("minimax", records)
    assert result.losses == 0 and result.games == 40
    random_games = play_pairs(
        tictactoe, ("minimax", players["minimax"]), ("random", lambda rng: RandomPlayer(tictactoe, rng)), 40, "t"
    )
    assert result_for("minimax", random_games).losses == 0 and result_for("minimax", random_games).wins >= 30


def test_a_game_replays_move_for_move_from_its_seed_and_colours_alternate():
    players = (
        ("alphabeta", lambda rng: AlphaBetaPlayer(connect4, rng, 2)),
        ("random", lambda rng: RandomPlayer(connect4, rng)),
    )
    records = play_pairs(connect4, *players, games=6, seed_base="s")
    assert [r.first for r in records] == ["alphabeta", "random"] * 3
    # Games 2k and 2k+1 share their opening; different pairs differ.
    assert records[0].moves[:2] == records[1].moves[:2] and records[0].seed == records[1].seed
    assert len({r.seed for r in records}) == 3
    for r in records:
        first, second = players if r.first == "alphabeta" else players[::-1]
        assert play_game(connect4, first, second, r.seed) == r


class FirstLegalMove:
    """Plays the first legal move and notes the ply of every position it is asked about."""

    def __init__(self, game, plies: list[int]) -> None:
        self.game, self.plies = game, plies

    def choose(self, state):
        self.plies.append(state.ply)
        return self.game.legal_actions(state)[0]


def test_a_game_opens_with_as_many_random_plies_as_the_game_declares():
    class LongOpeningTicTacToe(TicTacToe):
        name, opening_plies = "long-opening", 3

    for g in (tictactoe, connect4, LongOpeningTicTacToe()):
        asked: list[int] = []
        player = ("first-legal", lambda rng, g=g, asked=asked: FirstLegalMove(g, asked))
        play_game(g, player, player, seed=5)
        assert min(asked) == g.opening_plies, g.name
        asked.clear()
        play_game(g, player, player, seed=5, opening_plies=0)
        assert min(asked) == 0, g.name
