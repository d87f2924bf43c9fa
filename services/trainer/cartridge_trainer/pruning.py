"""The trainer keeps the replay buffer under REPLAY_MAX_TRANSITIONS: a thread deletes whole episodes,
oldest first, in small transactions, on its own connection (training never waits for it, actors only for
one short batch's row locks)."""

from __future__ import annotations

import threading

from cartridge.replay import ReplayUnavailable
from cartridge.settings import Settings
from cartridge.stores import open_replay

PRUNE_EVERY_SECONDS = 1.0


class Pruner(threading.Thread):
    def __init__(self, settings: Settings, log) -> None:
        super().__init__(name="replay-pruner", daemon=True)
        self.settings, self.log = settings, log
        self.env_id, self.max_transitions = settings.env_id, settings.replay_max_transitions
        self.stop_event = threading.Event()
        self.pruned = 0

    def run(self) -> None:
        replay = None
        while not self.stop_event.wait(PRUNE_EVERY_SECONDS):
            try:
                replay = replay or open_replay(self.settings)
                if deleted := replay.prune(self.env_id, self.max_transitions):
                    self.pruned += deleted
                    self.log.debug("replay pruned", transitions=deleted, bound=self.max_transitions)
            except ReplayUnavailable as exc:  # the next round tries again (the connection reconnects itself)
                self.log.warning("replay pruning failed: retrying", error=str(exc))
        if replay is not None:
            replay.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join()
