"""One typed settings object per process, read once from the environment.

A wrong value stops start-up with a message naming the variable and what it
accepts (``SettingsError``); entry points turn that into exit code 2.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .games import GAME_NAMES
from .inference import DEFAULT_ORT_THREADS
from .modelstore.base import DEFAULT_MODEL_MAX_BYTES
from .replay.database import DEFAULT_CONNECT_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT

LOG_FORMATS = ("console", "json")
# ROLLOUT_POLICY -> the model-store manifest actors and web follow: every new version, or only promoted ones.
ROLLOUT_FOLLOWS = {"always": "latest", "gated": "best"}
LOG_LEVELS = ("debug", "info", "warning", "error")
# REPLAY_MAX_TRANSITIONS when unset: room for this many windows, so pruning runs seldom and never nears
# what the trainer samples.
REPLAY_BOUND_WINDOWS = 4


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


def _int(minimum: int, maximum: int | None = None) -> Callable[[str, str], int]:
    accepted = f"an integer >= {minimum}" if maximum is None else f"an integer {minimum}-{maximum}"

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not an integer (expected {accepted})") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise SettingsError(f"{name}={value} is out of range (expected {accepted})")
        return value

    return parse


def _port(name: str, raw: str) -> int:
    value = _int(1)(name, raw)
    if value > 65535:
        raise SettingsError(f"{name}={value} is out of range (expected a TCP port 1-65535)")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingsError(f"{name}={raw!r} is not accepted (expected one of: {', '.join(choices)})")
        return value

    return parse


def _url(schemes: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            accepted = ", ".join(f"{s}://..." for s in schemes)
            raise SettingsError(f"{name}={raw!r} has an unsupported scheme (expected one of: {accepted})")
        return value

    return parse


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _optional_http_url(name: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    return _url(("http", "https"))(name, value)


def env_field(default: Any, parse: Callable[[str, str], Any], env: str | None = None) -> Any:
    return field(default=default, metadata={"parse": parse, "env": env})


@dataclass(frozen=True)
class Settings:
    env_id: str = env_field(GAME_NAMES[0], _choice(GAME_NAMES))
    training_iterations: int = env_field(100, _int(0))
    episodes_per_iteration: int = env_field(500, _int(1))
    mcts_max_sims: int = env_field(400, _int(1))
    batch_size: int = env_field(128, _int(1))
    replay_url: str = env_field("sqlite:///data/replay.db", _url(("sqlite", "postgresql", "postgres")))
    model_store_url: str = env_field("file:///data/models", _url(("file", "s3")))
    s3_endpoint_url: str | None = env_field(None, _optional_http_url)
    actor_max_episodes: int = env_field(0, _int(0))
    http_port: int = env_field(9100, _port)
    http_host: str = env_field("0.0.0.0", _text)
    log_format: str = env_field("console", _choice(LOG_FORMATS))
    log_level: str = env_field("info", _choice(LOG_LEVELS))
    # Tuning knobs with defaults that suit 2 cores; documented in README.
    actor_parallel_games: int = env_field(32, _int(1))
    replay_window: int = env_field(50_000, _int(1))
    replay_max_transitions: int | None = env_field(None, _int(1))  # None: REPLAY_BOUND_WINDOWS x REPLAY_WINDOW
    replay_connect_timeout: int = env_field(DEFAULT_CONNECT_TIMEOUT, _int(1))
    replay_statement_timeout: int = env_field(DEFAULT_STATEMENT_TIMEOUT, _int(1))
    # An actor that writes no episode, or a trainer with enough new episodes that finishes no iteration,
    # for this long reports unhealthy, so Kubernetes restarts it. Generous: a connect4 round of 32 games at
    # 400 simulations takes minutes on a small node.
    health_stall_seconds: int = env_field(900, _int(1))
    train_steps_per_iteration: int = env_field(200, _int(1))
    learning_rate: float = env_field(1e-3, lambda n, r: _float(n, r))
    # The learning rate halves every this many iterations, down to LEARNING_RATE_MIN (0: constant). Keyed to the
    # iteration, which the checkpoint owns, so a restarted trainer continues the same schedule.
    learning_rate_half_life: int = env_field(0, _int(0))
    learning_rate_min: float = env_field(1e-4, lambda n, r: _float(n, r))
    # The trainer publishes an exponential moving average of its weights with this half-life in optimiser steps
    # (0: the trained weights themselves); kept in the checkpoint, so a restarted trainer keeps its average.
    weight_average_half_life: int = env_field(0, _int(0))
    # The trainer's network: residual blocks of this many 3x3 convolution channels (docs/benchmarks.md, "The
    # network's shape"). A checkpoint of another shape stops the trainer with a message rather than being replaced.
    network_channels: int = env_field(64, _int(1, 512))
    network_blocks: int = env_field(4, _int(1, 40))
    model_poll_seconds: float = env_field(2.0, lambda n, r: _float(n, r))
    model_keep_versions: int = env_field(10, _int(1))
    # Readers (actors, web) refuse a bigger model before reading it: a web pod (512 Mi) holds one per game.
    model_max_bytes: int = env_field(DEFAULT_MODEL_MAX_BYTES, _int(1))
    checkpoint_dir: str = env_field("/data/checkpoints", _text)
    web_sims: int = env_field(100, _int(1))
    # How long a move may wait for a search slot before a 503 with Retry-After. A person at a board reads
    # a reply within a couple of seconds as the model thinking, much longer as the site hanging; one
    # 100-simulation search takes a few hundred ms, so 2 s of queue is several searches per slot: only a
    # burst beyond what the cores serve is refused, and then promptly, so the client can retry.
    web_search_wait_seconds: float = env_field(2.0, lambda n, r: _float(n, r))
    # Move searches at once, each in a worker thread; the others wait for a slot as above. Under batching, more
    # slots let more searches share calls and cached evaluations, at one thread each (docs/benchmarks.md,
    # "Model moves under load"); unbatched, 2 searches keep 2 cores busy and more only slow each other down.
    web_search_slots: int = env_field(8, _int(1))
    # "on": concurrent searches share network calls and the evaluations of positions any search has already
    # sent (cartridge_web.batching); "off": each search calls the network alone.
    web_batching: str = env_field("on", _choice(("on", "off")))
    # How long a shared network call waits for the other searches' positions after the first arrived; it goes
    # at once when every running search has sent its own, so this bounds only a stalled search's cost.
    web_batch_wait_ms: float = env_field(2.0, lambda n, r: _float(n, r))
    # Evaluations kept per served model under batching (0: none): the network's cost is flat per position from
    # 1 to 160 positions per call on 2 cores, so a position not sent again is the saving batching can offer.
    web_eval_cache: int = env_field(20_000, _int(0))
    # One thread: on small machines the trainer shares the cores with actors, and oversubscribed
    # OpenMP threads spin instead of working.
    trainer_threads: int = env_field(1, _int(1))
    # The trainer's arithmetic: "auto" is bf16 autocast on a CPU with native bf16 (AVX512-BF16 or AMX: 2.1-2.8x the
    # samples/s of fp32 on the 2-core machine, docs/benchmarks.md "Trainer throughput"), else fp32.
    trainer_precision: str = env_field("auto", _choice(("auto", "bf16", "fp32")))
    # The niceness every actor thread runs at (0-19; Linux nice, which a process may raise for itself without
    # privileges): on cores the actors share with the trainer, the trainer's compute is what the run waits for.
    # 0 leaves the niceness the actor was started with.
    actor_nice: int = env_field(0, _int(0, 19))
    # ONNX Runtime's intra-op threads per process, for every model it loads (actors, web, arena).
    ort_threads: int = env_field(DEFAULT_ORT_THREADS, _int(1))
    actor_id: str = env_field("", _text)
    # What the trainer publishes: int8 (statically quantized, checked against the network; fp32 when
    # the check fails) or fp32. Readers need nothing either way: the ONNX interface is the same.
    export_precision: str = env_field("int8", _choice(("int8", "fp32")))
    # The arena: games per opponent for each new model version, and the model's MCTS simulations per move there.
    arena_games: int = env_field(20, _int(2))
    arena_sims: int = env_field(64, _int(1))
    # Self-play training targets (cartridge.selfplay); each default keeps plain AlphaZero self-play and is to be
    # chosen by measurement in docs/benchmarks.md.
    # Playout-cap randomisation (KataGo): the share of move rounds searched fully (MCTS_MAX_SIMS, root noise,
    # recorded for training); the others are fast searches of PLAYOUT_CAP_FAST_SIMS that only choose the move.
    # 1 = every move searched fully.
    playout_cap_full_share: float = env_field(1.0, lambda n, r: _share(n, r))
    playout_cap_fast_sims: int = env_field(16, _int(1))
    # Value target = (1 - m) x game result + m x the search's root value, both for the mover; 0 = the game result.
    # 0.5: connect4's 30-minute runs scored 0.885 against 0.795 without it, 0.948 against 0.830 with a learning-rate
    # decay (docs/benchmarks.md, "Sample efficiency").
    value_target_mix: float = env_field(0.5, lambda n, r: _unit(n, r))
    # Self-play cost savers (cartridge.selfplay); each default keeps today's self-play exactly, to be switched on by
    # measurement (bench.bench_selfplay).
    # Subtree reuse (KataGo, Leela Zero): "on" keeps the played move's searched subtree as the next move's root and
    # tops it up to MCTS_MAX_SIMS (or PLAYOUT_CAP_FAST_SIMS), its visits counting; "off" searches each move afresh.
    selfplay_reuse_tree: str = env_field("off", _choice(("on", "off")))
    # Self-play's search (cartridge.mcts): "puct" (AlphaZero: PUCT, Dirichlet root noise, visit-share policy targets)
    # or "gumbel" (Gumbel root sampling with Sequential Halving over GUMBEL_CONSIDERED actions, pi' policy targets,
    # the halving's winner played). The arena and the web search by PUCT either way.
    selfplay_search: str = env_field("puct", _choice(("puct", "gumbel")))
    gumbel_considered: int = env_field(16, _int(1))
    # "on": Gumbel's q rescaled to [0, 1] by each node's children's min and max (mctx's default); "off": by the value
    # range, (q + 1) / 2.
    gumbel_rescale: str = env_field("on", _choice(("on", "off")))
    # Resignation (AlphaGo Zero, Leela Zero, KataGo): a game ends when the side to move has valued its position below
    # -RESIGN_THRESHOLD on 2 consecutive own full searches, its opponent the winner. 0 (or unset) = never resign.
    resign_threshold: float = env_field(0.0, lambda n, r: _resign_threshold(n, r))
    # The share of games that never resign and play on, to count the resignations that would have been wrong.
    resign_check_share: float = env_field(0.1, lambda n, r: _unit(n, r))
    # Gated rollout: under "gated" the arena promotes a rated version to "best" only when it scores at least
    # GATE_THRESHOLD over GATE_GAMES games against the current best; actors and web serve the best.
    rollout_policy: str = env_field("always", _choice(tuple(ROLLOUT_FOLLOWS)))
    gate_threshold: float = env_field(0.55, lambda n, r: _share(n, r))
    gate_games: int = env_field(20, _int(2))

    def __post_init__(self) -> None:
        if self.replay_max_transitions is None:
            object.__setattr__(self, "replay_max_transitions", REPLAY_BOUND_WINDOWS * self.replay_window)
        elif self.replay_max_transitions < self.replay_window:
            raise SettingsError(
                f"REPLAY_MAX_TRANSITIONS={self.replay_max_transitions} is below REPLAY_WINDOW={self.replay_window}: "
                "the trainer samples the newest REPLAY_WINDOW transitions, so the buffer must keep at least that "
                f"many (expected an integer >= {self.replay_window}, "
                f"or unset for {REPLAY_BOUND_WINDOWS} x REPLAY_WINDOW)"
            )

        if self.selfplay_search == "gumbel" and self.selfplay_reuse_tree == "on":
            raise SettingsError(
                "SELFPLAY_SEARCH=gumbel with SELFPLAY_REUSE_TREE=on: Sequential Halving schedules a fresh root's "
                "visits from 0, so a kept subtree cannot be topped up (expected SELFPLAY_REUSE_TREE=off, "
                "or SELFPLAY_SEARCH=puct)"
            )
        if self.playout_cap_full_share < 1 and self.playout_cap_fast_sims >= self.mcts_max_sims:
            raise SettingsError(
                f"PLAYOUT_CAP_FAST_SIMS={self.playout_cap_fast_sims} is not below MCTS_MAX_SIMS={self.mcts_max_sims}: "
                "fast searches are the cheap ones "
                f"(expected an integer < {self.mcts_max_sims}, or PLAYOUT_CAP_FULL_SHARE=1 to search every move fully)"
            )

    @property
    def followed_manifest(self) -> str:
        """The manifest (latest | best) this process's model watcher follows."""
        return ROLLOUT_FOLLOWS[self.rollout_policy]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **defaults: Any) -> Settings:
        """Read every field from ``ENV_NAME`` (upper-cased field name).

        ``defaults`` override the class defaults for this process (e.g. the web's
        HTTP_PORT default of 8080), but never an explicitly set variable.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        errors: list[str] = []
        for f in fields(cls):
            name = f.metadata.get("env") or f.name.upper()
            raw = environ.get(name)
            if raw is None or (raw.strip() == "" and f.default is not None):
                if f.name in defaults:
                    values[f.name] = defaults[f.name]
                continue
            try:
                values[f.name] = f.metadata["parse"](name, raw)
            except SettingsError as exc:
                errors.append(str(exc))
        if errors:
            raise SettingsError("; ".join(errors))
        return cls(**values)


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number (expected a positive number)") from None
    if not (math.isfinite(value) and value > 0):  # nan and inf parse as floats, but no setting means them
        raise SettingsError(f"{name}={raw.strip()!r} is out of range (expected a finite positive number)")
    return value


def _share(name: str, raw: str) -> float:
    try:
        value = _float(name, raw)
    except SettingsError:
        value = math.inf
    if value > 1:
        raise SettingsError(f"{name}={raw.strip()!r} is not accepted (expected a score 0 < x <= 1)")
    return value


def _number_in(accepts: Callable[[float], bool], expected: str) -> Callable[[str, str], float]:
    """A float parser that takes what ``accepts`` does (nan never: it fails every comparison)."""

    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not accepts(value):
            raise SettingsError(f"{name}={raw.strip()!r} is not accepted (expected {expected})")
        return value

    return parse


_unit = _number_in(lambda v: 0 <= v <= 1, "a number 0 <= x <= 1")
# 1 or more could never be met: values are in [-1, 1].
_resign_threshold = _number_in(
    lambda v: 0 <= v < 1,
    "0 to never resign, or a number 0 < x < 1: resign when the mover's searched value stays below -x",
)
