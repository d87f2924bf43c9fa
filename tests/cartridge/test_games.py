from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cartridge.games import GAME_NAMES, GAMES, Game, IllegalMove, State, get_game


def test_tictactoe_wins_draws_and_illegal_moves():
    g = get_game("tictactoe")
    assert g.winner(g.from_actions([0, 3, 1, 4, 2])) == 1  # top row
    assert g.winner(g.from_actions([0, 1, 3, 2, 6])) == 1  # left column
    assert g.winner(g.from_actions([1, 0, 2, 4, 3, 8])) == 2  # diagonal for O
    draw = g.from_actions([0, 1, 2, 4, 3, 5, 7, 6, 8])
    assert draw.terminal and g.winner(draw) == 0 and g.legal_actions(draw) == []
    with pytest.raises(IllegalMove, match="occupied"):
        g.from_actions([4, 4])
    with pytest.raises(IllegalMove, match="game is over"):
        g.apply(g.from_actions([0, 3, 1, 4, 2]), 5)
    with pytest.raises(IllegalMove, match="out of range"):
        g.apply(g.initial_state(), 9)


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ([0, 1, 0, 1, 0, 1, 0], 1),  # vertical
        ([0, 0, 1, 1, 2, 2, 3], 1),  # horizontal
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 1),  # diagonal /
        ([3, 2, 2, 1, 1, 0, 1, 0, 0, 6, 0], 1),  # diagonal \
        ([6, 0, 0, 1, 1, 2, 2, 3], 2),  # horizontal for the second player
    ],
)
def test_connect4_wins_in_every_direction(moves, winner):
    g = get_game("connect4")
    state = g.from_actions(moves)
    assert state.terminal and g.winner(state) == winner


def test_connect4_columns_fill_and_no_wrap_around_wins():
    g = get_game("connect4")
    state = g.from_actions([0] * 6)
    assert 0 not in g.legal_actions(state)
    with pytest.raises(IllegalMove, match="column 0 is full"):
        g.apply(state, 0)
    # X holds the top two cells of column 0 and the bottom two of column 1: four bits in a row of a
    # column-major bitboard without the sentinel bit between columns, but not a line on the board.
    wrap = g.from_actions([1, 0, 1, 0, 0, 0, 0, 6, 0])
    board = np.array(g.board(wrap))
    assert board[0:2, 0].tolist() == [1, 1] and board[4:6, 1].tolist() == [1, 1], board
    assert not wrap.terminal and g.winner(wrap) is None


def test_a_full_connect4_board_without_a_line_is_a_draw():
    g = get_game("connect4")
    order = [c for block in ([0, 1] * 3, [2, 3] * 3, [4, 5] * 3, [1, 0] * 3, [3, 2] * 3, [5, 4] * 3) for c in block]
    state = g.from_actions([*order, 6, 6, 6, 6, 6, 6])  # raises if the game ended before the board was full
    assert state.terminal and state.ply == g.rows * g.cols
    assert state.outcome == 0 and g.winner(state) == 0, "a full board without a line: nobody won"


def test_observation_is_from_the_movers_side_and_board_is_absolute():
    g = get_game("tictactoe")
    state = g.from_actions([4])  # X in the centre, O to move
    obs = g.observation(state)
    assert obs.shape == (2, 3, 3) and obs[1, 1, 1] == 1 and obs[0].sum() == 0
    assert g.board(state)[1][1] == 1 and state.to_play == 2


@pytest.mark.parametrize("name", ["tictactoe", "connect4"])
def test_symmetries_keep_observation_and_policy_together(name):
    """Each variant moves the policy exactly as it moves the board: the probability of a cell stays on
    the cell, wherever the transformation takes it."""
    g = get_game(name)
    rng = np.random.default_rng(0)
    state = g.initial_state()
    for _ in range(4):
        state = g.apply(state, int(rng.choice(g.legal_actions(state))))
    obs = g.observation(state)
    # A plane that names every cell (tictactoe: action = cell; connect4: action = column), and a policy
    # that names the same cells: after any transformation the two must still agree cell for cell.
    cells = np.arange(g.rows * g.cols, dtype=np.float32).reshape(1, g.rows, g.cols)
    if name == "connect4":
        cells = np.broadcast_to(np.arange(g.cols, dtype=np.float32), (1, g.rows, g.cols))
    policy = cells[0, 0] if name == "connect4" else cells.reshape(-1)
    variants = g.symmetries(np.concatenate([obs, cells]), policy.copy())
    assert len(variants) == (8 if name == "tictactoe" else 2)
    assert len({o.tobytes() for o, _ in variants}) == len(variants), "a symmetry is missing or repeated"
    for o, p in variants:
        moved = o[-1, 0] if name == "connect4" else o[-1].reshape(-1)
        assert np.array_equal(p, moved), f"the policy moved differently from the board:\n{o[-1]}\n{p}"
        assert o[:-1].sum() == obs.sum() and sorted(p) == sorted(policy)
    # The stones move with their cells: mass on the stones' cells stays on the stones.
    if name == "tictactoe":
        stones = obs[0] + 2 * obs[1]
        for o, p in g.symmetries(obs, stones.reshape(-1).copy()):
            assert np.array_equal(p, (o[0] + 2 * o[1]).reshape(-1)), (o, p)


