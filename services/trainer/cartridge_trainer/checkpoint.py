"""Trainer checkpoints: model + optimiser + iteration, written atomically.

A checkpoint is saved right after an iteration's training, before its model is
published; on start the trainer loads it and finishes that iteration's publish
and record if a kill -9 interrupted them, then goes on with the next one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from cartridge.fsutil import atomic_write


@dataclass
class TrainerState:
    iteration: int  # last finished (trained) iteration, 0 = none
    episodes_at_iteration: int  # replay episode count when that iteration started
    model: dict
    optimizer: dict
    average: dict | None = None  # WeightAverage.state_dict() when WEIGHT_AVERAGE_HALF_LIFE is on


class Checkpointer:
    def __init__(self, directory: str | os.PathLike, env_id: str) -> None:
        self.path = Path(directory) / f"{env_id}.pt"

    def load(self) -> TrainerState | None:
        if not self.path.exists():
            return None
        data = torch.load(self.path, map_location="cpu", weights_only=True)
        return TrainerState(
            iteration=int(data["iteration"]),
            episodes_at_iteration=int(data["episodes_at_iteration"]),
            model=data["model"],
            optimizer=data["optimizer"],
            average=data.get("average"),
        )

    def save(self, state: TrainerState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path) as f:
            torch.save(
                {
                    "iteration": state.iteration,
                    "episodes_at_iteration": state.episodes_at_iteration,
                    "model": state.model,
                    "optimizer": state.optimizer,
                    "average": state.average,
                },
                f,
            )
