"""Every route as every role (and as nobody): allowed ones succeed, the others get 401/403;
no participant-facing response carries a key or an item parameter."""

from __future__ import annotations

import io
import itertools
import re
import time

import pytest
from sqlalchemy import select

from server import bank
from server.extensions import Database
from server.security import ROLES

_counter = itertools.count()
HTML_SECRET = re.compile(r"answer_key|shown_order|data-key|data-correct|\\bse_[abc]\\b")


@pytest.fixture
def world(app, demo, new_driver, log_responses):
    """A participant with a finished and a running attempt; another with a certificate."""
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here only roles count
    a = new_driver()
    nip_a, _, pw = demo.accounts.participants[0]
    a.login(nip_a, pw)
    finished = a.take("PRA", correct=False)["attempt_id"]
    running = a.take("UJIAN-PP", correct=True, n_answers=1)
    with Database.factory(app)() as s:
        answered = s.scalar(select(bank.Response).where(
            bank.Response.attempt_id == running["attempt_id"],
            bank.Response.answered_at.is_not(None)))
        participant_a = s.scalar(select(bank.Participant.id).where(
            bank.Participant.nip == nip_a))
    b = new_driver()
    nip_b, _, pw = demo.accounts.participants[1]
    b.login(nip_b, pw)
    certified = b.take("PRA", correct=True)
    with Database.factory(app)() as s:
        participant_b = s.scalar(select(bank.Participant.id).where(
            bank.Participant.nip == nip_b))
        program = s.scalar(select(bank.Program))
        item = s.scalar(select(bank.Item).order_by(bank.Item.id))
        assignment = s.scalar(select(bank.Assignment))
        materi = s.scalar(select(bank.Materi))
    # logged answers of 200 finished attempts to 6 operational and 3 pretest items, and one
    # calibration run of them
    calib = log_responses(a=[1.0] * 9, b=[-1.0, -0.5, 0.0, 0.5, 1.0, 0.0, -0.5, 0.0, 0.5],
                          statuses=["operational"] * 6 + ["pretest"] * 3, n_persons=200)
    with Database.factory(app)() as s:
        run = bank.run_calibration(s, program_id=calib.program_id, materi_id=calib.materi_id,
                                   model="2pl", actor="test")
        s.commit()
        job = bank.queue_calibration(s, program_id=calib.program_id, materi_id=None,
                                     model="rasch", actor="test")
    return {"calibration": calib, "run": run, "job": job, "finished": finished,
            "running": running["attempt_id"],
            "answered": (answered.item_id, answered.shown_choice),
            "a": participant_a, "b": participant_b, "program": program.id, "item": item.id,
            "assignment": assignment.id, "materi": materi.id, "nip": nip_a,
            "number": certified["certificate_number"], "exam_pp": a.exam_id("UJIAN-PP")}


def _draft_item(app, w) -> int:
    with Database.factory(app)() as s:
        item = bank.Item(program_id=w["program"], materi_id=w["materi"],
                         code=f"T-{next(_counter)}", stem="Berapa 2 + 2?",
                         options=["4", "3", "5", "22"], key=0, status=bank.ItemStatus.DRAFT)
        s.add(item)
        s.commit()
        return item.id


def _other_item_code(app, w) -> str:
    """The code of a new draft item of the program, to mark as an enemy."""
    with Database.factory(app)() as s:
        return s.get(bank.Item, _draft_item(app, w)).code


def _service_token(app) -> int:
    """A token of its own for each revoke request (revoking the demo's would change the
    service role of the requests after it)."""
    with Database.factory(app)() as s:
        token = bank.ServiceToken(name=f"svc-r{next(_counter)}",
                                  token_hash=bank.hash_token(bank.new_token()))
        s.add(token)
        s.commit()
        return token.id


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 60), (11, 79, 138)).save(out, "PNG")
    return out.getvalue()


def _with_logo(app, w, path: str) -> str:
    """``path``, once the program has a certificate logo (the logo routes' 200)."""
    from item_bank import admin as ib_admin

    with Database.factory(app)() as s:
        ib_admin.set_program_logo(s, s.get(bank.Program, w["program"]), _png())
    return path


