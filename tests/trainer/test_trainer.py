"""The trainer as a real process: iterations, publication, checkpoint resume after kill -9."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cartridge.games import get_game
from cartridge.modelstore import CorruptModel, open_model_store
from cartridge.replay import IterationRecord, open_replay, open_training_log
from cartridge_trainer.checkpoint import Checkpointer, TrainerState
from cartridge_trainer.network import PolicyValueNet
from testkit.support import free_port, random_episode, wait_until
from tests.health_probe import probe_health, unhealthy_body

EPISODES_PER_ITERATION = 8


def trainer_env(tmp_path: Path, iterations: int) -> dict[str, str]:
    return {
        "ENV_ID": "tictactoe",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "TRAINING_ITERATIONS": str(iterations),
        "EPISODES_PER_ITERATION": str(EPISODES_PER_ITERATION),
        "TRAIN_STEPS_PER_ITERATION": "20",
        "BATCH_SIZE": "32",
        "HTTP_PORT": str(free_port()),
    }


class EpisodeFeeder(threading.Thread):
    """Plays random games into the buffer, as actors would, until stopped."""

    def __init__(self, replay_url: str) -> None:
        super().__init__(daemon=True)
        self.replay_url = replay_url
        self.stop_event = threading.Event()

    def run(self) -> None:
        game, rng = get_game("tictactoe"), np.random.default_rng(7)
        with open_replay(self.replay_url) as replay:
            while not self.stop_event.wait(0.02):
                replay.append_episode(random_episode(game, rng))


def last_iteration(env: dict[str, str], at_least: int) -> IterationRecord | None:
    """The newest iteration record once there are ``at_least`` of them."""
    with open_training_log(env["REPLAY_URL"]) as log:
        records = log.iterations("tictactoe")
    return records[-1] if len(records) >= at_least else None


def run_trainer_while_feeding(env: dict[str, str], start_service):
    """Run the trainer to its exit (code 0 asserted) while random episodes keep arriving."""
    feeder = EpisodeFeeder(env["REPLAY_URL"])
    feeder.start()
    try:
        trainer = start_service("cartridge_trainer", env, "trainer")
        assert trainer.wait(timeout=240) == 0, trainer.log_text()
    finally:
        feeder.stop_event.set()
        feeder.join()
    return trainer


def test_checkpoint_round_trip_restores_model_optimizer_and_iteration(tmp_path):
    game = get_game("tictactoe")
    net = PolicyValueNet(game)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.zeros((1, *game.observation_shape)))[0].sum().backward()
    opt.step()
    ckpt = Checkpointer(tmp_path, "tictactoe")
    assert ckpt.load() is None
    ckpt.save(TrainerState(3, 120, net.state_dict(), opt.state_dict()))
    state = ckpt.load()
    assert (state.iteration, state.episodes_at_iteration) == (3, 120)
    fresh = PolicyValueNet(game)
    fresh.load_state_dict(state.model)
    for a, b in zip(net.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert state.optimizer["state"], "optimizer moments were not saved"
    assert not list(tmp_path.glob(".tmp-*")), "temporary checkpoint files left behind"


def test_trainer_publishes_one_version_per_iteration_and_stops(tmp_path, start_service):
    env = trainer_env(tmp_path, iterations=2)
    trainer = run_trainer_while_feeding(env, start_service)
    store = open_model_store(env["MODEL_STORE_URL"])
    assert store.versions("tictactoe") == [1, 2]
    assert store.latest("tictactoe").metrics["iteration"] == 2
    with open_training_log(env["REPLAY_URL"]) as log:
        records = log.iterations("tictactoe")
    assert [r.iteration for r in records] == [1, 2]
    assert [r.model_version for r in records] == [1, 2]
    assert all(r.policy_loss > 0 and r.value_loss >= 0 for r in records)
    assert records[1].episodes_seen - records[0].episodes_seen >= EPISODES_PER_ITERATION
    assert "reached TRAINING_ITERATIONS=2" in trainer.log_text()
    # EXPORT_PRECISION's default: what is published is the int8 model, checked against the network.
    published = onnx.load_from_string(store.read_version("tictactoe", 2))
    assert "QuantizeLinear" in {node.op_type for node in published.graph.node}
    assert '"precision": "int8"' in trainer.log_text()


def test_export_precision_fp32_publishes_the_plain_export(tmp_path, start_service):
    env = {**trainer_env(tmp_path, iterations=1), "EXPORT_PRECISION": "fp32"}
    with open_replay(env["REPLAY_URL"]) as replay:
        game, rng = get_game("tictactoe"), np.random.default_rng(1)
        for _ in range(EPISODES_PER_ITERATION):
            replay.append_episode(random_episode(game, rng))
    trainer = start_service("cartridge_trainer", env, "trainer")
    assert trainer.wait(timeout=240) == 0, trainer.log_text()
    published = onnx.load_from_string(open_model_store(env["MODEL_STORE_URL"]).read_version("tictactoe", 1))
    ops = {node.op_type for node in published.graph.node}
    assert "QuantizeLinear" not in ops and "Conv" in ops
    assert '"precision": "fp32"' in trainer.log_text()


@pytest.mark.slow
def test_kill_9_during_training_and_publishing_loses_nothing_and_resumes(tmp_path, start_service):
    iterations = 6
    env = trainer_env(tmp_path, iterations)
    store = open_model_store(env["MODEL_STORE_URL"])
    reader_errors: list[str] = []
    seen_versions: list[int] = []
    stop_reader = threading.Event()

    def reader() -> None:
        while not stop_reader.is_set():
            try:
                fetched = store.fetch_latest("tictactoe")
            except CorruptModel as exc:  # a partial model or manifest would show up here
                reader_errors.append(str(exc))
                continue
            if fetched:
                seen_versions.append(fetched[0].version)

    feeder = EpisodeFeeder(env["REPLAY_URL"])
    feeder.start()
    reader_thread = threading.Thread(target=reader, daemon=True)
    reader_thread.start()
    rng = random.Random(11)
    kills = iterations - 2  # each restart still has work left: kill k lands in iteration k + 1
    try:
        for done in range(1, kills + 1):
            trainer = start_service("cartridge_trainer", env, "trainer")
            # Event-based, whatever this machine's pace: once iteration ``done`` is recorded, kill at a random
            # point of the next one (training, checkpoint, export or publication), scaled by how long one takes.
            record = wait_until(lambda done=done: last_iteration(env, done), 120, f"iteration {done} to be recorded")
            time.sleep(rng.uniform(0.0, 1.0) * record.duration_s)
            assert trainer.proc.poll() is None, f"the trainer exited before kill {done}: {trainer.log_text()[-2000:]}"
            trainer.kill()
        trainer = start_service("cartridge_trainer", env, "trainer")
        assert trainer.wait(timeout=300) == 0, trainer.log_text()
    finally:
        feeder.stop_event.set()
        stop_reader.set()
        feeder.join()
        reader_thread.join()
    assert not reader_errors, reader_errors[:3]
    assert seen_versions == sorted(seen_versions), "a reader saw the version go backwards"
    with open_training_log(env["REPLAY_URL"]) as log:
        records = log.iterations("tictactoe")
    # Every iteration trained exactly once, each published exactly once, in order.
    assert [r.iteration for r in records] == list(range(1, iterations + 1))
    # Versions 1..N without gaps: a model file left by a publish killed before its manifest is replaced.
    assert [r.model_version for r in records] == list(range(1, iterations + 1))
    latest = store.latest("tictactoe")
    assert latest.metrics["iteration"] == iterations and latest.version == records[-1].model_version
    assert "resumed from checkpoint" in trainer.log_text()


def test_the_trainer_prunes_to_the_bound_and_its_trigger_counts_episodes_ever_written(tmp_path, start_service):
    # ~15 tictactoe episodes fit the bound: a trigger on stored episodes would wait forever for iteration 2.
    env = trainer_env(tmp_path, iterations=3) | {"REPLAY_WINDOW": "100", "REPLAY_MAX_TRANSITIONS": "100"}
    run_trainer_while_feeding(env, start_service)
    with open_replay(env["REPLAY_URL"]) as replay, open_training_log(env["REPLAY_URL"]) as log:
        counts = replay.counts("tictactoe")
        records = log.iterations("tictactoe")
    assert [r.iteration for r in records] == [1, 2, 3]
    assert records[-1].episodes_seen >= 2 * EPISODES_PER_ITERATION and counts.episodes > counts.stored_episodes
    assert counts.transitions > 3 * 100 and counts.stored_transitions < counts.transitions


def test_a_trainer_with_enough_episodes_but_no_iteration_reports_unhealthy(tmp_path, start_service):
    # Iterations that never end; HEALTH_STALL_SECONDS short.
    env = trainer_env(tmp_path, 1) | {"TRAIN_STEPS_PER_ITERATION": "100000000", "HEALTH_STALL_SECONDS": "2"}
    trainer = start_service("cartridge_trainer", env, "trainer")
    wait_until(lambda: "trainer started" in trainer.log_text(), 120, "the trainer to start")
    time.sleep(3)  # past HEALTH_STALL_SECONDS with too few episodes: no progress is expected, so healthy
    assert probe_health(env["HTTP_PORT"]) == (200, {"status": "ok", "iteration": 0, "pid": trainer.proc.pid})
    game, rng = get_game("tictactoe"), np.random.default_rng(3)
    with open_replay(env["REPLAY_URL"]) as replay:
        for _ in range(EPISODES_PER_ITERATION):
            replay.append_episode(random_episode(game, rng))
    body = wait_until(lambda: unhealthy_body(env["HTTP_PORT"]), 60, "/health to answer 503")
    assert body["status"] == "stalled" and "no iteration while enough new episodes wait" in body["problem"], body


def test_unwritable_checkpoint_dir_is_a_one_line_configuration_error(tmp_path, start_service):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = trainer_env(tmp_path, 1) | {"CHECKPOINT_DIR": str(blocker / "checkpoints")}
    trainer = start_service("cartridge_trainer", env, "trainer")
    assert trainer.wait(timeout=60) == 2
    out = trainer.log_text()
    assert "CHECKPOINT_DIR" in out and "Traceback" not in out


def test_unreachable_database_is_a_clear_error(tmp_path, start_service):
    env = trainer_env(tmp_path, 1) | {"REPLAY_URL": f"postgresql://u:secret@127.0.0.1:{free_port()}/db"}
    trainer = start_service("cartridge_trainer", env, "trainer")
    assert trainer.wait(timeout=60) == 3
    out = trainer.log_text()
    assert "Traceback" not in out and "secret" not in out and "127.0.0.1" in out


def test_a_corrupt_latest_manifest_is_repaired_by_the_next_publish(tmp_path, start_service):
    env = trainer_env(tmp_path, iterations=1)
    store = open_model_store(env["MODEL_STORE_URL"])
    store.publish("tictactoe", b"an old model")
    (tmp_path / "models" / "tictactoe" / "latest.json").write_text("{torn")
    run_trainer_while_feeding(env, start_service)
    manifest, _ = store.fetch_latest("tictactoe")
    assert manifest.version == 2 and manifest.metrics["iteration"] == 1


def test_without_a_checkpoint_the_trainer_counts_on_from_the_stores_iteration(tmp_path, start_service):
    # The checkpoint volume is lost but the store holds iteration 3: the trainer must still publish.
    env = trainer_env(tmp_path, iterations=5)
    store = open_model_store(env["MODEL_STORE_URL"])
    store.publish("tictactoe", b"a model from before the checkpoint was lost", {"iteration": 3})
    trainer = run_trainer_while_feeding(env, start_service)
    assert store.versions("tictactoe") == [1, 2, 3]
    assert [store.latest("tictactoe").metrics["iteration"]] == [5]
    with open_training_log(env["REPLAY_URL"]) as log:
        assert [r.iteration for r in log.iterations("tictactoe")] == [3, 4, 5]
    assert "continuing its numbering with a fresh network" in trainer.log_text()


def test_a_database_outage_once_running_is_waited_out_and_nothing_is_published_twice(
    tmp_path, start_service, postgres_database
):
    """PostgreSQL restarting under a running trainer (sessions ended, new ones refused) is not fatal: the trainer
    stays up, goes back to its checkpoint when the database returns, and goes on; every iteration is published
    and recorded once."""
    from testkit.postgres import outage

    env = trainer_env(tmp_path, 3) | {"REPLAY_URL": postgres_database}
    game, rng = get_game("tictactoe"), np.random.default_rng(3)

    def feed(episodes: int) -> None:  # a new connection each time, as an actor has after an outage
        with open_replay(postgres_database) as replay:
            for _ in range(episodes):
                replay.append_episode(random_episode(game, rng))

    feed(EPISODES_PER_ITERATION)
    trainer = start_service("cartridge_trainer", env, "trainer")
    wait_until(lambda: last_iteration(env, 1), 120, "iteration 1")
    with outage(postgres_database):
        wait_until(
            lambda: "storage unavailable" in trainer.log_text() or trainer.proc.poll() is not None,
            30,
            "the trainer to meet the outage",
        )
        time.sleep(3)  # a few retries while the database stays down
        assert trainer.proc.poll() is None, f"the trainer exited during the outage:\n{trainer.log_text()[-3000:]}"
    for iteration in (2, 3):  # an iteration counts the episodes since the last one began: feed one at a time
        feed(EPISODES_PER_ITERATION)
        wait_until(
            lambda i=iteration: last_iteration(env, i) or trainer.proc.poll() is not None, 120, f"iteration {iteration}"
        )
    assert trainer.wait(timeout=60) == 0, trainer.log_text()[-3000:]
    assert "storage back: continuing from the checkpoint" in trainer.log_text()
    with open_training_log(postgres_database) as log:
        assert [r.iteration for r in log.iterations("tictactoe")] == [1, 2, 3]
        assert [r.model_version for r in log.iterations("tictactoe")] == [1, 2, 3]
    assert open_model_store(env["MODEL_STORE_URL"]).versions("tictactoe") == [1, 2, 3]
