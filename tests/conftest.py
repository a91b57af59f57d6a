"""Shared database fixtures: a fresh, migrated database per test on SQLite and PostgreSQL.

PostgreSQL: unless ``SMARTCAT_TEST_DATABASE_URL`` names a server to use, the session starts a
throwaway PostgreSQL from the binaries on PATH (``initdb``, ``pg_ctl``) as the ``postgres``
user (we may run as root), with its data directory and unix socket under /tmp and a free port.
Under pytest-xdist every worker process starts its own server.  Each test gets its own database,
cloned from a template that was migrated once (``CREATE DATABASE ... TEMPLATE``).  When the
server cannot start the PostgreSQL tests are skipped with the reason, except in CI (``CI=true``)
where that is a failure: they must never be skipped silently there.

SQLite: the migrated file is made once and copied for each test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from item_bank.db import make_engine, session_factory, upgrade

TEMPLATE_DB = "smartcat_template"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


class _ThrowawayPostgres:
    """initdb + pg_ctl start in a temporary directory; ``stop()`` removes everything."""

    def __init__(self) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.root = Path(tempfile.mkdtemp(prefix=f"smartcat-pg-{worker}-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.started = False

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        # Durability is pointless for a throwaway test server; speed is not.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=120")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")
        self.started = True
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        done = subprocess.run(_as_postgres(*cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd[:1])} failed: {done.stderr.strip()} {tail}")

    def stop(self) -> None:
        if self.started:
            subprocess.run(_as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate",
                                        "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def _admin_execute(admin_url: str, *statements: str) -> None:
    import psycopg

    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _with_database(admin_url: str, name: str) -> str:
    base, _, _old = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL maintenance database where test databases can be created."""
    given = os.environ.get("SMARTCAT_TEST_DATABASE_URL")
    if given:
        yield given.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    server = _ThrowawayPostgres()
    try:
        url = server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        server.stop()
        message = f"cannot start the throwaway PostgreSQL server: {exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> str:
    """Name of a database migrated once to head; test databases are cloned from it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{TEMPLATE_DB}_{worker}_{uuid.uuid4().hex[:8]}"
    _admin_execute(postgres_admin_url, f'CREATE DATABASE "{name}"')
    upgrade(_with_database(postgres_admin_url, name))
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
    admin_url = request.getfixturevalue("postgres_admin_url")
    template = request.getfixturevalue("postgres_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
