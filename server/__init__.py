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

from server.config import load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; settings come from ``config`` over ``SMARTCAT_*`` environment variables.

    Examples
    --------
    >>> app = create_app({"DATABASE_URL": "sqlite:///demo.db", "SECRET_KEY": "x" * 32})
    """
    from server import errors, i18n, metrics, security, sweeper
    from server.api import api
    from server.extensions import csrf, db
    from server.views import admin, participant, public, writer

    app = Flask(__name__)
    app.config.update(load_config(config))
    app.config.setdefault("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore

    metrics.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    # The JSON API is protected by requiring JSON bodies (see server.api), not form tokens.
    csrf.exempt(api)
    security.init_app(app)
    i18n.init_app(app)
    errors.register_error_handlers(app)

    app.register_blueprint(participant.bp)
    app.register_blueprint(writer.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(api)
    sweeper.init_app(app)
    return app
