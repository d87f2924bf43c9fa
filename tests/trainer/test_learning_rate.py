"""LEARNING_RATE_HALF_LIFE: the learning rate halves every so many iterations, to a floor, keyed to the iteration."""

from __future__ import annotations

import pytest

from cartridge_trainer.training import learning_rate
from tests.trainer.test_trainer_metrics import small_iterations, trainers


def test_the_rate_halves_every_half_life_down_to_the_floor():
    assert [learning_rate(0.002, i, 10, 1e-4) for i in (0, 10, 20)] == pytest.approx([0.002, 0.001, 0.0005])
    assert learning_rate(0.002, 5, 10, 1e-4) == pytest.approx(0.002 / 2**0.5)
    assert learning_rate(0.002, 1000, 10, 1e-4) == 1e-4
    assert learning_rate(0.002, 1000, 0, 1e-4) == 0.002  # 0: constant
    assert learning_rate(0.001, 0, 10, 0.01) == 0.001  # a floor above the rate never raises it


def test_the_trainer_follows_the_schedule_and_a_restarted_one_continues_it(tmp_path, make_episode):
    settings = small_iterations(
        tmp_path, steps=1, batch=8, LEARNING_RATE="0.004", LEARNING_RATE_HALF_LIFE="1", LEARNING_RATE_MIN="0.0001"
    )
    with trainers(settings, [make_episode() for _ in range(6)]) as trainer:
        first = trainer()
        used = []
        for _ in range(2):
            first.run_iteration()
            used.append(first.optimizer.param_groups[0]["lr"])
        assert used == pytest.approx([0.004, 0.002])
        # A new process resumes the checkpoint (whose optimiser state holds the last rate) and goes on halving.
        second = trainer()
        second.resume()
        assert second.iteration == 2
        second.run_iteration()
        assert second.optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
