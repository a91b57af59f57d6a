"""``smartcat serve``: serve an existing database with the exam server."""

from __future__ import annotations

import argparse
import os
import secrets
import sys


def register(sub, groups) -> None:
    parser = sub.add_parser("serve", help="serve the exam server over an existing database")
    add_server_arguments(parser)
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn worker processes (default 1: the built-in threaded "
                             "server); more than 1 needs PostgreSQL for real concurrency")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per gunicorn worker (default 4); the database pool of "
                             "each worker is sized to it")
    parser.set_defaults(func=run)


def add_server_arguments(parser: argparse.ArgumentParser, db_default: str | None = None) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--db", default=db_default,
                        help="database URL (default: SMARTCAT_DATABASE_URL or ./smartcat.sqlite)")


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ValueError(f"--port {port} is not a TCP port (1..65535)")


def pool_size(threads: int) -> int:
    """Connections each worker keeps: one per request thread plus one for the deadline sweeper.

    With ``max_overflow`` 2 a gunicorn set-up opens at most ``workers * (threads + 3)``
    connections, which must stay below PostgreSQL's ``max_connections`` minus its reserved
    superuser slots (docs/operations.md).
    """
    return threads + 1


SERVER_HEADER = "SMART CAT"


def request_handler() -> type:
    """The built-in server's request handler, sending ``Server: SMART CAT``.

    Werkzeug's own says ``Werkzeug/<version> Python/<version>``, which tells a scanner which
    published vulnerabilities to try.  (gunicorn, since 20.1, sends ``gunicorn`` alone.)
    """
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def version_string(self) -> str:
            return SERVER_HEADER

    return Handler


def serve(url: str, host: str, port: int, workers: int = 1, threads: int = 4) -> int:
    """Serve ``url`` until interrupted; returns the exit code."""
    check_port(port)
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if threads < 1:
        raise ValueError("--threads must be at least 1")
    from item_bank.db import database_url
    url = database_url(url)
    # One secret shared by every worker, so a session made by one is valid in the others.
    os.environ.setdefault("SMARTCAT_SECRET_KEY", secrets.token_hex(32))
    os.environ["SMARTCAT_DATABASE_URL"] = url
    if workers > 1:
        os.environ.setdefault("SMARTCAT_DB_POOL_SIZE", str(pool_size(threads)))
        # Become gunicorn (exec), so that signals sent to this process reach its master.
        os.execv(sys.executable, gunicorn_command(host, port, workers, threads))
    from server import create_app
    app = create_app({"DATABASE_URL": url})
    app.run(host=host, port=port, threaded=True, use_reloader=False,
            request_handler=request_handler())
    return 0


def gunicorn_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The gunicorn command line of the production set-up (also used by bench/bench_load.py)."""
    return [sys.executable, "-m", "gunicorn", "-c", "python:server.gunicorn_conf",
            "--workers", str(workers), "--threads", str(threads),
            "--bind", f"{host}:{port}", "server.wsgi:app"]


def run(args: argparse.Namespace) -> int:
    from item_bank.db import current_revision, database_url
    check_port(args.port)
    url = database_url(args.db)
    if current_revision(url) is None:
        raise ValueError(f"{url} has no SMART CAT schema; create it with `smartcat demo` or "
                         "the db commands first")
    print(f"SMART CAT serving {url} at http://{args.host}:{args.port}/", flush=True)
    return serve(url, args.host, args.port, args.workers, args.threads)
