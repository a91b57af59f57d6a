"""Bad input at scale: schemathesis generates requests from ``/api/v1/openapi.json`` (every
route of the app: JSON API, certificate API, participant, writer, admin and public pages) and
sends them to the real app (WSGI) over PostgreSQL holding the demo program, as each role:
anonymous, a participant's session cookie, a writer's and an administrator's session cookie
and the service token (the demo's has every scope: the certificate pull and the
administration API).  No response may be a 5xx or break the document (status code, content
type and body schema).  Truth is the document the server publishes, checked by schemathesis.

Every failing request is collected (route, method, role, status, input, the last line of the
server's traceback) and the whole list is reported at the end, not only the first one."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from server import bank, create_app
from server.demo import build_demo
from server.extensions import Database
from server.security import ROLES

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
# Examples per (role, operation, mode) where the role may use the operation, and for the
# operations it may not (they only answer 401/403, which are cheap to confirm).
EXAMPLES = 16
# The pages' forms and queries (HTML; about 90 operations for an administrator): half as
# many, so that the suite keeps to its time; each page's own tests vary its inputs.
EXAMPLES_PAGE = 8
EXAMPLES_REFUSED = 3
# Requests at least, per role (about 5,500 in all): the fuzzing reached the operations.
MIN_REQUESTS = 400
# Answers built from everything there is (the metrics registry, the whole bank: 80-140 ms
# each, a QTI package of the demo's 600 items more, a program's report or roster as a file)
# or drawn by matplotlib (60-300 ms a plot), whose few parameters other tests vary: few
# examples, as for a refused operation.
HEAVY = ("public.metrics.get", "writer.export_items.get", "writer.export_exchange.get",
         "writer.item_plot.get", "admin.report_chart.get", "admin.report_csv.get",
         "admin.report_xlsx.get", "admin.roster_export.get")
# Ending a session is fuzzed last for each role, so that it cannot end the role's session
# before the other operations ran.
LAST = ("api.logout.delete", "participant.logout.post")


@dataclass
class World:
    app: object
    ids: dict                                # path parameter -> a real value
    cookies: dict[str, dict] = field(default_factory=dict)   # role -> session cookie
    headers: dict[str, dict] = field(default_factory=dict)   # role -> headers


def _participant(app, account: tuple[str, str, str]):
    """A client logged in as this participant."""
    nip, _, password = account
    client = app.test_client()
    r = client.post("/api/v1/session", json={"nip": nip, "password": password})
    assert r.status_code == 200, r.json
    return client


def _take(app, client, attempt_id: int, *, correct: bool) -> dict:
    """Answer every item right or wrong (by its key, read from the database) until the
    attempt ends; its result."""
    while True:
        item = client.get(f"/api/v1/attempts/{attempt_id}/item").json
        if item["item"] is None:
            return item["result"]
        item_id = item["item"]["item_id"]
        with Database.factory(app)() as s:
            response = s.scalar(select(bank.Response).where(
                bank.Response.attempt_id == attempt_id, bank.Response.item_id == item_id))
            key = list(response.shown_order).index(s.get(bank.Item, item_id).key)
        choice = key if correct else (key + 1) % len(item["item"]["options"])
        r = client.post(f"/api/v1/attempts/{attempt_id}/answers",
                        json={"item_id": item_id, "choice": choice})
        assert r.status_code == 200, r.json


@pytest.fixture(scope="module")
def world(pg) -> Iterator[World]:
    url = pg.create_database(f"st_{uuid.uuid4().hex[:12]}")
    accounts = build_demo(url)
    # CSRF off in this app only, so that generated forms reach the handlers: CSRF has its
    # own tests (tests/server/test_server_security.py).
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "s" * 64,
                      "SWEEP_INTERVAL_SECONDS": 0, "CERTIFICATE_SETTLE_SECONDS": 0,
                      "WTF_CSRF_ENABLED": False})
    world = World(app=app, ids={})
    # The fuzzing participant failed the pre-assessment and has a materi exam running;
    # another one passed it and holds a certificate.
    with Database.factory(app)() as s:
        exams = dict(s.execute(select(bank.Exam.code, bank.Exam.id)).all())
        item_id = s.scalar(select(bank.Item.id).order_by(bank.Item.id))
        assignment_id = s.scalar(select(bank.Assignment.id))
    certified = _participant(app, accounts.participants[1])
    pra = certified.post(f"/api/v1/exams/{exams['PRA']}/attempts", json={}).json["attempt_id"]
    number = _take(app, certified, pra, correct=True)["certificate_number"]
    assert number
    client = _participant(app, accounts.participants[0])
    pra = client.post(f"/api/v1/exams/{exams['PRA']}/attempts", json={}).json["attempt_id"]
    assert _take(app, client, pra, correct=False)["certificate_number"] is None
    running = client.post(f"/api/v1/exams/{exams['UJIAN-PP']}/attempts", json={})
    assert running.status_code == 201, running.json
    world.cookies["participant"] = {"session": client.get_cookie("session").value}
    for role, (username, password) in (("writer", accounts.writer),
                                       ("admin", accounts.admin)):
        staff = app.test_client()
        r = staff.post("/writer/login", data={"username": username, "password": password})
        assert r.status_code == 302, r.get_data(as_text=True)
        world.cookies[role] = {"session": staff.get_cookie("session").value}
    world.headers["service"] = {"Authorization": f"Bearer {accounts.token}"}
    world.ids = {"exam_id": exams["UJIAN-PP"], "attempt_id": running.json["attempt_id"],
                 "program_id": accounts.program_id, "item_id": item_id,
                 "assignment_id": assignment_id, "number": number, "filename": "exam.js"}
    yield world
    app.extensions["smartcat_sweeper_stop"].set()
    Database.factory(app).kw["bind"].dispose()


class _Tracebacks(logging.Handler):
    """The last line of each traceback that the server's 500 handler logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first = (str(exc).strip().splitlines() or [""])[0][:200]  # not the SQL after it
            self.lines.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {first}")


