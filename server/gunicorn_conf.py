"""gunicorn settings for ``smartcat serve --workers N`` (``-c python:server.gunicorn_conf``).

Bind address, worker and thread counts come from the command line; this module adds what
every production start needs: a fresh directory for the multiprocess Prometheus metrics
(shared by all workers, emptied at start so old counters do not come back) and the hook that
retires the metric files of a worker that died, so its gauges are not summed forever.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# Not imported from server.metrics: prometheus_client picks its multiprocess storage when it is
# first imported, which must happen in the workers after the variable below is set.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A worker silent for this long (stuck, not just busy) is killed and replaced by the master.
timeout = 30
# Finish requests in flight on SIGTERM / restarts before the worker exits.
graceful_timeout = 20
# Clients (browsers behind one NAT, the load generator) reuse connections with gthread workers.
keepalive = 5


if not os.environ.get(MULTIPROC_ENV):
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="smartcat-metrics-")


def on_starting(server) -> None:
    """In the master, before any worker forks: the metrics directory, empty."""
    path = os.environ[MULTIPROC_ENV]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            os.unlink(full)
        else:
            shutil.rmtree(full, ignore_errors=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