def test_unknown_game_names_the_choices():
    with pytest.raises(ValueError, match="tictactoe, connect4"):
        get_game("chess")


@pytest.mark.parametrize("game", GAMES, ids=GAME_NAMES)
def test_each_game_carries_facts_that_agree_with_its_rules(game: Game):
    assert game.label and game.dirichlet_alpha > 0 and 0 < game.temperature_moves < game.max_plies
    # The action kind says how a click becomes an action: the bottom-right cell, or the last column
    # (where a dropped stone lands in the bottom-right cell).
    cells = game.rows * game.cols
    assert game.action_size == (cells if game.action_kind == "cell" else game.cols)
    corner = cells - 1 if game.action_kind == "cell" else game.cols - 1
    assert game.board(game.apply(game.initial_state(), corner))[-1][-1] == 1
    rng = np.random.default_rng(0)
    longest = 0
    for _ in range(200):
        state = game.initial_state()
        while not state.terminal:
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        longest = max(longest, state.ply)
    assert longest <= game.max_plies <= cells


ARENA_FACTS = (
    "win_length",
    "line_weights",
    "centre_weight",
    "reference_depth",
    "opening_plies",
    "solvable",
    "positions_file",
)


@pytest.mark.parametrize("game", GAMES, ids=GAME_NAMES)
def test_each_game_declares_what_the_arena_needs_in_its_own_module(game: Game):
    declared = {name for cls in type(game).__mro__ if cls is not Game for name in vars(cls)}
    assert declared >= set(ARENA_FACTS), f"{game.name} leaves {sorted(set(ARENA_FACTS) - declared)} undeclared"
    assert 2 < game.win_length <= max(game.rows, game.cols)
    assert len(game.line_weights) == game.win_length and game.centre_weight >= 0
    assert 0 < game.reference_depth < game.max_plies and 0 <= game.opening_plies < game.temperature_moves
    # The arena's share of optimal moves needs labelled positions: labelled by exhaustive search or read from a file.
    assert game.solvable or game.positions_file


def test_settings_the_web_schema_and_the_cli_offer_exactly_the_registry_games():
    from typing import get_args

    from cartridge.settings import Settings
    from cartridge_web.schemas import GameName
    from devtools.cli import up

    assert len(set(GAME_NAMES)) == len(GAMES) and Settings.from_env({}).env_id == GAME_NAMES[0]
    assert [Settings.from_env({"ENV_ID": name}).env_id for name in GAME_NAMES] == list(GAME_NAMES)
    assert get_args(GameName) == GAME_NAMES
    env_id = next(option for option in up.params if option.name == "env_id")
    assert tuple(env_id.type.choices) == GAME_NAMES


def test_a_state_is_built_by_position_or_keyword_with_its_defaults_and_stays_frozen():
    # State has a hand-written __init__ (speed: MCTS builds one per tree node); it must keep the dataclass's.
    assert State(5, 6) == State(mine=5, theirs=6, ply=0, outcome=None, last_action=None)
    full = State(1, 2, 3, -1, 4)
    assert (full.mine, full.theirs, full.ply, full.outcome, full.last_action) == (1, 2, 3, -1, 4)
    assert full == State(1, 2, ply=3, outcome=-1, last_action=4) and hash(full) == hash(State(1, 2, 3, -1, 4))
    assert full != State(1, 2, 3, -1, 5) and dataclasses.replace(full, ply=9).ply == 9
    assert repr(State(1, 2)) == "State(mine=1, theirs=2, ply=0, outcome=None, last_action=None)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.mine = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        State(1)  # type: ignore[call-arg]


def test_connect4_legal_actions_are_the_columns_with_an_empty_top_cell_in_a_fresh_list():
    game, rng = get_game("connect4"), np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        state = game.initial_state()
        while not state.terminal:
            legal = game.legal_actions(state)
            assert legal == [c for c in range(game.cols) if game.board(state)[0][c] == 0]
            legal.append(99)  # the caller's own list: the next answer is unchanged
            assert 99 not in game.legal_actions(state)
            seen.add(tuple(legal[:-1]))
            state = game.apply(state, int(rng.choice(legal[:-1])))
        assert game.legal_actions(state) == []
    assert len(seen) > 20, "random games fill columns in many combinations"
