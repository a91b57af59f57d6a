"""Prometheus metrics: request counts and latencies per endpoint, method and status.

Under gunicorn every worker is a separate process, so the counters live in memory-mapped
files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and ``/metrics``
sums the files of all workers, whichever worker answers the scrape.  Without that variable
(the built-in server, tests) the process's own registry is exposed.  The gunicorn hooks that
prepare the directory and retire a dead worker's files are in :mod:`server.gunicorn_conf`.

Only the scraper may read them: ``/metrics`` wants ``Authorization: Bearer <METRICS_TOKEN>``
(compared in constant time; 401 otherwise) and is 404 while that setting is unset.  One port
and one credential: every worker answers the scrape, through the same proxy and TLS as the
rest of the app, and the token can be rotated without touching the network set-up.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from server.errors import error_response
from server.i18n import gettext

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SCRAPE_ENDPOINT = "public.metrics"

# Labels use the Flask endpoint name, never the raw path: unknown paths (scanners, fuzzers)
# would otherwise create one time series each.
REQUESTS = Counter("smartcat_http_requests_total", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("smartcat_http_request_duration_seconds",
                    "Time from the start of the request to the response being built",
                    ["endpoint", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0,
                             2.5, 5.0, 10.0))


def exposition() -> Response:
    """The metrics of every worker (multiprocess mode) or of this process, in text format."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _scraper_token_sent(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, sent = header.partition(" ")
    # compare_digest on bytes: its time does not depend on where the first difference is, and
    # (unlike on str) any character the client sends is accepted.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        sent.strip().encode("utf-8"), expected.encode("utf-8"))


def _gate_scrape() -> Response | None:
    """Before the view of /metrics: 404 without a METRICS_TOKEN, 401 without that token."""
    if request.endpoint != SCRAPE_ENDPOINT:
        return None
    expected = current_app.config["METRICS_TOKEN"]
    if expected is None:
        abort(404)
    if not _scraper_token_sent(expected):
        response = error_response(401, "unauthorized",
                                  gettext("This page needs the metrics token."))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    # The bearer credential is the scraper's, not a certification service token: the role of
    # this request is settled here, so no lookup queries the database for it and a scrape
    # still answers (and shows the 503s) while the database is down.
    g.role = "anonymous"
    return None

# The series of each label tuple, as ``labels()`` would find them (without its lock and
# checks on every request); bounded like the series themselves, by the app's endpoints.
_CHILDREN: dict[tuple[str, str, str], tuple] = {}


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> Response | None:
        g.metrics_started = time.perf_counter()
        # After the clock, so refused scrapes are counted too.
        return _gate_scrape()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule
            labels = (rule.endpoint if rule else "unmatched", request.method,
                      str(response.status_code))
            children = _CHILDREN.get(labels)
            if children is None:
                children = _CHILDREN[labels] = (REQUESTS.labels(*labels),
                                                LATENCY.labels(*labels))
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
        return response
