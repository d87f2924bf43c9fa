"""bench.bench_web's load generator against the real web: its figures are only worth reading if it counts right.

The benchmark's own HTTP/1.1 client (bench.bench_web.exchange) is checked against a real cartridge-web: the
statuses, headers and Retry-After it reports are the server's, a refusal is told from an error, and a small run
of the whole benchmark prints every row with no 5xx.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from bench.bench_web import Load, exchange
from devtools.http import probe_json
from devtools.paths import REPO_ROOT
from testkit.support import free_port, wait_until


@pytest.fixture
def web_port(tmp_path, start_service) -> int:
    """A real cartridge-web on loopback, with no model yet (the uniform prior answers moves)."""
    port = free_port()
    env = {
        "ENV_ID": "tictactoe",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "HTTP_HOST": "127.0.0.1",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "HTTP_PORT": str(port),
    }
    web = start_service("cartridge_web", env, "web")
    wait_until(lambda: web.proc.poll() is not None or probe_json(f"http://127.0.0.1:{port}/health"), 60, "the web")
    assert web.proc.poll() is None, web.log_text()[-2000:]
    return port


def request(port: int, raw: str) -> tuple[int, dict[str, str]]:
    async def one() -> tuple[int, dict[str, str]]:
        conn = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await exchange(conn, raw.encode())
        finally:
            conn[1].close()

    return asyncio.run(one())


def test_exchange_reads_the_servers_status_and_headers(web_port):
    port = web_port
    status, headers = request(port, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    assert status == 200 and headers["content-type"].startswith("application/json")
    body = '{"env_id": "nonsense", "moves": [], "action": 0}'
    status, _ = request(
        port,
        f"POST /api/games/move HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}",
    )
    assert status == 422  # a bad request is counted as what it is, not as served
    status, _ = request(port, f"GET /no-such-path HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    assert status == 404


def test_a_load_counts_every_request_on_kept_connections(web_port):
    load = asyncio.run(Load(web_port, "health", clients=4, total=50).run())
    assert load.statuses == {200: 50} and len(load.latencies) == len(load.spans) == 50
    assert all(end >= start for start, end in load.spans) and load.seconds > 0


@pytest.mark.slow
def test_the_benchmark_runs_and_reports_no_errors(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_web", "--clients", "4", "--stats", "200", "--moves", "8"],
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # A row: the label in 34 columns, then n, p50, p99, 200 p99, max, req/s, 503s, 5xx, statuses.
    rows = {
        line[:34].strip(): line[34:].split()
        for line in run.stdout.splitlines()
        if line.startswith(("GET", "POST", "  move", "  /stats"))
    }
    assert set(rows) == {
        "GET /health (floor: no work)",
        "GET /stats",
        "POST /api/games/move (100 sims)",
        "move, mixed (2 + 2 clients)",
        "/stats, mixed",
    }, run.stdout
    for label, fields in rows.items():
        assert fields[7] == "0", f"{label}: 5xx other than 503 with Retry-After\n{run.stdout}"
        assert int(fields[0]) == sum(int(s.split("x")[1]) for s in fields[8:]), f"{label}: statuses do not add up"
    assert "cartridge-web exit code after SIGTERM: 0" in run.stdout
