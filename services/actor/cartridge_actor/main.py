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
from cartridge.replay import Episode, ReplayBuffer, ReplayUnavailable
from cartridge.selfplay import SelfPlay
from cartridge.service import StopFlag, run_main
from cartridge.settings import Settings
from cartridge.stores import open_model_store, open_replay
from cartridge.telemetry import PipelineMetrics, StallWatch, configure_logging, serve_health


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
            log.warning("replay buffer unavailable: holding the episode and retrying",
                        episode_id=episode.episode_id, error=str(exc), retry_in_s=delay)  # fmt: skip
            if stop.wait(delay):
                log.warning("stopping before the replay buffer came back: one finished episode not written",
                            episode_id=episode.episode_id)  # fmt: skip
                return False
            delay = min(delay * 2, RETRY_MAX_SECONDS)


def run() -> int:
    settings = Settings.from_env(http_port=9100)
    actor_id = settings.actor_id or f"{socket.gethostname()}-{os.getpid()}"
    log = configure_logging(settings, "actor").bind(actor_id=actor_id)
    stop = StopFlag().install()
    game = get_game(settings.env_id)
    replay = open_replay(settings)
    replay.ping()
    store = open_model_store(settings)
    metrics = PipelineMetrics()
    watcher = ModelWatcher(store, settings.env_id, game.action_size, settings.followed_manifest, settings.ort_threads)
    started = time.time()
    written = 0
    # Playing is progress expected from the start: no episode written for HEALTH_STALL_SECONDS (a hung
    # search, a replay buffer that never comes back) makes /health 503 and Kubernetes restart the pod.
    progress = StallWatch(settings.health_stall_seconds, "episode written")
    progress.expect()

    def health() -> dict:
        return progress.health(episodes=written, model_version=watcher.current.version, pid=os.getpid(),
                               uptime_s=round(time.time() - started, 1))  # fmt: skip

    server = serve_health(settings.http_host, settings.http_port, metrics.registry, health)
    poller = threading.Thread(
        target=_poll_models,
        args=(watcher, stop, settings.model_poll_seconds, metrics, log),
        name="model-poller",
        daemon=True,
    )
    poller.start()
    log.info(
        "actor started",
        replay=settings.replay_url.split("@")[-1],
        model_store=settings.model_store_url,
        sims=settings.mcts_max_sims,
        parallel_games=settings.actor_parallel_games,
        port=settings.http_port,
        follows=settings.followed_manifest,
    )
    selfplay = SelfPlay(
        game,
        MctsConfig(simulations=settings.mcts_max_sims),
        parallel_games=settings.actor_parallel_games,
        actor_id=actor_id,
    )
    env = settings.env_id
    for episode in selfplay.play(
        lambda: watcher.current,
        should_stop=stop.is_set,
        max_episodes=settings.actor_max_episodes or None,
    ):
        if not write_episode(replay, episode, stop, log):
            break
        written += 1
        progress.progressed()
        metrics.episodes.labels(env).inc()
        metrics.transitions.labels(env).inc(len(episode.transitions))
        metrics.simulations.labels(env).inc(len(episode.transitions) * settings.mcts_max_sims)
        metrics.episode_seconds.labels(env).observe(episode.duration_s)
        # One line per committed episode (after the commit): the audit trail the chaos suite sums across restarts.
        log.info("episode written", episode_id=episode.episode_id, moves=len(episode.transitions),
                 winner=episode.winner, model_version=episode.model_version)  # fmt: skip
    stop.set()
    progress.idle()
    server.shutdown()
    replay.close()
    log.info("actor stopped", episodes=written, reason=stop.signal_name or "max episodes reached")
    return 0


def main() -> None:
    sys.exit(run_main("cartridge-actor", run))
