"""``current_settings()``: the process's read-only snapshot under the tenant's ``settings`` stamp.

Every write of the row renews the stamp (a flush listener and a bulk-statement listener, so no
writer can forget it); the unit of work that changed it reads its own version; a rolled back
change never reaches the process's copy; another process holding the old copy reloads."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from app.core import tenant_cache
from app.settings.models import MarketplaceSettings
from app.settings.services import SettingsSnapshot, current_settings, settings_row
from tenants.db import db
from tests.helpers import statements_of


def _reads_settings(statements: list[str]) -> bool:
    return any("marketplace_settings" in s for s in statements)


def test_the_settings_are_read_once_per_process_not_once_per_unit_of_work(app, acme, in_tenant):
    tenant_cache.clear_local()
    with in_tenant(acme):
        assert _reads_settings(statements_of(app, current_settings))
    with in_tenant(acme):  # the next request
        assert statements_of(app, current_settings) == []
        snapshot = current_settings()
        assert isinstance(snapshot, SettingsSnapshot)
        assert snapshot.commission_bps == db.session.get(MarketplaceSettings, 1).commission_bps
        with pytest.raises(dataclasses.FrozenInstanceError):
            snapshot.commission_bps = 1  # shared by every request of the process: read-only


def test_a_change_is_seen_by_its_own_unit_of_work_then_by_every_process(app, acme, in_tenant):
    with in_tenant(acme):
        before = current_settings().commission_bps
    other_process = dict(tenant_cache._local)  # a process that keeps the old copy
    with in_tenant(acme):
        row = settings_row(lock=True)
        row.commission_bps = before + 11
        assert current_settings().commission_bps == before + 11  # not flushed yet: the row itself
        db.session.flush()
        assert current_settings().commission_bps == before + 11  # flushed: read in this transaction
        db.session.commit()
    with in_tenant(acme):
        assert current_settings().commission_bps == before + 11
    tenant_cache._local.clear()
    tenant_cache._local.update(other_process)
    with in_tenant(acme):
        assert current_settings().commission_bps == before + 11  # its stamp moved: reloaded


def test_a_bulk_update_renews_the_stamp_too(app, acme, in_tenant):
    with in_tenant(acme):
        before = current_settings().clearance_days
    with in_tenant(acme):
        db.session.execute(sa.update(MarketplaceSettings).values(clearance_days=before + 3))
        assert current_settings().clearance_days == before + 3
        db.session.commit()
    with in_tenant(acme):
        assert current_settings().clearance_days == before + 3


def test_a_change_rolled_back_never_reaches_the_process_copy(app, acme, in_tenant):
    with in_tenant(acme):
        before = current_settings().commission_bps
    with in_tenant(acme):
        settings_row(lock=True).commission_bps = before + 7
        db.session.flush()
        assert current_settings().commission_bps == before + 7
        db.session.rollback()
        assert current_settings().commission_bps == before
    with in_tenant(acme):
        assert current_settings().commission_bps == before
    kept = [entry[1] for key, entry in tenant_cache._local.items() if key[2] == "settings"]
    assert kept and all(snapshot.commission_bps == before for snapshot in kept)
