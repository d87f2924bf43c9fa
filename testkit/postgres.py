"""A real, throwaway PostgreSQL server for tests and benchmarks: testcontainers' PostgresContainer.

The image is ``POSTGRES_IMAGE`` (default: the official image at the version the cluster runs, see
k8s/base/postgres.yaml); it is pulled when the engine does not have it. ``CARTRIDGE_TEST_POSTGRES_URL``
points the tests at an existing server instead. Without a Docker engine the tests that need a server skip
with one line (the ``docker_engine`` fixture); .ci/run starts an engine where it can.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import quote

DEFAULT_IMAGE = "postgres:15.8-bookworm"
USER, DATABASE = "cartridge", "replay"
TEST_PASSWORD = "cartridge-test"  # the throwaway server's, in its URL


@contextlib.contextmanager
def postgres_server(durable: bool = False, password: str | None = None, host_port: int | None = None) -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh database on a new server; stop and remove it afterwards.

    Tests run with fsync off (a throwaway server); ``durable`` keeps PostgreSQL's defaults (fsync and
    synchronous commit on), as a cluster's server runs, for benchmarks. The server requires the password
    (scram-sha-256, the official image's default). With ``password`` the URL leaves it out, as the
    cluster's REPLAY_URL does (PGPASSWORD supplies it); otherwise the URL carries the test password.
    ``host_port`` pins the host's port: Docker hands a restarted container a new random one otherwise,
    and clients that hold the URL (the chaos suite's services) would lose the server for good."""
    if (url := os.environ.get("CARTRIDGE_TEST_POSTGRES_URL")) and password is None:
        yield url
        return
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before 4.14
        from testcontainers.postgres import PostgresContainer

    secret = TEST_PASSWORD if password is None else password
    container = (
        PostgresContainer(
            os.environ.get("POSTGRES_IMAGE", DEFAULT_IMAGE),
            username=USER,
            password=secret,
            dbname=DATABASE,
            driver=None,
        )
        .with_env("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256")
        .with_command(f"postgres -c fsync={'on' if durable else 'off'} -c max_connections=100")
    )
    if host_port is not None:
        container = container.with_bind_ports(5432, host_port)
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        auth = USER if password is not None else f"{USER}:{quote(secret, safe='')}"
        yield f"postgresql://{auth}@{host}:{port}/{DATABASE}"


def server_container(database_url: str):
    """The Docker container of the server behind ``database_url``, found by the host port in the URL."""
    import docker

    port = database_url.rsplit(":", 1)[1].split("/", 1)[0]
    (container,) = [
        c
        for c in docker.from_env().containers.list()
        if any(b.get("HostPort") == port for b in (c.ports.get("5432/tcp") or []))
    ]
    return container


@contextlib.contextmanager
def frozen_server(database_url: str) -> Iterator[None]:
    """Freeze the server's container (the cgroup freezer: every PostgreSQL process stops, as under SIGSTOP, and
    the kernel still acknowledges TCP, as a hung host's does); thaw it afterwards. The container is found by
    the host port in the URL: pids read inside it (pg_backend_pid) are the container's, not this host's."""
    container = server_container(database_url)
    container.pause()
    try:
        yield
    finally:
        container.unpause()


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
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@contextlib.contextmanager
def outage(database_url: str) -> Iterator[None]:
    """While the block runs the database is down for its clients: open sessions are ended and new ones
    refused, as during a server restart; afterwards it accepts connections again."""
    import psycopg

    server, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
