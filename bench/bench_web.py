"""Web latency under concurrent clients: p50/p99 of GET /stats and of a model move at WEB_SIMS=100.

Starts the real ``cartridge-web`` console script (uvicorn) on loopback with a real connect4 model and a
replay buffer holding episodes and iteration records, then drives it with concurrent httpx clients for a
bounded number of requests: /stats alone, moves alone, then /stats while the moves run (searches run in
worker threads behind two slots, so the event loop should keep answering /stats).

Targets (issue 16) at 20 clients: /stats p99 <= 50 ms; every move served or refused with 503 and
Retry-After, none waiting longer than WEB_SEARCH_WAIT_SECONDS plus one search; no other 5xx.

    .venv/bin/python -m bench.bench_web [--clients 20] [--moves 80] [--stats 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.games import MEASURED_GAME
from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from cartridge.replay import IterationRecord, open_replay, open_training_log
from cartridge.settings import Settings
from cartridge_trainer.network import PolicyValueNet, export_onnx
from testkit.support import free_port, random_episode, wait_until

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def exchange(conn: Connection, request: bytes) -> tuple[int, dict[str, str]]:
    """One HTTP/1.1 request on a keep-alive connection: its status and headers, the body read and dropped."""
    reader, writer = conn
    writer.write(request)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if line)}
    if "content-length" not in headers:
        raise RuntimeError(f"{head[0]} without Content-Length: this load generator reads only sized bodies")
    await reader.readexactly(int(headers["content-length"]))
    return status, headers


class Load:
    """``clients`` keep-alive connections in one event loop, sharing a budget of ``total`` requests.

    The load generator shares the 2 cores with the server, so it must cost little: a client written with
    httpx in 20 threads spent about one core of its own and its GIL waits showed up as server latency (the
    no-work /health floor had a p99 of 72 ms). Here each request is a few bytes written and one
    Content-Length body read on an asyncio stream, as wrk or hey would do it; the web never sends chunked
    bodies for these routes, and a response without Content-Length is an error, not a guess."""

    def __init__(self, port: int, kind: str, clients: int, total: int, seed: int = 0) -> None:
        self.port, self.kind, self.clients = port, kind, clients
        self.seed = seed  # client k draws its positions from seed + k: another seed, other positions
        self.remaining = total
        self.latencies: list[float] = []
        self.served: list[float] = []  # latencies of the 200s
        self.spans: list[tuple[float, float]] = []  # (sent, answered), perf_counter seconds, per request
        self.statuses: dict[int, int] = {}
        self.refused_without_retry_after = 0
        self.seconds = 0.0

    def _request(self, rng: np.random.Generator) -> bytes:
        host = f"Host: 127.0.0.1:{self.port}\r\n"
        if self.kind in ("stats", "health"):
            return f"GET /{self.kind} HTTP/1.1\r\n{host}\r\n".encode()
        # A random connect4 opening of 0-5 plies, then a random column for the side to move.
        moves = [int(c) for c in rng.integers(0, 7, size=int(rng.integers(0, 6)))]
        body = json.dumps(
            {
                "env_id": MEASURED_GAME,
                "moves": moves,
                "action": int(rng.integers(0, 7)),
                "human_player": len(moves) % 2 + 1,
            }
        ).encode()
        head = f"POST /api/games/move HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def _client(self, seed: int, connected: asyncio.Barrier) -> None:
        rng = np.random.default_rng(seed)
        # Untimed: open this client's keep-alive connection, as a dashboard or a board holds one; the
        # figures are then requests on a live connection, not 20 TCP handshakes at once.
        conn = await asyncio.open_connection("127.0.0.1", self.port)
        status, _ = await exchange(conn, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
        assert status == 200, f"GET /health answered {status}"
        await connected.wait()
        try:
            while self.remaining > 0:
                self.remaining -= 1  # one event loop: no lock needed
                started = time.perf_counter()
                status, headers = await exchange(conn, self._request(rng))
                answered = time.perf_counter()
                elapsed = answered - started
                self.latencies.append(elapsed)
                self.spans.append((started, answered))
                if status == 200:
                    self.served.append(elapsed)
                elif status == 503 and "retry-after" not in headers:
                    self.refused_without_retry_after += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if headers.get("connection", "").lower() == "close":
                    conn[1].close()
                    conn = await asyncio.open_connection("127.0.0.1", self.port)
        finally:
            conn[1].close()

    async def run(self) -> Load:
        connected = asyncio.Barrier(self.clients)  # the timed requests start once every client is connected
        await asyncio.gather(*(self._client(self.seed + k, connected) for k in range(self.clients)))
        first, last = self.window
        self.seconds = last - first
        return self

    @property
    def window(self) -> tuple[float, float]:
        """From the first request sent to the last one answered."""
        return min(s for s, _ in self.spans), max(e for _, e in self.spans)

    def within(self, window: tuple[float, float]) -> list[float]:
        """Latencies of the requests sent and answered inside ``window``."""
        return [e - s for s, e in self.spans if window[0] <= s and e <= window[1]]

    def row(self, label: str) -> str:
        p50, p99 = (float(np.percentile(self.latencies, q)) * 1000 for q in (50, 99))
        served_p99 = float(np.percentile(self.served, 99)) * 1000 if self.served else float("nan")
        worst = max(self.latencies) * 1000
        # 503 is a refusal (every search slot busy) and must carry Retry-After; any other 5xx is an error.
        errors = sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)
        errors += self.refused_without_retry_after
        statuses = " ".join(f"{s}x{n}" for s, n in sorted(self.statuses.items()))
        rate = len(self.latencies) / self.seconds
        return (
            f"{label:34} {len(self.latencies):5d} {p50:8.1f} {p99:8.1f} {served_p99:9.1f} {worst:8.1f} "
            f"{rate:7.1f} {self.statuses.get(503, 0):4d} {errors:4d}   {statuses}"
        )


def prepare(tmp: str) -> dict[str, str]:
    replay_url, store_url = f"sqlite:///{tmp}/replay.db", f"file://{tmp}/models"
    game, rng = get_game(MEASURED_GAME), np.random.default_rng(0)
    with open_replay(replay_url) as replay, open_training_log(replay_url) as log:
        for _ in range(2000):
            replay.append_episode(random_episode(game, rng))
        for i in range(1, 101):
            log.record_iteration(IterationRecord(MEASURED_GAME, i, i, 1.5, 0.3, 1.8, 20 * i, 400 * i, 3.0))
    # The default network (64 channels, 4 residual blocks): what the trainer publishes.
    open_model_store(store_url).publish(MEASURED_GAME, export_onnx(PolicyValueNet(game), game))
    return {
        "ENV_ID": MEASURED_GAME,
        "REPLAY_URL": replay_url,
        "MODEL_STORE_URL": store_url,
        "WEB_SIMS": "100",
        "LOG_LEVEL": "warning",
        "HTTP_HOST": "127.0.0.1",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--stats", type=int, default=10000, help="GET /stats requests per run (a few seconds: several cache periods)"
    )
    parser.add_argument("--moves", type=int, default=80, help="POST /api/games/move requests per run")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="cartridge-bench-web-")
    port = free_port()
    env = {**os.environ, **prepare(tmp), "HTTP_PORT": str(port)}
    web = subprocess.Popen([Path(sys.executable).with_name("cartridge-web")], env=env)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/api/model?env_id={MEASURED_GAME}", timeout=2).json().get("has_model")
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "the web with its model")
        # The web opens the replay buffer on the first /stats; a web in service has long done that.
        httpx.get(f"{base}/stats", timeout=30).raise_for_status()
        load = os.getloadavg()[0]
        settings = Settings.from_env(env)
        print(f"cartridge-web, {os.cpu_count()} cores shared with other work (load average {load:.1f} at start)")
        print(
            f"{args.clients} concurrent clients per load; connect4 model 64x4, WEB_SIMS=100; 2000 episodes; "
            f"a move waits at most {settings.web_search_wait_seconds:g} s "
            f"for one of {settings.web_search_slots} search slots\n"
        )
        print(
            f"{'request':34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'200 p99':>9} {'max ms':>8} {'req/s':>7} "
            f"{'503':>4} {'5xx':>4}   statuses"
        )
        print(f"{'':34} {'':5} {'':8} {'':8} {'':9} {'':8} {'':7} {'':4} (5xx: other than 503 with Retry-After)")
        # The floor: a request that does no work, so /stats can be told apart from this machine's load.
        floor = asyncio.run(Load(port, "health", args.clients, args.stats).run())
        print(floor.row("GET /health (floor: no work)"))
        idle_stats = asyncio.run(Load(port, "stats", args.clients, args.stats).run())
        print(idle_stats.row("GET /stats"))
        idle_moves = asyncio.run(Load(port, "move", args.clients, args.moves).run())
        print(idle_moves.row("POST /api/games/move (100 sims)"))
        # Both at once: half the clients play, half watch the dashboard.
        half = max(1, args.clients // 2)
        moves, stats = Load(port, "move", half, args.moves // 2), Load(port, "stats", half, args.stats // 2)

        async def both() -> None:
            await asyncio.gather(moves.run(), stats.run())

        asyncio.run(both())
        print(moves.row(f"  move, mixed ({half} + {half} clients)"))
        print(stats.row("  /stats, mixed"))
        stats_p99, floor_p99 = (float(np.percentile(load.latencies, 99)) for load in (idle_stats, floor))
        ratio = stats_p99 / floor_p99
        print(
            f"\n/stats p99 alone: {stats_p99 * 1000:.1f} ms (target <= 50 ms), {ratio:.1f}x the floor's, "
            f"over {idle_stats.seconds:.1f} s (cached up to 1 s: it spans refreshes)"
        )
        # Only /stats calls made while moves were in flight say anything about the mix: show both windows.
        t0 = moves.window[0]
        during = stats.within(moves.window)
        (m0, m1), (s0, s1) = ((a - t0, b - t0) for a, b in (moves.window, stats.window))
        print(
            f"windows (s from the first mixed move): moves {m0:.2f}-{m1:.2f}, /stats {s0:.2f}-{s1:.2f}; "
            f"{len(during)} of {len(stats.spans)} /stats calls inside the moves' window"
        )
        if during:
            mixed, alone = float(np.median(during)), float(np.median(idle_stats.latencies))
            print(
                f"/stats p50 while moves run: {mixed / alone:.1f}x its p50 alone (those {len(during)} calls; "
                f"searches: {settings.web_search_slots} worker threads; the event loop stays free)"
            )
        else:
            print("/stats p50 while moves run: not measured, no /stats call fell inside the moves' window")
    finally:
        web.send_signal(signal.SIGTERM)
        print(f"\ncartridge-web exit code after SIGTERM: {web.wait(20)}")


if __name__ == "__main__":
    main()
