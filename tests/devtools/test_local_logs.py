"""The local runtime's log files: stamped as written by the supervisor, followed like `tail -F`."""

from __future__ import annotations

import io
import os
import queue
import subprocess
import threading
import time
import tracemalloc
from datetime import UTC, datetime

import pytest

from devtools.local.logs import LocalLogs, copy_stamped, split_stamp
from devtools.logs import LogLine, LogPrinter, LogQuery, smart_terminal
from testkit.support import wait_until

WAIT = 10  # seconds a followed line may take to show up on a loaded machine


class Follower:
    """LocalLogs.lines(follow) in a thread of its own; ``next_texts(n)`` waits for the next n lines."""

    def __init__(self, logs: LocalLogs, query: LogQuery) -> None:
        self.got: queue.Queue[LogLine] = queue.Queue()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(logs, query), daemon=True)
        self.thread.start()

    def _run(self, logs: LocalLogs, query: LogQuery) -> None:
        for line in logs.lines(query, poll=0.02, stop=self.stopped.is_set):
            self.got.put(line)

    def next_lines(self, n: int) -> list[tuple[str, str]]:
        return [(line.source, line.text) for line in (self.got.get(timeout=WAIT) for _ in range(n))]

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the follow did not stop"


def append(path, *texts: str) -> None:
    with open(path, "ab") as f:
        for text in texts:
            f.write(f"2025-06-01T10:00:00.000000Z {text}\n".encode())


@pytest.fixture
def logs(tmp_path) -> LocalLogs:
    (tmp_path / "logs").mkdir()
    return LocalLogs(tmp_path / "logs")


def test_follow_picks_up_new_lines_truncation_rotation_and_components_that_start_later(logs):
    web = logs.directory / "web.log"
    append(web, "old 1", "old 2")
    follower = Follower(logs, LogQuery(lines=1, follow=True))
    try:
        assert follower.next_lines(1) == [("web", "old 2")]
        append(web, "new")
        assert follower.next_lines(1) == [("web", "new")]
        with open(web, "ab") as f:  # a line written in two parts is one line
            f.write(b"2025-06-01T10:00:00.000000Z half")
            f.flush()
            time.sleep(0.2)  # ten polls
            assert follower.got.empty(), f"a partial line was shown: {follower.got.get()}"
            f.write(b" and half\n")
        assert follower.next_lines(1) == [("web", "half and half")]
        web.write_bytes(b"")  # truncated in place (logrotate's copytruncate)
        append(web, "after truncation")
        assert follower.next_lines(1) == [("web", "after truncation")]
        append(web, "last of the old file")
        web.rename(logs.directory / "web.log.1")  # rotated: moved away, made anew
        append(web, "first of the new file")
        assert follower.next_lines(2) == [("web", "last of the old file"), ("web", "first of the new file")]
        append(logs.directory / "actor-3.log", "a late actor")  # started after the follow began
        assert follower.next_lines(1) == [("actor-3", "a late actor")]
    finally:
        follower.stop()


def test_following_one_component_shows_no_other(logs):
    append(logs.directory / "web.log", "web 1")
    follower = Follower(logs, LogQuery(components=("web",), lines=5, follow=True))
    try:
        assert follower.next_lines(1) == [("web", "web 1")]
        append(logs.directory / "trainer.log", "trainer 1")
        append(logs.directory / "web.log", "web 2")
        assert follower.next_lines(1) == [("web", "web 2")]
    finally:
        follower.stop()
    assert follower.got.empty()


def test_the_tail_of_a_long_log_reads_only_its_end(logs):
    web = logs.directory / "web.log"
    append(web, *(f"line {i}" for i in range(40_000)))  # 1.5 MB: many blocks back from the end
    tracemalloc.start()
    try:
        lines = list(logs.lines(LogQuery(components=("web",), lines=3)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [line.text for line in lines] == ["line 39997", "line 39998", "line 39999"]
    assert peak < 500_000, f"{peak} bytes held to show three lines: the whole file was read"
    assert [line.text for line in logs.lines(LogQuery(components=("web",), lines=0))] == []


def test_the_supervisor_stamps_every_line_of_a_component_as_it_arrives(tmp_path):
    times = iter(datetime(2025, 6, 1, 10, 0, s, 250_000, tzinfo=UTC) for s in range(10))
    path = tmp_path / "web.log"
    # Output with no newline at the end, as from a process killed mid-line: the line is still kept whole.
    proc = subprocess.Popen(["printf", "first [warning  ]\\nsecond\\npartial"], stdout=subprocess.PIPE)
    copy_stamped(proc.stdout, path, clock=lambda: next(times))
    proc.wait()
    assert path.read_text().endswith("partial\n"), "the next line would be glued to the cut one"
    assert path.read_text().splitlines() == [
        "2025-06-01T10:00:00.250000Z first [warning  ]",
        "2025-06-01T10:00:01.250000Z second",
        "2025-06-01T10:00:02.250000Z partial",
    ]
    assert split_stamp(path.read_text().splitlines()[0]) == (
        datetime(2025, 6, 1, 10, 0, 0, 250_000, tzinfo=UTC),
        "first [warning  ]",
    )


def test_the_supervisor_makes_a_rotated_log_again(tmp_path):
    path = tmp_path / "web.log"
    read, write = os.pipe()
    copier = threading.Thread(target=copy_stamped, args=(os.fdopen(read, "rb"), path))
    copier.start()
    os.write(write, b"before\n")
    wait_until(lambda: path.exists() and path.read_text().endswith("before\n"), WAIT, "the first line")
    path.rename(tmp_path / "web.log.1")
    os.write(write, b"after\n")
    os.close(write)
    copier.join(WAIT)
    assert [split_stamp(line)[1] for line in path.read_text().splitlines()] == ["after"]
    assert [split_stamp(line)[1] for line in (tmp_path / "web.log.1").read_text().splitlines()] == ["before"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prefixes_are_coloured_per_component_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out = Terminal()
    printer = LogPrinter(["trainer", "web"], stream=out)
    printer(LogLine("trainer", "trainer", "t"))
    printer(LogLine("web", "web", "[bold]w[/bold]"))
    printer(LogLine("web", "web-7d9c8b5f4-x2x9z", "a pod's name is longer: the prefixes widen from here"))
    printer(LogLine("trainer", "trainer", "t"))
    assert out.getvalue().splitlines() == [
        "\x1b[36mtrainer\x1b[0m | t",
        "\x1b[33mweb    \x1b[0m | [bold]w[/bold]",
        "\x1b[33mweb-7d9c8b5f4-x2x9z\x1b[0m | a pod's name is longer: the prefixes widen from here",
        "\x1b[36mtrainer            \x1b[0m | t",
    ]
    assert smart_terminal(Terminal()) and not smart_terminal(io.StringIO())  # a pipe or a file: no colour
    monkeypatch.setenv("NO_COLOR", "1")
    assert not smart_terminal(Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not smart_terminal(Terminal())
