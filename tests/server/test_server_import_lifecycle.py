"""The writer's JSON import on the pages follows the item lifecycle (item_bank.authoring):
a retired item is not brought back, a new item does not enter as operational unless an
administrator chose so, and every created or changed item has an audit entry naming the
importer."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from server import bank


def _import(client, records, **form):
    body = json.dumps(records).encode()
    return client.post("/writer/items/import",
                       data={"file": (io.BytesIO(body), "items.json"), **form})


def _new(code: str) -> dict:
    return {"program": "PELAYANAN-PUBLIK", "materi": "PP", "code": code,
            "stem": "Apa asas pelayanan publik?", "options": ["Kepastian hukum", "Diskriminasi"],
            "key": 0, "model": "2pl", "a": 1.0, "b": 0.2, "c": 0.0, "se_a": None,
            "se_b": None, "se_c": None, "status": "operational"}


def test_json_import_follows_the_lifecycle(app, demo, new_driver):
    app.config["WTF_CSRF_ENABLED"] = False
    writer, admin = new_driver(), new_driver()
    writer.staff_login(*demo.accounts.writer)
    admin.staff_login(*demo.accounts.admin)
    with writer.session() as s:
        item = s.scalar(select(bank.Item).where(bank.Item.status == "operational")
                        .order_by(bank.Item.id))
        materi = s.get(bank.Materi, item.materi_id).code
    writer.client.post(f"/writer/items/{item.id}/status", data={
        "status": "retired", "confirm": "yes", "reason": "Soal bocor."})
    exported = {r["code"]: r for r in writer.client.get("/writer/items/export.json").json}
    record = exported[item.code] | {"status": "operational"}

    # a retired item stays retired; the whole file is refused, naming the record
    r = _import(writer.client, [_new("BARU-1") | {"materi": materi, "status": "draft"}, record])
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "record 2" in page and "retired -&gt; operational" in page
    # a new operational item: not for a writer, not without the administrator's choice
    r = _import(writer.client, [_new("BARU-2") | {"materi": materi}], allow_operational="on")
    assert r.status_code == 403
    r = _import(admin.client, [_new("BARU-2") | {"materi": materi}])
    assert r.status_code == 422 and "as operational must be allowed" in r.get_data(as_text=True)
    with writer.session() as s:
        assert s.get(bank.Item, item.id).status == bank.ItemStatus.RETIRED
        assert s.scalar(select(bank.Item).where(bank.Item.code.like("BARU-%"))) is None

    assert _import(writer.client, [_new("BARU-1") | {"materi": materi, "status": "draft"}]
                   ).status_code == 302
    assert _import(admin.client, [_new("BARU-2") | {"materi": materi}],
                   allow_operational="on").status_code == 302
    with writer.session() as s:
        statuses = dict(s.execute(select(bank.Item.code, bank.Item.status)
                                  .where(bank.Item.code.like("BARU-%"))).all())
        entries = s.execute(select(bank.AuditLog.actor, bank.AuditLog.subject)
                            .where(bank.AuditLog.action == "item_imported")
                            .order_by(bank.AuditLog.id)).all()
    assert statuses == {"BARU-1": bank.ItemStatus.DRAFT, "BARU-2": bank.ItemStatus.OPERATIONAL}
    assert [tuple(e) for e in entries] == [(demo.accounts.writer[0], "item:BARU-1"),
                                           (demo.accounts.admin[0], "item:BARU-2")]
