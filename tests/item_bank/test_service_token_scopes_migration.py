"""Migration 0013_service_token_scopes: a token from before it keeps exactly what it could do
(pull certificates), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from item_bank.db import alembic_config, make_engine, session_factory
from item_bank.models import ServiceToken


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_existing_tokens_keep_the_certificate_pull(backend, tmp_path, request):
    url = (f"sqlite:///{tmp_path / 'old.sqlite'}" if backend == "sqlite"
           else request.getfixturevalue("postgres_database")("scopes"))
    config = alembic_config(url)
    command.upgrade(config, "0011_item_lifecycle")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO service_token (name, token_hash) VALUES "
                                "('sertifikasi', 'h1'), ('lain', 'h2')"))
    command.upgrade(config, "head")
    with session_factory(engine)() as session:
        assert session.execute(select(ServiceToken.name, ServiceToken.scopes)
                               .order_by(ServiceToken.id)).all() == [
            ("sertifikasi", ["certificates:read"]), ("lain", ["certificates:read"])]
    # no default is left in the database: a new token gets the scopes it is given
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO service_token (name, token_hash) VALUES "
                                "('baru', 'h3')"))
    command.downgrade(config, "0011_item_lifecycle")
    engine.dispose()
