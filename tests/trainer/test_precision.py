"""The trainer's arithmetic: bf16 autocast where the CPU does bf16 natively, fp32 weights and export either way."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cartridge.games import get_game
from cartridge.replay import open_replay
from cartridge.settings import Settings, SettingsError
from cartridge_trainer import precision
from cartridge_trainer.network import PolicyValueNet, export_onnx
from cartridge_trainer.training import train_iteration
from testkit.support import random_episode


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, as the trainer runs by default (TRAINER_THREADS=1): on 2 shared cores torch's default of
    one thread per core spins against the other processes and makes these steps 5x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def replay(tmp_path):
    game, rng = get_game("tictactoe"), np.random.default_rng(3)
    with open_replay(f"sqlite:///{tmp_path}/replay.db") as buffer:
        for _ in range(60):
            buffer.append_episode(random_episode(game, rng))
        yield buffer


def conv_dtypes(net: torch.nn.Module) -> list[torch.dtype]:
    """The output dtypes of every convolution in one forward pass, collected by hooks."""
    seen: list[torch.dtype] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        for m in net.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    return seen, hooks


@pytest.mark.parametrize("name, dtype", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_training_runs_its_convolutions_in_the_chosen_precision_and_keeps_fp32_weights(replay, name, dtype):
    game = get_game("tictactoe")
    net = PolicyValueNet(game).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    seen, hooks = conv_dtypes(net)
    train_iteration(
        net, optimizer, game, replay, steps=2, batch_size=16, window=1000, rng=np.random.default_rng(0), precision=name
    )
    for hook in hooks:
        hook.remove()
    assert seen and set(seen) == {dtype}
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    # The export after bf16 steps is the plain fp32 one, checked against PyTorch by export_onnx itself.
    assert export_onnx(net, game)


def test_bf16_training_learns_as_fp32_does(tmp_path):
    """The same steps from the same start in both precisions, on three games the network can learn by heart: both
    bring the value loss well down (the policy's floor is the targets' entropy), to about the same place."""
    game, rng = get_game("tictactoe"), np.random.default_rng(5)
    replay = open_replay(f"sqlite:///{tmp_path}/few.db")
    for _ in range(3):
        replay.append_episode(random_episode(game, rng))
    results = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        random.seed(0)  # the replay draws its batches with the random module: the same batches for both
        net = PolicyValueNet(game).to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3)

        def train(steps: int, seed: int, name=name, net=net, optimizer=optimizer):
            rng = np.random.default_rng(seed)
            return train_iteration(
                net, optimizer, game, replay, steps=steps, batch_size=32, window=1000, rng=rng, precision=name
            )

        first, last = train(1, seed=1), train(60, seed=2)
        results[name] = (first.value, last.value)
    replay.close()
    for first, last in results.values():
        assert last < first / 2
    assert results["bf16"][1] == pytest.approx(results["fp32"][1], abs=0.05)


def test_auto_is_bf16_exactly_where_the_cpu_does_bf16_natively(monkeypatch):
    assert precision.resolve("auto") == ("bf16" if precision.native_bf16() else "fp32")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert precision.resolve("auto") == "fp32"
    assert precision.resolve("bf16") == "bf16"  # asked for explicitly: the trainer warns, but obeys
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert precision.resolve("auto") == "bf16"


def test_trainer_precision_setting_names_what_it_accepts():
    assert Settings.from_env({}).trainer_precision == "auto"
    assert Settings.from_env({"TRAINER_PRECISION": "BF16"}).trainer_precision == "bf16"
    with pytest.raises(SettingsError, match=r"TRAINER_PRECISION='fp16'.*auto, bf16, fp32"):
        Settings.from_env({"TRAINER_PRECISION": "fp16"})
