"""Int8 publication: a trained network quantizes into integer convolutions that agree with PyTorch."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from cartridge.games import get_game
from cartridge.inference import OnnxEvaluator
from cartridge.replay import open_replay
from cartridge_trainer.network import PolicyValueNet, export_onnx
from cartridge_trainer.quantize import HEADS, Agreement, agreement, quantize_int8
from cartridge_trainer.training import train_iteration
from testkit.support import random_episode

# The agreement the project promises for a published int8 model, written here and
# not imported, so that loosening the code's tolerance fails this test.
PROMISED_POLICY_ERROR = 0.05  # max |p_int8 - p_torch| over held-out positions and moves
PROMISED_VALUE_ERROR = 0.10  # max |v_int8 - v_torch|


@pytest.fixture(scope="module", params=["tictactoe", "connect4"])
def trained(request, tmp_path_factory):
    """A network after a real training iteration on random games, and positions from the buffer."""
    game = get_game(request.param)
    rng = np.random.default_rng(3)
    url = f"sqlite:///{tmp_path_factory.mktemp('replay')}/replay.db"
    torch.manual_seed(0)
    net = PolicyValueNet(game)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    with open_replay(url) as replay:
        for _ in range(60):
            replay.append_episode(random_episode(game, rng))
        train_iteration(net, optimizer, game, replay, steps=30, batch_size=64, window=10_000, rng=rng)
        calibration = replay.sample(game.name, 512, 10_000).observations
        held_out = replay.sample(game.name, 512, 10_000).observations
    return game, net.eval(), calibration, held_out


def op_types(model: bytes) -> set[str]:
    return {node.op_type for node in onnx.load_from_string(model).graph.node}


def test_a_trained_network_quantizes_to_int8_convolutions_that_agree_with_pytorch(trained):
    game, net, calibration, held_out = trained
    fp32 = export_onnx(net, game)
    int8 = quantize_int8(fp32, calibration)
    ops = op_types(int8)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops, ops
    assert "Conv" in ops  # convolutions between quantize/dequantize pairs: ONNX Runtime runs them in int8
    assert "QuantizeLinear" not in op_types(fp32)
    # The heads stay fp32: no quantize/dequantize pair around their layers.
    head_inputs = {i for n in onnx.load_from_string(int8).graph.node if n.name.startswith(HEADS) for i in n.input}
    quantized_outputs = {
        o for n in onnx.load_from_string(int8).graph.node if n.op_type == "DequantizeLinear" for o in n.output
    }
    assert head_inputs, "no head nodes found by name: HEADS no longer matches the export"
    assert len(head_inputs & quantized_outputs) <= 2, "head layers were quantized"
    check = agreement(int8, net, held_out)
    assert check.ok, check
    # It is a different model, not the fp32 one under another name: outputs differ, a little.
    assert check.policy_error > 0
    assert check.policy_error <= PROMISED_POLICY_ERROR and check.value_error <= PROMISED_VALUE_ERROR, check


def test_the_publication_check_refuses_anything_beyond_the_promised_tolerance():
    assert Agreement(PROMISED_POLICY_ERROR, PROMISED_VALUE_ERROR).ok
    assert not Agreement(PROMISED_POLICY_ERROR * 1.01, 0.0).ok, "a policy error beyond the promise passes"
    assert not Agreement(0.0, PROMISED_VALUE_ERROR * 1.01).ok, "a value error beyond the promise passes"


def test_the_int8_model_keeps_the_onnx_interface_and_dynamic_batch(trained):
    game, net, calibration, held_out = trained
    evaluator = OnnxEvaluator(quantize_int8(export_onnx(net, game), calibration), version=1)
    for n in (1, 7, 200):
        logits, values = evaluator.evaluate(held_out[:n])
        assert logits.shape == (n, game.action_size) and values.shape == (n,)
        assert np.isfinite(logits).all() and np.all(np.abs(values) <= 1.05)


def test_agreement_catches_a_model_of_another_network(trained):
    game, net, _, held_out = trained
    torch.manual_seed(99)
    stranger = export_onnx(PolicyValueNet(game), game)
    check = agreement(stranger, net, held_out)
    assert not check.ok, check


def test_quantizing_without_calibration_positions_is_a_clear_error(trained):
    game, net, calibration, _ = trained
    with pytest.raises(ValueError, match="calibration"):
        quantize_int8(export_onnx(net, game), calibration[:0])