def _with_item_image(app, w) -> str:
    """The address of a picture of the running attempt's current item (the image route's
    200)."""
    with Database.factory(app)() as s:
        item_id = s.scalar(select(bank.Response.item_id).where(
            bank.Response.attempt_id == w["running"], bank.Response.answered_at.is_(None)))
        if s.scalar(select(bank.ItemImage.id).where(bank.ItemImage.item_id == item_id)) is None:
            s.add(bank.ItemImage(item_id=item_id, position=1, name="figure.png",
                                 media_type="image/png", data=_png()))
            s.commit()
    return f"/attempts/{w['running']}/items/{item_id}/images/1"


def _as_stored(app, model, row_id: int) -> dict:
    """The edit form of a program, exam, materi or assignment with what is stored (saving
    it changes nothing but the version)."""
    from server.views.admin_forms import local_field

    with Database.factory(app)() as s:
        row = s.get(model, row_id)
        if model is bank.Program:
            return {"version": str(row.version), "code": row.code, "name": row.name,
                    **{k: str(v) for k, v in row.settings_json.items()}}
        if model is bank.Exam:
            zone = row.program.settings.timezone
            return {"version": str(row.version), "code": row.code, "title": row.title,
                    "kind": row.kind.value, "materi_id": str(row.materi_id or ""),
                    "assembly": row.assembly.value,
                    **{k: "" if getattr(row, k) is None else str(getattr(row, k))
                       for k in ("cut_score", "max_attempts", "duration_s", "min_items",
                                 "max_items")},
                    **{k: local_field(getattr(row, k), zone)
                       for k in ("window_opens_at", "window_closes_at")}}
        return {"code": row.code, "title": getattr(row, "name", None) or row.title}


def _gift(n: int) -> dict:
    """A one-question GIFT upload of its own for each request."""
    text = f"::Q{n}:: Ibu kota provinsi ke-{n}? {{=Jakarta ~Bandung ~Medan}}\n".encode()
    return {"file": (io.BytesIO(text), f"bank-{n}.gift")}


def _import_draft(app, w, n: int) -> str:
    """A previewed upload waiting for its confirmation (the confirm route's 302)."""
    import datetime as dt

    from item_bank.exchange import load

    with Database.factory(app)() as s:
        return load.save_draft(s, _gift(n)["file"][0].getvalue(), filename="bank.gift",
                               fmt="gift", program_id=w["program"], materi_id=w["materi"],
                               actor="penulis", as_pretest=False, now=dt.datetime.now(dt.UTC))


ITEM_FILE = ("id,materi,stem,option_a,option_b,key\n"
             "IMP-{n},{materi},Ibu kota RI?,Jakarta,Bandung,A\n")


def _item_file(app, w, n: int) -> dict:
    """A one-item CSV item file of its own for each request."""
    with Database.factory(app)() as s:
        materi = s.get(bank.Materi, w["materi"]).code
    return {"file": (io.BytesIO(ITEM_FILE.format(n=n, materi=materi).encode()), "items.csv")}


def _item_file_draft(app, w, n: int) -> tuple[str, dict]:
    """A previewed item file waiting for its confirmation (the confirm route's 302)."""
    from item_bank import item_file

    data = _item_file(app, w, n)["file"][0].getvalue()
    with Database.factory(app)() as s:
        program = s.get(bank.Program, w["program"])
        digest = item_file.plan_file(s, data, filename="items.csv",
                                     program_code=program.code).digest
        # An uploader of its own: a writer's next upload replaces their waiting one.
        token = item_file.save_upload(s, data, filename="items.csv", program_id=program.id,
                                      actor=f"access-{n}", allow_operational=False)
    return f"/writer/items/import/{token}", {"data": {"plan": digest}}


def _csv(text: str):
    return {"file": (io.BytesIO(text.encode()), "roster.csv")}


