"""cartridge-trainer: wait for new episodes, train, export ONNX, publish the next version.

Iteration N: wait until EPISODES_PER_ITERATION episodes arrived since N-1
started, train, checkpoint (model + optimiser + N), publish vK with the
iteration's metrics, record the iteration in the training log for /stats. After
a kill -9 the trainer resumes from the checkpoint and first completes any
publish or record the crash interrupted, so every trained iteration is
published exactly once.

The iteration number has one owner, the checkpoint (see training_log.py for
why): the manifest's metrics["iteration"] and the training log are copies
written from it and only compared with it here. The episode count that
triggers an iteration is episodes ever written, which pruning never lowers.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

from cartridge.games import Game, get_game
from cartridge.modelstore import CorruptModel, ModelStore, ModelStoreUnavailable
from cartridge.replay import (
    IterationRecord,
    ReplayBuffer,
    ReplayUnavailable,
    TrainingLog,
    training_log_beside,
)
from cartridge.service import StopFlag, run_main
from cartridge.settings import Settings, SettingsError
from cartridge.stores import open_model_store, open_replay
from cartridge.telemetry import StallWatch, configure_logging, serve_health

from . import precision
from .averaging import WeightAverage
from .checkpoint import Checkpointer, TrainerState
from .metrics import TrainerMetrics
from .network import NetConfig, PolicyValueNet, export_onnx, parameter_count
from .pruning import Pruner
from .quantize import agreement, quantize_int8
from .training import Losses, learning_rate, train_iteration

RETRY_MAX_SECONDS = 30.0  # the longest wait between tries while the replay buffer or the model store is down


class Trainer:
    def __init__(
        self, settings: Settings, replay: ReplayBuffer, training_log: TrainingLog, store: ModelStore, log, metrics
    ) -> None:
        self.settings = settings
        self.game: Game = get_game(settings.env_id)
        self.replay = replay
        self.training_log = training_log
        self.progress = StallWatch(settings.health_stall_seconds, "iteration while enough new episodes wait")
        self.store = store
        self.log = log
        self.metrics = metrics
        # channels_last: the layout training.py feeds, so oneDNN never reorders weights or activations per call.
        self.shape = NetConfig(settings.network_channels, settings.network_blocks)
        self.net = PolicyValueNet(self.game, self.shape).to(memory_format=torch.channels_last)
        weights = parameter_count(self.net)
        fp32_bytes = 4 * weights
        if fp32_bytes > settings.model_max_bytes:
            # Every model would be refused by its readers (the fp32 export, and the fallback from int8, is about
            # 4 bytes a weight): say so at start rather than train models nobody loads.
            raise SettingsError(
                f"NETWORK_CHANNELS={self.shape.channels} and NETWORK_BLOCKS={self.shape.blocks} make a network of "
                f"{weights:,} weights, about {fp32_bytes / 2**20:.0f} MiB as an fp32 model, over "
                f"MODEL_MAX_BYTES={settings.model_max_bytes}, so actors, web and arena would refuse its models: "
                "choose a smaller network or raise MODEL_MAX_BYTES for every service"
            )
        self.precision = precision.resolve(settings.trainer_precision)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
        self.average = self._new_average()
        self.checkpoints = Checkpointer(settings.checkpoint_dir, settings.env_id)
        self.iteration = 0
        self.episodes_at_iteration = 0
        self.rng = np.random.default_rng()
        self.last_losses: Losses | None = None

    def resume(self) -> None:
        state = self.checkpoints.load()
        if state is None:
            published = self._published_iteration()
            if published > 0:
                # The checkpoint is gone (a lost volume, another CHECKPOINT_DIR) but the store holds this game's
                # iteration `published`: count on from there, or every new iteration would look published
                # already and nothing new would ever be published or recorded.
                self.log.warning(
                    "no checkpoint, but the model store holds a later iteration: continuing its "
                    "numbering with a fresh network",
                    checkpoint=str(self.checkpoints.path),
                    store_iteration=published,
                )
                self.iteration = published
                self.episodes_at_iteration = self.replay.count_episodes(self.game.name)
                return
            self.log.info(
                "no checkpoint: starting from a fresh network",
                checkpoint=str(self.checkpoints.path),
                network=str(self.shape),
            )
            return
        saved = NetConfig.of(state.model)
        if saved != self.shape:
            # Loading would fail on the first mismatched tensor, and starting afresh would overwrite the
            # checkpoint at the next iteration: stop instead, and leave the choice (and the file) to the user.
            raise SettingsError(
                f"NETWORK_CHANNELS={self.shape.channels} and NETWORK_BLOCKS={self.shape.blocks} do not match the "
                f"checkpoint {self.checkpoints.path} ({saved}): set them to its shape to continue it, or move "
                "it aside to train a new network"
            )
        self.net.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        self.average = self._new_average()
        if self.average is not None and state.average is not None:
            self.average.load_state_dict(state.average)
        self.iteration = state.iteration
        self.episodes_at_iteration = state.episodes_at_iteration
        self.log.info("resumed from checkpoint", iteration=self.iteration)

    def _new_average(self) -> WeightAverage | None:
        """An average that starts from the network as it is now (None: WEIGHT_AVERAGE_HALF_LIFE off)."""
        half_life = self.settings.weight_average_half_life
        return WeightAverage(self.net, half_life) if half_life > 0 else None

    @property
    def published_net(self) -> torch.nn.Module:
        """The network whose weights are published: the average when it is on, else the trained one."""
        return self.average.net if self.average is not None else self.net

    def _published_iteration(self) -> int:
        try:
            manifest = self.store.latest(self.game.name)
        except CorruptModel as exc:  # an unreadable manifest is repaired by the next publish
            self.log.warning("latest manifest unreadable: publishing anew", error=str(exc))
            return 0
        return int(manifest.metrics.get("iteration", 0)) if manifest else 0

    def finish_iteration(self, losses: Losses | None, started: float) -> None:
        """Publish and record the checkpointed iteration, each only if not done yet (idempotent)."""
        env = self.game.name
        if 0 < self.iteration <= self._published_iteration():
            manifest = self.store.latest(env)
        else:
            metrics = {"iteration": self.iteration}
            if losses is not None:
                metrics |= {"policy_loss": losses.policy, "value_loss": losses.value, "total_loss": losses.total}
            model, export = self.export()
            manifest = self.store.publish(env, model, metrics)
            self.log.info("model published", version=manifest.version, **export, **metrics)
        if self.training_log.last_iteration(env) < self.iteration:
            losses = losses or Losses(
                float(manifest.metrics.get("policy_loss", 0.0)), float(manifest.metrics.get("value_loss", 0.0))
            )
            counts = self.replay.counts(env)
            self.training_log.record_iteration(
                IterationRecord(
                    env_id=env,
                    iteration=self.iteration,
                    model_version=manifest.version,
                    policy_loss=losses.policy,
                    value_loss=losses.value,
                    total_loss=losses.total,
                    episodes_seen=counts.episodes,
                    transitions_seen=counts.transitions,
                    duration_s=time.time() - started,
                )
            )
        self.metrics.model_version.labels(env).set(manifest.version)
        self.metrics.iteration.labels(env).set(self.iteration)

    def export(self) -> tuple[bytes, dict]:
        """The ONNX model to publish and how it was made: int8 (EXPORT_PRECISION's default) when the quantized
        model agrees with the network on held-out replay positions, else fp32 with the reason logged."""
        fp32 = export_onnx(self.published_net, self.game)
        if self.settings.export_precision == "fp32":
            return fp32, {"precision": "fp32"}
        batch = self.replay.sample(self.game.name, 1024, self.settings.replay_window)
        if batch is None:
            self.log.warning("no replay positions to calibrate int8 on: publishing fp32")
            return fp32, {"precision": "fp32"}
        # Calibrate on one half, check on the other: the check sees positions the ranges were not fitted to.
        calibration, held_out = batch.observations[:512], batch.observations[512:]
        try:
            int8 = quantize_int8(fp32, calibration)
            check = agreement(int8, self.published_net, held_out)
        except Exception as exc:  # onnxruntime.quantization raises assorted types; fp32 is always a safe answer
            self.log.warning("int8 quantization failed: publishing fp32", error=f"{type(exc).__name__}: {exc}")
            return fp32, {"precision": "fp32"}
        errors = {"int8_policy_error": round(check.policy_error, 4), "int8_value_error": round(check.value_error, 4)}
        if not check.ok:
            self.log.warning("int8 model disagrees with the network: publishing fp32", **errors)
            return fp32, {"precision": "fp32"}
        return int8, {"precision": "int8", **errors}

    def wait_for_episodes(self, stop: StopFlag) -> bool:
        env, need = self.game.name, self.settings.episodes_per_iteration
        last_log = 0.0
        while not stop.is_set():
            have = self.replay.count_episodes(env) - self.episodes_at_iteration
            self.metrics.pending_episodes.labels(env).set(have)
            if have >= need:
                self.progress.expect()
                return True
            self.progress.idle()
            if time.time() - last_log > 30:
                self.log.info("waiting for episodes", have=have, need=need, iteration=self.iteration + 1)
                last_log = time.time()
            stop.wait(1.0)
        return False

    def learning_rate(self) -> float:
        """The next iteration's learning rate (LEARNING_RATE, LEARNING_RATE_HALF_LIFE, LEARNING_RATE_MIN)."""
        s = self.settings
        return learning_rate(s.learning_rate, self.iteration, s.learning_rate_half_life, s.learning_rate_min)

    def run_iteration(self) -> None:
        started = time.time()
        self.episodes_at_iteration = self.replay.count_episodes(self.game.name)
        s = self.settings
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:  # a resumed optimiser's state holds the lr it was saved with
            group["lr"] = lr
        losses = train_iteration(
            self.net,
            self.optimizer,
            self.game,
            self.replay,
            steps=s.train_steps_per_iteration,
            batch_size=s.batch_size,
            window=s.replay_window,
            rng=self.rng,
            precision=self.precision,
            average=self.average,
        )
        self.iteration += 1
        self.checkpoints.save(
            TrainerState(
                self.iteration,
                self.episodes_at_iteration,
                self.net.state_dict(),
                self.optimizer.state_dict(),
                self.average.state_dict() if self.average is not None else None,
            )
        )
        self.metrics.loss.labels(self.game.name, "policy").set(losses.policy)
        self.metrics.loss.labels(self.game.name, "value").set(losses.value)
        self.finish_iteration(losses, started)
        self.metrics.iteration_seconds.labels(self.game.name).observe(time.time() - started)
        self.progress.progressed(expect_more=False)
        self.log.info(
            "iteration finished",
            iteration=self.iteration,
            policy_loss=round(losses.policy, 4),
            value_loss=round(losses.value, 4),
            learning_rate=lr,
            seconds=round(time.time() - started, 2),
        )

    def done(self) -> bool:
        target = self.settings.training_iterations
        return target > 0 and self.iteration >= target


def train_until_done(trainer: Trainer, stop: StopFlag, log) -> None:
    """Iterations until TRAINING_ITERATIONS or a stop signal.

    A storage outage once running (a PostgreSQL restart, MinIO away, a full disk) is waited out in the process,
    with backoff, instead of exiting: the trainer goes back to its last checkpoint, as a restart would, so the
    iteration in flight is trained again from the same state and finish_iteration publishes and records each
    iteration exactly once. (Outages at start-up still fail at once, with one line: a wrong REPLAY_URL is a
    configuration error, not an outage.) While waiting the trainer is idle, not stalled: restarting it would
    not bring the database back."""
    delay, back_to_checkpoint = 1.0, False
    while not trainer.done():
        try:
            if back_to_checkpoint:
                trainer.resume()
                if trainer.iteration > 0:
                    trainer.finish_iteration(None, time.time())
                back_to_checkpoint = False
                log.info("storage back: continuing from the checkpoint", iteration=trainer.iteration)
            if not trainer.wait_for_episodes(stop):
                return
            trainer.run_iteration()
            delay = 1.0
        except (ReplayUnavailable, ModelStoreUnavailable) as exc:
            back_to_checkpoint = True
            trainer.progress.idle()
            log.warning("storage unavailable: retrying from the last checkpoint", error=str(exc), retry_in_s=delay)
            if stop.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX_SECONDS)


