"""The game registry: the one list of games. ``get_game(ENV_ID)`` picks one.

Everything else derives from ``GAMES``: the ENV_ID check in settings, the web's ``GameName`` and its
/api/catalog (which the frontend reads), MCTS's Dirichlet alpha, self-play's temperature moves, the
arena's reference players, openings and labelled positions, and the devtools CLI's --env-id choices.
Adding a game is a module here (its rules and facts, see ``Game``) and one entry in ``GAMES``; the
first entry is the default ENV_ID (``DEFAULT_GAME``).
"""

from .base import Game, IllegalMove, State
from .connect4 import Connect4
from .tictactoe import TicTacToe

GAMES: tuple[Game, ...] = (TicTacToe(), Connect4())
GAME_NAMES: tuple[str, ...] = tuple(g.name for g in GAMES)
DEFAULT_GAME: str = GAME_NAMES[0]  # ENV_ID's default
_BY_NAME = {g.name: g for g in GAMES}


def get_game(name: str) -> Game:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r} (expected one of: {', '.join(GAME_NAMES)})") from None


__all__ = ["DEFAULT_GAME", "GAMES", "GAME_NAMES", "Connect4", "Game", "IllegalMove", "State", "TicTacToe", "get_game"]