# endpoint -> method -> function(app, world) returning (path, request kwargs, expected status,
# the participant the request runs as when the role is "participant")
def requests_table(app, w):
    n = next(_counter)
    program = w["program"]
    return {
        "participant.home": {"GET": ("/", {}, 302)},
        "participant.login": {"GET": ("/login", {}, 200),
                              "POST": ("/login", {"data": {"nip": w["nip"],
                                                           "password": "peserta-demo"}}, 302)},
        "participant.logout": {"POST": ("/logout", {}, 302)},
        "participant.programs": {"GET": ("/programs", {}, 200)},
        "participant.rules": {"GET": (f"/exams/{w['exam_pp']}/rules", {}, 302)},
        "participant.start": {"POST": (f"/exams/{w['exam_pp']}/start", {}, 302)},
        "participant.exam": {"GET": (f"/attempts/{w['running']}", {}, 200)},
        "participant.result": {"GET": (f"/attempts/{w['finished']}/result", {}, 200)},
        "participant.certificate": {"GET": (f"/certificate/{w['number']}", {}, 200, "b")},
        "participant.certificate_download": {"GET": (f"/certificate/{w['number']}.pdf", {}, 200,
                                                     "b")},
        "participant.item_image": {"GET": (_with_item_image(app, w), {}, 200, "a")},
        "participant.certificate_logo": {"GET": (_with_logo(
            app, w, f"/certificate/{w['number']}/logo.png"), {}, 200, "b")},
        "public.verify_form": {"GET": ("/verify", {}, 200)},
        "public.verify": {"GET": (f"/verify/{w['number']}", {}, 200)},
        "public.health": {"GET": ("/healthz", {}, 200)},
        # Without the METRICS_TOKEN setting /metrics is 404 for everyone (test_server_surfaces).
        "public.metrics": {"GET": ("/metrics", {}, 404)},
        "writer.login": {"GET": ("/writer/login", {}, 200),
                         "POST": ("/writer/login", {"data": {"username": "penulis",
                                                             "password": "penulis-demo"}}, 302)},
        "writer.items": {"GET": ("/writer/items?q=pelayanan&status=operational", {}, 200)},
        "writer.new_item": {"GET": ("/writer/items/new", {}, 200), "POST": (
            "/writer/items/new", {"data": {
                "code": f"NEW-{n}", "materi_id": str(w["materi"]), "stem": "Ibu kota RI?",
                "option_A": "Jakarta", "option_B": "Bandung", "option_C": "Surabaya",
                "key": "A", "model": "3pl"}},
            302)},
        "writer.edit_item": {"GET": (f"/writer/items/{w['item']}", {}, 200), "POST": (
            f"/writer/items/{w['item']}", {"data": {
                "stem": "Pertanyaan yang diperbaiki?", "option_A": "satu", "option_B": "dua",
                "option_C": "tiga", "option_D": "empat", "key": "B", "model": "3pl",
                "a": "1.1", "b": "0.2", "c": "0.2"}}, 302)},
        "writer.change_status": {"POST": (f"/writer/items/{_draft_item(app, w)}/status",
                                          {"data": {"status": "reviewed"}}, 302)},
        "writer.add_enemy": {"POST": (f"/writer/items/{w['item']}/enemies", {"data": {
            "code": _other_item_code(app, w)}}, 302)},
        "writer.remove_enemy": {"POST": (
            f"/writer/items/{w['item']}/enemies/{_draft_item(app, w)}/delete", {}, 302)},
        "writer.change_statuses": {"POST": ("/writer/items/status", {"data": {
            "item_id": [str(_draft_item(app, w)), str(_draft_item(app, w))],
            "status": "retired", "confirm": "yes", "reason": "Soal bocor."}}, 302)},
        "writer.export_items": {"GET": (f"/writer/items/export.csv?program_id={program}", {},
                                        200)},
        "writer.import_items": {"POST": ("/writer/items/import", {"data": {
            **_item_file(app, w, n), "program_id": str(program)}}, 200)},
        "writer.confirm_import": {"POST": (*_item_file_draft(app, w, n), 302)},
        "writer.item_plot": {"GET": (
            f"/writer/items/{w['calibration'].item_ids[0]}/icc.svg", {}, 200)},
        "writer.preview_exchange": {"POST": ("/writer/items/exchange", {"data": {
            **_gift(n), "format": "gift", "materi_id": str(w["materi"])}}, 200)},
        "writer.confirm_exchange": {"POST": (
            f"/writer/items/exchange/{_import_draft(app, w, n)}", {}, 302)},
        "writer.export_exchange": {"GET": (
            f"/writer/items/export-moodle.xml?program_id={program}", {}, 200)},
        "writer.calibration": {"GET": ("/writer/calibration", {}, 200)},
        "writer.start_calibration": {"POST": ("/writer/calibration", {"data": {
            "program_id": str(w["calibration"].program_id),
            "materi_id": str(w["calibration"].materi_id), "model": "2pl"}}, 302)},
        "writer.calibration_run": {"GET": (f"/writer/calibration/{w['run']}", {}, 200)},
        "writer.calibration_job": {"GET": (f"/writer/calibration/jobs/{w['job']}", {}, 200)},
        "writer.monitoring": {"GET": (f"/writer/monitoring?program_id={w['program']}", {},
                                      200)},
        "writer.accept_calibration": {"POST": (f"/writer/calibration/{w['run']}/accept", {
            "data": {"item_id": str(w["calibration"].item_ids[-1])}}, 302)},
        "admin.index": {"GET": ("/admin/", {}, 200)},
        "admin.create_program": {"POST": ("/admin/programs", {
            "data": {"code": f"P{n}", "name": "Program uji"}}, 302)},
        "admin.program": {"GET": (f"/admin/programs/{program}", {}, 200)},
        "admin.certificate": {"POST": (f"/admin/programs/{program}/certificate", {"data": {
            "agency_name": "BPSDM Provinsi Uji", "signatory": "Dr. Siti", "signatory_title":
            "Kepala Badan", "place": "Jakarta", "logo": (io.BytesIO(_png()), "logo.png")}},
            302)},
        "admin.program_logo": {"GET": (_with_logo(app, w, f"/admin/programs/{program}/logo.png"),
                                       {}, 200)},
        "admin.create_materi": {"POST": (f"/admin/programs/{program}/materi", {
            "data": {"code": f"M{n}", "name": "Materi uji"}}, 302)},
        "admin.create_exam": {"POST": (f"/admin/programs/{program}/exams", {"data": {
            "code": f"E{n}", "title": "Ujian uji", "kind": "materi",
            "materi_id": str(w["materi"]), "cut_score": "70", "max_attempts": "5",
            "window_opens_at": "2030-01-01T08:00"}}, 302)},
        "admin.edit_program": {"GET": (f"/admin/programs/{program}/edit", {}, 200), "POST": (
            f"/admin/programs/{program}/edit",
            {"data": _as_stored(app, bank.Program, program)}, 302)},
        "admin.clone_program": {"GET": (f"/admin/programs/{program}/clone", {}, 200), "POST": (
            f"/admin/programs/{program}/clone", {"data": {"code": f"C{n}", "name": "Salinan"}},
            302)},
        "admin.program_status": {
            "GET": (f"/admin/programs/{program}/status", {}, 200),
            "POST": (f"/admin/programs/{program}/status", {"data": {"action": "unarchive"}},
                     302)},
        "admin.edit_exam": {
            "GET": (f"/admin/programs/{program}/exams/{w['exam_pp']}/edit", {}, 200),
            "POST": (f"/admin/programs/{program}/exams/{w['exam_pp']}/edit",
                     {"data": _as_stored(app, bank.Exam, w["exam_pp"])}, 302)},
        "admin.exam_status": {
            "GET": (f"/admin/programs/{program}/exams/{w['exam_pp']}/status", {}, 200),
            "POST": (f"/admin/programs/{program}/exams/{w['exam_pp']}/status",
                     {"data": {"action": "unarchive"}}, 302)},
        "admin.edit_materi": {
            "GET": (f"/admin/programs/{program}/materi/{w['materi']}/edit", {}, 200),
            "POST": (f"/admin/programs/{program}/materi/{w['materi']}/edit",
                     {"data": _as_stored(app, bank.Materi, w["materi"])}, 302)},
        "admin.edit_assignment": {
            "GET": (f"/admin/programs/{program}/assignments/{w['assignment']}/edit", {}, 200),
            "POST": (f"/admin/programs/{program}/assignments/{w['assignment']}/edit",
                     {"data": _as_stored(app, bank.Assignment, w["assignment"])}, 302)},
        "admin.create_assignment": {"POST": (f"/admin/programs/{program}/assignments", {
            "data": {"code": f"T{n}", "title": "Tugas uji"}}, 302)},
        "admin.import_roster": {"POST": (f"/admin/programs/{program}/roster", {"data": _csv(
            f"nip,name,unit\n{199000000000000000 + n},Peserta Uji,Unit\n")}, 302)},
        "admin.mark_done": {"POST": (
            f"/admin/programs/{program}/assignments/{w['assignment']}/done",
            {"data": {"nip": w["nip"]}}, 302)},
        "admin.report": {"GET": (f"/admin/programs/{program}/report?from=2020-01-01", {}, 200)},
        "admin.report_chart": {"GET": (
            f"/admin/programs/{program}/report/chart.svg?chart=attempt-numbers", {}, 200)},
        "admin.report_csv": {"GET": (f"/admin/programs/{program}/report.csv", {}, 200)},
        "admin.report_xlsx": {"GET": (f"/admin/programs/{program}/report.xlsx", {}, 200)},
        "admin.live": {"GET": ("/admin/live", {}, 200)},
        "admin.roster": {"GET": (f"/admin/programs/{program}/roster?q=1", {}, 200)},
        "admin.roster_export": {"GET": (f"/admin/programs/{program}/roster.csv", {}, 200)},
        "admin.completions": {"POST": (f"/admin/programs/{program}/completions", {"data": {
            "file": (io.BytesIO(f"{w['nip']},TUGAS-1\n".encode()), "tugas.csv")}}, 200)},
        "admin.undo_completion": {"POST": (
            f"/admin/programs/{program}/assignments/{w['assignment']}/done/{w['a']}/undo",
            {}, 302)},
        "admin.extend_attempt": {"POST": (f"/admin/attempts/{w['running']}/extend", {
            "data": {"minutes": "1", "reason": "gangguan listrik"}}, 302)},
        "admin.end_attempt": {"GET": (f"/admin/attempts/{w['finished']}/end", {}, 200),
                              "POST": (f"/admin/attempts/{w['finished']}/end", {}, 302)},
        "admin.end_sessions": {
            "GET": (f"/admin/programs/{program}/participants/{w['b']}/end-sessions", {}, 200),
            "POST": (f"/admin/programs/{program}/participants/{w['b']}/end-sessions", {}, 302)},
        "admin.tokens": {"GET": ("/admin/tokens", {}, 200),
                         "POST": ("/admin/tokens", {"data": {
                             "name": f"svc-{n}", "scope": ["admin:read", "admin:write"]}},
                             200)},
        "admin.revoke_token": {"GET": (f"/admin/tokens/{_service_token(app)}/revoke", {}, 200),
                               "POST": (f"/admin/tokens/{_service_token(app)}/revoke", {}, 302)},
        "logins.index": {"GET": ("/admin/logins/", {}, 200)},
        "logins.reset": {"GET": ("/admin/logins/reset?address=192.0.2.9", {}, 200),
                         "POST": ("/admin/logins/reset", {"data": {"address": "192.0.2.9"}},
                                  302)},
        "api.login": {"POST": ("/api/v1/session", {"json": {
            "nip": w["nip"], "password": "peserta-demo"}}, 200)},
        "api.logout": {"DELETE": ("/api/v1/session", {"json": {}}, 200)},
        "api.whoami": {"GET": ("/api/v1/session", {}, 200)},
        "api.list_programs": {"GET": ("/api/v1/programs", {}, 200)},
        "api.program_status": {"GET": (f"/api/v1/programs/{program}", {}, 200)},
        "api.start_attempt": {"POST": (f"/api/v1/exams/{w['exam_pp']}/attempts", {"json": {}},
                                       201)},
        "api.get_attempt": {"GET": (f"/api/v1/attempts/{w['running']}", {}, 200)},
        "api.current_item": {"GET": (f"/api/v1/attempts/{w['running']}/item", {}, 200)},
        "api.answer": {"POST": (f"/api/v1/attempts/{w['running']}/answers", {"json": {
            "item_id": w["answered"][0], "choice": w["answered"][1]}}, 200)},
        "api.finish": {"POST": (f"/api/v1/attempts/{w['finished']}/finish", {"json": {}}, 200)},
        "api.result": {"GET": (f"/api/v1/attempts/{w['finished']}/result", {}, 200)},
        "api.list_certificates": {"GET": ("/api/v1/certificates", {}, 200)},
        "api.get_certificate": {"GET": (f"/api/v1/certificates/{w['number']}", {}, 200)},
        "api.openapi": {"GET": ("/api/v1/openapi.json", {}, 200)},
        "api.admin_programs": {"GET": ("/api/v1/admin/programs", {}, 200)},
        "api.admin_program": {"GET": (f"/api/v1/admin/programs/{program}", {}, 200)},
        "api.admin_materi": {"GET": (f"/api/v1/admin/programs/{program}/materi", {}, 200)},
        "api.admin_exams": {"GET": (f"/api/v1/admin/programs/{program}/exams", {}, 200)},
        "api.admin_exam": {"GET": (f"/api/v1/admin/programs/{program}/exams/{w['exam_pp']}",
                                   {}, 200)},
        "api.admin_enrol": {"POST": (f"/api/v1/admin/programs/{program}/participants", {
            "json": {"participants": [{"nip": str(198000000000000000 + n), "name": "Baru"}]}},
            200)},
        "api.admin_completions": {"POST": (f"/api/v1/admin/programs/{program}/completions", {
            "json": {"completions": [{"nip": w["nip"], "assignment_id": w["assignment"]}]}},
            200)},
        "api.admin_results": {"GET": (f"/api/v1/admin/programs/{program}/results", {}, 200)},
    }


