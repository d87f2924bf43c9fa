"""Training log: one record per trainer iteration (losses, counts, duration), for the web's /stats.

It lives in the replay buffer's database (REPLAY_URL, table ``iterations``) but is its own interface: the
trainer writes it, the web reads it, actors never touch it.

Which iteration number is the truth: the trainer's checkpoint. The checkpoint is written first, right after
an iteration trains, and the network and optimiser it holds only make sense with their iteration number;
the published manifest's ``metrics["iteration"]`` and this log are written from it afterwards, and on
start the trainer compares both with the checkpoint and completes what a crash left out
(``Trainer.finish_iteration``). The log is therefore a derived history: it may lag the checkpoint by one
iteration for a moment, never lead it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .database import SqlDatabase
from .schema import ITERATION_COLUMNS


@dataclass(frozen=True)
class IterationRecord:
    env_id: str
    iteration: int
    model_version: int
    policy_loss: float
    value_loss: float
    total_loss: float
    episodes_seen: int
    transitions_seen: int
    duration_s: float
    finished_at: float = field(default_factory=time.time)


class TrainingLog:
    """Thread-compatible per instance; open one per process with ``cartridge.replay.open_training_log``."""

    def __init__(self, database: SqlDatabase) -> None:
        self._db = database
        self.url = database.url

    def record_iteration(self, record: IterationRecord) -> None:
        """Write the record; a record of the same game and iteration is replaced."""
        with self._db.lock, self._db.transaction() as cur:
            cur.execute(
                self._db.q(self._db.upsert_iteration_sql()),
                (
                    record.env_id,
                    record.iteration,
                    record.model_version,
                    record.policy_loss,
                    record.value_loss,
                    record.total_loss,
                    record.episodes_seen,
                    record.transitions_seen,
                    record.duration_s,
                    record.finished_at,
                ),
            )

    def iterations(self, env_id: str, limit: int = 1000) -> list[IterationRecord]:
        """Iteration records of ``env_id``, oldest first (the newest ``limit``)."""
        rows = self._db.fetch(
            f"SELECT {ITERATION_COLUMNS} FROM iterations WHERE env_id = ? ORDER BY iteration DESC LIMIT ?",
            (env_id, limit),
        )
        return [IterationRecord(*row) for row in reversed(rows)]

    def last_iteration(self, env_id: str) -> int:
        """The newest recorded iteration of ``env_id``, 0 when none."""
        records = self.iterations(env_id, limit=1)
        return records[-1].iteration if records else 0

    def ping(self) -> None:
        self._db.ping()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TrainingLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
