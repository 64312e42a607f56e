"""Fixtures of the discovery tests: the home page, featured gigs and recently viewed (``shop``,
``add_gig``: see home_kit.py) and saved gigs (``saved_shop``, ``as_user``: a seller with active
gigs, buyers, and the services bound to a tenant)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.accounts.models import User
from tenants.db import db
from tests.discovery.home_kit import add_gig, shop  # noqa: F401  (fixtures for every module here)
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.helpers import PASSWORD, bearer_headers, csrf_token, login  # noqa: F401  (for modules)


@pytest.fixture
def saved_shop(make_seller, make_user, make_gig):  # noqa: F811
    """``saved_shop(tenant, gigs=2)`` -> ids of a seller with ``gigs`` active gigs and two buyers."""

    def make(tenant, gigs=2, **gig_overrides):
        seller = make_seller(tenant, email=f"seller@{tenant.slug}.test", display_name="Sam Seller")
        buyer = make_user(tenant, email=f"buyer@{tenant.slug}.test", display_name="Bea Buyer")
        other = make_user(tenant, email=f"other@{tenant.slug}.test", display_name="Otto Other")
        gig_ids = [
            make_gig(tenant, seller, title=f"I will design a logo number {n} for you", **gig_overrides)
            for n in range(1, gigs + 1)
        ]
        return SimpleNamespace(seller=seller, buyer=buyer, other=other, gigs=gig_ids)

    return make


@pytest.fixture
def as_user(in_tenant):
    """``with as_user(tenant, user_id) as user:`` the block runs in the tenant with ``user``
    loaded; commits at the end (like a request's unit of work), rolls back on an error."""
    import contextlib

    @contextlib.contextmanager
    def bind(tenant, user_id):
        with in_tenant(tenant):
            user = db.session.get(User, user_id)
            try:
                yield user
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise

    return bind
