"""WEIGHT_AVERAGE_HALF_LIFE: the trainer publishes a moving average of its weights and keeps it across restarts."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from cartridge.games import get_game
from cartridge_trainer.averaging import WeightAverage
from cartridge_trainer.network import PolicyValueNet
from tests.trainer.test_trainer_metrics import small_iterations, trainers


def filled(net: torch.nn.Module, value: float) -> torch.nn.Module:
    """Every floating-point tensor of the state (weights and BatchNorm statistics) set to ``value``."""
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.fill_(value)
            else:
                tensor.fill_(int(value))
    return net


def test_the_average_is_the_plain_mean_at_first_then_decays_by_the_half_life():
    net = PolicyValueNet(get_game("tictactoe"))
    average = WeightAverage(filled(net, 0.0), half_life_steps=2)
    decay = 0.5**0.5
    want = []
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
        average.update(filled(net, value))
        # The mean of the steps so far while 1 - 1/n < decay (n <= 3 here), then the exponential average.
        keep = min(decay, 1 - 1 / step)
        want.append(value if step == 1 else keep * want[-1] + (1 - keep) * value)
        state = average.net.state_dict()
        for name, tensor in state.items():
            if tensor.is_floating_point():
                assert torch.allclose(tensor, torch.full_like(tensor, want[-1])), (step, name)
            else:  # BatchNorm's batch counter is the network's, not averaged
                assert int(tensor.flatten()[0]) == int(value), (step, name)
    assert want[:3] == pytest.approx([1.0, 1.5, 2.0])
    assert want[4] == pytest.approx(decay * (decay * 2.0 + (1 - decay) * 4.0) + (1 - decay) * 5.0)
    # A step's weight halves after one half-life: the last value counts 1 - decay, the one before (1 - decay) x decay.
    assert average.steps == 5


def test_a_half_life_below_one_step_is_refused():
    with pytest.raises(ValueError, match="half_life_steps must be >= 1"):
        WeightAverage(PolicyValueNet(get_game("tictactoe")), 0)


def outputs(model: bytes | torch.nn.Module, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(model, bytes):
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        logits, value = session.run(None, {"obs": obs})
        return logits, value.reshape(-1)
    model.eval()
    with torch.no_grad():
        logits, value = model(torch.from_numpy(obs))
    return logits.numpy(), value.numpy().reshape(-1)


def test_the_trainer_publishes_the_average_and_a_restarted_trainer_continues_it(tmp_path, make_episode):
    settings = small_iterations(tmp_path, steps=6, batch=16, LEARNING_RATE="0.01", WEIGHT_AVERAGE_HALF_LIFE="4")
    game = get_game("tictactoe")
    obs = np.random.default_rng(3).random((16, *game.observation_shape), dtype=np.float32)
    with trainers(settings, [make_episode() for _ in range(8)]) as trainer:
        first = trainer()
        first.run_iteration()
        assert first.average is not None and first.average.steps == 6
        published = first.store.read_version("tictactoe", 1)
        want_logits, want_value = outputs(first.average.net, obs)
        got_logits, got_value = outputs(published, obs)
        np.testing.assert_allclose(got_logits, want_logits, atol=1e-4)
        np.testing.assert_allclose(got_value, want_value, atol=1e-4)
        trained_logits, _ = outputs(first.net, obs)
        assert np.abs(trained_logits - got_logits).max() > 1e-2, "the trained weights were published, not the average"

        # A new process resumes the checkpoint's average, not a fresh copy of the trained weights.
        second = trainer()
        second.resume()
        assert second.average is not None and second.average.steps == 6
        for name, tensor in first.average.net.state_dict().items():
            assert torch.equal(second.average.net.state_dict()[name], tensor), name
        second.run_iteration()
        assert second.average.steps == 12


def test_with_the_average_off_the_trained_weights_are_published(tmp_path, make_episode):
    settings = small_iterations(tmp_path, steps=3, batch=16)
    game = get_game("tictactoe")
    obs = np.random.default_rng(4).random((8, *game.observation_shape), dtype=np.float32)
    with trainers(settings, [make_episode() for _ in range(4)]) as new_trainer:
        trainer = new_trainer()
        trainer.run_iteration()
        assert trainer.average is None
        np.testing.assert_allclose(
            outputs(trainer.store.read_version("tictactoe", 1), obs)[0], outputs(trainer.net, obs)[0], atol=1e-4
        )
