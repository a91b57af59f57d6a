"""Shared database fixtures: a fresh, migrated database per test on SQLite and PostgreSQL.

PostgreSQL: unless ``SMARTCAT_TEST_DATABASE_URL`` names a server to use, the session starts a
throwaway server (``bench/pgserver.py``, not durable: fsync off) with its data directory and
Unix socket under /tmp and a free port.  Under pytest-xdist every worker process starts its
own server.  Each test gets its own database, cloned from a template that was migrated once
(``CREATE DATABASE ... TEMPLATE``).  When a server cannot start the tests that need it are
skipped with the reason, except in CI (``CI=true``) where that is a failure: they must never
be skipped silently there.  ``throwaway_postgres`` starts such servers for other fixtures
(tests/reliability stops and restarts its own).

SQLite: the migrated file is made once and copied for each test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pgserver import PostgresServer, admin_execute, with_database

from item_bank.db import make_engine, session_factory, upgrade
from item_bank.security import TEST_FAST_HASH_ENV

TEMPLATE_DB = "smartcat_template"
# Cheap argon2 parameters for every password the suite hashes and checks (item_bank.security),
# in this process and the servers it starts; tests/test_password_hash.py checks the default.
os.environ[TEST_FAST_HASH_ENV] = "1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def _started(**settings) -> Iterator[PostgresServer]:
    server = PostgresServer(**settings)
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        server.destroy()
        message = f"cannot start the throwaway PostgreSQL server: {exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def throwaway_postgres() -> Callable[..., contextlib.AbstractContextManager[PostgresServer]]:
    """``with throwaway_postgres(durable=..., max_connections=...) as server:`` a started
    :class:`PostgresServer`, destroyed at the end of the block (skip or CI failure when it
    cannot start)."""
    return _started


@pytest.fixture(scope="session")
def postgres_admin_url(throwaway_postgres) -> Iterator[str]:
    """URL of a PostgreSQL maintenance database where test databases can be created."""
    given = os.environ.get("SMARTCAT_TEST_DATABASE_URL")
    if given:
        yield given.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    with throwaway_postgres(durable=False, max_connections=120) as server:
        yield server.url("postgres")


@pytest.fixture
def postgres_database(postgres_admin_url: str) -> Iterator[Callable[..., str]]:
    """``postgres_database(prefix, template=None)``: the URL of a new database (a copy of
    ``template`` if given) on the test server, dropped after the test."""
    created: list[str] = []

    def create(prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        clone = f' TEMPLATE "{template}"' if template else ""
        admin_execute(postgres_admin_url, f'CREATE DATABASE "{name}"{clone}')
        created.append(name)
        return with_database(postgres_admin_url, name)

    yield create
    admin_execute(postgres_admin_url,
                  *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in created))


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> str:
    """Name of a database migrated once to head; test databases are cloned from it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{TEMPLATE_DB}_{worker}_{uuid.uuid4().hex[:8]}"
    admin_execute(postgres_admin_url, f'CREATE DATABASE "{name}"')
    upgrade(with_database(postgres_admin_url, name))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=[pytest.param("sqlite"),
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the head revision, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    yield request.getfixturevalue("postgres_database")(
        "t", template=request.getfixturevalue("postgres_template"))


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url, pool_size=25, max_overflow=10) if "postgresql" in db_url \
        else make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def Session(engine):  # noqa: N802 - a sessionmaker, named like the class it makes
    return session_factory(engine)


@pytest.fixture
def session(Session):  # noqa: N803
    with Session() as session:
        yield session


# The files that take longest (``pytest --durations``), run first: under ``-n 2 --dist
# worksteal`` (``make test``) a long test started last keeps one worker busy while the other
# has nothing left to steal.
LONG_FILES_FIRST = (
    "reliability/test_schemathesis.py",
    "cat_engine/test_simulation.py",
    "reliability/test_faults.py",
    "reliability/test_health_metrics.py",
    "server/test_server_browser.py",
    "item_bank/test_no_repeat.py",
    "reliability/test_round_robin.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((n for n, name in enumerate(LONG_FILES_FIRST) if path.endswith(name)),
                    len(LONG_FILES_FIRST))

    items.sort(key=rank)
