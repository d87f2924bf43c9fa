"""Playing strength: reference players, seeded matches, a connect4 solver and its labelled positions, ratings,
and the arena loop that rates each published model version."""

from .match import GameRecord, MatchResult, play_game, play_match, play_pairs, result_for
from .players import AlphaBetaPlayer, MctsPlayer, MinimaxPlayer, NetworkPlayer, Player, RandomPlayer

__all__ = [
    "AlphaBetaPlayer",
    "GameRecord",
    "MatchResult",
    "MctsPlayer",
    "MinimaxPlayer",
    "NetworkPlayer",
    "Player",
    "RandomPlayer",
    "play_game",
    "play_match",
    "play_pairs",
    "result_for",
]
