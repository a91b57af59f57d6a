"""WSGI entry point for gunicorn (``gunicorn server.wsgi:app``); settings from SMARTCAT_*."""

from server import create_app

app = create_app()
