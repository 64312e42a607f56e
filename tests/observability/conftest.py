"""Fixtures of the observability tests."""

from __future__ import annotations

import pytest

from tests.observability.servers import Gunicorn


@pytest.fixture
def gunicorn(app, tmp_path):
    servers = []

    def start(workers: int = 2, **env: str) -> Gunicorn:
        server = Gunicorn(app, tmp_path, workers, **env)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
