"""Prometheus metrics: request counts and latencies per endpoint, method and status.

Under gunicorn every worker is a separate process, so the counters live in memory-mapped
files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and ``/metrics``
sums the files of all workers, whichever worker answers the scrape.  Without that variable
(the built-in server, tests) the process's own registry is exposed.  The gunicorn hooks that
prepare the directory and retire a dead worker's files are in :mod:`server.gunicorn_conf`.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            rule = request.url_rule
            labels = (rule.endpoint if rule else "unmatched", request.method,
                      str(response.status_code))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response
