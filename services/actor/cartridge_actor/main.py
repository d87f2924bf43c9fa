"""cartridge-actor: self-play with the newest model, whole episodes into the replay buffer.

A background thread polls the model store and swaps the evaluator in place; the
self-play loop picks the new one up at its next round, without a restart.
SIGTERM stops the loop between rounds: unfinished games are dropped, so no part
of an episode is ever written.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

from cartridge.games import get_game
from cartridge.inference import ModelWatcher
from cartridge.mcts import MctsConfig
from cartridge.modelstore import CorruptModel, ModelStoreUnavailable
from cartridge.replay import Episode, ReplayBuffer, ReplayUnavailable, redact_url
from cartridge.selfplay import SelfPlay
from cartridge.service import StopFlag, lower_priority, run_main
from cartridge.settings import Settings
from cartridge.stores import open_model_store, open_replay
from cartridge.telemetry import PipelineMetrics, StallWatch, configure_logging, serve_health

from .metrics import ActorMetrics


def _poll_models(watcher: ModelWatcher, stop: StopFlag, interval: float, metrics: PipelineMetrics, log) -> None:
    while True:
        try:
            manifest = watcher.poll()
            if manifest is not None:
                metrics.model_version.labels(watcher.env_id).set(manifest.version)
                log.info("model loaded", version=manifest.version, sha256=manifest.sha256[:12])
        except CorruptModel as exc:
            log.warning("model skipped: corrupt publication, keeping the current model", error=str(exc))
        except ModelStoreUnavailable as exc:
            log.warning("model store unreachable, keeping the current model", error=str(exc))
        except Exception as exc:  # the poller must outlive any one failure: a dead poller never swaps again
            log.error("model poll failed, keeping the current model", error=f"{type(exc).__name__}: {exc}")
        if stop.wait(interval):
            return


RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 1.0, 30.0


def write_episode(replay: ReplayBuffer, episode: Episode, stop: StopFlag, log) -> bool:
    """Write one whole episode, retrying with backoff while the replay buffer is unavailable (a database
    restart): the finished episode stays in memory meanwhile. Retries are safe because appending is
    idempotent per episode id. False only when a stop arrives before the buffer is back."""
    delay = RETRY_FIRST_SECONDS
    while True:
        try:
            replay.append_episode(episode)
            return True
        except ReplayUnavailable as exc:
            log.warning(
                "replay buffer unavailable: holding the episode and retrying",
                episode_id=episode.episode_id,
                error=str(exc),
                retry_in_s=delay,
            )
            if stop.wait(delay):
                log.warning(
                    "stopping before the replay buffer came back: one finished episode not written",
                    episode_id=episode.episode_id,
                )
                return False
            delay = min(delay * 2, RETRY_MAX_SECONDS)


class Actor:
    """Self-play into the replay buffer: plays rounds with the watcher's current model, writes each finished
    episode whole, and counts it in the metrics and in /health's progress."""

    def __init__(self, settings: Settings, actor_id: str, replay: ReplayBuffer, watcher: ModelWatcher, log) -> None:
        self.settings, self.replay, self.watcher, self.log = settings, replay, watcher, log
        self.selfplay = SelfPlay(
            get_game(settings.env_id),
            MctsConfig(
                simulations=settings.mcts_max_sims,
                root=settings.selfplay_search,
                gumbel_considered=settings.gumbel_considered,
                gumbel_rescale=settings.gumbel_rescale == "on",
            ),
            parallel_games=settings.actor_parallel_games,
            actor_id=actor_id,
            full_share=settings.playout_cap_full_share,
            fast_sims=settings.playout_cap_fast_sims,
            value_mix=settings.value_target_mix,
            reuse_tree=settings.selfplay_reuse_tree == "on",
            resign_threshold=settings.resign_threshold,
            resign_check_share=settings.resign_check_share,
        )
        self.metrics = ActorMetrics(settings.env_id, self.selfplay)
        self.simulations_counted = 0  # of selfplay.simulations, already in the simulations counter
        self.resigns_counted = (0, 0, 0)  # of selfplay's resigned games, checks and false positives, likewise
        self.started = time.time()
        self.written = 0
        # Playing is progress expected from the start: no episode written for HEALTH_STALL_SECONDS (a hung
        # search, a replay buffer that never comes back) makes /health 503 and Kubernetes restart the pod.
        self.progress = StallWatch(settings.health_stall_seconds, "episode written")
        self.progress.expect()

    def health(self) -> dict:
        uptime_s = round(time.time() - self.started, 1)
        return self.progress.health(
            episodes=self.written, model_version=self.watcher.current.version, pid=os.getpid(), uptime_s=uptime_s
        )

    def start_model_poller(self, stop: StopFlag) -> threading.Thread:
        poller = threading.Thread(
            target=_poll_models,
            args=(self.watcher, stop, self.settings.model_poll_seconds, self.metrics, self.log),
            name="model-poller",
            daemon=True,
        )
        poller.start()
        return poller

    def play_until_done(self, stop: StopFlag) -> None:
        """Until ACTOR_MAX_EPISODES (0: no end) or a stop; a stop while an episode waits for the buffer drops it."""
        for episode in self.selfplay.play(
            lambda: self.watcher.current,
            should_stop=stop.is_set,
            max_episodes=self.settings.actor_max_episodes or None,
        ):
            if not write_episode(self.replay, episode, stop, self.log):
                break
            self.episode_written(episode)
        self.progress.idle()

    def episode_written(self, episode: Episode) -> None:
        self.written += 1
        self.progress.progressed()
        env, m = self.settings.env_id, self.metrics
        m.episodes.labels(env).inc()
        m.transitions.labels(env).inc(len(episode.transitions))
        # What was searched since the last episode, fast searches included (transitions x MCTS_MAX_SIMS counts
        # neither those nor, under playout caps, the moves they chose); games still running are counted so far.
        searched = self.selfplay.simulations
        m.simulations.labels(env).inc(searched - self.simulations_counted)
        self.simulations_counted = searched
        m.episode_seconds.labels(env).observe(episode.duration_s)
        sp = self.selfplay
        resigns = (sp.resigned_games, sp.resign_checks, sp.resign_false_positives)
        for counter, now, before in zip(
            (m.resigned_games, m.resign_checks, m.resign_false_positives), resigns, self.resigns_counted, strict=True
        ):
            counter.labels(env).inc(now - before)
        self.resigns_counted = resigns
        # Under resignation, the running totals the threshold is tuned by: false positives / checks should stay small
        # (AlphaGo Zero: below 5%).
        resignation = (
            {
                "resigned_games": sp.resigned_games,
                "resign_checks": sp.resign_checks,
                "resign_false_positive_rate": round(sp.resign_false_positives / sp.resign_checks, 3)
                if sp.resign_checks
                else None,
            }
            if self.settings.resign_threshold
            else {}
        )
        # One line per committed episode (after the commit): the audit trail the chaos suite sums across restarts.
        self.log.info(
            "episode written",
            episode_id=episode.episode_id,
            moves=len(episode.transitions),
            winner=episode.winner,
            model_version=episode.model_version,
            **resignation,
        )


