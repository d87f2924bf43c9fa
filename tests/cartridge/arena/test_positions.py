"""Each game's labelled positions, found from its facts in the registry: a file it names, or exhaustive search."""

from __future__ import annotations

import pytest

from cartridge.arena.positions import labelled_positions, positions_path
from cartridge.games import GAME_NAMES, GAMES, Game, TicTacToe


class UnlabelledTicTacToe(TicTacToe):
    """A game as a new module might declare it: not solvable, and no positions file yet."""

    name = "unlabelled"
    solvable = False
    positions_file = None


@pytest.mark.parametrize("game", GAMES, ids=GAME_NAMES)
def test_every_registered_game_has_labelled_positions_with_legal_optimal_moves(game: Game):
    positions = labelled_positions(game)
    assert positions
    for p in positions[:: max(1, len(positions) // 50)]:
        legal = set(game.legal_actions(game.from_actions(p.moves)))
        assert p.optimal < legal, p  # some legal move is wrong, or the position could not tell players apart


def test_a_game_without_positions_is_refused_with_its_name():
    game = UnlabelledTicTacToe()
    with pytest.raises(ValueError, match=r"'unlabelled'.*not solvable and names no positions file"):
        labelled_positions(game)
    with pytest.raises(ValueError, match="'unlabelled' names no labelled positions file"):
        positions_path(game)
