"""A tictactoe network that is strong by construction: perfect minimax distilled into a small PolicyValueNet in a few
seconds (every reachable position; the policy target is the optimal moves, the value target the game value). Next to
the untrained model it makes a pair whose strengths are known, for the gate's tests."""

from __future__ import annotations

import numpy as np

from cartridge.arena.positions import solved_positions
from cartridge.games import get_game


def minimax_distilled_model(steps: int = 150) -> bytes:
    import torch

    from cartridge_trainer.network import NetConfig, PolicyValueNet, export_onnx

    game = get_game("tictactoe")
    solved = solved_positions(game)
    positions = [game.from_actions(p.moves) for p in solved]
    policies, values = np.zeros((len(solved), game.action_size), np.float32), np.zeros(len(solved), np.float32)
    for i, labelled in enumerate(solved):
        policies[i, list(labelled.optimal)] = 1 / len(labelled.optimal)
        values[i] = labelled.value
    torch.manual_seed(0)
    net = PolicyValueNet(game, NetConfig(channels=8, blocks=1))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.03)
    obs, target_policy, target_value = (torch.from_numpy(a) for a in (game.observations(positions), policies, values))
    net.train()
    for _ in range(steps):
        logits, value = net(obs)
        loss = -(target_policy * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        loss = loss + torch.mean((value - target_value) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return export_onnx(net, game)
