"""Backend outages: the details go to the logs, once per change; clients get a generic sentence.

Error texts from psycopg, boto3 or the file system name hosts, ports, users, buckets and paths. The
logs are the operator's; /stats and /ready are read by anyone who can reach the web, so they only
say which backend is away and what still works.
"""

from __future__ import annotations

from structlog.stdlib import BoundLogger

REPLAY_UNAVAILABLE = "the replay buffer is unreachable: training statistics return when it is back (games still work)"
REPLAY_SLOW = "the replay buffer has not answered yet"
MODEL_STORE_UNAVAILABLE = "model store unreachable"
MANIFEST_UNREADABLE = "the latest manifest is unreadable"


class OutageLog:
    """Logs when a backend becomes unreachable (or fails differently) and when it is back, not on every
    attempt: a background poll or a busy /stats would otherwise log the same outage every second."""

    def __init__(self, log: BoundLogger, backend: str, meanwhile: str) -> None:
        self.log, self.backend, self.meanwhile = log, backend, meanwhile
        self.error: str | None = None

    def report(self, error: str | None) -> None:
        if error != self.error:
            if error is None:
                self.log.info(f"{self.backend} reachable again")
            else:
                self.log.warning(f"{self.backend} unreachable, {self.meanwhile}", error=error)
            self.error = error
