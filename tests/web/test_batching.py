"""Dynamic batching of the move searches' network calls (cartridge_web.batching): a batched search returns what
the same search returns alone, a batch never mixes two models, a search that stops sending does not hold the
others back, an evaluator error fails only the searches it answered, and the batcher stops with the app."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cartridge.games import get_game
from cartridge.mcts import BatchedMCTS, MctsConfig
from cartridge_web.app import create_app
from cartridge_web.batching import BatcherClosed, InferenceBatcher
from cartridge_web.gameplay import SEARCH_BATCH
from tests.web.conftest import poll_now, web_settings

GAME = get_game("connect4")
CONFIG = MctsConfig(simulations=60, batch_target=SEARCH_BATCH)


class RowwiseNet:
    """A deterministic network whose answer for a position depends on that position alone, bit for bit, whatever
    else shares its call (elementwise products and a per-row sum: no BLAS kernel chosen by batch size). Records
    the batches it is called with."""

    def __init__(self, seed: int, version: int) -> None:
        rng = np.random.default_rng(seed)
        features = int(np.prod(GAME.observations([GAME.initial_state()]).shape[1:]))
        self.policy = rng.normal(size=(GAME.action_size, features)).astype(np.float32)
        self.value = rng.normal(size=features).astype(np.float32) / 10
        self.version = version
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            self.calls.append(len(observations))
        flat = observations.reshape(len(observations), -1)
        logits = (flat[:, None, :] * self.policy[None]).sum(axis=2)
        return logits, np.tanh((flat * self.value).sum(axis=1))


def positions(count: int, seed: int = 0) -> list:
    """Distinct connect4 positions a few plies in, as the web's players send."""
    rng, found = np.random.default_rng(seed), {}
    while len(found) < count:
        state = GAME.initial_state()
        for _ in range(int(rng.integers(1, 7))):
            legal = GAME.legal_actions(state)
            if state.terminal or not legal:
                break
            state = GAME.apply(state, int(rng.choice(legal)))
        if not state.terminal:
            found[(state.mine, state.theirs)] = state
    return list(found.values())


def search_alone(net, state):
    return BatchedMCTS(GAME, net, CONFIG).search([state], add_noise=False)


def search_batched(batcher: InferenceBatcher, net, state):
    with batcher.search(net) as evaluator:
        return BatchedMCTS(GAME, evaluator, CONFIG).search([state], add_noise=False)


def assert_same(result, expected) -> None:
    np.testing.assert_array_equal(result.visits, expected.visits)
    np.testing.assert_array_equal(result.value, expected.value)


@pytest.fixture
def batcher():
    batcher = InferenceBatcher(None, wait_seconds=0.005, cache_size=1000)
    yield batcher
    batcher.close()


# 7: a cache so small that the two workers clear it under each other all the time; 0 workers: WEB_BATCHING=off
# with the cache, each search calling the network in its own thread.
@pytest.mark.parametrize(("workers", "cache_size"), [(2, 0), (2, 7), (2, 1000), (0, 1000)])
def test_concurrent_batched_searches_return_what_each_search_returns_alone(workers, cache_size):
    net = RowwiseNet(seed=1, version=1)
    states = positions(12)
    expected = [search_alone(net, s) for s in states]
    alone_calls = len(net.calls)
    net.calls.clear()
    batcher = InferenceBatcher(None, wait_seconds=0.005, workers=workers, cache_size=cache_size)
    try:
        with ThreadPoolExecutor(len(states)) as pool:
            results = list(pool.map(lambda s: search_batched(batcher, net, s), states))
    finally:
        batcher.close()
    for result, want in zip(results, expected, strict=True):
        assert_same(result, want)
    if workers:  # the searches did share calls: fewer, larger ones than the searches made alone
        assert len(net.calls) < alone_calls and max(net.calls) > SEARCH_BATCH, net.calls


def test_a_batch_never_mixes_models_when_searches_on_two_versions_overlap(batcher):
    old, new = RowwiseNet(seed=1, version=1), RowwiseNet(seed=2, version=2)
    states = positions(8)
    expected = {(v, k): search_alone(net, s) for v, net in ((1, old), (2, new)) for k, s in enumerate(states)}
    old.calls.clear()
    new.calls.clear()
    # Half the searches hold the old model, half the new one, all at once: a swap landing mid-traffic.
    jobs = [(v, net, k, s) for k, s in enumerate(states) for v, net in ((1, old), (2, new))]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda j: (j[0], j[2], search_batched(batcher, j[1], j[3])), jobs))
    for version, k, result in results:
        assert_same(result, expected[(version, k)])  # each answered by its own model only
    assert old.calls and new.calls


