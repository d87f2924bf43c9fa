"""NETWORK_CHANNELS and NETWORK_BLOCKS: the trainer trains and publishes a network of that shape, and a checkpoint
of another shape stops it with a message instead of being loaded or overwritten."""

from __future__ import annotations

import dataclasses

import onnx
import pytest
from onnx import numpy_helper

from cartridge.games import get_game
from cartridge.settings import SettingsError
from cartridge_trainer.network import NetConfig, PolicyValueNet, parameter_count
from tests.trainer.test_trainer_metrics import small_iterations, trainers


def convolution_shapes(model: bytes) -> list[tuple[int, ...]]:
    """The weight shapes of a published model's 3x3 convolutions, in graph order."""
    graph = onnx.load_from_string(model).graph
    weights = {init.name: numpy_helper.to_array(init).shape for init in graph.initializer}
    convolutions = [weights[node.input[1]] for node in graph.node if node.op_type == "Conv"]
    return [shape for shape in convolutions if shape[2:] == (3, 3)]


@pytest.mark.parametrize("shape", [NetConfig(), NetConfig(16, 1), NetConfig(8, 3)])
def test_the_shape_is_read_back_from_a_state_dict(shape):
    assert NetConfig.of(PolicyValueNet(get_game("connect4"), shape).state_dict()) == shape


def test_the_trainer_publishes_a_network_of_the_set_shape(tmp_path, make_episode):
    settings = small_iterations(tmp_path, steps=2, batch=8, NETWORK_CHANNELS="16", NETWORK_BLOCKS="2")
    planes = get_game("tictactoe").observation_shape[0]
    with trainers(settings, [make_episode() for _ in range(4)]) as new_trainer:
        trainer = new_trainer()
        trainer.run_iteration()
        published = trainer.store.read_version("tictactoe", 1)
        checkpointed = NetConfig.of(trainer.checkpoints.load().model)
    # The stem, then two convolutions in each of the two blocks, all 16 channels wide.
    assert convolution_shapes(published) == [(16, planes, 3, 3)] + [(16, 16, 3, 3)] * 4
    assert checkpointed == NetConfig(16, 2)


def test_a_checkpoint_of_another_shape_stops_the_trainer_and_is_kept(tmp_path, make_episode):
    small = small_iterations(tmp_path, steps=2, batch=8, NETWORK_CHANNELS="16")
    with trainers(small, [make_episode() for _ in range(4)]) as trainer:
        first = trainer()
        first.run_iteration()
        checkpoint = first.checkpoints.path
        saved = checkpoint.read_bytes()
        assert NetConfig.of(first.checkpoints.load().model) == NetConfig(16, 4)

        # The same shape resumes it ...
        again = trainer()
        again.resume()
        assert again.iteration == 1

    # ... another one refuses it, naming both shapes and the file, and leaves the file as it was.
    wider = dataclasses.replace(small, network_channels=32, network_blocks=3)
    with trainers(wider, []) as trainer, pytest.raises(SettingsError) as refused:
        trainer().resume()
    message = str(refused.value)
    assert "NETWORK_CHANNELS=32 and NETWORK_BLOCKS=3" in message
    assert "(16 channels x 4 blocks)" in message and str(checkpoint) in message
    assert checkpoint.read_bytes() == saved


def test_a_network_too_big_for_the_readers_is_refused_at_start(tmp_path):
    # The readers' limit one byte below the network's fp32 size (4 bytes a weight), then at it.
    settings = small_iterations(tmp_path, steps=1, batch=8, NETWORK_CHANNELS="16", NETWORK_BLOCKS="1")
    weights = parameter_count(PolicyValueNet(get_game("tictactoe"), NetConfig(16, 1)))
    limit = 4 * weights - 1
    too_small = dataclasses.replace(settings, model_max_bytes=limit)
    with trainers(too_small, []) as trainer, pytest.raises(SettingsError) as refused:
        trainer()
    assert f"make a network of {weights:,} weights" in str(refused.value)
    assert f"over MODEL_MAX_BYTES={limit}" in str(refused.value)
    with trainers(dataclasses.replace(settings, model_max_bytes=limit + 1), []) as trainer:
        assert trainer().shape == NetConfig(16, 1)
