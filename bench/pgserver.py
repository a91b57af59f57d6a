"""A private PostgreSQL server for the tests and the benchmarks.

:class:`PostgresServer` runs ``initdb`` and ``pg_ctl`` from the machine's PATH in a temporary
directory (as user ``postgres`` when run as root: PostgreSQL refuses to run as root), on a
free port of 127.0.0.1 and on a Unix socket in that directory.  ``tests/conftest.py`` starts
one per pytest worker for the database tests, ``tests/reliability/conftest.py`` one per test
module that it may stop and restart, and ``bench/bench_load.py`` one for a load run.

:func:`admin_execute` and :func:`with_database` work on any server's URL, including one given
to the tests in ``SMARTCAT_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_execute(url: str, *statements: str) -> None:
    """Run ``statements`` in autocommit on the server of ``url`` (``CREATE DATABASE`` and
    ``DROP DATABASE`` cannot run inside a transaction)."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def with_database(url: str, name: str) -> str:
    """``url`` with the database ``name`` (host, port, socket and user kept)."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


class PostgresServer:
    """initdb + pg_ctl in a temporary directory.

    ``durable=False`` turns fsync, synchronous commits and full-page writes off: a server
    thrown away after the tests loses nothing by it and runs faster.  ``durable=True`` keeps
    PostgreSQL's defaults (the load benchmark measures a production set-up).  :meth:`stop`
    then :meth:`start` restart it on the same port and data (the fault tests); :meth:`destroy`
    stops it if needed and removes the directory.
    """

    def __init__(self, *, durable: bool = True, max_connections: int = 100) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="smartcat-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.durable = durable
        self.max_connections = max_connections
        self.initialised = False

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
        done = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr.strip()} {tail}")

    def start(self) -> str:
        """Start the server (initialising it the first time); returns :meth:`url` of the
        ``postgres`` maintenance database."""
        if not self.initialised:
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--no-sync")
            self.initialised = True
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections={self.max_connections}")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self.url("postgres")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        """The database over the server's Unix socket, as a same-host production set-up should
        connect: measured here, a round trip costs client and server about 35 us less CPU
        than over TCP on 127.0.0.1 (docs/operations.md)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its :meth:`url`."""
        admin_execute(self.url("postgres"), f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.initialised:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.SubprocessError):
                pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)
