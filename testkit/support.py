"""Plain helpers for tests: free ports, random episodes, service processes, polling, the S3 test server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cartridge.games import Game
from cartridge.inference import UniformEvaluator
from cartridge.replay import Episode, transitions_from_steps
from devtools.http import accepts, port_in_use
from devtools.paths import REPO_ROOT
from devtools.wait import WaitTimeout, wait_until_ready


def restore_sigint() -> None:
    """Give this process, and the processes it starts, Ctrl-C back when the run was started with SIGINT ignored. A
    non-interactive shell starts a background command (``cmd &``) with SIGINT and SIGQUIT ignored (POSIX, Shell
    Command Language 2.11, "Signals and Error Handling"), an ignored signal stays ignored across exec, and a shell
    cannot reset a signal ignored on entry; so `.ci/run ... &` from a script would start every service the tests
    Ctrl-C with SIGINT ignored, and those tests would fail for the way they were launched. Python's own handler is
    reset to the default in a child at exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def thread_nice(pid: int | str = "self") -> dict[int, int]:
    """Thread ID -> niceness of every thread of a process, from /proc (stat's 19th field; the name in parentheses,
    the 2nd, may hold spaces)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended while listed
            continue
        found[int(task.name)] = int(fields[16])
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (the local runtime numbers its actors from a base port:
    a base from free_port() alone may have its next port taken, e.g. by a container's published port)."""
    for _ in range(100):
        base = free_port()
        if base + count <= 65535 and not any(port_in_use(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def docker_unavailable() -> str | None:
    """Why no Docker engine can be used here, in one line (None when one answers)."""
    try:
        import docker

        docker.from_env(timeout=30).ping()
    except ImportError:
        return "the docker package is not installed (pip install -e '.[dev]')"
    except docker.errors.DockerException as exc:
        return f"no Docker engine answers ({exc.__class__.__name__}); .ci/run starts one with container-sandbox"
    return None


# moto accepts any credentials; boto3 (in the tests and in the services they start) needs some.
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """A real S3 API server on loopback (moto's server mode); yields its endpoint URL. It runs in a process of
    its own, so memory a test measures in this process is the client's alone."""
    for name, value in S3_TEST_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: accepts(port) or server.poll() is not None, 60, "the moto S3 server")
        assert server.poll() is None, f"the moto S3 server exited with {server.returncode}"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def random_episode(game: Game, rng: np.random.Generator, model_version: int = 0, actor_id: str = "test") -> Episode:
    """A uniformly random game, with the uniform legal-move distribution as the policy target."""
    state = game.initial_state()
    steps: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    while not state.terminal:
        legal = game.legal_actions(state)
        policy = np.zeros(game.action_size, dtype=np.float32)
        policy[legal] = 1.0 / len(legal)
        action = int(rng.choice(legal))
        steps.append((game.observation(state), policy, action, state.to_play))
        state = game.apply(state, action)
    winner = game.winner(state)
    transitions = transitions_from_steps(steps, winner)
    return Episode(game.name, transitions, winner, model_version, actor_id=actor_id)


class ServiceProcess:
    """A service started as a real process (``python -m <module>``) with its output in a log file."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.module = module
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        full_env = {**os.environ, "LOG_FORMAT": "json", **env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode


def log_events(log_text: str, name: str) -> list[dict]:
    """The JSON log lines (LOG_FORMAT=json) of event ``name``, in order; other lines are skipped."""
    found = []
    for line in log_text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == name:
            found.append(event)
    return found


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """``predicate()``'s first truthy value, asked through devtools' waiter; a timeout fails the test (an
    AssertionError with the waiter's sentence)."""
    value: object = None

    def why_not() -> str | None:
        nonlocal value
        value = predicate()
        return None if value else "not yet"

    try:
        wait_until_ready(what, why_not, timeout, interval=interval)
    except WaitTimeout as exc:
        raise AssertionError(exc.message) from None
    return value


def kill_9_while_running(script: str, argument: str, seconds: float) -> None:
    """Run ``script`` (Python source that prints "ready" once set up) and SIGKILL it ``seconds`` later."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, argument],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()


class FirstPlayerLosing(UniformEvaluator):
    """tictactoe's uniform priors, and a value that says the first player is lost: -0.9 where the first player moves
    (an even number of stones), 0.9 where the second does. So the first player's searched root value is about -0.9
    on each of its moves, and it meets the resignation rule at its second move."""

    version = 0

    def __init__(self) -> None:
        super().__init__(9)

    def evaluate(self, observations):
        logits, _ = super().evaluate(observations)
        stones = observations.reshape(len(observations), -1).sum(axis=1)
        return logits, np.where(stones % 2 == 0, -0.9, 0.9).astype(np.float32)


class LinearEvaluator:
    """A fixed random linear 'network': priors and values that differ from position to position, so the
    search's choices depend on them (a uniform prior would hide a prior mix-up)."""

    version = 1

    def __init__(self, game: Game, seed: int) -> None:
        rng = np.random.default_rng(seed)
        features = 2 * game.rows * game.cols
        self.policy = rng.normal(size=(features, game.action_size)).astype(np.float32)
        self.value = rng.normal(size=features).astype(np.float32) * 0.3

    def evaluate(self, observations):
        x = observations.reshape(len(observations), -1)
        return x @ self.policy, np.tanh(x @ self.value)