def run() -> int:
    settings = Settings.from_env(http_port=9100)
    actor_id = settings.actor_id or f"{socket.gethostname()}-{os.getpid()}"
    log = configure_logging(settings, "actor").bind(actor_id=actor_id)
    # Before ONNX Runtime's threads exist, so they inherit it (lower_priority sets the ones made at import).
    nice = lower_priority(settings.actor_nice) if settings.actor_nice else os.getpriority(os.PRIO_PROCESS, 0)
    stop = StopFlag().install()
    replay = open_replay(settings)
    replay.ping()
    store = open_model_store(settings)
    game = get_game(settings.env_id)
    watcher = ModelWatcher(store, settings.env_id, game.action_size, settings.followed_manifest, settings.ort_threads)
    actor = Actor(settings, actor_id, replay, watcher, log)
    server = serve_health(settings.http_host, settings.http_port, actor.metrics.registry, actor.health)
    actor.start_model_poller(stop)
    log.info(
        "actor started",
        replay=redact_url(settings.replay_url),
        model_store=settings.model_store_url,
        sims=settings.mcts_max_sims,
        playout_cap_full_share=settings.playout_cap_full_share,
        playout_cap_fast_sims=settings.playout_cap_fast_sims,
        value_target_mix=settings.value_target_mix,
        nice=nice,
        reuse_tree=settings.selfplay_reuse_tree,
        resign_threshold=settings.resign_threshold,
        resign_check_share=settings.resign_check_share,
        parallel_games=settings.actor_parallel_games,
        port=settings.http_port,
        follows=settings.followed_manifest,
    )
    actor.play_until_done(stop)
    stop.set()
    server.shutdown()
    replay.close()
    log.info("actor stopped", episodes=actor.written, reason=stop.signal_name or "max episodes reached")
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-actor", run))
