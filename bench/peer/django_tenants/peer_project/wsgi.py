"""WSGI entry point: ``gunicorn peer_project.wsgi:application`` (from the peer's venv)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_project.settings")
application = get_wsgi_application()
