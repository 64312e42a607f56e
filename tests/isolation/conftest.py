"""Fixtures of the isolation suite."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def seen(app):
    """``seen(acme, "label")`` -> entries test handlers pushed to the tenant's Redis list."""

    def read(tenant, label: str) -> list[dict]:
        raw = app.extensions["redis"].lrange(f"t:{tenant.id}:test:{label}", 0, -1)
        return [json.loads(item) for item in raw]

    return read
