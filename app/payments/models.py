"""Provider-side records of money movements. Amounts are integer minor units.

``Payment``: one per order milestone (a declined card is retried on the same
payment, as with a Stripe PaymentIntent). ``Refund``: money back to the buyer
at the provider (the ledger refund is the orders domain's). ``Payout``: money
from a seller's available balance to the seller. ``SellerPaymentAccount``: a
seller's account at the provider (Stripe: the connected account; the sandbox: a
simulated one) with its KYC status. ``PayoutHold``: an operator's hold on a
seller's payouts (at most one active per seller). ``BillingMethod``: a client's saved card for
charges made without them (an hourly contract's weekly bill). ``ProcessedWebhook``: provider
event IDs already handled (de-duplication).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

PROVIDERS = ("sandbox", "stripe")
# pending: created, not paid yet; requires_action: a second step (3-D Secure) is
# due; failed: the last attempt failed (the buyer may try again); succeeded: paid.
PAYMENT_STATUSES = ("pending", "requires_action", "failed", "succeeded")
REFUND_STATUSES = ("pending", "succeeded", "failed")
# pending: recorded in the ledger, transfer not yet confirmed; sent; failed and
# reversed put the money back on the seller's available balance.
PAYOUT_STATUSES = ("pending", "sent", "failed", "reversed")
# none: nothing submitted yet; pending: the provider is checking (or waits for more);
# verified: payouts allowed; rejected: the provider refused the seller (payouts blocked).
KYC_STATUSES = ("none", "pending", "verified", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _now_column():
    return mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class Payment(TenantModel):
    __tablename__ = "payments"
    __table_args__ = tenant_table_args(
        # One checkout per order (funding all its milestones), or one payment per
        # milestone funded on its own (job contracts, next issue).
        sa.Index(
            "ux_payments_order_checkout",
            "order_id",
            unique=True,
            postgresql_where=sa.text("milestone_id IS NULL"),
        ),
        sa.Index(
            "ux_payments_milestone",
            "milestone_id",
            unique=True,
            postgresql_where=sa.text("milestone_id IS NOT NULL"),
        ),
        sa.Index("ux_payments_provider_ref", "provider", "provider_ref", unique=True),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id"), index=True
    )
    # None: the order's checkout, funding every pending milestone at once.
    milestone_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.order_milestones.id")
    )
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"))
    provider: Mapped[str] = mapped_column(sa.String(16))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    client_secret: Mapped[str | None] = mapped_column(sa.String(255))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", server_default="pending")
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = _now_column()
    succeeded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def ledger_ref(self) -> str:
        """The reference the ledger and orders get: the same for every path that confirms it."""
        return f"payment-{self.id}"


class Refund(TenantModel):
    __tablename__ = "refunds"
    __table_args__ = tenant_table_args(
        sa.Index("ux_refunds_provider_ref", "provider", "provider_ref", unique=True),
        sa.UniqueConstraint("payment_id", "reference"),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.payments.id"), index=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(16))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", server_default="pending")
    # "platform": we asked for it (order cancellation); "provider": it appeared in a
    # webhook (a refund made in the Stripe dashboard).
    origin: Mapped[str] = mapped_column(sa.String(16), default="platform", server_default="platform")
    # What asked for it ("order-event:<id>", "unusable:<payment id>"): one refund per reference and payment.
    reference: Mapped[str | None] = mapped_column(sa.String(100))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = _now_column()
    succeeded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Payout(TenantModel):
    __tablename__ = "payouts"
    __table_args__ = tenant_table_args(
        sa.Index("ux_payouts_provider_ref", "provider", "provider_ref", unique=True),
        sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", PAYOUT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(16))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", server_default="pending")
    # "auto:<period>:<seller>" for scheduled payouts: a re-run job finds its payout.
    schedule_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # The failed payout an operator retried with this one (``retry_payout``): unique, so a
    # failed payout is retried at most once (a failed retry is retried in its turn).
    retry_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.payouts.id"), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    requested_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def ledger_ref(self) -> str:
        return f"payout-{self.id}"


class SellerPaymentAccount(TenantModel):
    __tablename__ = "seller_payment_accounts"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("user_id", "provider"),
        sa.UniqueConstraint("provider", "account_ref"),
        sa.CheckConstraint(_in("kyc_status", KYC_STATUSES), name="kyc_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"))
    provider: Mapped[str] = mapped_column(sa.String(16))
    account_ref: Mapped[str] = mapped_column(sa.String(255))
    ready: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Know-your-customer: payouts need ``verified``. Stripe: from the connected account
    # (``account.updated``); the sandbox: its simulated check, completed by an operator.
    kyc_status: Mapped[str] = mapped_column(sa.String(16), default="none", server_default="none")
    kyc_checked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Stripe's ``disabled_reason``, or the operator's note on a sandbox decision.
    kyc_note: Mapped[str | None] = mapped_column(sa.String(1000))
    # What the provider still needs (Stripe's ``requirements.currently_due``), e.g.
    # ``["individual.verification.document"]``.
    kyc_requirements: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class PayoutHold(TenantModel):
    """An operator's hold on a seller's payouts: while active (``released_at`` is NULL) no
    payout leaves, the money stays on the seller's available balance. History is kept: a
    released hold stays as a row; at most one is active per seller (partial unique index)."""

    __tablename__ = "payout_holds"
    __table_args__ = tenant_table_args(
        sa.Index(
            "ux_payout_holds_active",
            "user_id",
            unique=True,
            postgresql_where=sa.text("released_at IS NULL"),
        ),
        sa.CheckConstraint("length(btrim(reason)) > 0", name="reason_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(1000))
    placed_by: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"))
    placed_at: Mapped[datetime] = _now_column()
    released_by: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id"))
    released_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    release_note: Mapped[str | None] = mapped_column(sa.String(1000))

    @property
    def active(self) -> bool:
        return self.released_at is None


class ProcessedWebhook(TenantModel):
    __tablename__ = "processed_webhooks"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("provider", "event_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(16))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    processed_at: Mapped[datetime] = _now_column()


class BillingMethod(TenantModel):
    """A client's saved way to pay, charged without them (off-session): an hourly contract's
    approved weeks. One per user and provider. The sandbox keeps the test card's behaviour
    (``sandbox_behaviour``: succeeds / declined / authenticate, like Stripe's test cards; never
    the number); Stripe keeps the Customer and its PaymentMethod (saved with a SetupIntent)."""

    __tablename__ = "billing_methods"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("user_id", "provider"),
        sa.CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(sa.String(16))
    brand: Mapped[str] = mapped_column(sa.String(20), default="card", server_default="card")
    last4: Mapped[str] = mapped_column(sa.String(4))
    exp_month: Mapped[int] = mapped_column(sa.SmallInteger)
    exp_year: Mapped[int] = mapped_column(sa.SmallInteger)
    sandbox_behaviour: Mapped[str | None] = mapped_column(sa.String(16))
    customer_ref: Mapped[str | None] = mapped_column(sa.String(255))
    payment_method_ref: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    @property
    def label(self) -> str:
        return (
            f"{self.brand.title()} •••• {self.last4} (expires {self.exp_month:02d}/{self.exp_year % 100:02d})"
        )
