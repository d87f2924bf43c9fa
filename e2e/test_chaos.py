"""Chaos (`pytest e2e -m chaos`): during self-play and training, every component is killed (kill -9 locally,
pod deletion on kind) several times at random moments, the database is restarted, and the replay bound fills.
Then: no partial episode, no committed episode lost (except by pruning), model versions only grow, and every
component is healthy again within RECOVERY_SECONDS with nobody's help.

The local target runs its own stack on the cluster's storage pair (PostgreSQL in a container, so restarting the
database is a real server restart, and the S3 test server), with a small replay bound. CHAOS_SEED=N replays a
schedule (the seed is printed).
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cartridge.modelstore import CorruptModel, ModelStoreUnavailable
from devtools.http import request_json as get_json
from e2e.bounds import Steps, bounded
from e2e.chaos import CHAOS_DIFFERENCES, KindChaos, LocalChaos
from e2e.conftest import local_storage
from e2e.stacks import LocalStack
from testkit.replay_reads import partial_episodes
from testkit.support import wait_until

pytestmark = pytest.mark.chaos

KILLS_PER_COMPONENT = 3
CHAOS_SECONDS = {"local": 90.0, "kind": 240.0}  # the window the disruptions fall in, at random moments
# Locally: the supervisor's backoff doubles from 1 s while a component dies within 30 s of its start, so after
# its three kills (a PostgreSQL restart is waited out in the process, the trainer's from its checkpoint) it waits
# at most 4 s before the last start; a start on 2 loaded cores (imports, the first model, the database's first
# answer) takes up to ~30 s. 60 s covers both with room (measured: 6-20 s). On kind a pod is replaced at once, but the
# image's start, the readiness probes' period and PostgreSQL's WAL replay come on top: 180 s.
RECOVERY_SECONDS = {"local": 60.0, "kind": 180.0}


@dataclasses.dataclass
class ChaosRun:
    """What happened during the run, for the assertions."""

    env_id: str
    disruptions: list[str]
    versions: dict[str, list[tuple[str, int]]]  # source -> (process, version) samples, in time order
    recovered_after: float | None  # seconds from the last disruption until every component was healthy
    waiting_for: list[str]


class VersionSampler(threading.Thread):
    """Samples the store's latest version and what each component serves, about once a second."""

    def __init__(self, chaos, store, env_id: str) -> None:
        super().__init__(name="version-sampler", daemon=True)
        self.chaos, self.store, self.env_id = chaos, store, env_id
        self.samples: dict[str, list[tuple[str, int]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                latest = self.store.latest(self.env_id)
                if latest is not None:
                    self.samples.setdefault("model store", []).append(("store", latest.version))
            except (ModelStoreUnavailable, CorruptModel):  # the next sample tries again
                pass
            for component, sample in self.chaos.served_versions().items():
                self.samples.setdefault(component, []).append(sample)


def schedule(components: list[str], seconds: float, rng: random.Random) -> list[tuple[float, str]]:
    """(moment, what) pairs in time order: each component KILLS_PER_COMPONENT times and the database once."""
    events = [name for name in components for _ in range(KILLS_PER_COMPONENT)] + ["database"]
    return sorted((rng.uniform(0, seconds), event) for event in events)


def run_chaos(chaos, store, env_id: str, target: str) -> ChaosRun:
    seed = int(os.environ.get("CHAOS_SEED") or time.time_ns() % 1_000_000)
    print(f"\nchaos seed {seed} (CHAOS_SEED={seed} replays this schedule)")
    rng = random.Random(seed)
    sampler = VersionSampler(chaos, store, env_id)
    sampler.start()
    done: list[str] = []
    started = time.monotonic()
    for moment, event in schedule(chaos.components, CHAOS_SECONDS[target], rng):
        time.sleep(max(0.0, started + moment - time.monotonic()))
        if event == "database":
            done.append(chaos.restart_database())
            print(f"{time.monotonic() - started:6.1f} s  {done[-1]}")
            continue
        # Between a kill and its restart a component has no process: it is killed again once it has one.
        waited = time.monotonic()
        while not (what := chaos.disrupt(event)) and time.monotonic() - waited < RECOVERY_SECONDS[target]:
            time.sleep(0.2)
        done.append(what or f"{event} not running again within {RECOVERY_SECONDS[target]:.0f} s: not killed")
        print(f"{time.monotonic() - started:6.1f} s  {done[-1]}")
    last = time.monotonic()
    waiting: list[str] = []
    recovered = None
    while time.monotonic() - last < 3 * RECOVERY_SECONDS[target]:  # measured past the bound, to report it
        if not (waiting := chaos.unhealthy()):
            recovered = time.monotonic() - last
            break
        time.sleep(0.5)
    time.sleep(3)  # a few samples of the recovered stack
    if restarts := getattr(chaos, "restarts", None):  # more than the kills: a component also crashed on its own
        print(f"restarts {restarts()}")
    sampler.stop.set()
    sampler.join()
    return ChaosRun(env_id, done, sampler.samples, recovered, waiting)


@pytest.fixture(scope="module")
def chaos_stack(request) -> Iterator:
    """The local target's own stack (cluster storage, a small bound); on kind, the deployed stack with the
    trainer's bound lowered."""
    target = request.config.getoption("--target")
    if target == "kind":
        stack = request.getfixturevalue("stack")
        chaos = KindChaos(stack)
        chaos.apply_bound()
        yield stack, chaos
        return
    if local_storage(request.config) != "cluster" and not os.environ.get("CARTRIDGE_TEST_POSTGRES_URL"):
        from testkit.support import docker_unavailable

        if reason := docker_unavailable():
            pytest.skip(f"the chaos suite restarts PostgreSQL's container: {reason}")
    workdir = Path(tempfile.mkdtemp(prefix="cartridge-e2e-chaos-"))
    settings = {name: value for name, (value, _) in CHAOS_DIFFERENCES.items()}
    stack = LocalStack(workdir / "data", storage="cluster", settings=settings)
    request.config._cartridge_stack = stack
    steps = Steps()
    try:
        with bounded(request.config.getoption("--stack-timeout") or 300, "the chaos stack", steps):
            stack.up(progress=steps)
        yield stack, LocalChaos(stack)
    finally:
        stack.down()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def chaos_run(chaos_stack) -> ChaosRun:
    stack, chaos = chaos_stack
    store = stack.store()
    env_id = get_json(f"{stack.web_url}/stats")["env_id"]
    # Training is under way (a first model out) before the first kill, so every kind of work is interrupted.
    wait_until(lambda: store.latest(env_id) is not None, 240, "the first model publication")
    return run_chaos(chaos, store, env_id, stack.target)


def test_every_component_is_healthy_again_within_the_bound(chaos_stack, chaos_run):
    _, chaos = chaos_stack
    target = chaos_stack[0].target
    assert chaos_run.recovered_after is not None, (
        f"still unhealthy {3 * RECOVERY_SECONDS[target]:.0f} s after the last disruption: {chaos_run.waiting_for}"
    )
    print(
        f"\nhealthy again {chaos_run.recovered_after:.1f} s after the last of {len(chaos_run.disruptions)} disruptions"
    )
    assert chaos_run.recovered_after <= RECOVERY_SECONDS[target], (
        f"healthy again only after {chaos_run.recovered_after:.1f} s (bound {RECOVERY_SECONDS[target]:.0f} s)"
    )
    stuck = [d for d in chaos_run.disruptions if "not killed" in d]
    assert stuck == [], f"components slow to come back during the chaos: {stuck}"
    assert len(chaos_run.disruptions) == len(chaos.components) * KILLS_PER_COMPONENT + 1


def test_the_pipeline_moves_again_after_the_chaos(chaos_stack, chaos_run):
    stack, _ = chaos_stack
    with stack.replay() as replay:
        written = replay.counts(chaos_run.env_id).episodes
        wait_until(lambda: replay.counts(chaos_run.env_id).episodes >= written + 10, 120, "10 more episodes")


def test_no_partial_episode(chaos_stack, chaos_run):
    stack, _ = chaos_stack
    with stack.replay() as replay:
        partial = partial_episodes(replay, chaos_run.env_id)
        assert partial == [], f"partial episodes (id, moves, rows, first step, last step): {partial[:10]}"
        assert replay.counts(chaos_run.env_id).stored_episodes > 0


def test_the_replay_bound_filled_and_holds(chaos_stack, chaos_run):
    stack, _ = chaos_stack
    bound = int(CHAOS_DIFFERENCES["REPLAY_MAX_TRANSITIONS"][0])
    with stack.replay() as replay:
        counts = replay.counts(chaos_run.env_id)
        assert counts.episodes > counts.stored_episodes, f"nothing was pruned: the bound never filled ({counts})"
        # The pruner runs every second; the episodes written in between (and while the trainer was down) go next.
        wait_until(
            lambda: replay.counts(chaos_run.env_id).stored_transitions <= bound * 1.25,
            60,
            f"the stored transitions back near the bound {bound}",
        )


def test_no_committed_episode_is_lost(chaos_stack, chaos_run):
    """Counted against what was ever written (the counter rows), which pruning does not lower. Every
    "episode written" line follows its commit; an actor killed between the two commits one episode it never
    logged, so locally the counter may exceed the logged episodes by at most the actor kills."""
    stack, chaos = chaos_stack
    with stack.replay() as replay:
        # The actors keep writing: the counter read before the logs can only be lower than theirs, the one after
        # only higher.
        before = replay.counts(chaos_run.env_id).episodes
        committed = len(chaos.committed())
        after = replay.counts(chaos_run.env_id).episodes
    assert committed, "no episode written line in any actor's log"
    assert after >= committed, (
        f"{committed - after} committed episodes lost: the actors logged {committed} "
        f"commits, the buffer counts {after} episodes ever written"
    )
    if stack.target == "local":  # a fresh stack: every episode ever written is one of these actors'
        actor_kills = sum(1 for d in chaos_run.disruptions if d.startswith("kill -9 actor"))
        assert before <= committed + actor_kills, (
            f"{before - committed} episodes written that no actor logged (at most {actor_kills} expected: "
            "one per actor killed between a commit and its log line)"
        )
    print(f"\n{committed} episodes committed, {after} ever written")


def test_model_versions_only_grow(chaos_run):
    """In the store, and in what each component serves. A restarted process plays on the uniform prior
    (version 0) until its first poll loads the newest model; no process ever goes back to an older one."""
    assert len(chaos_run.versions.get("model store", [])) > 10, chaos_run.versions.keys()
    backwards = []
    for source, samples in chaos_run.versions.items():
        highest, loaded, previous = 0, set(), None
        for process, version in samples:
            if version == 0 and process not in loaded:
                continue  # a process that has not loaded a model yet
            if version < highest and not any(b.startswith(f"{source}:") for b in backwards):  # the first is enough
                backwards.append(f"{source}: v{version} after v{highest} (process {previous} -> {process})")
            if version:
                loaded.add(process)
            highest, previous = max(highest, version), process
    assert backwards == [], backwards
    published = chaos_run.versions["model store"]
    assert published[-1][1] > published[0][1], f"no model published during the chaos: {published[0]} .. {published[-1]}"
