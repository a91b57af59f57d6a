"""/healthz, /metrics and the 503 mapping of an unreachable database."""

from __future__ import annotations

import re
import time

import bench_load as load
import httpx
import pytest

from server import create_app

METRICS_TOKEN = "scrape-" + "t" * 40
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def _app(url: str):
    return create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "r" * 64,
                       "SWEEP_INTERVAL_SECONDS": 0, "METRICS_TOKEN": METRICS_TOKEN})


def _sample(text: str, name: str, **labels: str) -> float:
    """Value of one Prometheus sample (0 when absent), parsed from the text format."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_healthz_ok_and_metrics_count_requests(tmp_path):
    from item_bank.db import upgrade

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    client = _app(url).test_client()
    before = client.get("/metrics", headers=SCRAPE).get_data(as_text=True)
    for _ in range(3):
        r = client.get("/healthz")
        assert r.status_code == 200 and r.json == {"status": "ok", "database": "ok"}
    client.get("/api/v1/no-such-thing")
    text = client.get("/metrics", headers=SCRAPE).get_data(as_text=True)
    labels = {"endpoint": "public.health", "method": "GET", "status": "200"}
    # The registry is per process and shared by every app of the test run: compare deltas.
    assert _sample(text, "smartcat_http_requests_total", **labels) - \
        _sample(before, "smartcat_http_requests_total", **labels) == 3
    assert _sample(text, "smartcat_http_request_duration_seconds_count", **labels) - \
        _sample(before, "smartcat_http_request_duration_seconds_count", **labels) == 3
    assert _sample(text, "smartcat_http_requests_total", endpoint="unmatched",
                   status="404") >= 1
    assert re.search(r'smartcat_http_request_duration_seconds_bucket\{.*le="0.2"', text)


def test_database_down_is_503_json_never_500(tmp_path):
    # Nothing listens on this port: every connection attempt is refused, as when PostgreSQL
    # is down.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{load.free_port()}/smartcat"
    client = _app(url).test_client()
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["error"] == "database_unavailable"
    assert r.headers["Retry-After"]
    r = client.post("/api/v1/session", json={"nip": "199001012015031001", "password": "x"})
    assert r.status_code == 503 and r.is_json and r.json["message"]
    with client.session_transaction() as s:  # logged in as the login would do it
        s.update(participant_id=1, sv=0, iat=int(time.time()), seen=int(time.time()))
    for method, path, body in (("GET", "/api/v1/programs", None),
                               ("POST", "/api/v1/exams/1/attempts", {}),
                               ("POST", "/api/v1/attempts/1/answers",
                                {"item_id": 1, "choice": 0})):
        r = client.open(path, method=method, json=body)
        assert r.status_code == 503 and r.json["error"] == "database_unavailable", path
    assert client.get("/programs").status_code == 503  # pages too, as an HTML page


@pytest.mark.postgres
def test_database_down_10s_then_back(pg, pg_db, gunicorn_factory):
    """Mid-exam the database goes away for 10 s: answers get 503 JSON and leave no row; the
    same answer retried after it is back is stored once, and the exam goes on."""
    prepared = load.prepare_database(pg_db, 1, items=5)
    server = gunicorn_factory(pg_db, workers=2, threads=2)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.post("/api/v1/session", json={"nip": prepared.nips[0],
                                               "password": prepared.password}).status_code == 200
        attempt = c.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={}).json()
        item = c.get(f"/api/v1/attempts/{attempt['attempt_id']}/item").json()["item"]
        path = f"/api/v1/attempts/{attempt['attempt_id']}/answers"
        pg.stop("fast")
        try:
            for _ in range(10):  # ~10 s of outage, one answer try a second
                r = c.post(path, json={"item_id": item["item_id"], "choice": 1})
                assert r.status_code == 503, r.text
                assert r.json()["error"] == "database_unavailable"
                assert c.get("/healthz").status_code == 503
                time.sleep(1)
        finally:
            pg.start()
        assert load.stored_answers(pg_db, prepared.nips) == set()  # no partial row
        r = c.post(path, json={"item_id": item["item_id"], "choice": 1})
        assert r.status_code == 200 and r.json()["stored"] is True, r.text
        assert c.get("/healthz").status_code == 200
        r2 = c.post(path, json={"item_id": item["item_id"], "choice": 1})
        assert r2.status_code == 200 and r2.json()["stored"] is False
        assert r2.json()["next_item"]["item_id"] == r.json()["next_item"]["item_id"]
    assert load.stored_answers(pg_db, prepared.nips) == {
        (attempt["attempt_id"], item["item_id"], 1)}


@pytest.mark.postgres
def test_gunicorn_metrics_sum_all_workers(pg_db, gunicorn_factory):
    load.prepare_database(pg_db, 1, items=5)
    server = gunicorn_factory(pg_db, workers=2, threads=1,
                              extra_env={"SMARTCAT_METRICS_TOKEN": METRICS_TOKEN})
    n = 40
    with httpx.Client(base_url=server.url, timeout=10) as c:
        before = c.get("/metrics", headers=SCRAPE).text
        for _ in range(n):
            assert c.get("/healthz").status_code == 200
        text = c.get("/metrics", headers=SCRAPE).text
    labels = {"endpoint": "public.health", "method": "GET", "status": "200"}
    # Each scrape is answered by one worker; the multiprocess files make it see all of them.
    assert _sample(text, "smartcat_http_requests_total", **labels) - \
        _sample(before, "smartcat_http_requests_total", **labels) == n
