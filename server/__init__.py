"""The SMART CAT exam server: a Flask app over the item_bank exam policy.

Blueprints per audience: participant pages (``/``), question writers (``/writer``),
administrators (``/admin``), the public verification page (``/verify``) and the JSON API
(``/api/v1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from server.config import load_config

# Ids are 64-bit signed integers in both databases; a larger one in a URL cannot name a row,
# and passing it on would overflow the database driver (a 500) instead of "not found".
MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` for the whole app: 0..2**63-1, so a larger id does not match (a 404)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class SmartCat(Flask):
    """Flask, with the answer to "is this hook a coroutine?" remembered per function: Flask
    asks it for every hook of every request (``inspect``, a few microseconds each), and no
    function of this app changes its kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        sync = self._sync.get(func)
        if sync is None:
            if len(self._sync) >= 4096:  # bound (a bound method is a new object per lookup)
                self._sync.clear()
            sync = self._sync[func] = super().ensure_sync(func)
        return sync


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; settings come from ``config`` over ``SMARTCAT_*`` environment variables.

    Examples
    --------
    >>> app = create_app({"DATABASE_URL": "sqlite:///demo.db", "SECRET_KEY": "x" * 32})
    """
    from server import errors, i18n, inputs, jobs, metrics, security, sweeper
    from server.api import api
    from server.extensions import csrf, db
    from server.views import (
        admin,
        admin_edit,  # noqa: F401  (its routes join the admin blueprint)
        admin_reports,  # noqa: F401  (its routes join the admin blueprint)
        admin_roster,  # noqa: F401  (its routes are admin.bp's)
        logins,
        participant,
        public,
        writer,
        writer_stats,  # noqa: F401  (routes of the writer blueprint)
    )

    app = SmartCat(__name__)
    app.url_map.converters["int"] = IdConverter
    app.config.update(load_config(config))
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore

    metrics.init_app(app)
    db.init_app(app)
    # Before CSRF protection: its check parses forms, which the body limit must govern.
    inputs.init_app(app)
    csrf.init_app(app)
    # The JSON API is protected by requiring JSON bodies (see server.api), not form tokens.
    csrf.exempt(api)
    security.init_app(app)
    i18n.init_app(app)
    errors.register_error_handlers(app)

    app.register_blueprint(participant.bp)
    app.register_blueprint(writer.bp)
    app.register_blueprint(admin.bp)  # with the routes of admin_roster
    app.register_blueprint(logins.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(api)
    sweeper.init_app(app)
    jobs.init_app(app)
    return app
