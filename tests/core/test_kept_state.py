"""The suite's kept state (tests/conftest.py, ``keeps_state`` and ``kept``): tests marked with
one key share what ``kept`` built, and every other test still starts from the base state."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from tenants.db import db

EMAIL = "kept-probe@example.com"


def _probe_users(in_tenant, acme) -> int:
    with in_tenant(acme):
        return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == EMAIL))


@pytest.fixture
def probe(kept, make_user, acme):
    return kept(lambda: make_user(acme, email=EMAIL))


@pytest.mark.keeps_state("kept-probe")
def test_a_kept_state_is_built_once_and_found_by_the_next_test(probe, kept, in_tenant, acme):
    assert _probe_users(in_tenant, acme) == 1
    assert kept(lambda: pytest.fail("built again within one test")) == probe


@pytest.mark.keeps_state("kept-probe")
def test_the_next_test_with_the_key_finds_it_in_place(probe, in_tenant, acme):
    assert _probe_users(in_tenant, acme) == 1  # built here or kept from the test before


def test_a_test_without_the_key_starts_from_the_base_state(in_tenant, acme):
    assert _probe_users(in_tenant, acme) == 0


def test_kept_refuses_a_test_without_the_mark(kept):
    with pytest.raises(AssertionError, match="keeps_state"):
        kept(lambda: None)
