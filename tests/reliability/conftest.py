"""Reliability fixtures: a private PostgreSQL server per test module that the tests may stop
and restart (bench/pgserver.py), and gunicorn from the load harness of bench/bench_load.py.

Every server started here listens on 127.0.0.1 (and PostgreSQL on its Unix socket) only and
is stopped by its fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import bench_load as load
import pytest
from pgserver import PostgresServer


@pytest.fixture(scope="module")
def pg(throwaway_postgres) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module alone (tests stop and restart it)."""
    with throwaway_postgres(durable=False, max_connections=100) as server:
        yield server


@pytest.fixture
def pg_db(pg: PostgresServer) -> str:
    """A fresh database on the module's server."""
    return pg.create_database(f"r_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def gunicorn_factory():
    started = []

    def start(db_url: str, **kwargs):
        server = load.Gunicorn(db_url, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
