"""orders.cancellation_requests: how many cancellation requests an order has had

Counted by the service that creates them, under the order's lock, so that completing an order
that never had one (nearly every order) looks up no pending request and lists none. Existing
orders are counted from ``order_cancellations``.

Revision ID: t0035
Revises: t0034
Create Date: 2026-12-04 18:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "t0035"
down_revision = "t0034"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "orders", sa.Column("cancellation_requests", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE orders o SET cancellation_requests = c.n "
        "FROM (SELECT order_id, count(*) AS n FROM order_cancellations GROUP BY order_id) c "
        "WHERE c.order_id = o.id"
    )
    op.create_check_constraint(
        op.f("ck_orders_cancellation_requests"), "orders", "cancellation_requests >= 0"
    )


def downgrade():
    op.drop_constraint(op.f("ck_orders_cancellation_requests"), "orders", type_="check")
    op.drop_column("orders", "cancellation_requests")