def test_a_search_that_stops_sending_does_not_hold_the_others_back():
    """A search counted as running that sends nothing more (its thread stalled; its client gone) delays the
    others' call by ``wait_seconds`` at most, instead of forever."""
    net = RowwiseNet(seed=1, version=1)
    batcher = InferenceBatcher(None, wait_seconds=0.05)
    try:
        with batcher.search(net):  # registered, never evaluates
            started = time.monotonic()
            result = {}
            worker = threading.Thread(target=lambda: result.update(r=search_batched(batcher, net, positions(1)[0])))
            worker.start()
            worker.join(10)
            assert not worker.is_alive(), "the live search waited for the stalled one"
            elapsed = time.monotonic() - started
        assert_same(result["r"], search_alone(net, positions(1)[0]))
        # ~10 rounds, each waiting 50 ms for the stalled search: well under the 10 s a hang would take.
        assert elapsed < 5, elapsed
    finally:
        batcher.close()


class FailingNet(RowwiseNet):
    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise RuntimeError("ONNX Runtime: bad input")


def test_an_evaluator_error_fails_only_the_searches_it_answered(batcher):
    good, bad = RowwiseNet(seed=1, version=1), FailingNet(seed=2, version=2)
    states = positions(6)
    expected = [search_alone(good, s) for s in states]

    def attempt(job):
        net, state = job
        try:
            return search_batched(batcher, net, state)
        except RuntimeError as exc:
            return exc

    jobs = [(net, s) for s in states for net in (good, bad)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        outcomes = list(pool.map(attempt, jobs))
    for (net, state), outcome in zip(jobs, outcomes, strict=True):
        if net is bad:
            assert isinstance(outcome, RuntimeError) and "bad input" in str(outcome)
        else:
            assert_same(outcome, expected[states.index(state)])
    assert batcher.alive  # and it keeps answering
    assert_same(search_batched(batcher, good, states[0]), expected[0])


class WorkerKilled(BaseException):
    """What no ``except Exception`` catches: SystemExit, KeyboardInterrupt, or a bug of that kind."""


class KillingNet(RowwiseNet):
    def evaluate(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise WorkerKilled("the worker thread ends here")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_searches_fail_rather_than_wait_forever_when_the_workers_die():
    """A worker killed mid-call fails the searches in its batch; once no worker is left, a search waiting on
    one is failed within a second instead of holding its search slot for good."""
    batcher = InferenceBatcher(None, wait_seconds=0.005, workers=1)
    batcher.WORKER_CHECK_SECONDS = 0.05
    outcomes: dict[str, BaseException | object] = {}

    def attempt(name: str, net) -> None:
        try:
            outcomes[name] = search_batched(batcher, net, positions(1)[0])
        except BaseException as exc:  # the outcome is what the test reads
            outcomes[name] = exc

    try:
        for name, net in (("killed", KillingNet(seed=2, version=2)), ("after", RowwiseNet(seed=1, version=1))):
            thread = threading.Thread(target=attempt, args=(name, net), daemon=True)
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), f"the {name} search is still waiting"
        assert not batcher.alive
        assert isinstance(outcomes["killed"], RuntimeError) and "WorkerKilled" in str(outcomes["killed"])
        assert isinstance(outcomes["after"], RuntimeError) and "workers have stopped" in str(outcomes["after"])
    finally:
        batcher.close(timeout=1)


def test_the_batcher_stops_with_the_app_and_a_search_after_that_is_refused(tmp_path, store, tictactoe_model):
    store.publish("tictactoe", tictactoe_model)
    with TestClient(create_app(web_settings(tmp_path))) as client:
        poll_now(client)
        assert client.post("/api/games/move", json={"action": 4}).status_code == 200
        services = client.app.state.services
        batcher = services.batcher
        assert batcher is not None and batcher.alive
    assert not batcher.alive, "the batcher's threads outlived the app"
    with pytest.raises(BatcherClosed):
        batcher.evaluate(services.models.current("tictactoe").evaluator, np.zeros((1, 2, 3, 3), np.float32))


def test_a_move_under_batching_is_the_same_move_as_without(tmp_path, store, tictactoe_model):
    """The real app and model: the same positions, played concurrently, get the same replies either way."""
    store.publish("tictactoe", tictactoe_model)
    histories = [[], [4], [4, 0], [0, 4, 8], [1], [2, 4]]
    replies = {}
    for mode in ("off", "on"):
        with TestClient(create_app(web_settings(tmp_path, WEB_BATCHING=mode))) as client:
            poll_now(client)

            def play(moves, client=client):
                action = next(a for a in range(9) if a not in moves)
                body = {"moves": moves, "action": action, "human_player": len(moves) % 2 + 1}
                response = client.post("/api/games/move", json=body)
                assert response.status_code == 200, response.text
                return response.json()

            with ThreadPoolExecutor(len(histories)) as pool:
                replies[mode] = list(pool.map(play, histories))
    assert replies["on"] == replies["off"]


def test_a_move_asked_once_the_batcher_has_stopped_is_refused_with_503_and_retry_after(
    tmp_path, store, tictactoe_model
):
    """During shutdown (uvicorn's graceful period over, the lifespan closing), a search that still asks the network
    is told to retry elsewhere, as a busy server does, not given a 500."""
    store.publish("tictactoe", tictactoe_model)
    with TestClient(create_app(web_settings(tmp_path))) as client:
        poll_now(client)
        client.app.state.services.batcher.close()
        response = client.post("/api/games/move", json={"action": 4})
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "shutting down" in response.json()["detail"]
