"""What `devtools logs` asks a runtime for and how it prints the answer, the same for both runtimes.

A runtime turns a ``LogQuery`` into ``LogLine``s (devtools.local.logs reads the local runtime's files,
devtools.kind.logs runs `kubectl logs`); ``LogPrinter`` writes them as `docker compose logs` and stern do:
each line behind its source's name, padded so the lines align, the name in its component's colour on a
terminal. A log line is text: it is written as it is, never read as markup (structlog's `[warning  ]` and
`[uvicorn.error]` are part of it, and `[/x]` is no closing tag).
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from devtools.timeflags import Since, format_time


@dataclass(frozen=True)
class LogQuery:
    components: tuple[str, ...] = ()  # none: every component
    lines: int | None = 50  # the last N of each source; None: all of them
    follow: bool = False
    since: Since | None = None
    timestamps: bool = False
    previous: bool = False  # kind: the last terminated container's log


@dataclass(frozen=True)
class LogLine:
    component: str  # whose colour
    source: str  # the prefix: the component (local), the pod or pod/container (kind)
    text: str
    time: datetime | None = None  # when it was written, where the runtime knows it (shown with --timestamps)


@dataclass(frozen=True)
class LogStream:
    """A runtime's answer: the components it may show, in order (their colours and the first width), and the lines
    (an iterator that ends, or with --follow runs until the caller stops)."""

    components: list[str]
    lines: Iterator[LogLine]


# docker compose's rainbow of service colours (docker/compose cmd/formatter/colors.go): cyan, yellow, green,
# magenta, blue, then the same in bold. No red: it reads as an error.
PALETTE = ("36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1")


def smart_terminal(stream: TextIO) -> bool:
    """Colours and spinners only on a terminal that takes escape codes, and never when NO_COLOR is set
    (kind's rule: pkg/internal/env/term.go, isSmartTerminal)."""
    isatty = getattr(stream, "isatty", lambda: False)
    return isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class LogPrinter:
    """Writes each LogLine as ``<source padded> | [time ]text``; ``components`` fixes the colours and the first
    width (a longer source widens it from then on)."""

    def __init__(
        self,
        components: Sequence[str],
        *,
        timestamps: bool = False,
        stream: TextIO | None = None,
        colour: bool | None = None,
        flush: bool = False,
    ) -> None:
        self.stream = stream or sys.stdout
        self.colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(components)}
        self.width = max((len(name) for name in components), default=0)
        self.timestamps = timestamps
        self.colour = smart_terminal(self.stream) if colour is None else colour
        self.flush = flush  # following: each line as it comes, not when a pipe's buffer fills

    def colour_of(self, component: str) -> str:
        return self.colours.get(component) or PALETTE[zlib.crc32(component.encode()) % len(PALETTE)]

    def __call__(self, line: LogLine) -> None:
        self.width = max(self.width, len(line.source))
        prefix = line.source.ljust(self.width)
        if self.colour:
            prefix = f"\x1b[{self.colour_of(line.component)}m{prefix}\x1b[0m"
        stamp = f"{format_time(line.time)} " if self.timestamps and line.time is not None else ""
        self.stream.write(f"{prefix} | {stamp}{line.text}\n")
        if self.flush:
            self.stream.flush()
