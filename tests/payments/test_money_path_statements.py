"""The money path stays lean: how many SQL statements one order -> paid and one
complete -> released send, through HTTP as a buyer does it (bench/order_flow.py's steps).

A ceiling, not a timing: the count is deterministic for one request sequence. It is the
measured count plus a small margin (docs/design/performance.md, "The money path"); a change
that needs more statements should say why there and raise the ceiling with it.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.orders import services as orders
from tenants.db import db
from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.helpers import counting_statements, statement_listing
from tests.payments.conftest import form_tokens

# Measured here (the test tenant; the bench counts 17 and 11): 20 and 12, with tokens and a
# session used within the minute (the warm-up's); a first use after a minute writes its "last
# used" in the credential's own read, no statement more (the bench counted 20.9 when it was an
# UPDATE of its own: test_a_due_last_use_costs_no_statement below). The test tenant counts
# more than the bench: its host lookups (the bench's process keeps them). Before the confirmed
# payment's UPDATE rode with the order's (app.core.one_statement.write_with_next): 21. Before an order's and
# its milestones' changes went out as one statement (app.core.one_statement.update_together): 22
# and 14; before a placed order and its milestone were one statement: 23 and 14. Before the card form
# locked the order with its payment, the ledger posted in one statement and the checkout page
# showed the focused header: 27 and 15; before the settings snapshot, the card form's and the
# ledger's savepoints, the sandbox reference named before the INSERT and the orders' count of
# cancellation requests: 32 and 19 here (35 and 20 before the token look-up was shared, 52 and
# 26 before the second lean pass; the bench's 76 and 37 before the first).
ORDER_TO_PAID_CEILING = 21
COMPLETE_TO_RELEASED_CEILING = 13


@pytest.fixture
def paid_order_steps(market, api_token, in_tenant, app, acme):  # noqa: F811
    m = market(acme)
    api, headers = api_token(acme, m.buyer_email)
    web = m.client(m.buyer_email)
    # Warm up once (first-use caches: compiled SQL, branding, templates), as a served process is.
    _order_and_pay(api, headers, web, m.gig_id)
    return m, api, headers, web


def _order_and_pay(api, headers, web, gig_id) -> int:
    placed = api.post(
        "/api/v1/orders",
        json={"gig_id": gig_id, "tier": "basic"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.json
    checkout = placed.json["checkout_url"]
    assert checkout.startswith("/checkout/sandbox/")
    tokens = form_tokens(web, checkout)  # the checkout page
    paid = web.post(
        checkout, data={**tokens, "card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}
    )
    assert paid.status_code == 302, paid.get_data(as_text=True)[:300]
    return placed.json["id"]


def test_order_to_paid_stays_under_its_statement_ceiling(paid_order_steps, app, acme):
    m, api, headers, web = paid_order_steps
    with counting_statements(app) as statements:  # no app context: each request has its own
        _order_and_pay(api, headers, web, m.gig_id)
    assert len(statements) <= ORDER_TO_PAID_CEILING, statement_listing(statements)
    # The card form and the API raise their refusals: no savepoint is paid for (view or ledger).
    assert not any("SAVEPOINT" in s for s in statements), statement_listing(statements)


def test_complete_to_released_stays_under_its_statement_ceiling(paid_order_steps, app, in_tenant, acme):
    m, api, headers, web = paid_order_steps
    order_id = _order_and_pay(api, headers, web, m.gig_id)
    with in_tenant(acme):
        order = db.session.get(orders.Order, order_id)
        buyer, seller = db.session.get(User, order.buyer_id), db.session.get(User, order.seller_id)
        orders.submit_requirements(buyer, order_id, "Make it blue.")
        orders.deliver(seller, order_id, "Here it is.", [])
        db.session.commit()
    with counting_statements(app) as statements:
        done = api.post(
            f"/api/v1/orders/{order_id}/complete",
            json={},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed" and done.json["money"]["escrow_minor"] == 0
    assert len(statements) <= COMPLETE_TO_RELEASED_CEILING, statement_listing(statements)
    assert not any("SAVEPOINT" in s for s in statements), statement_listing(statements)


def test_a_due_last_use_costs_no_statement(paid_order_steps, app, monkeypatch):
    """A buyer whose token and web session were last used over a minute ago: their last use is
    written by the credentials' own reads, so order -> paid sends what it sends within the
    minute, and the writes are committed."""
    from datetime import UTC, datetime, timedelta

    from app.accounts import sessions, tokens

    m, api, headers, web = paid_order_steps
    with counting_statements(app) as within_the_minute:
        _order_and_pay(api, headers, web, m.gig_id)
    due = datetime.now(UTC) + timedelta(minutes=3)
    monkeypatch.setattr(tokens, "_now", lambda: due)
    monkeypatch.setattr(sessions, "_now", lambda: due)
    with counting_statements(app) as statements:
        _order_and_pay(api, headers, web, m.gig_id)
    assert len(statements) == len(within_the_minute), statement_listing(statements)
    touched = [s for s in statements if s.startswith("WITH touched AS")]
    assert len(touched) == 3, statement_listing(statements)  # the token's read, two page loads' user
    with app.app_context(), db.engine.connect() as conn:
        last_seen = conn.execute(sa.text("SELECT max(last_seen_at) FROM tenant_acme.user_sessions")).scalar()
        last_used = conn.execute(sa.text("SELECT max(last_used_at) FROM tenant_acme.api_tokens")).scalar()
    assert last_seen == due and last_used == due
