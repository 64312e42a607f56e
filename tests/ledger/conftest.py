"""Ledger fixtures: money moved through the real services, committed like a request would."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.settings.models import MarketplaceSettings
from tenants.db import db


@pytest.fixture
def commit(in_tenant):
    """``commit(acme, fn, *args)``: run a service in its own unit of work and commit; returns the result."""

    def run(tenant, fn, *args, **kwargs):
        with in_tenant(tenant):
            result = fn(*args, **kwargs)
            db.session.commit()
            return result

    return run


@pytest.fixture
def set_commission(in_tenant):
    def setter(tenant, bps: int, min_fee_minor: int, clearance_days: int | None = None):
        with in_tenant(tenant):
            settings = db.session.get(MarketplaceSettings, 1)
            settings.commission_bps = bps
            settings.commission_min_fee_minor = min_fee_minor
            if clearance_days is not None:
                settings.clearance_days = clearance_days
            db.session.commit()

    return setter


def ledger_counts() -> tuple[int, int, int]:
    """(accounts, transactions, entries) of the bound tenant."""
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (LedgerAccount, LedgerTransaction, LedgerEntry)
    )
