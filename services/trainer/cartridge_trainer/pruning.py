"""The trainer keeps the replay buffer under REPLAY_MAX_TRANSITIONS: a thread deletes whole episodes,
oldest first, in small transactions, on its own connection (training never waits for it, actors only for
one short batch's row locks). After each round it reports the transitions stored, so an alert sees a bound the
pruner cannot keep (cartridge_replay_stored_transitions against cartridge_replay_max_transitions)."""

from __future__ import annotations

import threading

from cartridge.replay import ReplayBuffer, ReplayUnavailable
from cartridge.settings import Settings
from cartridge.stores import open_replay

from .metrics import TrainerMetrics

PRUNE_EVERY_SECONDS = 1.0


class Pruner(threading.Thread):
    def __init__(self, settings: Settings, log, metrics: TrainerMetrics) -> None:
        super().__init__(name="replay-pruner", daemon=True)
        self.settings, self.log, self.metrics = settings, log, metrics
        self.env_id, self.max_transitions = settings.env_id, settings.replay_max_transitions
        self.stop_event = threading.Event()
        self.pruned = 0

    def run(self) -> None:
        replay = None
        while not self.stop_event.wait(PRUNE_EVERY_SECONDS):
            try:
                replay = replay or open_replay(self.settings)
                self.prune_once(replay)
            except ReplayUnavailable as exc:  # the next round tries again (the connection reconnects itself)
                self.log.warning("replay pruning failed: retrying", error=str(exc))
        if replay is not None:
            replay.close()

    def prune_once(self, replay: ReplayBuffer) -> None:
        if deleted := replay.prune(self.env_id, self.max_transitions):
            self.pruned += deleted
            self.log.debug("replay pruned", transitions=deleted, bound=self.max_transitions)
        stored = replay.counts(self.env_id).stored_transitions
        self.metrics.stored_transitions.labels(self.env_id).set(stored)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
