"""Model moves under load, batched against unbatched, in one session: p50/p99, moves/s, 5xx and the web's RSS.

Starts two real ``cartridge-web`` processes on the same model and data as bench.bench_web, one per arm
(each arm's settings below), and drives them in turn with the same move load, alternating arms round by
round so the machine's changing load falls on both alike. Only one web is loaded at a time; the other idles.

    .venv/bin/python -m bench.bench_web_batching [--clients 20] [--moves 200] [--rounds 4] [--arm name=K=V,K=V ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import numpy as np

from bench.bench_web import Load, prepare
from bench.games import MEASURED_GAME
from cartridge.games import get_game
from testkit.support import free_port, wait_until

ARMS = {
    "unbatched": {"WEB_BATCHING": "off", "WEB_SEARCH_SLOTS": "2", "WEB_EVAL_CACHE": "0"},  # the web before
    "batched": {"WEB_BATCHING": "on"},  # today's defaults
}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssWatch:
    """The web's peak RSS while a load runs, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def publish_int8(store_url: str) -> None:
    """The same network statically quantized, calibrated on random positions, published over prepare()'s fp32."""
    from cartridge.modelstore import open_model_store
    from cartridge_trainer.network import PolicyValueNet, export_onnx
    from cartridge_trainer.quantize import quantize_int8

    game, rng, states = get_game(MEASURED_GAME), np.random.default_rng(0), []
    for _ in range(256):
        state = game.initial_state()
        for _ in range(int(rng.integers(0, 12))):
            if state.terminal:
                break
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        states.append(state)
    model = quantize_int8(export_onnx(PolicyValueNet(game), game), game.observations(states))
    open_model_store(store_url).publish(MEASURED_GAME, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--moves", type=int, default=200, help="moves per arm per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="the model served: bench_web's fp32, or int8 as the trainer publishes it (EXPORT_PRECISION's default)",
    )
    parser.add_argument(
        "--arm", action="append", default=[], help="extra arm: name=K=V,K=V (e.g. wait5=WEB_BATCH_WAIT_MS=5)"
    )
    args = parser.parse_args()
    arms = dict(ARMS)
    for spec in args.arm:
        name, _, pairs = spec.partition("=")
        arms[name] = dict(pair.split("=", 1) for pair in pairs.split(","))

    tmp = tempfile.mkdtemp(prefix="cartridge-bench-web-batching-")
    common = {**os.environ, **prepare(tmp)}
    if args.precision == "int8":
        publish_int8(common["MODEL_STORE_URL"])
    webs: dict[str, tuple[int, subprocess.Popen]] = {}
    try:
        for name, extra in arms.items():
            port = free_port()
            proc = subprocess.Popen(
                [Path(sys.executable).with_name("cartridge-web")], env={**common, **extra, "HTTP_PORT": str(port)}
            )
            webs[name] = (port, proc)
        for name, (port, _) in webs.items():

            def ready(port: int = port) -> bool:
                try:
                    url = f"http://127.0.0.1:{port}/api/model?env_id={MEASURED_GAME}"
                    return httpx.get(url, timeout=2).json().get("has_model")
                except httpx.HTTPError:
                    return False

            wait_until(ready, 60, f"the {name} web with its model")
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; {args.clients} clients, ")
        print(f"connect4 64x4 {args.precision}, WEB_SIMS=100; {args.rounds} rounds x {args.moves} moves per arm")
        for name, extra in arms.items():
            print(f"  {name}: {extra}")
        latencies: dict[str, list[float]] = {name: [] for name in arms}
        seconds = {name: 0.0 for name in arms}
        statuses: dict[str, dict[int, int]] = {name: {} for name in arms}
        peaks = {name: 0.0 for name in arms}
        for r in range(args.rounds):
            order = list(arms) if r % 2 == 0 else list(reversed(arms))
            for name in order:
                port, proc = webs[name]
                # Warm-up: the first moves of a fresh web load code paths; untimed.
                # Each round's positions are new (another seed), the same for every arm: a web that caches
                # evaluations gains only what positions shared within a round give it, as between real players.
                asyncio.run(Load(port, "move", args.clients, args.clients, seed=10_000 * (r + 1)).run())
                with RssWatch(proc.pid) as rss:
                    load = asyncio.run(Load(port, "move", args.clients, args.moves, seed=1000 * r).run())
                latencies[name] += load.latencies
                seconds[name] += load.seconds
                for status, n in load.statuses.items():
                    statuses[name][status] = statuses[name].get(status, 0) + n
                peaks[name] = max(peaks[name], rss.peak)
                p99 = np.percentile(load.latencies, 99) * 1000
                print(
                    f"round {r} {name:12} p50 {np.percentile(load.latencies, 50) * 1000:6.1f} ms  p99 {p99:6.1f} ms"
                    f"  {len(load.latencies) / load.seconds:6.1f} moves/s  RSS peak {rss.peak:6.1f} MB  "
                    f"load {os.getloadavg()[0]:.1f}"
                )
        print(f"\n{'arm':12} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'moves/s':>8} {'5xx':>4} {'RSS MB':>7}  statuses")
        base = None
        for name in arms:
            lat = latencies[name]
            rate = len(lat) / seconds[name]
            errors = sum(n for s, n in statuses[name].items() if s >= 500)
            p50, p99 = (np.percentile(lat, q) * 1000 for q in (50, 99))
            base = base or (p50, p99, rate)
            print(
                f"{name:12} {len(lat):5d} {p50:8.1f} {p99:8.1f} {rate:8.1f} {errors:4d} {peaks[name]:7.1f}  "
                f"{' '.join(f'{s}x{n}' for s, n in sorted(statuses[name].items()))}  "
                f"(p50 x{p50 / base[0]:.2f}, p99 x{p99 / base[1]:.2f}, moves/s x{rate / base[2]:.2f})"
            )
        metrics = httpx.get(f"http://127.0.0.1:{webs['batched'][0]}/metrics", timeout=5).text
        sizes = [line for line in metrics.splitlines() if line.startswith("cartridge_web_inference_batch_size_")]
        count = next((float(x.split()[-1]) for x in sizes if "_count" in x), 0.0)
        total = next((float(x.split()[-1]) for x in sizes if "_sum" in x), 0.0)
        if count:
            print(f"batched: {count:.0f} network calls, {total / count:.1f} positions per call on average")
    finally:
        for _, proc in webs.values():
            proc.send_signal(signal.SIGTERM)
        for name, (_, proc) in webs.items():
            print(f"{name} web exit code after SIGTERM: {proc.wait(20)}")


if __name__ == "__main__":
    main()
