"""The web's routes, one router per concern; ``create_app`` includes them in this order."""

from . import game, probes, stats

ROUTERS = (probes.router, stats.router, game.router)
