"""A real, throwaway PostgreSQL server for tests and benchmarks, from the Debian binaries.

``CARTRIDGE_TEST_POSTGRES_URL`` points the tests at an existing server instead. PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (or make system-deps)")
    return Path(found[-1]).parent


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextlib.contextmanager
def postgres_server(durable: bool = False, password: str | None = None) -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh database; stop and remove the server afterwards.

    Tests run with fsync off (a throwaway server); ``durable`` keeps PostgreSQL's defaults (fsync and
    synchronous commit on), as a cluster's server runs, for benchmarks. With ``password`` the server
    requires it (scram-sha-256) and the URL leaves it out, as the cluster's REPLAY_URL does."""
    if (url := os.environ.get("CARTRIDGE_TEST_POSTGRES_URL")) and password is None:
        yield url
        return
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="cartridge-pg-"))
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        auth = ["-A", "trust"]
        if password is not None:
            (root / "pwfile").write_text(password + "\n")
            if os.geteuid() == 0:
                shutil.chown(root / "pwfile", "postgres", "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={root / 'pwfile'}"]
        subprocess.run(
            _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "cartridge", *auth, "-E", "UTF8"]),
            check=True, capture_output=True,
        )  # fmt: skip
        server = subprocess.Popen(
            _as_server_user([
                str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
                "-c", "listen_addresses=127.0.0.1", "-c", f"fsync={'on' if durable else 'off'}",
                "-c", "max_connections=100",
            ]),
            stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            ).returncode:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {(root / 'server.log').read_text()[-2000:]}")
                time.sleep(0.1)
            subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "cartridge", "replay"], check=True,
                env={**os.environ, **({"PGPASSWORD": password} if password is not None else {})},
            )  # fmt: skip
            yield f"postgresql://cartridge@127.0.0.1:{port}/replay"
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """A new empty database on the server behind ``server_url`` (dropped afterwards)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_connections(database_url: str) -> None:
    """End every other session on the database, as a server restart or a failover does to its clients."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")  # fmt: skip
