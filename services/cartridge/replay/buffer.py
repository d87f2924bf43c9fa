"""The replay buffer over a SQL database (SQLite or PostgreSQL): writing, sampling, pruning, counts."""

from __future__ import annotations

import random
import time

import numpy as np

from .base import Batch, Episode, ReplayBuffer, ReplayCounts
from .codec import check_transitions, decode_batch, encode_observation, encode_policy
from .database import SqlDatabase
from .schema import ADD_TO_COUNTERS, COUNTER_SHARDS, EPISODE_COLUMNS


class SqlReplayBuffer(ReplayBuffer):
    """The buffer on ``database``, whose connection a training log, the arena's ratings reader and test reads
    may share (``cartridge.replay.training_log_beside``)."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database
        self.url = database.url

    def append_episode(self, episode: Episode) -> None:
        check_transitions(episode.env_id, episode.transitions)
        now = episode.created_at
        rows = [
            (
                episode.episode_id,
                episode.env_id,
                t.step,
                encode_observation(t.observation),
                encode_policy(t.policy),
                float(t.value),
                int(t.action),
                episode.model_version,
                now,
            )
            for t in episode.transitions
        ]
        db = self.database
        with db.lock, db.transaction() as cur:
            # Idempotent: an episode id already stored means this is a retry of a write whose commit went
            # through before the connection broke, so the episode is there, whole, and nothing is added
            # (neither rows nor counts).
            cur.execute(
                db.q(
                    f"INSERT INTO episodes ({EPISODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (episode_id) DO NOTHING"
                ),
                (
                    episode.episode_id,
                    episode.env_id,
                    episode.actor_id,
                    episode.model_version,
                    episode.winner,
                    len(episode.transitions),
                    episode.duration_s,
                    now,
                ),
            )
            if cur.rowcount == 1:
                db.insert_transitions(cur, rows)
                # Last, so the counter row is locked only for the commit.
                self._add_to_counters(cur, episode.env_id, len(rows), written=True)

    def _add_to_counters(self, cur, env_id: str, transitions: int, written: bool, episodes: int = 1) -> None:
        shard = random.randrange(COUNTER_SHARDS)
        added = (episodes, transitions, 0, 0) if written else (0, 0, episodes, transitions)
        cur.execute(self.database.q(ADD_TO_COUNTERS), (env_id, shard, *added))

    def sample(self, env_id: str, batch_size: int, window: int) -> Batch | None:
        if batch_size < 1 or window < 1:
            raise ValueError(f"sample needs batch_size >= 1 and window >= 1 (got {batch_size}, {window})")
        # Two single-aggregate queries: each is one index probe, a combined min/max is a scan in SQLite.
        highest = self.database.fetch("SELECT max(id) FROM transitions WHERE env_id = ?", (env_id,))[0][0]
        lowest = self.database.fetch("SELECT min(id) FROM transitions WHERE env_id = ?", (env_id,))[0][0]
        if highest is None:
            return None
        # The window is the newest `window` ids. Ids are dense per deployment (one game per buffer); ids of
        # another game or lost to a rolled-back insert are simply drawn again below. Counting back
        # `window` rows of this game exactly would cost an index scan per batch.
        lo = max(lowest, highest - window + 1)
        wanted = [random.randint(lo, highest) for _ in range(batch_size)]
        rows: dict[int, tuple] = {}
        for _ in range(20):  # ids missing from the window (gaps, other games) are drawn again
            missing = sorted({i for i in wanted if i not in rows})
            if not missing:
                break
            marks = ", ".join("?" for _ in missing)
            for row in self.database.fetch(
                f"SELECT id, observation, policy, value FROM transitions WHERE env_id = ? AND id IN ({marks})",
                (env_id, *missing),
            ):
                rows[row[0]] = row[1:]
            wanted = [i if i in rows else random.randint(lo, highest) for i in wanted]
        picked = [rows[i] for i in wanted if i in rows]
        if not picked:
            return None
        obs, pol = decode_batch(env_id, [bytes(r[0]) for r in picked], [bytes(r[1]) for r in picked])
        return Batch(obs, pol, np.array([r[2] for r in picked], dtype=np.float32))

    def prune(self, env_id: str, max_transitions: int, batch_transitions: int = 2_000, max_batches: int = 20) -> int:
        if max_transitions < 1 or batch_transitions < 1:
            raise ValueError(
                f"prune needs max_transitions >= 1 and batch_transitions >= 1 "
                f"(got {max_transitions}, {batch_transitions})"
            )
        pruned = 0
        db = self.database
        for _ in range(max_batches):
            excess = self.counts(env_id).stored_transitions - max_transitions
            if excess <= 0:
                break
            # The oldest rows by insertion (the sampling window's order), an index range of (env_id, id);
            # their episodes go whole, so a batch may take a little more than `excess`.
            oldest = self.database.fetch(
                "SELECT episode_id FROM transitions WHERE env_id = ? ORDER BY id LIMIT ?",
                (env_id, min(excess, batch_transitions)),
            )
            episode_ids = list(dict.fromkeys(row[0] for row in oldest))
            if not episode_ids:
                break
            marks = ", ".join("?" for _ in episode_ids)
            # Row locks only (no table lock): actors keep inserting new episodes meanwhile.
            with db.lock, db.transaction() as cur:
                cur.execute(db.q(f"DELETE FROM transitions WHERE episode_id IN ({marks})"), tuple(episode_ids))
                transitions = cur.rowcount
                cur.execute(db.q(f"DELETE FROM episodes WHERE episode_id IN ({marks})"), tuple(episode_ids))
                self._add_to_counters(cur, env_id, transitions, written=False, episodes=cur.rowcount)
            pruned += transitions
        return pruned

    def counts(self, env_id: str | None = None) -> ReplayCounts:
        where, params = ("WHERE env_id = ?", (env_id,)) if env_id is not None else ("", ())
        ((episodes, transitions, episodes_pruned, transitions_pruned),) = self.database.fetch(
            "SELECT coalesce(sum(episodes_written), 0), coalesce(sum(transitions_written), 0), "
            f"coalesce(sum(episodes_pruned), 0), coalesce(sum(transitions_pruned), 0) FROM replay_counters {where}",
            params,
        )
        episodes, transitions = int(episodes), int(transitions)
        stored_episodes, stored_transitions = episodes - int(episodes_pruned), transitions - int(transitions_pruned)
        return ReplayCounts(episodes, transitions, stored_episodes, stored_transitions)

    def episodes_per_second(self, env_id: str | None = None, seconds: float = 60.0) -> float:
        since = time.time() - seconds
        if env_id is None:
            n = self.database.fetch("SELECT count(*) FROM episodes WHERE created_at >= ?", (since,))[0][0]
        else:
            n = self.database.fetch(
                "SELECT count(*) FROM episodes WHERE env_id = ? AND created_at >= ?", (env_id, since)
            )[0][0]
        return int(n) / seconds

    def ping(self) -> None:
        self.database.ping()

    def close(self) -> None:
        self.database.close()
