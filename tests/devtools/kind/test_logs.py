"""devtools.kind.logs: following several components runs their kubectls side by side and stops them all.

The kubectl calls themselves run against the recording API in tests/test_kubectl_api.py; here kubectl is a
shell that writes what a kubectl following one pod would, and never ends, as a real follow does not."""

from __future__ import annotations

import subprocess
import threading
import time

from devtools.kind.logs import kubectl_logs, logs_command
from devtools.logs import LogQuery
from devtools.timeflags import Since


def test_the_command_puts_context_and_namespace_first_and_says_what_was_asked():
    query = LogQuery(lines=None, follow=True, since=Since.parse("2025-06-01T12:00:00+02:00"), timestamps=True)
    assert logs_command("web", query, "kind-cartridge", "cartridge") == [
        "kubectl",
        "--context",
        "kind-cartridge",
        "-n",
        "cartridge",
        "logs",
        "-l",
        "app.kubernetes.io/name=web",
        "--prefix",
        "--all-containers",
        "--ignore-errors",
        "--tail=-1",
        "--since-time=2025-06-01T10:00:00Z",
        "--timestamps",
        "-f",
        "--max-log-requests=20",
    ]


def test_following_two_components_streams_both_at_once_and_stops_both():
    started: list[subprocess.Popen] = []

    def popen(args, **kwargs):
        component = args[args.index("-l") + 1].split("=")[1]
        # The first component's stream never ends: were they read one after the other, the second would never show.
        script = f"echo '[pod/{component}-1/{component}] hello from {component}'; exec sleep 60"
        started.append(subprocess.Popen(["sh", "-c", script], **kwargs))
        return started[-1]

    lines = kubectl_logs(["trainer", "web"], LogQuery(follow=True), "kind-cartridge", "cartridge", popen=popen)
    got = []
    reader = threading.Thread(target=lambda: got.extend(next(lines) for _ in range(2)), daemon=True)
    reader.start()
    reader.join(20)
    assert sorted((line.source, line.text) for line in got) == [
        ("trainer-1", "hello from trainer"),
        ("web-1", "hello from web"),
    ]
    closing = time.monotonic()
    lines.close()  # what Ctrl-C does to the generator
    assert time.monotonic() - closing < 10, "closing waited for the kubectls to end by themselves"
    assert [p.poll() is not None for p in started] == [True, True], "a kubectl outlived the follow"