def run() -> int:
    settings = Settings.from_env(http_port=9100)
    torch.set_num_threads(settings.trainer_threads)
    log = configure_logging(settings, "trainer")
    stop = StopFlag().install()
    try:
        Checkpointer(settings.checkpoint_dir, settings.env_id).path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"CHECKPOINT_DIR={settings.checkpoint_dir!r} cannot be created: {exc.strerror}") from None
    replay = open_replay(settings)
    replay.ping()
    training_log = training_log_beside(replay)
    store = open_model_store(settings)
    store.ping()
    metrics = TrainerMetrics(
        settings.env_id,
        episodes_per_iteration=settings.episodes_per_iteration,
        max_transitions=settings.replay_max_transitions,
    )
    trainer = Trainer(settings, replay, training_log, store, log, metrics)
    if trainer.precision == "bf16" and not precision.native_bf16():
        log.warning("TRAINER_PRECISION=bf16 on a CPU without native bf16: emulated, slower than fp32")
    trainer.resume()
    if trainer.iteration > 0:
        trainer.finish_iteration(None, time.time())

    def health() -> dict:
        return trainer.progress.health(iteration=trainer.iteration, pid=os.getpid())

    server = serve_health(settings.http_host, settings.http_port, metrics.registry, health)
    pruner = Pruner(settings, log, metrics)
    pruner.start()
    log.info(
        "trainer started",
        iteration=trainer.iteration,
        target=settings.training_iterations,
        episodes_per_iteration=settings.episodes_per_iteration,
        precision=trainer.precision,
        weight_average_half_life=settings.weight_average_half_life,
        port=settings.http_port,
    )
    train_until_done(trainer, stop, log)
    reason = stop.signal_name or f"reached TRAINING_ITERATIONS={settings.training_iterations}"
    log.info("trainer stopped", iteration=trainer.iteration, reason=reason)
    trainer.progress.idle()
    pruner.stop()
    server.shutdown()
    replay.close()
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-trainer", run))
