"""Bad input at scale: schemathesis generates requests from ``/api/v1/openapi.json`` and sends
them to the real app (WSGI, over an SQLite file with the demo program) as a logged-in
participant.  No response may be a 5xx or break the document (status code, content type and
body schema).  Truth is the document the server publishes, checked by schemathesis."""

from __future__ import annotations

from collections import Counter

import bench_load as load
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server import create_app

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
# Examples per (operation, mode, pass); 11 operations x (2 modes + 1 pass on real ids) gives
# about 3,000 requests (at least 1,000 asserted) in about 25 s on WSGI.
EXAMPLES = 100
MIN_REQUESTS = 1000


@pytest.fixture(scope="module")
def app_and_login(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('st') / 'st.sqlite'}"
    prepared = load.prepare_database(url, 1, items=5)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "s" * 64,
                      "SWEEP_INTERVAL_SECONDS": 0})
    client = app.test_client()
    r = client.post("/api/v1/session", json={"nip": prepared.nips[0],
                                             "password": prepared.password})
    assert r.status_code == 200
    session_cookie = client.get_cookie("session").value
    started = client.post(f"/api/v1/exams/{prepared.exam_id}/attempts", json={})
    assert started.status_code == 201
    program_id = client.get("/api/v1/programs").json["programs"][0]["program_id"]
    real_ids = {"exam_id": prepared.exam_id, "attempt_id": started.json["attempt_id"],
                "program_id": program_id}
    return app, {"session": session_cookie}, real_ids


def test_openapi_document_holds_for_generated_requests(app_and_login):
    app, auth, real_ids = app_and_login
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    sent = 0
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def run(operation, mode: GenerationMode, path_parameters: dict | None) -> None:
        nonlocal sent

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode,
                                          path_parameters=path_parameters))
        def check(case) -> None:
            nonlocal sent
            # Always the participant's cookie (schemathesis would otherwise send made-up
            # session values from the security scheme); the WSGI client ignores a Cookie
            # header, so it goes through ``cookies``.
            response = case.call(cookies={**(case.cookies or {}), **auth})
            sent += 1
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Unsatisfiable:
            pass  # nothing to break in this operation (no parameters, no body): no case
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
            failures.append(f"{operation.label} [{mode.value}, ids={path_parameters}]: "
                            f"{str(exc)[:1500]}")

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode, None)
        names = {p.name for p in operation.path_parameters}
        if names and names <= real_ids.keys():
            # The same operation on the participant's real exam, attempt and program, so that
            # generated bodies reach the exam policy instead of stopping at "not found".
            run(operation, GenerationMode.POSITIVE, {n: real_ids[n] for n in names})
    print(f"schemathesis: {sent} requests, statuses {dict(statuses)}, "
          f"{len(failures)} failing operations")
    assert not failures, "\n\n".join(failures)
    assert sent >= MIN_REQUESTS, sent
