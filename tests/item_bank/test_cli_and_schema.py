"""CLI commands, migrations, models' transition tables, settings and password hashing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from item_bank_helpers import build_world
from sqlalchemy import inspect

from item_bank.db import current_revision, database_url, make_engine, session_factory, upgrade
from item_bank.models import ITEM_TRANSITIONS, ItemStatus, ProgramSettings
from item_bank.security import hash_password, verify_password
from smartcat.cli import main


def test_db_upgrade_cli_creates_the_schema(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    from alembic.script import ScriptDirectory

    from item_bank.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head.startswith("0017_")  # the newest migration
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"at revision {head}" in capsys.readouterr().out
    assert current_revision(url) == head
    monkeypatch.setenv("SMARTCAT_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0  # idempotent, URL from the environment
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"item", "attempt", "seen_item", "certificate", "audit_log",
            "attempt_extension"} <= tables


def test_default_database_is_sqlite_in_the_working_folder(monkeypatch):
    monkeypatch.delenv("SMARTCAT_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///./smartcat.sqlite"
    assert database_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ValueError, match="unsupported database"):
        database_url("mysql://u@h/db")


def test_migrations_match_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from item_bank.models import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_items_and_participants_cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        build_world(session, items_per_materi=3, n_materi=1)
    engine.dispose()
    out = tmp_path / "items.json"
    assert main(["items", "export", "--program", "LATSAR", "--format", "json", "-o", str(out),
                 "--db", url]) == 0
    assert len(json.loads(out.read_text())) == 3
    roster = tmp_path / "roster.csv"
    roster.write_text("nip,name,unit\n199001012020121001,Budi,BKD\n123,Siti,BKD\n")
    assert main(["participants", "import", str(roster), "--program", "LATSAR",
                 "--db", url]) == 2
    err = capsys.readouterr().err
    assert "line 3: NIP '123' must be exactly 18 digits" in err and err.count("\n") == 1
    assert main(["items", "import", str(out), "--program", "NOPE", "--db", url]) == 2
    assert "unknown program 'NOPE'" in capsys.readouterr().err
    # the item file as the writer's page reads it: every bad line named, nothing stored
    bad = tmp_path / "bad.csv"
    bad.write_text("id;materi;stem;option_a;option_b;key\nN-1;M1;s;a;b;F\nN-2;M9;s;a;b;A\n"
                   "N-3;M1;s;a;b;B\n", encoding="utf-8")
    args = ["items", "import", str(bad), "--program", "LATSAR", "--db", url]
    assert main([*args, "--dry-run"]) == 1
    assert "line 4: new N-3" in capsys.readouterr().out
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "line 2, key: must be the letter of an option (A-E), not F." in err
    assert "line 3, materi: no materi M9 in program LATSAR (it has: M1)." in err
    bad.write_text("id,materi,stem,option_a,option_b,key\nN-3,M1,s,a,b,B\n")
    assert main(args) == 0
    assert "1 new, 0 changed" in capsys.readouterr().out
    assert main(["items", "import", str(out), "--program", "LATSAR", "--db", url]) == 0
    assert "0 new, 0 changed, 3 unchanged" in capsys.readouterr().out
    code = main(["bank", "check", "--program", "LATSAR", "--db", url, "--no-simulation"])
    assert code == 1 and "NOT ENOUGH ITEMS" in capsys.readouterr().out


def test_cli_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "smartcat", "db", "upgrade", "--db",
                           "mysql://x/y"], capture_output=True, text=True)
    assert done.returncode == 2 and "unsupported database" in done.stderr


def test_item_transition_table():
    assert ITEM_TRANSITIONS[ItemStatus.RETIRED] == frozenset()
    from item_bank.models import Item

    item = Item(code="X", status=ItemStatus.DRAFT, version=1, a=None, b=None)
    with pytest.raises(ValueError, match="draft -> operational"):
        item.transition("operational")
    item.transition("reviewed")
    item.transition("pretest")
    with pytest.raises(ValueError, match="calibrate"):
        item.transition("operational")
    item.a, item.b = 1.0, 0.0
    item.transition("operational")
    item.transition("retired")
    assert item.version == 5
    with pytest.raises(ValueError):
        item.transition("operational")


def test_program_settings_validation():
    assert ProgramSettings.from_json({}).materi_max_attempts == 5
    with pytest.raises(ValueError, match="unknown program setting"):
        ProgramSettings.from_json({"pass": 70})
    with pytest.raises(ValueError, match="whole number"):
        ProgramSettings.from_json({"materi_max_attempts": 2.5})
    with pytest.raises(ValueError, match="within 0..100"):
        ProgramSettings.from_json({"materi_pass_score": 170})
    with pytest.raises(ValueError, match="0..5 seconds"):
        ProgramSettings.from_json({"answer_grace_s": 30})
    assert ProgramSettings.from_json({}).timezone == "Asia/Jakarta"
    with pytest.raises(ValueError, match="IANA time zone"):
        ProgramSettings.from_json({"timezone": "Asia/Bandung"})
    with pytest.raises(ValueError, match="must be text"):
        ProgramSettings.from_json({"timezone": 7})


def test_password_hashing():
    stored = hash_password("rahasia-123")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "rahasia-123")
    assert not verify_password(stored, "rahasia-124")
    assert not verify_password(None, "rahasia-123")
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