def _client(app, demo, w, role: str, who: str):
    client = app.test_client()
    headers = {}
    if role == "service":
        headers["Authorization"] = f"Bearer {demo.accounts.token}"
    elif role in ("participant", "writer", "admin"):
        # A session as the login makes it: the account's current session version (a logout
        # in the table moves it on) and the start and idle stamps.
        model, account_id = ((bank.Participant, w[who]) if role == "participant"
                             else (bank.StaffUser, 1))
        with Database.factory(app)() as s:
            account = s.get(model, account_id)
            version, name = account.session_version, getattr(account, "username", "")
        now = int(time.time())
        with client.session_transaction() as sess:
            sess.update(sv=version, iat=now, seen=now)
            if role == "participant":
                sess["participant_id"] = account_id
            else:
                sess.update(staff_role=role, staff_id=account_id, staff_name=name)
    return client, headers


def test_every_route_as_every_role(app, demo, world, no_secrets):
    table = requests_table(app, world)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    covered = set()
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "access", None)
        assert allowed, f"{rule.endpoint} has no @access declaration"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert rule.endpoint in table and method in table[rule.endpoint], \
                f"no request for {method} {rule.rule}"
            covered.add((rule.endpoint, method))
            for role in ROLES:
                spec = requests_table(app, world)[rule.endpoint][method]
                path, kwargs, ok = spec[:3]
                who = spec[3] if len(spec) > 3 else "a"
                client, headers = _client(app, demo, world, role, who)
                r = client.open(path, method=method, headers=headers, **kwargs)
                label = f"{method} {path} as {role}"
                if "anonymous" in allowed or role in allowed:
                    assert r.status_code == ok, (label, r.status_code, r.get_data(as_text=True))
                elif role == "anonymous":
                    assert r.status_code == 401, label
                else:
                    assert r.status_code == 403, label
                if role in ("participant", "anonymous"):
                    # The API document names the writer forms' fields (key, model, a, b, c)
                    # but holds no item's values.
                    if r.is_json and rule.endpoint != "api.openapi":
                        no_secrets(r.json, label)
                    elif r.mimetype.startswith("text/"):
                        assert not HTML_SECRET.search(r.get_data(as_text=True)), label
                    # (the certificate's PDF and logo: test_server_certificate reads the PDF)
    assert covered == {(e, m) for e, ms in table.items() for m in ms}




