"""Rows with ids past 32 bits work end to end on PostgreSQL, in both stores of the policy.

Every id sequence of a fresh PostgreSQL database starts above 2**32 (each at its own offset, so
an id taken from the wrong table would name nothing), then the demo is loaded into it and a
participant takes the pre-assessment through the JSON API, answering every item right: the
answers, the result, the certificate issued at once, the certificate pages and the
certification service's pull all carry and find those ids.  Once with the raw-SQL store (the
default on PostgreSQL) and once with the ORM store.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from item_bank import policy
from item_bank.policy.store_orm import OrmStore
from item_bank.policy.store_pg import PgStore
from server import bank
from server.demo import build_demo
from server.extensions import Database

pytestmark = pytest.mark.postgres

BASE = 2**32


@pytest.fixture
def demo(postgres_database, postgres_template) -> SimpleNamespace:
    """The demo (url, accounts) on PostgreSQL with every id above 2**32; the ``app`` and
    ``driver`` fixtures of tests/server/conftest.py use it in this module."""
    url = postgres_database("big", template=postgres_template)
    engine = bank.make_engine(url)
    with engine.begin() as conn:
        sequences = conn.execute(text(
            "SELECT schemaname || '.' || sequencename FROM pg_sequences ORDER BY 1")).scalars()
        for n, sequence in enumerate(sequences):
            conn.execute(text("SELECT setval(:s, :v)"),
                         {"s": sequence, "v": BASE + n * 1_000_000})
    engine.dispose()
    return SimpleNamespace(url=url, accounts=build_demo(url))


@pytest.mark.parametrize("store", ["pg", "orm"])
def test_a_whole_exam_with_ids_above_32_bits(app, demo, driver, store, monkeypatch):
    accounts = demo.accounts
    if store == "orm":
        Database.factory(app).configure(info={policy.STORE: "orm"})
    used = {OrmStore: 0, PgStore: 0}
    for cls in used:
        original = cls.__init__

        def counting(self, *args, _cls=cls, _original=original):
            used[_cls] += 1
            _original(self, *args)

        monkeypatch.setattr(cls, "__init__", counting)

    nip, name, password = accounts.participants[0]
    driver.login(nip, password)
    exam_id = driver.exam_id("PRA")
    assert exam_id > BASE
    programs = driver.get("/api/v1/programs").json["programs"]
    assert programs[0]["program_id"] > BASE

    result = driver.take("PRA", correct=True)
    attempt_id = result["attempt_id"]
    assert attempt_id > BASE
    assert result["state"] == "submitted" and result["passed"] is True
    number = result["certificate_number"]
    assert number
    again = driver.get(f"/api/v1/attempts/{attempt_id}/result")
    assert again.status_code == 200 and again.json["certificate_number"] == number

    with driver.session() as s:
        responses = s.scalars(select(bank.Response).where(
            bank.Response.attempt_id == attempt_id)).all()
        certificate = s.scalar(select(bank.Certificate))
        participant = s.scalar(select(bank.Participant).where(bank.Participant.nip == nip))
        assert responses and all(r.id > BASE and r.item_id > BASE and r.correct
                                 for r in responses)
        assert certificate.id > BASE and certificate.attempt_id == attempt_id
        assert participant.id > BASE and certificate.participant_id == participant.id

    page = driver.client.get(f"/attempts/{attempt_id}/result")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    assert name in driver.client.get(f"/certificate/{number}").get_data(as_text=True)
    assert app.test_client().get(f"/verify/{number}").status_code == 200

    service = app.test_client()
    auth = {"Authorization": f"Bearer {accounts.token}"}
    pulled = service.get("/api/v1/certificates", headers=auth)
    assert pulled.status_code == 200
    assert [c["number"] for c in pulled.json["certificates"]] == [number]
    after = service.get(f"/api/v1/certificates?since={pulled.json['next']}", headers=auth)
    assert after.status_code == 200 and after.json["certificates"] == []

    # The store asked for took the events (enrol and reads aside, the other one none).
    other = PgStore if store == "orm" else OrmStore
    assert used[OrmStore if store == "orm" else PgStore] > 10 and used[other] == 0, used
