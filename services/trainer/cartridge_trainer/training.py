"""One training iteration: sample the replay window, augment by symmetry, optimise.

Loss = policy cross-entropy against the MCTS visit distribution + value MSE
against the game result, as in AlphaZero (weight decay via the optimiser).

The batch is laid out as the network's convolution weights are: the trainer keeps them channels_last (NHWC), on
which oneDNN's convolutions run without reordering each call, about 1.2x faster in fp32 and needed for bf16's
gain (precision.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cartridge.games import Game
from cartridge.replay import Batch, ReplayBuffer

from . import precision as precisions
from .averaging import WeightAverage


@dataclass(frozen=True)
class Losses:
    policy: float
    value: float

    @property
    def total(self) -> float:
        return self.policy + self.value


def augment(game: Game, batch: Batch, rng: np.random.Generator) -> Batch:
    """Replace each sample by one of its symmetric equivalents, chosen at random."""
    obs = np.empty_like(batch.observations)
    pol = np.empty_like(batch.policies)
    for i in range(len(obs)):
        variants = game.symmetries(batch.observations[i], batch.policies[i])
        obs[i], pol[i] = variants[rng.integers(len(variants))]
    return Batch(obs, pol, batch.values)


def learning_rate(base: float, iteration: int, half_life: int, floor: float) -> float:
    """The learning rate for ``iteration`` (from 0): ``base`` halved every ``half_life`` iterations, never below
    ``floor`` (nor above ``base``); ``half_life`` 0 keeps ``base``."""
    if half_life <= 0:
        return base
    return max(min(floor, base), base * 0.5 ** (iteration / half_life))


def layout(net: torch.nn.Module) -> torch.memory_format:
    """The memory format of the network's first 4-D weight (its stem convolution): the one to feed it in."""
    for p in net.parameters():
        if p.dim() == 4:
            return (
                torch.channels_last if p.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
            )
    return torch.contiguous_format


def train_iteration(
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    game: Game,
    replay: ReplayBuffer,
    *,
    steps: int,
    batch_size: int,
    window: int,
    rng: np.random.Generator,
    precision: str = "fp32",
    average: WeightAverage | None = None,
) -> Losses:
    """``steps`` optimiser steps on batches from the newest ``window`` transitions; ``precision`` is ``bf16`` or
    ``fp32`` (precision.resolve's answer); ``average``, when given, takes in the weights after every step."""
    net.train()
    memory_format = layout(net)
    policy_sum = value_sum = 0.0
    done = 0
    for _ in range(steps):
        batch = replay.sample(game.name, batch_size, window)
        if batch is None:
            break
        batch = augment(game, batch, rng)
        obs = torch.from_numpy(batch.observations).contiguous(memory_format=memory_format)
        target_pi = torch.from_numpy(batch.policies)
        target_v = torch.from_numpy(batch.values)
        with precisions.compute(precision):
            logits, value = net(obs)
        logits, value = logits.float(), value.float()  # the losses in fp32 whatever the forward pass ran in
        policy_loss = -(target_pi * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        value_loss = F.mse_loss(value, target_v)
        optimizer.zero_grad(set_to_none=True)
        (policy_loss + value_loss).backward()
        optimizer.step()
        if average is not None:
            average.update(net)
        policy_sum += policy_loss.item()
        value_sum += value_loss.item()
        done += 1
    net.eval()
    if done == 0:
        raise RuntimeError(f"replay buffer holds no {game.name} transitions to train on")
    return Losses(policy_sum / done, value_sum / done)