def test_participant_page_item_text_only_on_the_exam_api(app, demo, driver):
    """The JSON item carries stem and options (as typed and as rendered) only; the exam page
    carries neither."""
    nip, _, pw = demo.accounts.participants[0]
    driver.login(nip, pw)
    state = driver.take("PRA", correct=True, n_answers=0)
    item = state["item"]
    assert set(item) == {"attempt_id", "item_id", "position", "stem", "options", "images",
                         "stem_html", "options_html", "deadline", "seconds_left", "answered",
                         "min_items", "max_items"}
    assert len(item["options_html"]) == len(item["options"])
    page = driver.client.get(f"/attempts/{state['attempt_id']}").get_data(as_text=True)
    assert item["stem"] not in page


def test_other_participants_attempt_is_not_found(app, demo, new_driver):
    a, b = new_driver(), new_driver()
    a.login(*demo.accounts.participants[0][::2])
    b.login(*demo.accounts.participants[1][::2])
    state = a.take("PRA", correct=True, n_answers=1)
    attempt = state["attempt_id"]
    for method, path, body in [
            ("GET", f"/api/v1/attempts/{attempt}", None),
            ("GET", f"/api/v1/attempts/{attempt}/item", None),
            ("GET", f"/api/v1/attempts/{attempt}/result", None),
            ("POST", f"/api/v1/attempts/{attempt}/finish", {}),
            ("POST", f"/api/v1/attempts/{attempt}/answers",
             {"item_id": state["item"]["item_id"], "choice": 0}),
            ("GET", f"/attempts/{attempt}", None),
            ("GET", f"/attempts/{attempt}/result", None)]:
        r = b.client.open(path, method=method, json=body)
        assert r.status_code == 404, (method, path, r.status_code)
    # and A's attempt is untouched by B's tries
    assert a.get(f"/api/v1/attempts/{attempt}").json["state"] == "started"
