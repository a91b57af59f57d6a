"""Reliability fixtures: the load harness of bench/bench_load.py (a private PostgreSQL that the
tests may stop and restart, gunicorn, enrolled participants) and a demo app over SQLite.

Every server started here listens on 127.0.0.1 only and is stopped by its fixture."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_load.py"
_spec = importlib.util.spec_from_file_location("bench_load", _BENCH)
load = importlib.util.module_from_spec(_spec)
# The test modules `import bench_load` (bench/ is not a package); dataclasses need it listed.
sys.modules["bench_load"] = load
_spec.loader.exec_module(load)


@pytest.fixture(scope="module")
def pg() -> Iterator[object]:
    """A PostgreSQL server of this module alone (tests stop and restart it)."""
    server = load.ThrowawayPostgres(durable=False, max_connections=100)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        server.destroy()
        pytest.skip(f"cannot start PostgreSQL: {exc}")
    yield server
    server.destroy()


@pytest.fixture
def pg_db(pg) -> str:
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
