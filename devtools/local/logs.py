"""The local runtime's logs: one file per component, <data dir>/logs/<name>.log, every line stamped as written.

The supervisor reads each component's stdout and stderr from a pipe and appends every line behind the time it
arrived (RFC3339, UTC, to the microsecond), as the kubelet writes a container's log (the CRI log format) and
Docker's json-file driver does. The services stamp their own structlog lines, but a traceback, a print and
Vite's output carry no time, and `--since` and `--timestamps` need every line's. `devtools logs` shows a line
without the stamp unless asked (`--timestamps`), as `kubectl logs` does.

Reading follows the files as `tail -F` does: new lines, a file truncated in place or moved away and made anew
(rotated), and, when following every component, the logs of components that start later.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from devtools.errors import DevtoolsError
from devtools.logs import LogLine, LogQuery
from devtools.timeflags import format_time

_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)", re.DOTALL)
_OLDEST = datetime.min.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# --- writing (the supervisor) ---------------------------------------------------------------------------------


class StampedFile:
    """Appends stamped lines to ``path``, one write() each, so lines stay whole beside another writer (O_APPEND).
    A file moved away or removed (rotated) is made again at ``path`` before the next line."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = _now) -> None:
        self.path = path
        self.clock = clock
        self.handle: BinaryIO | None = None

    def write(self, raw: bytes) -> None:
        if self.handle is None or _moved(self.path, self.handle):
            self.close()
            self.handle = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open between lines
        line = raw if raw.endswith(b"\n") else raw + b"\n"  # the last line of a process that died mid-line
        self.handle.write(format_time(self.clock()).encode() + b" " + line)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _moved(path: Path, handle: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return True


def copy_stamped(source: BinaryIO, path: Path, clock: Callable[[], datetime] = _now) -> None:
    """Every line of ``source`` (a component's output pipe) until its end, stamped, appended to ``path``. It ends
    when the last process holding the pipe's other end (the component and its children) has exited."""
    out = StampedFile(path, clock)
    try:
        for raw in iter(source.readline, b""):
            out.write(raw)
    finally:
        out.close()
        source.close()


# --- reading (`devtools logs`) --------------------------------------------------------------------------------


def split_stamp(line: str) -> tuple[datetime | None, str]:
    """The stamp the supervisor wrote before ``line`` and the line as the component wrote it; (None, line) for
    a line without one (written by an older devtools). Such an older line that begins with structlog's own stamp
    reads as stamped by the supervisor, which is harmless: it is the time the line was written either way."""
    stamped = _STAMP.fullmatch(line)
    if stamped is None:
        return None, line
    return datetime.fromisoformat(stamped.group(1)), stamped.group(2)


def written_text(path: Path) -> str:
    """A log file as the component wrote it: the supervisor's stamps taken off (for readers of its lines)."""
    with open(path, errors="replace") as f:
        return "".join(f"{split_stamp(line.rstrip(chr(10)))[1]}\n" for line in f)


@dataclass
class _Tail:
    """One file being followed: the open handle, how far it was read, and a line not yet ended."""

    name: str
    path: Path
    handle: BinaryIO
    offset: int = 0
    partial: bytes = b""
    last_time: datetime | None = None  # a line without a stamp takes the time of the one before it
    pending: list[tuple[datetime, LogLine]] = field(default_factory=list)

    def skip_to_last(self, last: int | None) -> None:
        """Start at the last ``last`` lines (None: at the start), found by reading back from the end in blocks,
        so the tail of a long log costs what the tail costs."""
        if last is None:
            return
        position, blocks, newlines = os.fstat(self.handle.fileno()).st_size, [], 0
        while position > 0 and newlines <= last:
            step = min(1 << 16, position)
            position -= step
            self.handle.seek(position)
            blocks.append(self.handle.read(step))
            newlines += blocks[-1].count(b"\n")
        tail = b"".join(reversed(blocks))
        # Begin after the newline before the last ``last`` complete lines (at the start if there is none).
        cut = len(tail)
        for _ in range(last + 1):
            cut = tail.rfind(b"\n", 0, cut)
            if cut < 0:
                break
        self.offset = position + cut + 1

    def read(self) -> None:
        """Whatever was appended since the last read, as complete lines in ``pending``."""
        self.handle.seek(self.offset)
        data = self.handle.read()
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for raw in lines:
            moment, text = split_stamp(raw.decode(errors="replace").rstrip("\r"))
            self.last_time = moment or self.last_time
            self.pending.append((self.last_time or _OLDEST, LogLine(self.name, self.name, text, moment)))

    def reopen_if_replaced(self) -> None:
        """Truncated in place: read again from the start. Moved away and made anew: read what the old file
        still had, then the new one from its start. Gone and not made again yet: keep the old handle."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return
        if now.st_ino != os.fstat(self.handle.fileno()).st_ino:
            self.read()
            self.handle.close()
            self.handle = open(self.path, "rb")  # noqa: SIM115 - closed by LocalLogs.lines
            self.offset, self.partial = 0, b""
        elif now.st_size < self.offset:
            self.offset, self.partial = 0, b""


class LocalLogs:
    """The logs under ``directory`` (<data dir>/logs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.log"))

    def path(self, name: str) -> Path:
        path = self.directory / f"{name}.log"
        if not path.exists():
            known = self.names()
            raise DevtoolsError(f"no log for {name!r}", f"known components: {', '.join(known) or 'none yet'}")
        return path

    def lines(
        self,
        query: LogQuery,
        *,
        poll: float = 0.2,
        now: Callable[[], datetime] = _now,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[LogLine]:
        """The last ``query.lines`` lines of each component (since ``query.since``), as one timeline; then, with
        ``query.follow``, every new line until the caller stops (Ctrl-C, or ``stop`` answers True), the components
        that start later too when no component was named."""
        names = list(query.components) or self.names()
        if not names:
            raise DevtoolsError("no logs yet", "start the stack with `devtools up`")
        cutoff = query.since.cutoff(now()) if query.since is not None else None
        tails = {name: self._open(name, self.path(name)) for name in names}
        try:
            for tail in tails.values():
                tail.skip_to_last(query.lines)
                tail.read()
            yield from _merged(tails.values(), cutoff, query.lines)
            while query.follow and not stop():
                if not query.components:  # a component that started after we began: every line of it is new
                    for name in set(self.names()) - set(tails):
                        tails[name] = self._open(name, self.directory / f"{name}.log")
                for tail in tails.values():
                    tail.reopen_if_replaced()
                    tail.read()
                new = list(_merged(tails.values(), cutoff, None))
                yield from new
                if not new:
                    time.sleep(poll)
        finally:
            for tail in tails.values():
                tail.handle.close()

    @staticmethod
    def _open(name: str, path: Path) -> _Tail:
        return _Tail(name, path, open(path, "rb"))


def _merged(tails, cutoff: datetime | None, last: int | None) -> Iterator[LogLine]:
    """The pending lines of every tail (at most ``last`` of each, none before ``cutoff``), in the order they
    were written; a line whose time is unknown keeps its place after the line before it."""
    chosen: list[tuple[datetime, int, LogLine]] = []
    for rank, tail in enumerate(tails):
        pending = [(t, line) for t, line in tail.pending if cutoff is None or t >= cutoff]
        tail.pending.clear()
        if last is not None:
            pending = pending[-last:] if last > 0 else []
        chosen += [(t, rank, line) for t, line in pending]
    chosen.sort(key=lambda item: (item[0], item[1]))  # stable: each file's own order is kept
    for _, _, line in chosen:
        yield line
