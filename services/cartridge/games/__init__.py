"""Games behind one interface; ``get_game(ENV_ID)`` picks one."""

from .base import Game, IllegalMove, State
from .connect4 import Connect4
from .tictactoe import TicTacToe

_GAMES: dict[str, Game] = {g.name: g for g in (TicTacToe(), Connect4())}
GAME_NAMES = tuple(_GAMES)


def get_game(name: str) -> Game:
    try:
        return _GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r} (expected one of: {', '.join(GAME_NAMES)})") from None


__all__ = ["GAME_NAMES", "Connect4", "Game", "IllegalMove", "State", "TicTacToe", "get_game"]
