"""The real ``cartridge-web`` console script as a process: serves, stops cleanly on SIGTERM, and refuses a
bad configuration or a taken port with one line that names the problem."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testkit.support import free_port, wait_until

SCRIPT = Path(sys.executable).with_name("cartridge-web")


def start(tmp_path: Path, **env: str) -> subprocess.Popen:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the project with `pip install -e .`")
    full_env = {
        **os.environ,
        "ENV_ID": "tictactoe",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "HTTP_HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "MODEL_POLL_SECONDS": "0.2",
        **env,
    }
    return subprocess.Popen([SCRIPT], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 20) -> tuple[int, str]:
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"cartridge-web did not exit within {timeout} s:\n{stderr[-2000:]}")
    return proc.returncode, stderr


def test_serves_probes_and_the_api_then_exits_0_on_sigterm(tmp_path, store, tictactoe_model):
    port = free_port()
    proc = start(tmp_path, HTTP_PORT=str(port))
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/health", timeout=2).json() == {"status": "ok"}
        except httpx.HTTPError:
            return proc.poll() is not None  # exited: stop waiting, the assertions below say why

    try:
        wait_until(healthy, 30, "cartridge-web to answer /health")
        assert proc.poll() is None, finish(proc)[1]
        assert httpx.get(f"{base}/ready").json()["ready"] is True
        store.publish("tictactoe", tictactoe_model)
        wait_until(lambda: httpx.get(f"{base}/api/model").json()["version"] == 1, 15, "the published model")
        assert httpx.post(f"{base}/api/games/move", json={"action": 4}).json()["model_version"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code, stderr = finish(proc, timeout=15)
    assert code == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert '"event": "model loaded"' in stderr and '"version": 1' in stderr


def test_an_invalid_setting_exits_2_with_one_line_naming_the_variable(tmp_path):
    code, stderr = finish(start(tmp_path, HTTP_PORT="abc"))
    assert code == 2
    assert stderr.strip().splitlines() == [
        "cartridge-web: configuration error: HTTP_PORT='abc' is not an integer (expected an integer >= 1)"
    ]


def test_a_taken_port_exits_non_zero_with_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = finish(start(tmp_path, HTTP_PORT=str(port)))
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0] and "in use" in lines[0], stderr
