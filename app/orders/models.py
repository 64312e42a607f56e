"""Orders: engagements between a buyer and a seller, paid through escrow.

An ``Order`` is an engagement with one or more ``Milestone`` rows, each funded
into escrow and later released to the seller or refunded to the buyer through
the ledger (``app/ledger``). A gig order has one milestone; a custom offer up
to three and a job contract's engagement (``kind="contract"``) up to ten, funded one
by one (``app/orders/milestones.py``); hourly contracts will use the same tables.

Money is integer minor units in the order's ``currency``. The rules live in
``app/orders/services.py``; the CHECK constraints here are the database's
backstop, never the first line.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

# ``contract``: the engagement of a job contract (``app.contracts``), worked milestone by milestone.
ORDER_KINDS = ("gig", "offer", "contract")
ORDER_STATUSES = (
    "awaiting_payment",
    "awaiting_requirements",
    "in_progress",
    "delivered",
    "completed",
    "cancelled",
)
ACTIVE_STATUSES = ("awaiting_payment", "awaiting_requirements", "in_progress", "delivered")
# The milestone engine's states (``app.orders.milestones.TRANSITIONS`` says who moves them):
# planned -> funding_required -> funded -> submitted <-> changes_requested -> accepted -> paid,
# or refunded / partially_refunded; ``cancelled`` (never funded, dropped when a contract ends);
# ``disputed``: an open dispute locks the milestone's escrow (``app.disputes``).
MILESTONE_STATUSES = (
    "planned",
    "funding_required",
    "funded",
    "submitted",
    "changes_requested",
    "accepted",
    "paid",
    "refunded",
    "partially_refunded",
    "disputed",
    "cancelled",
)
# A milestone in one of these holds its amount (less refunds) in escrow.
MILESTONE_HELD_STATUSES = ("funded", "submitted", "changes_requested", "accepted", "disputed")
CANCELLATION_STATUSES = ("pending", "accepted", "declined", "auto_accepted", "withdrawn")
OFFER_STATUSES = ("open", "accepted", "declined", "withdrawn", "expired")
UNLIMITED_REVISIONS = -1
MAX_OFFER_MILESTONES = 3


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class Order(TenantModel):
    """One engagement. ``version`` is bumped by every transition (for ETags and audits);
    concurrent transitions are serialised by a row lock in the services."""

    __tablename__ = "orders"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("kind", ORDER_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        sa.CheckConstraint("buyer_id <> seller_id", name="distinct_parties"),
        sa.CheckConstraint("quantity between 1 and 100", name="quantity"),
        # An open-ended engagement (an hourly contract) starts at zero: each billed week adds to it.
        sa.CheckConstraint("subtotal_minor >= 0 and (total_minor > 0 or open_ended)", name="amounts"),
        sa.CheckConstraint("revisions_allowed >= -1 and revisions_used >= 0", name="revisions"),
        sa.CheckConstraint("cancellation_requests >= 0", name="cancellation_requests"),
        sa.Index("ix_orders_buyer_status", "buyer_id", "status", "id"),
        sa.Index("ix_orders_seller_status", "seller_id", "status", "id"),
        # The console dashboard's periods and the console's order list by date.
        sa.Index("ix_orders_created_at", "created_at"),
        sa.Index("ix_orders_paid_at", "paid_at", postgresql_where=sa.text("paid_at IS NOT NULL")),
        sa.Index(
            "ix_orders_auto_complete_at",
            "auto_complete_at",
            postgresql_where=sa.text("status = 'delivered'"),
        ),
        sa.Index("ix_orders_due_at", "due_at", postgresql_where=sa.text("status = 'in_progress'")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    gig_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="SET NULL"), index=True
    )
    package_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gig_packages.id", ondelete="SET NULL")
    )
    package_tier: Mapped[str | None] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    # Snapshot of the ordered extras: [{"id", "title", "price_minor", "extra_days"}].
    extras: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal_minor: Mapped[int] = mapped_column(sa.BigInteger)  # package price x quantity
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)  # subtotal + extras
    status: Mapped[str] = mapped_column(sa.String(24), default="awaiting_payment")
    delivery_days: Mapped[int] = mapped_column(sa.SmallInteger)
    revisions_allowed: Mapped[int] = mapped_column(sa.SmallInteger)  # -1 = unlimited
    revisions_used: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    requirements: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    late_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))  # flagged late
    paid_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    auto_complete_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # An hourly contract's engagement: no milestones up front, one appended per billed week
    # (``milestones.add_billed_milestone``); it never completes by itself (``close_open_ended``).
    open_ended: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # How many cancellation requests the order has had (``order_cancellations`` rows), counted by
    # ``request_cancellation`` under the order's lock: an order with none (nearly every one)
    # needs no look-up of a pending request, nor of its list for an answer.
    cancellation_requests: Mapped[int] = mapped_column(default=0, server_default="0")

    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="order", order_by="Milestone.seq", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        """The human number (ids are per tenant schema, so numbers are too)."""
        return f"#{self.id}"

    @property
    def is_late(self) -> bool:
        return self.late_at is not None

    @property
    def unlimited_revisions(self) -> bool:
        return self.revisions_allowed == UNLIMITED_REVISIONS

    @property
    def revisions_left(self) -> int | None:
        """None when unlimited."""
        if self.unlimited_revisions:
            return None
        return max(0, self.revisions_allowed - self.revisions_used)

    @property
    def uses_milestones(self) -> bool:
        """Worked milestone by milestone (fund, submit, accept each): an offer with several
        milestones (and, later, a job contract). A one-milestone gig order keeps the order-level
        deliver / revision / complete flow."""
        return self.kind == "contract" or len(self.milestones) > 1

    def party(self, user_id: int) -> str | None:
        if user_id == self.buyer_id:
            return "buyer"
        if user_id == self.seller_id:
            return "seller"
        return None

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.status}>"


class Milestone(TenantModel):
    __tablename__ = "order_milestones"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("order_id", "seq"),
        sa.CheckConstraint(_in("status", MILESTONE_STATUSES), name="status"),
        sa.CheckConstraint("amount_minor > 0", name="amount"),
        sa.CheckConstraint("refunded_minor >= 0 and refunded_minor <= amount_minor", name="refunded"),
        # The auto-release job's scan.
        sa.Index(
            "ix_order_milestones_auto_release_at",
            "auto_release_at",
            postgresql_where=sa.text("status = 'submitted'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(sa.SmallInteger)
    title: Mapped[str] = mapped_column(sa.String(200))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(
        sa.String(24), default="funding_required", server_default="funding_required"
    )
    payment_ref: Mapped[str | None] = mapped_column(sa.String(200))
    refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    funded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # What the seller delivers, and the Definition of Done: [{"text", "done"}].
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    dod: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    funding_requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    changes_requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The buyer's last "request changes" text; the seller's last submission.
    feedback: Mapped[str | None] = mapped_column(sa.Text)
    submission_message: Mapped[str | None] = mapped_column(sa.Text)
    # [{"key", "filename", "content_type", "size"}] (app.storage keys) and ["https://..."]
    submission_files: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    submission_links: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    # When a submitted milestone is accepted by itself (the tenant's milestone_auto_release_days).
    auto_release_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # While disputed: the state the dispute found it in (a dismissal goes back there).
    disputed_from: Mapped[str | None] = mapped_column(sa.String(24))

    order: Mapped[Order] = relationship(back_populates="milestones")

    @property
    def held_minor(self) -> int:
        """What this milestone holds in escrow by its own row (the ledger is the truth)."""
        return self.amount_minor - self.refunded_minor if self.status in MILESTONE_HELD_STATUSES else 0


class OrderEvent(TenantModel):
    """The timeline: one row per state change, with its actor (None: the marketplace)."""

    __tablename__ = "order_events"
    __table_args__ = tenant_table_args(sa.Index("ix_order_events_order_id_id", "order_id", "id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Delivery(TenantModel):
    """The seller's delivered work: a message and files (``app.storage`` keys)."""

    __tablename__ = "order_deliveries"
    __table_args__ = tenant_table_args(sa.Index("ix_order_deliveries_order_id", "order_id", "id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE")
    )
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    message: Mapped[str] = mapped_column(sa.Text)
    # [{"key", "filename", "content_type", "size"}]
    files: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CancellationRequest(TenantModel):
    """A mutual cancellation: one side asks, the other accepts or declines; unanswered,
    it is accepted at ``resolve_at``. ``refund_minor`` is the buyer's share of the
    escrow; the rest is released to the seller."""

    __tablename__ = "order_cancellations"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", CANCELLATION_STATUSES), name="status"),
        sa.CheckConstraint("refund_minor >= 0", name="refund"),
        # At most one open request per order.
        sa.Index(
            "ux_order_cancellations_pending",
            "order_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index(
            "ix_order_cancellations_resolve_at",
            "resolve_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(sa.Text)
    refund_minor: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    resolve_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    responded_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CustomOffer(TenantModel):
    """A seller's offer made in a conversation; accepted, it becomes an order awaiting payment."""

    __tablename__ = "custom_offers"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", OFFER_STATUSES), name="status"),
        sa.CheckConstraint("total_minor > 0", name="total"),
        sa.CheckConstraint("delivery_days between 1 and 365", name="delivery_days"),
        sa.CheckConstraint("revisions >= -1", name="revisions"),
        sa.CheckConstraint("buyer_id <> seller_id", name="distinct_parties"),
        sa.Index("ix_custom_offers_buyer_status", "buyer_id", "status"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.conversations.id", ondelete="CASCADE"), index=True
    )
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    gig_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    delivery_days: Mapped[int] = mapped_column(sa.SmallInteger)
    revisions: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    # [{"title", "amount_minor"}], 1 to 3 entries summing to total_minor.
    milestones: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    order_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
