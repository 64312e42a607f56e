"""app.core.one_statement: an order and its milestone inserted, or their changes written, by one
statement, and left as a flush leaves them."""

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import StaleDataError

from app.core.one_statement import insert_with_child, update_together, write_with_next
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


# --------------------------------------------------------------------------- update_together


def _stored_pair(acme, make_user, in_tenant) -> tuple[int, int]:
    buyer, seller = make_user(acme), make_user(acme)
    with in_tenant(acme):
        order = _pair(buyer, seller)
        insert_with_child(order, "milestones")
        db.session.commit()
        return order.id, order.milestones[0].id


def test_changes_of_two_tables_in_one_statement_left_as_a_flush_leaves_them(app, acme, make_user, in_tenant):
    order_id, milestone_id = _stored_pair(acme, make_user, in_tenant)
    with in_tenant(acme):
        order = db.session.get(Order, order_id)
        milestone = order.milestones[0]
        before = order.updated_at
        order.status, order.version = "awaiting_requirements", order.version + 1
        milestone.status, milestone.payment_ref = "funded", "pay_123"

        sent = statements_of(app, lambda: update_together([order, milestone]))

        assert len(sent) == 1 and " ".join(sent[0].split()).startswith("WITH u0 AS (UPDATE")
        for obj in (order, milestone):
            state = instance_state(obj)
            assert not state.committed_state and not state.expired_attributes and obj not in db.session.dirty
        # The onupdate column came back with the statement: reading it, or flushing, sends nothing.
        assert statements_of(app, lambda: (order.updated_at, db.session.flush())) == []
        assert order.updated_at > before
        db.session.commit()

        db.session.expire_all()
        stored = db.session.get(Order, order_id)
        assert (stored.status, stored.version, stored.updated_at) == (
            "awaiting_requirements",
            2,
            order.updated_at,
        )
        assert (stored.milestones[0].status, stored.milestones[0].payment_ref) == ("funded", "pay_123")
        assert stored.milestones[0].id == milestone_id


def test_rows_without_changes_send_nothing_and_other_changes_are_left_to_the_flush(
    app, acme, make_user, in_tenant
):
    order_id, _milestone_id = _stored_pair(acme, make_user, in_tenant)
    with in_tenant(acme):
        order = db.session.get(Order, order_id)
        assert statements_of(app, lambda: update_together([order, *order.milestones])) == []

        # A collection's change is the flush's: the order is skipped, then flushed as before.
        order.milestones.append(Milestone(seq=2, title="More", amount_minor=100))
        order.title = "Renamed"
        assert statements_of(app, lambda: update_together([order])) == []
        assert order in db.session.dirty
        db.session.flush()
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Order, order_id)
        assert stored.title == "Renamed" and [m.seq for m in stored.milestones] == [1, 2]


def test_a_row_that_is_gone_raises_stale_data(app, acme, make_user, in_tenant):
    order_id, milestone_id = _stored_pair(acme, make_user, in_tenant)
    with in_tenant(acme):
        milestone = db.session.get(Milestone, milestone_id)
        order = db.session.get(Order, order_id)
        db.session.execute(sa.delete(Milestone.__table__).where(Milestone.__table__.c.id == milestone_id))
        milestone.status, order.status = "funded", "awaiting_requirements"
        with pytest.raises(StaleDataError, match="one of 2 rows is gone"):
            update_together([order, milestone])
        db.session.rollback()
        assert db.session.get(Order, order_id).status == "awaiting_payment"


def test_a_savepoints_rollback_undoes_both_as_it_undoes_a_flush(app, acme, make_user, in_tenant):
    """Registered with the transaction as the flush registers its rows: a savepoint rolled back
    expunges the rows inserted in it and expires the rows updated in it (their values read again
    from the database), so no object keeps what the database no longer holds."""
    order_id, _milestone_id = _stored_pair(acme, make_user, in_tenant)
    buyer, seller = make_user(acme), make_user(acme)
    with in_tenant(acme):
        order = db.session.get(Order, order_id)
        savepoint = db.session.begin_nested()
        new = _pair(buyer, seller)
        insert_with_child(new, "milestones")
        order.status = "cancelled"
        update_together([order])
        assert instance_state(new).persistent and order.status == "cancelled"
        savepoint.rollback()

        assert instance_state(new).transient and instance_state(new.milestones[0]).transient
        assert order.status == "awaiting_payment"  # expired, read again
        count = sa.select(sa.func.count()).select_from(Order).where(Order.id != order_id)
        assert db.session.scalar(count) == 0
        db.session.rollback()


