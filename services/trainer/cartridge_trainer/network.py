"""The policy/value network and its ONNX export.

A small residual convolutional net: the default (4 blocks x 64 channels,
NETWORK_BLOCKS and NETWORK_CHANNELS) is sized so one core runs batched MCTS
fast, and large enough to master tictactoe and play connect4 sensibly; in
30-minute connect4 runs 32, 96 and 128 channels did no better beyond the
noise (docs/benchmarks.md, "The network's shape"). ONNX interface, shared with
cartridge.inference: input ``obs`` (N, planes, rows, cols) float32;
outputs ``policy_logits`` (N, actions) and ``value`` (N,) in [-1, 1].
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cartridge.games import Game


@dataclass(frozen=True)
class NetConfig:
    channels: int = 64
    blocks: int = 4

    @classmethod
    def of(cls, state: dict) -> NetConfig:
        """The shape of the network a ``PolicyValueNet.state_dict()`` came from."""
        blocks = {key.split(".")[1] for key in state if key.startswith("tower.")}
        return cls(channels=int(state["stem.0.weight"].shape[0]), blocks=len(blocks))

    def __str__(self) -> str:
        return f"{self.channels} channels x {self.blocks} blocks"


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class PolicyValueNet(nn.Module):
    def __init__(self, game: Game, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        planes, rows, cols = game.observation_shape
        c = config.channels
        self.stem = nn.Sequential(nn.Conv2d(planes, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.tower = nn.Sequential(*[_Residual(c) for _ in range(config.blocks)])
        self.policy_head = nn.Sequential(
            nn.Conv2d(c, 2, 1, bias=False),
            nn.BatchNorm2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * rows * cols, game.action_size),
        )
        self.value_head = nn.Sequential(
            nn.Conv2d(c, 1, 1, bias=False),
            nn.BatchNorm2d(1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(rows * cols, 64),
            nn.ReLU(),
            nn.Linear(64, 1),
            nn.Tanh(),
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tower(self.stem(obs))
        return self.policy_head(x), self.value_head(x).squeeze(-1)


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def export_onnx(net: PolicyValueNet, game: Game) -> bytes:
    """Export with a dynamic batch axis and check ONNX Runtime agrees with PyTorch."""
    import onnxruntime as ort

    net.eval()
    example = torch.zeros((2, *game.observation_shape), dtype=torch.float32)
    buffer = io.BytesIO()
    torch.onnx.export(
        net,
        (example,),
        buffer,
        input_names=["obs"],
        output_names=["policy_logits", "value"],
        dynamic_axes={"obs": {0: "batch"}, "policy_logits": {0: "batch"}, "value": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    data = buffer.getvalue()
    probe = torch.from_numpy(np.random.default_rng(0).random((5, *game.observation_shape), dtype=np.float32))
    with torch.no_grad():
        want_p, want_v = net(probe)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got_p, got_v = session.run(None, {"obs": probe.numpy()})
    if not (np.allclose(got_p, want_p.numpy(), atol=1e-4) and np.allclose(got_v, want_v.numpy(), atol=1e-4)):
        raise RuntimeError("ONNX export disagrees with PyTorch outputs")
    return data
