"""Web latency under concurrent clients: p50/p99 of GET /stats and of a model move at WEB_SIMS=100.

Starts the real cartridge-web (uvicorn) on loopback with a real connect4 model and a replay buffer
holding episodes and iteration records, then drives it with concurrent httpx clients for a bounded
number of requests.

    .venv/bin/python -m bench.bench_web
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import numpy as np

from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from cartridge.replay import IterationRecord, open_replay
from cartridge_trainer.network import PolicyValueNet, export_onnx
from tests.support import free_port, random_episode, wait_until

CLIENTS = 8
REQUESTS = {"stats": 400, "move": 80}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def drive(base: str, kind: str, total: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [total]

    def client() -> None:
        rng = np.random.default_rng()
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                started = time.perf_counter()
                if kind == "stats":
                    response = http.get("/stats")
                else:
                    moves = [int(c) for c in rng.integers(0, 7, size=int(rng.integers(0, 4)))]
                    body = {"env_id": "connect4", "moves": moves, "action": int(rng.integers(0, 7)),
                            "human_player": 1 if len(moves) % 2 == 0 else 2}  # fmt: skip
                    response = http.post("/api/games/move", json=body)
                with lock:
                    latencies.append(time.perf_counter() - started)
                    errors[0] += response.status_code >= 500

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - began, errors[0]


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="cartridge-bench-web-")
    replay_url, store_url = f"sqlite:///{tmp}/replay.db", f"file://{tmp}/models"
    game, rng = get_game("connect4"), np.random.default_rng(0)
    with open_replay(replay_url) as replay:
        for _ in range(2000):
            replay.append_episode(random_episode(game, rng))
        for i in range(1, 101):
            replay.record_iteration(IterationRecord("connect4", i, i, 1.5, 0.3, 1.8, 20 * i, 400 * i, 3.0))
    open_model_store(store_url).publish("connect4", export_onnx(PolicyValueNet(game), game))
    port = free_port()
    env = {**os.environ, "HTTP_PORT": str(port), "ENV_ID": "connect4", "REPLAY_URL": replay_url,
           "MODEL_STORE_URL": store_url, "WEB_SIMS": "100", "LOG_LEVEL": "warning"}  # fmt: skip
    web = subprocess.Popen([sys.executable, "-m", "cartridge_web"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/api/model?env_id=connect4", timeout=2).json().get("has_model")
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "the web with its model")
        print(f"cartridge-web on 2 cores, {CLIENTS} concurrent clients; connect4 model, WEB_SIMS=100\n")
        print(f"{'request':28} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'5xx':>4}")
        for kind, label in (("stats", "GET /stats"), ("move", "POST /api/games/move (100 sims)")):
            latencies, seconds, errors = drive(base, kind, REQUESTS[kind])
            print(f"{label:28} {len(latencies):5d} {percentile(latencies, 50):8.1f} {percentile(latencies, 99):8.1f} "
                  f"{len(latencies) / seconds:7.1f} {errors:4d}")  # fmt: skip
    finally:
        web.terminate()
        web.wait(20)


if __name__ == "__main__":
    main()