@pytest.fixture
def two_orders(acme, make_user, in_tenant):
    """The ids of two stored orders: one to change in a block, the other to ride with it."""
    return _stored_pair(acme, make_user, in_tenant)[0], _stored_pair(acme, make_user, in_tenant)[0]


def _both(ids: tuple[int, int]) -> tuple[Order, Order]:
    return db.session.get(Order, ids[0]), db.session.get(Order, ids[1])


def _left_to_the_caller(app, rider: Order, title: str) -> None:
    """The block ended with ``title`` set and pending: the caller's own call writes it."""
    assert rider.title == title and rider in db.session.dirty
    assert len(statements_of(app, lambda: update_together([rider]))) == 1


def test_changes_written_with_the_next_statement_of_the_block(app, acme, in_tenant, two_orders):
    """The rider's changes go out with the block's ``update_together``, not with an autoflush
    before it (a query in the block), and leave the rider clean."""
    first_id, rider_id = two_orders
    with in_tenant(acme):
        first, rider = _both(two_orders)
        with write_with_next(rider, status="awaiting_requirements", title="Ridden"):
            assert rider.status == "awaiting_payment"  # nothing set before the statement
            # An autoflush (this query) finds nothing of the rider's to write.
            assert len(statements_of(app, lambda: db.session.scalars(sa.select(Order.id)).all())) == 1
            first.status = "cancelled"
            sent = statements_of(app, lambda: update_together([first]))
        assert len(sent) == 1 and "u1 AS (UPDATE" in " ".join(sent[0].split())
        assert (rider.status, rider.title) == ("awaiting_requirements", "Ridden")
        assert rider not in db.session.dirty and first not in db.session.dirty
        assert statements_of(app, lambda: update_together([rider])) == []  # written already
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Order, rider_id)
        assert (stored.status, stored.title) == ("awaiting_requirements", "Ridden")


def test_a_block_without_a_statement_leaves_the_changes_set_and_a_raising_one_drops_them(
    app, acme, in_tenant, two_orders
):
    with in_tenant(acme):
        first, rider = _both(two_orders)
        with write_with_next(rider, title="Set on the way out"):
            pass
        _left_to_the_caller(app, rider, "Set on the way out")

        with pytest.raises(RuntimeError), write_with_next(rider, status="cancelled"):
            raise RuntimeError("refused")
        first.title = "Later"
        sent = statements_of(app, lambda: update_together([first]))  # a later statement: no rider
        assert len(sent) == 1 and "u1 AS" not in " ".join(sent[0].split())
        assert rider.status == "awaiting_payment" and rider not in db.session.dirty
        db.session.rollback()


def test_a_rider_is_forgotten_with_its_transaction(app, acme, in_tenant, two_orders):
    """A block left by a rollback that was not an exception of its own (the unit of work ended
    under it) keeps nothing for the next transaction."""
    first_id, rider_id = two_orders
    with in_tenant(acme):
        rider = db.session.get(Order, rider_id)
        with write_with_next(rider, status="cancelled"):
            db.session.rollback()
        assert rider.status == "awaiting_payment" and rider not in db.session.dirty
        first = db.session.get(Order, first_id)
        first.title = "Next transaction"
        sent = statements_of(app, lambda: update_together([first]))
        assert len(sent) == 1 and "u1 AS" not in " ".join(sent[0].split())
        db.session.rollback()
        assert db.session.get(Order, rider_id).status == "awaiting_payment"


def test_a_statement_undone_by_a_savepoint_inside_the_block_leaves_the_changes_set(
    app, acme, in_tenant, two_orders
):
    first_id, rider_id = two_orders
    with in_tenant(acme):
        first, rider = _both(two_orders)
        with write_with_next(rider, title="Kept after the savepoint"):
            savepoint = db.session.begin_nested()
            first.title = "Undone"
            update_together([first])  # takes the rider's change
            savepoint.rollback()  # and undoes it: the rider is expired
        _left_to_the_caller(app, rider, "Kept after the savepoint")
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Order, rider_id).title == "Kept after the savepoint"
        assert db.session.get(Order, first_id).title != "Undone"
