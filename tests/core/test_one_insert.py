"""app.core.one_insert: a new order and its milestone in one statement, left as a flush leaves them."""

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import instance_state

from app.core.one_insert import insert_with_child
from app.orders.models import Milestone, Order
from tenants.db import db
from tests.helpers import statements_of

SKIP = {"id", "order_id", "created_at", "updated_at"}


def _pair(buyer_id: int, seller_id: int, **order) -> Order:
    new = Order(
        kind="offer",
        buyer_id=buyer_id,
        seller_id=seller_id,
        title="Logo (Basic)",
        currency="USD",
        subtotal_minor=5000,
        total_minor=5500,
        status="awaiting_payment",
        delivery_days=3,
        revisions_allowed=1,
        **order,
    )
    new.milestones = [Milestone(seq=1, title="Logo", amount_minor=5500, status="funding_required")]
    return new


def _columns(obj) -> dict:
    mapper = sa.inspect(type(obj))
    return {a.key: getattr(obj, a.key) for a in mapper.column_attrs if a.key not in SKIP}


def test_the_rows_and_objects_equal_a_flushs(app, acme, make_user, in_tenant):
    buyer, seller = make_user(acme), make_user(acme)
    with in_tenant(acme):
        flushed = _pair(buyer, seller, extras=[{"title": "Source files"}])
        db.session.add(flushed)
        db.session.flush()
        one = _pair(buyer, seller, extras=[{"title": "Source files"}])

        sent = statements_of(app, lambda: insert_with_child(one, "milestones"))

        assert len(sent) == 1 and " ".join(sent[0].split()).startswith("WITH parent AS (INSERT INTO")
        # Persistent, nothing pending, every column loaded: reading them sends nothing.
        for obj in (one, one.milestones[0]):
            state = instance_state(obj)
            assert state.persistent and not state.expired_attributes and obj not in db.session.dirty
        read = statements_of(app, lambda: (_columns(one), _columns(one.milestones[0]), one.created_at))
        assert read == []
        assert one.milestones[0].order is one and one.milestones[0].order_id == one.id
        assert _columns(one) == _columns(flushed)  # server and Python defaults alike
        assert _columns(one.milestones[0]) == _columns(flushed.milestones[0])
        assert one.created_at is not None and one.version == 1 and one.quantity == 1
        order_id, milestone_id = one.id, one.milestones[0].id
        db.session.commit()

        db.session.expire_all()
        stored = db.session.get(Order, order_id)
        assert [m.id for m in stored.milestones] == [milestone_id]
        assert stored.extras == [{"title": "Source files"}] and stored.milestones[0].dod == []


def test_a_refused_row_rolls_back_with_the_unit_of_work(app, acme, make_user, in_tenant):
    buyer = make_user(acme)
    with in_tenant(acme):
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        same_party = _pair(buyer, buyer)  # the table refuses buyer = seller
        with pytest.raises(sa.exc.IntegrityError):
            insert_with_child(same_party, "milestones")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Milestone)) == 0


def test_only_new_objects_with_one_child(app, acme, make_user, in_tenant):
    buyer, seller = make_user(acme), make_user(acme)
    with in_tenant(acme):
        two = _pair(buyer, seller)
        two.milestones.append(Milestone(seq=2, title="More", amount_minor=100))
        with pytest.raises(ValueError, match="holds 2 objects"):
            insert_with_child(two, "milestones")
        added = _pair(buyer, seller)
        db.session.add(added)
        with pytest.raises(ValueError, match="is not new"):
            insert_with_child(added, "milestones")
        db.session.rollback()
