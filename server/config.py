"""Server configuration: environment variables with safe defaults.

Every setting can be given to :func:`server.create_app` in a mapping (tests do this); the
rest is read from ``SMARTCAT_*`` environment variables.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

from item_bank.login_throttle import ThrottleRule

log = logging.getLogger(__name__)

MIN_METRICS_TOKEN = 32

# name -> (environment variable, default, parser)
_SETTINGS: dict[str, tuple[str, Any, type]] = {
    "DATABASE_URL": ("SMARTCAT_DATABASE_URL", "sqlite:///smartcat.sqlite", str),
    "SECRET_KEY": ("SMARTCAT_SECRET_KEY", None, str),
    # The login throttle (item_bank.login_throttle, docs/server.md "Security"): failed logins
    # per (account, address) and per address within the window, then 429 until the window
    # has passed; failures per account (any address) in the account window before each try
    # waits an exponential delay after the latest one.
    "LOGIN_LIMIT": ("SMARTCAT_LOGIN_LIMIT", 10, int),
    "LOGIN_ADDRESS_LIMIT": ("SMARTCAT_LOGIN_ADDRESS_LIMIT", 300, int),
    "LOGIN_WINDOW_SECONDS": ("SMARTCAT_LOGIN_WINDOW_SECONDS", 900, int),
    "LOGIN_ACCOUNT_FREE": ("SMARTCAT_LOGIN_ACCOUNT_FREE", 10, int),
    "LOGIN_ACCOUNT_WINDOW_SECONDS": ("SMARTCAT_LOGIN_ACCOUNT_WINDOW_SECONDS", 86400, int),
    "LOGIN_DELAY_SECONDS": ("SMARTCAT_LOGIN_DELAY_SECONDS", 1, int),
    "LOGIN_DELAY_MAX_SECONDS": ("SMARTCAT_LOGIN_DELAY_MAX_SECONDS", 900, int),
    # Seconds between two sweeps that finish attempts past their deadline (0 = no sweeper thread).
    "SWEEP_INTERVAL_SECONDS": ("SMARTCAT_SWEEP_INTERVAL_SECONDS", 15, int),
    # Seconds between two looks for waiting calibration jobs (0 = no job thread: run them with
    # `smartcat calibrate --program`).
    "JOB_POLL_SECONDS": ("SMARTCAT_JOB_POLL_SECONDS", 2, int),
    "DEFAULT_LOCALE": ("SMARTCAT_DEFAULT_LOCALE", "id", str),
    # Certificates younger than this are held back from the pull API so that a transaction that
    # took its id earlier but committed later is never skipped by a cursor that moved past it.
    "CERTIFICATE_SETTLE_SECONDS": ("SMARTCAT_CERTIFICATE_SETTLE_SECONDS", 5, int),
    "CERTIFICATE_PAGE_SIZE": ("SMARTCAT_CERTIFICATE_PAGE_SIZE", 100, int),
    # A login session ends after this many seconds without a request (idle) and this many after
    # the login whatever happens (absolute): an exam day, not a month.  The idle stamp in the
    # cookie is renewed at most every SESSION_REFRESH_SECONDS, so an answer seldom sets a cookie
    # (and a session may end up to that much before the full idle time).
    "SESSION_IDLE_SECONDS": ("SMARTCAT_SESSION_IDLE_SECONDS", 60 * 60, int),
    "SESSION_ABSOLUTE_SECONDS": ("SMARTCAT_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60, int),
    "SESSION_REFRESH_SECONDS": ("SMARTCAT_SESSION_REFRESH_SECONDS", 5 * 60, int),
    # Trust X-Forwarded-For / X-Forwarded-Proto from this many proxies (0 = none).
    "TRUSTED_PROXIES": ("SMARTCAT_TRUSTED_PROXIES", 0, int),
    # The bearer token Prometheus sends to scrape /metrics; unset, /metrics is 404.
    "METRICS_TOKEN": ("SMARTCAT_METRICS_TOKEN", None, str),
    # Connections per process (0 = SQLAlchemy's defaults): see docs/operations.md for sizing
    # against the workers and PostgreSQL's max_connections.  A request waits at most
    # DB_POOL_TIMEOUT seconds for a free connection, then gets 503.
    "DB_POOL_SIZE": ("SMARTCAT_DB_POOL_SIZE", 0, int),
    "DB_MAX_OVERFLOW": ("SMARTCAT_DB_MAX_OVERFLOW", 2, int),
    "DB_POOL_TIMEOUT": ("SMARTCAT_DB_POOL_TIMEOUT", 10, int),
    # Largest request body in bytes: every route but the uploads (JSON API, forms) / the
    # writer's item import and the roster upload.  A larger body is 413 before it is read.
    "MAX_REQUEST_BYTES": ("SMARTCAT_MAX_REQUEST_BYTES", 1024 * 1024, int),
    "MAX_UPLOAD_BYTES": ("SMARTCAT_MAX_UPLOAD_BYTES", 16 * 1024 * 1024, int),
    # Deepest nesting of arrays and objects in a JSON body or import file; deeper is 400
    # (well below Python's recursion limit, far above any document of the product).
    "MAX_JSON_DEPTH": ("SMARTCAT_MAX_JSON_DEPTH", 32, int),
}


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge defaults, environment variables and ``overrides`` (highest priority).

    Raises
    ------
    ValueError
        When an environment variable cannot be parsed (the message names it).
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config: dict[str, Any] = {}
    for name, (env_name, default, parser) in _SETTINGS.items():
        if name in overrides:
            config[name] = overrides.pop(name)
        elif env_name in environ:
            try:
                config[name] = parser(environ[env_name])
            except ValueError as exc:
                raise ValueError(f"{env_name}={environ[env_name]!r} is not a valid "
                                 f"{parser.__name__}") from exc
        else:
            config[name] = default
    config.update(overrides)
    # Not from the environment: a callable that tests give create_app (server.policy_args).
    config.setdefault("CLOCK", None)
    if not config["SECRET_KEY"]:
        # A random key is safe but logs everyone out on restart and differs between workers;
        # `smartcat serve` generates one shared by its workers.
        log.warning("SMARTCAT_SECRET_KEY is not set: using a random key for this process")
        config["SECRET_KEY"] = secrets.token_hex(32)
    # An empty value is "not set"; a short one could be guessed by anyone who can reach the port.
    config["METRICS_TOKEN"] = config["METRICS_TOKEN"] or None
    if config["METRICS_TOKEN"] is not None and len(config["METRICS_TOKEN"]) < MIN_METRICS_TOKEN:
        raise ValueError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_hex(32))')")
    login_rule(config)  # a bad limit is refused at start, not at the first login
    if not 0 <= config["SESSION_REFRESH_SECONDS"] < config["SESSION_IDLE_SECONDS"] \
            <= config["SESSION_ABSOLUTE_SECONDS"]:
        raise ValueError("session lifetimes must satisfy 0 <= SESSION_REFRESH_SECONDS < "
                         "SESSION_IDLE_SECONDS <= SESSION_ABSOLUTE_SECONDS")
    if config["DEFAULT_LOCALE"] not in ("id", "en"):
        raise ValueError(f"DEFAULT_LOCALE must be 'id' or 'en', not {config['DEFAULT_LOCALE']!r}")
    for name in ("MAX_REQUEST_BYTES", "MAX_UPLOAD_BYTES", "MAX_JSON_DEPTH"):
        if config[name] < 1:
            raise ValueError(f"{name} must be at least 1, not {config[name]!r}")
    return config


def login_rule(config: Mapping[str, Any]) -> ThrottleRule:
    """The login throttle's limits from the ``LOGIN_*`` settings (ValueError when invalid)."""
    return ThrottleRule(
        pair_limit=config["LOGIN_LIMIT"], address_limit=config["LOGIN_ADDRESS_LIMIT"],
        window=config["LOGIN_WINDOW_SECONDS"], account_free=config["LOGIN_ACCOUNT_FREE"],
        account_window=config["LOGIN_ACCOUNT_WINDOW_SECONDS"],
        delay=config["LOGIN_DELAY_SECONDS"], delay_max=config["LOGIN_DELAY_MAX_SECONDS"])
