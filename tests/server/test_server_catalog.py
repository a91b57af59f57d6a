"""The message catalog (server/translations): every text of the server — participant, staff
(writer and administrator), public, error and login pages, the server's Python, the exam
policy's messages — has a real Indonesian translation with the same placeholders, and the
committed ``.mo`` is the ``.po`` compiled.

The texts are found the way ``make messages`` finds them: Babel's extraction with the
project's ``babel.cfg`` (the server's Python, its templates, ``item_bank/messages.py``).
"""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import flask_babel
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from item_bank.messages import MESSAGES
from server import create_app

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "server" / "translations"
PO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\((\w+)\)")


@pytest.fixture(scope="module")
def extracted() -> dict[str, set[str]]:
    """msgid -> the files (relative to the repository, with /) that use it."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, set[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, set()).add(Path(filename).as_posix())
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="id")


def _problem(catalog, msgid: str) -> str | None:
    """Why ``msgid`` is not properly translated in ``catalog`` (None when it is)."""
    message = catalog.get(msgid)
    if message is None:
        return "not in the catalog (run make messages)"
    if message.fuzzy:
        return "fuzzy"
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    if not all(s and s.strip() for s in strings):
        return "no translation"
    wanted = set(PLACEHOLDER.findall(msgid))
    for s in strings:
        if set(PLACEHOLDER.findall(s)) != wanted:
            return f"placeholders {sorted(set(PLACEHOLDER.findall(s)))} != {sorted(wanted)}"
    return None


def test_extraction_covers_the_pages_the_server_and_the_policy(extracted):
    files = set().union(*extracted.values())
    for path in ("server/templates/base.html", "server/templates/error.html",
                 "server/templates/login.html", "server/templates/participant/programs.html",
                 "server/templates/participant/exam.html",
                 "server/templates/participant/result.html",
                 "server/templates/participant/certificate.html",
                 "server/templates/public/verify.html", "server/errors.py",
                 "server/security.py", "server/auth.py", "server/i18n.py",
                 "server/views/participant.py", "server/views/writer.py",
                 "server/views/admin.py", "server/templates/writer/item.html",
                 "server/templates/writer/items.html", "server/templates/admin/program.html",
                 "item_bank/messages.py"):
        assert path in files, path
    assert set(MESSAGES.values()) <= set(extracted)


def test_every_text_has_an_indonesian_translation(extracted, catalog):
    required = sorted(extracted)
    assert len(required) > 400
    problems = {msgid: why for msgid in required if (why := _problem(catalog, msgid))}
    assert not problems, problems


def test_every_message_of_the_exam_policy_has_an_indonesian_translation(catalog):
    problems = {code: why for code, text in MESSAGES.items() if (why := _problem(catalog, text))}
    assert not problems, problems


def test_the_catalog_holds_every_text_of_the_source(extracted, catalog):
    """The .po was updated after the last change of a text."""
    missing = sorted(msgid for msgid in extracted if catalog.get(msgid) is None)
    assert not missing, f"run make messages: {missing}"


def test_the_committed_mo_is_the_compiled_po(catalog):
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    fresh.seek(0)
    with open(MO, "rb") as f:
        committed = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    compiled = gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
    assert committed == compiled, "run make messages (pybabel compile)"


def test_the_app_reads_the_catalog_from_the_source_tree():
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "k" * 32,
                      "SWEEP_INTERVAL_SECONDS": 0, "JOB_POLL_SECONDS": 0})
    with app.app_context():
        assert flask_babel.get_babel(app).translation_directories == [str(TRANSLATIONS)]
    with app.test_request_context("/"):
        assert flask_babel.gettext("Participant login") == "Masuk peserta"
    with app.test_request_context("/?lang=en"):
        assert flask_babel.gettext("Participant login") == "Participant login"
