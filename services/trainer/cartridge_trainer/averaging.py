"""An exponential moving average of the network's weights, the model the trainer publishes when it is on.

The trained weights wander around a minimum by the last steps' noise; their running average sits nearer its
centre (Polyak averaging; KataGo exports the stochastic-weight average of its snapshots, and torch's
``swa_utils.get_ema_multi_avg_fn`` is the same update). WEIGHT_AVERAGE_HALF_LIFE is the average's half-life in
optimiser steps: a step's weights count half as much that many steps later. While ``1 - 1/n`` is below that
decay (the first 1.4 half-lives) the average is the plain mean of the ``n`` steps so far, so the first
published models are not pulled back to the random start.

Every floating-point tensor of the state (weights and BatchNorm's running statistics) is averaged; the
integer batch counters are copied. The average is kept in the checkpoint beside the network, so a restarted
trainer goes on with the same average.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    def __init__(self, net: torch.nn.Module, half_life_steps: int) -> None:
        if half_life_steps < 1:
            raise ValueError(f"half_life_steps must be >= 1, not {half_life_steps}")
        self.net = copy.deepcopy(net).eval()
        self.decay = 0.5 ** (1.0 / half_life_steps)
        self.steps = 0

    @torch.no_grad()
    def update(self, net: torch.nn.Module) -> None:
        """Fold the network's current weights in (after each optimiser step)."""
        self.steps += 1
        keep = min(self.decay, 1.0 - 1.0 / self.steps)  # 0 on the first step: the average starts as the weights
        for mine, theirs in zip(self.net.state_dict().values(), net.state_dict().values(), strict=True):
            if mine.is_floating_point():
                mine.lerp_(theirs, 1.0 - keep)
            else:
                mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"steps": self.steps, "model": self.net.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["model"])
        self.steps = int(state["steps"])