@pytest.fixture
def tracebacks() -> Iterator[_Tracebacks]:
    handler = _Tracebacks()
    logger = logging.getLogger("server.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _input(case) -> str:
    parts = [f"path={case.path_parameters}"] if case.path_parameters else []
    for name in ("query", "body"):
        value = getattr(case, name, None)
        if value not in (None, {}, b"") and not isinstance(value, NotSet):
            parts.append(f"{name}={value!r}"[:300])
    return " ".join(parts)


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_first_line(e) for e in exc.exceptions)
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# One test per role, so that the two workers share the fuzzing (each builds its own world).
@pytest.mark.parametrize("role", ROLES)
def test_openapi_document_holds_for_generated_requests(world, tracebacks, role):
    if role == "service":
        # The administrator's fuzzing of the revoke form may have revoked the demo's token
        # (its id is small) when the roles share a world: a token of its own for this run.
        with Database.factory(world.app)() as s:
            token = bank.create_service_token(s, f"fuzz-{uuid.uuid4().hex[:8]}",
                                              scopes=bank.SERVICE_SCOPES)
        world.headers["service"] = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", world.app).include(
        path_regex="^/")  # with the operation serving the document, left out by default
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.definition.raw["operationId"] in LAST, op.label))
    sent: Counter[str] = Counter()
    statuses: dict[str, Counter[int]] = {role: Counter()}
    # (role, label, status, what broke, traceback) -> the first input that did it
    failures: dict[tuple, str] = {}

    def run(role: str, operation, mode: GenerationMode, examples: int,
            path_parameters: dict | None) -> None:
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode,
                                          path_parameters=path_parameters))
        def check(case) -> None:
            # The role's own credentials only: schemathesis would otherwise send made-up
            # values for the security schemes (a bearer header wins over a cookie).  The WSGI
            # client ignores a Cookie header, so the cookie goes through ``cookies``.
            for name in ("Authorization", "Cookie"):
                (case.headers or {}).pop(name, None)
            del tracebacks.lines[:]
            # buffered: the app's response is read whole and closed (a static file too)
            response = case.call(cookies=world.cookies.get(role, {}),
                                 headers=world.headers.get(role, {}), buffered=True)
            sent[role] += 1
            statuses[role][response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # every failure, not the first
                key = (role, operation.label, response.status_code, _first_line(exc),
                       tracebacks.lines[-1] if tracebacks.lines else "")
                failures.setdefault(key, f"{mode.value}: {_input(case)}")

        try:
            check()
        except Unsatisfiable:
            pass  # nothing to vary in this operation in this mode (no parameters, no body)

    for operation in operations:
        roles = set(operation.definition.raw["x-roles"])
        if "anonymous" not in roles and role not in roles or \
                operation.definition.raw["operationId"] in HEAVY:
            run(role, operation, GenerationMode.POSITIVE, EXAMPLES_REFUSED, None)
            continue
        examples = EXAMPLES if operation.path.startswith("/api/") else EXAMPLES_PAGE
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(role, operation, mode, examples, None)
        names = {p.name for p in operation.path_parameters}
        if names and names <= world.ids.keys():
            # The same operation on real rows (the participant's exam, attempt and
            # certificate, the demo program, an item), so that generated bodies and
            # queries reach the handlers instead of stopping at "not found".
            run(role, operation, GenerationMode.POSITIVE, examples,
                {n: world.ids[n] for n in names})
    total = sum(sent.values())
    print(f"\nschemathesis as {role}: {total} requests over {len(operations)} operations, "
          f"statuses {dict(sorted(statuses[role].items()))}")
    report = [f"{role} {label} -> {status}: {what} | {tb} | {example}"
              for (role, label, status, what, tb), example in sorted(failures.items())]
    print(f"{len(report)} distinct failures" + "".join(f"\n  {line}" for line in report))
    assert not report, "\n".join(report)
    assert total >= MIN_REQUESTS, total
