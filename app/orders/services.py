"""Order rules: placing, paying, delivering, revising, completing and cancelling orders,
and custom offers.

Every function acts on the bound tenant, flushes and never commits: the view,
API call or job commits once. A refusal raises an ``OrderError`` (or subclass)
*before* anything changes — or, when the refusal is only known after money
moved inside the same transaction, the caller's rollback undoes it all (ledger
rows included: the ledger only flushes too).

Transitions lock the order row (``SELECT ... FOR UPDATE`` with fresh values),
so of two concurrent transitions exactly one applies and the other sees the new
state and is refused with 409 (``OrderStateError``, naming the current status).
Money moves through ``app.ledger.services`` with deterministic idempotency keys,
so a retried job or a replayed call never moves it twice.

Every state change writes an ``OrderEvent`` timeline row and publishes an
outbox event with payload ``{"order_id", "order_event_id"}`` (plus the extras
noted): ``order.placed``, ``order.paid`` (+ ``amount_minor``, ``currency``: what
this payment put in escrow), ``order.requirements_submitted``,
``order.delivered``, ``order.revision_requested``, ``order.completed``,
``order.cancellation_requested``, ``order.cancellation_declined``,
``order.cancelled``, ``order.refunded`` (+ ``refund_minor``, ``currency``, ``refunds``:
``[{"milestone_id", "amount_minor"}]``, for the payments domain to return the
money through the provider). Offers publish ``offer.sent``, ``offer.declined``,
``offer.withdrawn`` ``{"offer_id"}``; an accepted offer publishes ``order.placed``.

Pricing: total = (package price + the chosen extras) x quantity, computed here
from the gig's current rows; a client's amount is only ever compared, never used.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.accounts.services import require_verified
from app.core import pagination, unit_of_work
from app.core.domain_errors import FORM as FORM  # re-exported: views and the console use services.FORM
from app.core.domain_errors import CodedError, DomainError, Forbidden, NotFound, StateConflict
from app.core.ids import parse_id
from app.core.one_statement import insert_with_child, update_together
from app.events import publish, publish_with_row
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.orders.models import (
    ACTIVE_STATUSES,
    MAX_OFFER_MILESTONES,
    MILESTONE_HELD_STATUSES,
    CancellationRequest,
    CustomOffer,
    Delivery,
    Milestone,
    Order,
    OrderEvent,
)
from app.settings.models import MarketplaceSettings
from app.settings.services import SettingsSnapshot, current_settings
from app.storage import storage
from tenants.db import TenantSession, current_tenant, db

log = logging.getLogger(__name__)

MAX_QUANTITY = 20
MAX_PAGE = 10_000  # list pages beyond this are empty (and keep OFFSET small)
MAX_INT4 = 2**31 - 1  # the largest id of an INTEGER key (users, gigs)
MAX_AMOUNT_MINOR = 100_000_000  # 1,000,000.00 in a two-decimal currency
MAX_TEXT = 5000
MAX_TITLE = 200
MAX_DELIVERY_FILES = 5
REVISION_DAYS = 2  # a revision gives the seller at least this long again
OFFER_EXPIRY_DAYS = 7
OFFER_MAX_DELIVERY_DAYS = 365
TABS = {
    "active": ACTIVE_STATUSES,
    "completed": ("completed",),
    "cancelled": ("cancelled",),
}
STATUS_LABELS = {
    "awaiting_payment": "Awaiting payment",
    "awaiting_requirements": "Awaiting requirements",
    "in_progress": "In progress",
    "delivered": "Delivered",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


# --------------------------------------------------------------------------- errors


class OrderError(CodedError):
    """A refused order operation. ``message`` is safe to show; ``errors`` maps a field
    (or ``"form"``) to a message; ``status`` is the HTTP status; ``code`` is stable
    (also in the API's ``errors.code`` of a 409 or 422)."""

    status = 422
    code = "invalid"


class OrderNotFound(OrderError, NotFound):
    """No such order / offer / gig here, or not one this user takes part in."""

    status = 404
    code = "not_found"


class OrderForbidden(OrderError, Forbidden):
    """The user takes part, but this step belongs to the other side (or to an admin)."""

    status = 403
    code = "forbidden"


class OrderStateError(OrderError, StateConflict):
    """The step is not allowed from the current status (HTTP 409); ``current_status`` says which
    (also in the API's ``errors.current_status``)."""

    status = 409
    code = "conflict"


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None = None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _gig(gig_id: Any) -> Gig | None:
    """The gig of an untrusted id, or None (``gigs.id`` is an INTEGER: a larger id names nothing)."""
    gid = parse_id(gig_id)
    if not gid or gid > MAX_INT4:
        return None
    identity = db.session.identity_map.get(db.session.identity_key(Gig, gid))
    if identity is not None:
        return identity  # as Session.get: what this session holds is not read again
    return db.session.execute(_gig_statement(), {"gig_id": gid}).unique().scalar_one_or_none()


@cache
def _gig_statement() -> sa.Select:
    """``_gig``'s query, built once: ``Session.get`` built a new statement and its cache key at
    every call. One query: the seller (joined by the mapper), packages and extras joined here;
    an order never needs the gig's category, images or FAQ, nor its description (each loaded
    only if something asks)."""
    return (
        sa.select(Gig)
        .where(Gig.id == sa.bindparam("gig_id"))
        .options(
            orm.joinedload(Gig.packages),
            orm.joinedload(Gig.extras),
            orm.lazyload(Gig.category),
            orm.lazyload(Gig.images),
            orm.lazyload(Gig.faqs),
            orm.defer(Gig.description_source),
            orm.defer(Gig.description_html),
        )
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: Any, field: str, errors: dict, *, label: str, max_len: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = f"{label} must be text."
        return ""
    text = _CONTROL_RE.sub("", value).strip()
    if not text and required:
        errors[field] = f"{label} is required."
    elif len(text) > max_len:
        errors[field] = f"{label} must be at most {max_len:,} characters."
    return text


def settings() -> SettingsSnapshot | MarketplaceSettings:
    """The tenant's settings row, read once per unit of work."""
    return current_settings()


def marketplace_currency() -> str:
    return settings().currency


def commission_for(amount_minor: int) -> int:
    """The fee the ledger takes when releasing ``amount_minor`` (its rule, the tenant's settings)."""
    row = settings()
    return ledger.commission_for(amount_minor, row.commission_bps, row.commission_min_fee_minor)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _state_error(order: Order, doing: str) -> OrderStateError:
    return OrderStateError(
        f"Order {order.number} is {status_label(order.status).lower()}: you cannot {doing} now.",
        order.status,
    )


def disputed_milestone(order: Order) -> Milestone | None:
    """The order's milestone under an open dispute (its escrow is locked), if any."""
    return next((m for m in order.milestones if m.status == "disputed"), None)


def _refuse_disputed(order: Order, doing: str) -> None:
    """While a dispute is open, its money moves only by the dispute's resolution (409 ``disputed``)."""
    if disputed_milestone(order) is not None:
        raise OrderStateError(
            f"Order {order.number} is under dispute: you cannot {doing} until the dispute is resolved.",
            order.status,
            code="disputed",
        )


def _record(
    order: Order,
    kind: str,
    actor_id: int | None,
    data: dict | None = None,
    *,
    event: str | None = None,
    extra: dict | None = None,
) -> int:
    """A timeline row and its outbox event ``event`` (default ``order.<kind>``, payload
    ``order_id``, ``order_event_id`` and ``extra``), written by one statement; returns the row's id.
    The order's and its loaded milestones' changes go first, together in one statement
    (``update_together``; the event's flush then finds them written)."""
    update_together([order, *sa.inspect(order).dict.get("milestones", ())])
    return publish_with_row(
        _timeline_row_statement(),
        event or f"order.{kind}",
        {"order_id": order.id, **(extra or {})},
        "order_event_id",
        {"row_order_id": order.id, "row_kind": kind, "row_actor_id": actor_id, "row_data": data or {}},
    )


@cache
def _timeline_row_statement() -> sa.Insert:
    """The timeline row's ``INSERT ... RETURNING id``, built once (``row_*`` parameters)."""
    columns = OrderEvent.__table__.c
    return (
        sa.insert(OrderEvent.__table__)
        .values(
            order_id=sa.bindparam("row_order_id", type_=columns.order_id.type),
            kind=sa.bindparam("row_kind", type_=columns.kind.type),
            actor_id=sa.bindparam("row_actor_id", type_=columns.actor_id.type),
            data=sa.bindparam("row_data", type_=columns.data.type),
        )
        .returning(columns.id)
    )


# (tenant id, order id) -> the order a caller locked; the transaction's end releases the lock.
_LOCKED_KEY = unit_of_work.transaction_scoped("gigforge_orders_locked")


def note_locked(order: Order) -> None:
    """Say that this transaction holds ``order``'s row lock and read it and its milestones
    after the lock was granted (``lock_order`` itself, or a caller that locks the order in its
    own statement, beside the row it came for: the card form's payment). Every later
    ``lock_order`` of it in this transaction takes it as it is, without a statement of its own:
    nobody else can change the row while the lock is held, and this transaction changes it
    through the session (milestones through ``order.milestones``), so the session's copy is
    the row; what a flush expired (``updated_at``) or anyone expired loads on first use, from
    this transaction. An expunged order is read again; a rolled-back savepoint forgets every
    note (it may have released the lock)."""
    if "milestones" not in order.__dict__:
        raise RuntimeError("note_locked: the order's milestones were not read with its lock")
    db.session.info.setdefault(_LOCKED_KEY, {})[(current_tenant().id, order.id)] = order


def _noted(oid: int) -> Order | None:
    held = db.session.info.get(_LOCKED_KEY)
    order = held.get((current_tenant().id, oid)) if held else None
    return order if order is not None and order in db.session else None


@sa.event.listens_for(TenantSession, "after_soft_rollback")
def _forget_locked(session, previous_transaction) -> None:
    session.info.pop(_LOCKED_KEY, None)  # a rolled-back savepoint released the locks it took


# The statements every order transition and answer sends, built once with their values as
# parameters: building one (and its cache key) costs more than SQLAlchemy's cached compile.
@cache
def _lock_statement() -> sa.Select:
    return (
        sa.select(Order)
        .where(Order.id == sa.bindparam("order_id"))
        .with_for_update()
        .options(orm.lazyload(Order.milestones))  # read after the lock: read_locked_milestones
        .execution_options(populate_existing=True)
    )


@cache
def _milestones_statement() -> sa.Select:
    return (
        sa.select(Milestone)
        .where(Milestone.order_id == sa.bindparam("order_id"))
        .order_by(Milestone.seq)
        .execution_options(populate_existing=True)
    )


def read_locked_milestones(order: Order) -> Order:
    """Read ``order``'s milestones into ``order.milestones``, fresh (another transaction may
    have just funded them), and note the lock (``note_locked``): for a caller holding the order's
    row lock, so the rows are read after it was granted (one statement would read them from the
    snapshot taken before it waited). One statement built once: the mapper's selectin load of
    the same rows builds its criteria again at every load (~0.25 ms of CPU). Returns the order."""
    rows = db.session.execute(_milestones_statement(), {"order_id": order.id}).scalars().all()
    set_committed_value(order, "milestones", rows)
    note_locked(order)
    return order


@cache
def _rows_of_order(model) -> sa.Select:
    return sa.select(model).where(model.order_id == sa.bindparam("order_id")).order_by(model.id)


def lock_order(order_id: Any) -> Order:
    """The order with this id, locked FOR UPDATE and read fresh with its milestones (for the
    operator console's cancel as well as every transition here); locked already in this
    transaction, the session's copy (``note_locked``). Raises OrderNotFound."""
    oid = parse_id(order_id)
    noted = _noted(oid) if oid else None
    if noted is not None:
        return noted
    order = db.session.execute(_lock_statement(), {"order_id": oid}).scalar_one_or_none() if oid else None
    if order is None:
        raise OrderNotFound("This order does not exist.")
    # The milestones are read fresh too, after the lock is granted, replacing whatever the
    # session held. No second read is needed, in this call or in the transaction's next ones (a
    # charge's funding, then its release: ``note_locked``).
    return read_locked_milestones(order)


def _lock_for(user: User, order_id: Any, role: str | None = None) -> Order:
    """Lock an order ``user`` takes part in (as ``role`` when given)."""
    order = lock_order(order_id)
    party = order.party(user.id)
    if party is None:
        raise OrderNotFound("This order does not exist.")
    if role is not None and party != role:
        raise OrderForbidden(f"Only the {role} can do this.")
    return order


def get_order(user: User, order_id: Any) -> Order:
    """An order ``user`` takes part in (an admin sees every order). Raises OrderNotFound."""
    oid = parse_id(order_id)
    order = db.session.get(Order, oid) if oid else None
    if order is None or (order.party(user.id) is None and not user.is_admin):
        raise OrderNotFound("This order does not exist.")
    return order


def list_orders(
    user: User,
    *,
    role: str = "buyer",
    tab: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    window: pagination.Window | None = None,
) -> tuple[list[Order], int]:
    """The user's orders as buyer or seller, newest first, filtered by tab or status (and
    from the API's cursor position, inside its created range, when ``window`` is given).

    Returns ``(orders, total)``. Raises OrderError for an unknown role, tab or status.
    """
    if role not in ("buyer", "seller"):
        raise OrderError({"role": "Choose buyer or seller."})
    column = Order.buyer_id if role == "buyer" else Order.seller_id
    query = sa.select(Order).where(
        column == user.id, *pagination.where(window, Order.id, created=Order.created_at)
    )
    if tab is not None:
        if tab not in TABS:
            raise OrderError({"tab": "Choose active, completed or cancelled."})
        query = query.where(Order.status.in_(TABS[tab]))
    if status is not None:
        if status not in STATUS_LABELS:
            raise OrderError({"status": f"Unknown status; use one of {', '.join(STATUS_LABELS)}."})
        query = query.where(Order.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    page = page if _is_int(page) and page >= 1 else 1
    if page > MAX_PAGE:  # nothing is listed that deep: an empty page, not the first one again
        return [], int(total or 0)
    rows = db.session.scalars(query.order_by(Order.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows), int(total or 0)


def timeline(order: Order) -> list[OrderEvent]:
    return list(db.session.scalars(_rows_of_order(OrderEvent), {"order_id": order.id}))


def deliveries(order: Order) -> list[Delivery]:
    return list(db.session.scalars(_rows_of_order(Delivery), {"order_id": order.id}))


def cancellations(order: Order) -> list[CancellationRequest]:
    if not order.cancellation_requests:
        return []  # never asked: nothing to read
    return list(
        db.session.scalars(
            sa.select(CancellationRequest)
            .where(CancellationRequest.order_id == order.id)
            .order_by(CancellationRequest.id)
        )
    )


def pending_cancellation(order: Order, *, for_update: bool = False) -> CancellationRequest | None:
    """The order's open cancellation request. An order that never had one answers None without
    a statement (``Order.cancellation_requests``; callers that act on the answer hold the
    order's lock, under which requests are created and counted)."""
    if not order.cancellation_requests:
        return None
    query = sa.select(CancellationRequest).where(
        CancellationRequest.order_id == order.id, CancellationRequest.status == "pending"
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).first()


def funded_total(order: Order) -> int:
    """What this order put in escrow and has not yet left it, by the order's own rows."""
    return sum(m.held_minor for m in order.milestones)


def escrow_balance(order: Order) -> int:
    """The order's escrow according to the ledger (the source of truth for refunds)."""
    return int(ledger.escrow_balance(order.id, order.currency))


@dataclass(frozen=True)
class Money:
    total_minor: int
    escrow_minor: int
    paid_minor: int
    refunded_minor: int
    released_minor: int
    fee_minor: int  # commission on what is (or would be) released to the seller
    seller_net_minor: int
    currency: str


def money(order: Order) -> Money:
    """The order's money for its page and API: escrow (ledger), fee and the seller's net.

    Before the order finishes, fee and net are what completion would give; after,
    what was released. The fee is per milestone release, like the ledger's.
    """
    paid = sum(m.amount_minor for m in order.milestones if m.status not in ("planned", "funding_required"))
    refunded = sum(m.refunded_minor for m in order.milestones)
    # Released: what milestones already paid out (a milestone order releases as it goes).
    released_parts = [
        m.amount_minor - m.refunded_minor
        for m in order.milestones
        if m.status in ("paid", "partially_refunded")
    ]
    if order.status in ("completed", "cancelled"):
        to_seller = released_parts
    else:
        to_seller = [m.amount_minor for m in order.milestones if m.status not in ("refunded",)]
    fee = sum(commission_for(amount) for amount in to_seller if amount > 0)
    released = sum(released_parts)
    return Money(
        total_minor=order.total_minor,
        escrow_minor=escrow_balance(order) if paid else 0,
        paid_minor=paid,
        refunded_minor=refunded,
        released_minor=released,
        fee_minor=fee,
        seller_net_minor=sum(to_seller) - fee,
        currency=order.currency,
    )


# Sections higher domains add to the order page (reviews: the review banner and form, then both
# published reviews), in the order registered: ``section(order, viewer) -> Markup | None`` (None:
# nothing to show). Orders sits below reviews in the domain graph, so the reviews domain
# registers its section here at app setup (``app._register_domain_hooks``).
_order_sections: list[Callable[[Order, User], Any]] = []


def register_order_section(section: Callable[[Order, User], Any]) -> None:
    if section not in _order_sections:
        _order_sections.append(section)


def order_sections(order: Order, viewer: User) -> list:
    """The rendered sections of ``order``'s page as ``viewer`` (a party) sees it."""
    return [html for html in (section(order, viewer) for section in _order_sections) if html]


# Notes higher domains show under a milestone (code: its pull requests and CI status), in the
# order registered: ``note(order, milestone) -> Markup | None``. Rendered by orders/_milestones.html
# through the ``milestone_notes`` template global (``app._register_template_context``).
_milestone_notes: list[Callable[[Order, Any], Any]] = []


def register_milestone_note(note: Callable[[Order, Any], Any]) -> None:
    if note not in _milestone_notes:
        _milestone_notes.append(note)


def milestone_notes(order: Order, milestone) -> list:
    """The rendered notes under ``milestone`` of ``order`` (shown to its parties)."""
    return [html for html in (note(order, milestone) for note in _milestone_notes) if html]


# Engagements another domain owns (a job contract) have their own page there; the order page
# sends the browser to it (``register_engagement_page``, wired in ``app._register_domain_hooks``).
_engagement_pages: dict[str, Callable[[Order], str | None]] = {}


def register_engagement_page(kind: str, url_of: Callable[[Order], str | None]) -> None:
    """Let the order page of an order of ``kind`` redirect to ``url_of(order)``."""
    _engagement_pages[kind] = url_of


def engagement_page(order: Order) -> str | None:
    url_of = _engagement_pages.get(order.kind)
    return url_of(order) if url_of is not None else None


# The payments domain opens checkouts. It sits above orders in the domain graph (it confirms
# payments by calling ``mark_paid``), so it registers ``start(order) -> url`` here at app setup
# (``app._register_domain_hooks``).
_checkout: Callable[..., str] | None = None


def register_checkout(start: Callable[..., str]) -> None:
    """Let ``checkout_url`` open payments with ``start(order, milestone=None) -> URL to send the
    buyer to`` (``milestone``: fund that milestone of a milestone order; None: the order's
    checkout, which funds the first milestone of a milestone order). ``start`` refuses with a
    ``DomainError`` and leaves nothing written then (the order goes on without a checkout)."""
    global _checkout
    _checkout = start


def checkout_url(order: Order, milestone: Milestone | None = None) -> str | None:
    """Where the buyer pays (the registered checkout), or None when it is not available
    (the order stays awaiting payment; the order page offers to pay again).

    Only a refusal of the checkout (a ``DomainError``: the provider is not set up,
    unreachable or refused) gives None; anything else is a bug and propagates.
    """
    if _checkout is None:
        return None
    try:
        # A refused checkout leaves the order intact: the checkout writes nothing when it refuses
        # (``register_checkout``; payments keeps a savepoint for a provider that calls out).
        return _checkout(order, milestone) if milestone is not None else _checkout(order)
    except DomainError as exc:
        log.warning("checkout of order %s could not start: %s", order.id, exc.message)
        return None


# --------------------------------------------------------------------------- placing orders


@dataclass(frozen=True)
class Quote:
    gig: Gig
    tier: str
    package_id: int
    quantity: int
    extras: list[dict]
    subtotal_minor: int
    total_minor: int
    currency: str
    delivery_days: int
    revisions: int


def quote(gig_id: Any, tier: Any, extras: Any = (), quantity: Any = 1, buyer: User | None = None) -> Quote:
    """The price of a gig package with extras and quantity, from the gig's current rows.

    Raises OrderNotFound (no such gig, or not public), OrderError with field
    errors (own gig, paused gig, unknown package or extra, bad quantity).
    """
    gig = _gig(gig_id)
    if gig is None or gig.status in ("draft", "pending_approval", "archived") or not gig.seller.is_active:
        raise OrderNotFound({"gig_id": "This gig does not exist."})
    errors: dict[str, str] = {}
    if buyer is not None and buyer.id == gig.seller_id:
        raise OrderError({"gig_id": "You cannot order your own gig."}, code="own_gig")
    if gig.status != "active":
        raise OrderError({"gig_id": "This gig is paused and is not taking orders."}, code="gig_unavailable")
    package = gig.package(tier) if isinstance(tier, str) else None
    if package is None:
        errors["tier"] = "This gig has no such package."
    if quantity is None or quantity == "":
        quantity = 1
    if isinstance(quantity, str) and quantity.isdigit():
        quantity = int(quantity)
    if not _is_int(quantity) or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"The quantity must be a whole number from 1 to {MAX_QUANTITY}."
    chosen: list[dict] = []
    if extras is None:
        extras = []
    if not isinstance(extras, list | tuple):
        errors["extras"] = "Give the extras as a list of ids."
    else:
        ids = [parse_id(e) for e in extras]
        by_id = {extra.id: extra for extra in gig.extras}
        if any(i is None or i not in by_id for i in ids):
            errors["extras"] = "One of the extras is not offered with this gig."
        elif len(set(ids)) != len(ids):
            errors["extras"] = "Each extra can be chosen once."
        else:
            chosen = [
                {"id": e.id, "title": e.title, "price_minor": e.price_minor, "extra_days": e.extra_days}
                for e in (by_id[i] for i in sorted(ids))
            ]
    if errors:
        raise OrderError(errors)
    subtotal = package.price_minor * quantity
    total = (package.price_minor + sum(e["price_minor"] for e in chosen)) * quantity
    if total > MAX_AMOUNT_MINOR:
        raise OrderError({"quantity": "This order is too large; lower the quantity."})
    days = max(1, package.delivery_days + sum(e["extra_days"] for e in chosen))
    return Quote(
        gig=gig,
        tier=package.tier,
        package_id=package.id,
        quantity=quantity,
        extras=chosen,
        subtotal_minor=subtotal,
        total_minor=total,
        currency=marketplace_currency(),
        delivery_days=days,
        revisions=package.revisions,
    )


def _check_expected(total_minor: int, currency: str, expected_total: Any, expected_currency: Any) -> None:
    errors = {}
    if expected_total is not None and (not _is_int(expected_total) or expected_total != total_minor):
        errors["total_minor"] = (
            f"The price is {total_minor} minor units, not {expected_total}: it changed or is wrong. "
            "Check the order and try again."
        )
    if expected_currency is not None and expected_currency != currency:
        errors["currency"] = f"This marketplace charges in {currency}, not {expected_currency}."
    if errors:
        raise OrderError(errors, code="amount_mismatch")


def place_order(
    buyer: User,
    gig_id: Any,
    tier: Any,
    extras: Any = (),
    quantity: Any = 1,
    *,
    expected_total_minor: Any = None,
    expected_currency: Any = None,
) -> Order:
    """Order a gig package (status ``awaiting_payment``, one pending milestone); flushes.

    The price is computed here; ``expected_total_minor`` / ``expected_currency``
    (what the client showed the buyer) are checked against it and refused on a
    mismatch (OrderError code ``amount_mismatch``). Raises OrderNotFound,
    OrderError (own gig, paused gig, unknown package or extra, bad quantity),
    OrderForbidden (inactive account). Publishes ``order.placed``.
    """
    if not buyer.is_active:
        raise OrderForbidden("Your account cannot place orders.")
    require_verified(buyer)
    q = quote(gig_id, tier, extras, quantity, buyer)
    _check_expected(q.total_minor, q.currency, expected_total_minor, expected_currency)
    package = q.gig.package(q.tier)
    order = Order(
        kind="gig",
        buyer_id=buyer.id,
        seller_id=q.gig.seller_id,
        gig_id=q.gig.id,
        package_id=q.package_id,
        package_tier=q.tier,
        title=f"{q.gig.title} ({package.title})"[:MAX_TITLE],
        quantity=q.quantity,
        extras=q.extras,
        currency=q.currency,
        subtotal_minor=q.subtotal_minor,
        total_minor=q.total_minor,
        status="awaiting_payment",
        delivery_days=q.delivery_days,
        revisions_allowed=q.revisions,
        revisions_used=0,
    )
    order.milestones = [
        Milestone(seq=1, title=order.title, amount_minor=q.total_minor, status="funding_required")
    ]
    insert_with_child(order, "milestones")  # one statement for both rows (app.core.one_statement)
    _record(order, "placed", buyer.id, {"total_minor": q.total_minor, "currency": q.currency})
    return order


# --------------------------------------------------------------------------- payment


def mark_paid(
    order_id: Any,
    payment_ref: str,
    *,
    milestone_id: Any = None,
    amount_minor: Any = None,
    currency: Any = None,
    now: datetime | None = None,
) -> Order:
    """Record a captured payment (called by the payments domain); flushes. Idempotent.

    Funds the given milestone, or every pending milestone when ``milestone_id``
    is None: one ledger payment each (``provider:clearing`` -> escrow). The
    first funding moves the order from ``awaiting_payment`` to
    ``awaiting_requirements`` and publishes ``order.paid``.

    Calling it again with the same ``payment_ref`` returns the order and moves
    nothing. Raises OrderNotFound; OrderError ``amount_mismatch`` when
    ``amount_minor`` / ``currency`` differ from what is due; OrderStateError
    ``already_paid`` (funded by another payment) or for a cancelled order —
    in both cases the payments domain must refund that payment.
    """
    if not isinstance(payment_ref, str) or not 0 < len(payment_ref) <= 200:
        raise OrderError({"payment_ref": "A payment reference is required."})
    order = lock_order(order_id)
    if order.uses_milestones:
        # Funded one milestone at a time (the checkout funds the first): the milestone engine.
        from app.orders import milestones as engine  # same domain; it builds on this module

        return engine.mark_milestone_funded(
            order.id,
            milestone_id if milestone_id is not None else order.milestones[0].id,
            payment_ref,
            amount_minor=amount_minor,
            currency=currency,
            now=now,
        )
    targets = list(order.milestones)
    if milestone_id is not None:
        targets = [m for m in order.milestones if m.id == parse_id(milestone_id)]
        if not targets:
            raise OrderNotFound({"milestone_id": "This order has no such milestone."})
    pending = [m for m in targets if m.status in ("planned", "funding_required")]
    if not pending:
        if all(m.payment_ref == payment_ref for m in targets):
            return order  # the same payment reported again
        raise OrderStateError(f"Order {order.number} is already paid.", order.status, code="already_paid")
    if order.status == "cancelled":
        raise _state_error(order, "pay for it")
    due = sum(m.amount_minor for m in pending)
    _check_expected(due, order.currency, amount_minor, currency)
    now = _now(now)
    for m in pending:
        ref = payment_ref if len(pending) == 1 else f"{payment_ref}:{m.seq}"
        ledger.record_payment(order.id, m.id, order.buyer_id, m.amount_minor, order.currency, ref)
        m.status = "funded"
        m.payment_ref = payment_ref
        m.funded_at = now
    order.version += 1
    if order.status == "awaiting_payment":
        order.status = "awaiting_requirements"
        order.paid_at = now
        _record(
            order,
            "paid",
            order.buyer_id,
            {"amount_minor": due, "payment_ref": payment_ref},
            extra={"amount_minor": due, "currency": order.currency},
        )
    db.session.flush()
    return order


# --------------------------------------------------------------------------- work


def submit_requirements(
    buyer: User, order_id: Any, requirements: Any, *, now: datetime | None = None
) -> Order:
    """The buyer's brief; starts the work (``in_progress``) and the delivery clock; flushes.

    Raises OrderError (empty or too long), OrderNotFound, OrderForbidden (not
    the buyer), OrderStateError (not awaiting requirements).
    """
    errors: dict[str, str] = {}
    text = _text(
        requirements, "requirements", errors, label="The requirements", max_len=MAX_TEXT, required=True
    )
    if errors:
        raise OrderError(errors)
    order = _lock_for(buyer, order_id, "buyer")
    if order.status != "awaiting_requirements":
        raise _state_error(order, "submit requirements")
    now = _now(now)
    order.requirements = text
    order.status = "in_progress"
    order.due_at = now + timedelta(days=order.delivery_days)
    for m in order.milestones:
        m.due_at = order.due_at
    order.version += 1
    _record(order, "requirements_submitted", buyer.id)
    return order


@dataclass(frozen=True)
class DeliveryFile:
    filename: str
    content_type: str
    data: bytes


def _clean_filename(name: Any) -> str:
    name = unicodedata.normalize("NFKC", str(name or "file")).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip(" .") or "file"
    return name[:120]


def deliver(
    seller: User,
    order_id: Any,
    message: Any,
    files: list[DeliveryFile] | tuple = (),
    *,
    now: datetime | None = None,
) -> Delivery:
    """The seller delivers the work: a message and up to 5 files; flushes.

    The order becomes ``delivered`` and completes by itself after the tenant's
    ``auto_complete_days`` unless the buyer acts. Raises OrderError (empty
    message, too many / empty / oversized files), OrderNotFound,
    OrderForbidden (not the seller), OrderStateError (not in progress).
    """
    errors: dict[str, str] = {}
    text = _text(message, "message", errors, label="The delivery message", max_len=MAX_TEXT, required=True)
    files = list(files or ())
    limit = current_app.config.get("ORDER_DELIVERY_FILE_MAX_BYTES", 25 * 1024 * 1024)
    if len(files) > MAX_DELIVERY_FILES:
        errors["files"] = f"Deliver at most {MAX_DELIVERY_FILES} files."
    elif any(not f.data for f in files):
        errors["files"] = "A file is empty."
    elif any(len(f.data) > limit for f in files):
        errors["files"] = f"A file is too large (at most {limit // (1024 * 1024)} MB)."
    if errors:
        raise OrderError(errors)
    order = _lock_for(seller, order_id, "seller")
    if order.status != "in_progress":
        raise _state_error(order, "deliver")
    _refuse_disputed(order, "deliver")
    if order.uses_milestones:
        raise OrderStateError(
            f"Order {order.number} is delivered milestone by milestone: submit a milestone instead.",
            order.status,
            code="use_milestones",
        )
    stored = []
    for f in files:
        name = _clean_filename(f.filename)
        content_type = (f.content_type or "application/octet-stream").split(";", 1)[0].strip().lower()[:100]
        key = storage.save(f.data, namespace="deliveries", filename=name, content_type=content_type)
        stored.append({"key": key, "filename": name, "content_type": content_type, "size": len(f.data)})
    now = _now(now)
    delivery = Delivery(order_id=order.id, seller_id=seller.id, message=text, files=stored, created_at=now)
    db.session.add(delivery)
    order.status = "delivered"
    order.delivered_at = now
    order.auto_complete_at = now + timedelta(days=settings().auto_complete_days)
    order.version += 1
    db.session.flush()
    _record(order, "delivered", seller.id, {"delivery_id": delivery.id, "files": len(stored)})
    return delivery


def delivery_file_url(key: str) -> str:
    return storage.url(key, expires_in=24 * 3600)


def request_revision(buyer: User, order_id: Any, reason: Any, *, now: datetime | None = None) -> Order:
    """The buyer sends a delivery back for changes (``delivered`` -> ``in_progress``); flushes.

    Allowed while revisions are left (the package's limit, unlimited = -1).
    Raises OrderError (no reason), OrderNotFound, OrderForbidden,
    OrderStateError (not delivered, or no revisions left).
    """
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="What to change", max_len=MAX_TEXT, required=True)
    if errors:
        raise OrderError(errors)
    order = _lock_for(buyer, order_id, "buyer")
    if order.status != "delivered":
        raise _state_error(order, "ask for a revision")
    _refuse_disputed(order, "ask for a revision")
    if order.revisions_left == 0:
        raise OrderStateError(
            f"Order {order.number} has no revisions left ({order.revisions_used} of "
            f"{order.revisions_allowed} used); it is delivered.",
            order.status,
            code="no_revisions_left",
        )
    now = _now(now)
    order.status = "in_progress"
    order.revisions_used += 1
    order.auto_complete_at = None
    floor = now + timedelta(days=REVISION_DAYS)
    if order.due_at is None or order.due_at < floor:
        order.due_at = floor
        order.late_at = None
    order.version += 1
    _record(order, "revision_requested", buyer.id, {"reason": text, "revision": order.revisions_used})
    return order


# --------------------------------------------------------------------------- completion


def _release_all(order: Order) -> int:
    released = 0
    for m in order.milestones:
        if m.status not in MILESTONE_HELD_STATUSES:
            continue
        amount = m.amount_minor - m.refunded_minor
        if amount > 0:
            ledger.release_escrow(order.id, m.id, order.seller_id, amount, order.currency)
            released += amount
        m.status = "paid" if m.refunded_minor == 0 else "partially_refunded"
        m.auto_release_at = None
    return released


def _withdraw_pending_cancellation(order: Order, now: datetime) -> None:
    request = pending_cancellation(order, for_update=True)
    if request is not None:
        request.status = "withdrawn"
        request.responded_at = now


def _complete(order: Order, actor_id: int | None, kind: str, now: datetime) -> Order:
    released = _release_all(order)
    order.status = "completed"
    order.completed_at = now
    order.auto_complete_at = None
    order.version += 1
    _withdraw_pending_cancellation(order, now)
    _record(order, kind, actor_id, {"released_minor": released}, event="order.completed")
    return order


def complete(buyer: User, order_id: Any, *, now: datetime | None = None) -> Order:
    """The buyer accepts the delivery: escrow goes to the seller minus commission; flushes.

    Raises OrderNotFound, OrderForbidden (not the buyer), OrderStateError (not delivered).
    """
    order = _lock_for(buyer, order_id, "buyer")
    if order.status != "delivered":
        raise _state_error(order, "complete it")
    _refuse_disputed(order, "complete it")
    return _complete(order, buyer.id, "completed", _now(now))


def auto_complete(order_id: Any, *, now: datetime | None = None) -> Order | None:
    """Complete a delivered order whose ``auto_complete_at`` has passed (job step); flushes.

    Returns None, changing nothing, when the order is no longer due (the
    buyer acted: revision, completion, an open cancellation request).
    """
    now = _now(now)
    order = lock_order(order_id)
    if order.status != "delivered" or order.auto_complete_at is None or order.auto_complete_at > now:
        return None
    if disputed_milestone(order) is not None:
        return None  # locked by a dispute: it ends by the dispute's resolution
    if pending_cancellation(order) is not None:
        return None
    return _complete(order, None, "auto_completed", now)


def orders_due_for_auto_complete(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = _now(now)
    return list(
        db.session.scalars(
            sa.select(Order.id)
            .where(Order.status == "delivered", Order.auto_complete_at <= now)
            .order_by(Order.auto_complete_at, Order.id)
            .limit(limit)
        )
    )


def flag_late_orders(now: datetime | None = None) -> list[int]:
    """Flag orders in progress past their due date (timeline entry ``late``); flushes.

    Idempotent: an order is flagged once (until a revision moves its due date).
    """
    now = _now(now)
    ids = list(
        db.session.scalars(
            sa.update(Order)
            .where(Order.status == "in_progress", Order.due_at < now, Order.late_at.is_(None))
            .values(late_at=now)
            .returning(Order.id)
        )
    )
    for oid in sorted(ids):
        db.session.add(OrderEvent(order_id=oid, kind="late", actor_id=None, data={}))
    db.session.flush()
    return ids


@dataclass(frozen=True)
class SellerOrderFigures:
    """A seller's order record: the reputation's raw figures (see app.reviews.reputation)."""

    completed: int = 0
    cancelled: int = 0
    delivered: int = 0  # orders with a delivery (completed or not)
    delivered_on_time: int = 0  # of those, first delivered by the due date then in force
    earned_minor: int = 0  # escrow released to the seller (before commission)
    first_order_at: datetime | None = None


def seller_order_figures(seller_ids: list[int] | None = None) -> dict[int, SellerOrderFigures]:
    """``{seller_id: SellerOrderFigures}`` for the given sellers (every seller with an order when
    None), in two set-based queries. On time: ``delivered_at <= due_at``, or delivered and
    never flagged late when the order had no due date."""
    on_time = sa.and_(
        Order.delivered_at.is_not(None),
        sa.or_(Order.delivered_at <= Order.due_at, sa.and_(Order.due_at.is_(None), Order.late_at.is_(None))),
    )
    query = sa.select(
        Order.seller_id,
        sa.func.count().filter(Order.status == "completed"),
        sa.func.count().filter(Order.status == "cancelled", Order.paid_at.is_not(None)),
        sa.func.count().filter(Order.delivered_at.is_not(None)),
        sa.func.count().filter(on_time),
        sa.func.min(Order.paid_at),
    ).group_by(Order.seller_id)
    released = (
        sa.select(
            Order.seller_id,
            sa.func.coalesce(sa.func.sum(Milestone.amount_minor - Milestone.refunded_minor), 0),
        )
        .join(Milestone, Milestone.order_id == Order.id)
        .where(Milestone.status.in_(("paid", "partially_refunded")))
        .group_by(Order.seller_id)
    )
    if seller_ids is not None:
        query = query.where(Order.seller_id.in_(seller_ids))
        released = released.where(Order.seller_id.in_(seller_ids))
    earned = dict(db.session.execute(released).all())
    return {
        row[0]: SellerOrderFigures(row[1], row[2], row[3], row[4], int(earned.get(row[0], 0)), row[5])
        for row in db.session.execute(query)
    }


# --------------------------------------------------------------------------- cancellation


def _refund_amount(order: Order, refund_minor: Any) -> int:
    """The buyer's share, checked against what is in escrow (None: everything)."""
    escrow = escrow_balance(order) if funded_total(order) else 0
    if refund_minor is None or refund_minor == "":
        return escrow
    if not _is_int(refund_minor) or refund_minor < 0:
        raise OrderError({"refund_minor": "The refund must be a whole number of minor units, 0 or more."})
    if refund_minor > escrow:
        raise OrderError(
            {"refund_minor": f"The refund ({refund_minor}) is larger than what is in escrow ({escrow})."},
            code="refund_exceeds_escrow",
        )
    return refund_minor


def _cancel(
    order: Order, refund_minor: int, actor_id: int | None, kind: str, now: datetime, data: dict
) -> Order:
    """Refund ``refund_minor`` to the buyer (latest milestones first), release the rest."""
    left = refund_minor
    refunds = []
    for m in sorted(order.milestones, key=lambda m: m.seq, reverse=True):
        if m.status not in MILESTONE_HELD_STATUSES:
            continue
        available = m.amount_minor - m.refunded_minor
        share = min(left, available)
        if share:
            ledger.refund_escrow(
                order.id, m.id, order.buyer_id, share, order.currency, f"order:{order.id}:cancel:{m.id}"
            )
            m.refunded_minor += share
            left -= share
            refunds.append({"milestone_id": m.id, "amount_minor": share})
        if m.refunded_minor == m.amount_minor:
            m.status = "refunded"
            m.auto_release_at = None
    if left:
        raise OrderError(
            {"refund_minor": "The refund is larger than what is in escrow."}, code="refund_exceeds_escrow"
        )
    released = _release_all(order)
    if order.kind == "contract":  # a contract's milestones never funded end with it
        for m in order.milestones:
            if m.status in ("planned", "funding_required"):
                m.status = "cancelled"
    order.status = "cancelled"
    order.cancelled_at = now
    order.auto_complete_at = None
    order.version += 1
    _record(
        order,
        kind,
        actor_id,
        {**data, "refund_minor": refund_minor, "released_minor": released},
        event="order.cancelled",
    )
    if refund_minor:
        _record(
            order,
            "refunded",
            actor_id,
            {"refund_minor": refund_minor},
            extra={"refund_minor": refund_minor, "currency": order.currency, "refunds": refunds},
        )
    return order


def request_cancellation(
    actor: User, order_id: Any, reason: Any, refund_minor: Any = None, *, now: datetime | None = None
) -> CancellationRequest:
    """Ask to cancel an order; flushes. An unpaid order is cancelled at once.

    For a paid order the other side accepts or declines; unanswered, the
    request is accepted after the tenant's ``cancellation_auto_resolve_days``.
    ``refund_minor`` is the buyer's share of the escrow (default: all of it);
    the rest goes to the seller. Raises OrderError (no reason; refund
    negative or larger than the escrow, code ``refund_exceeds_escrow``),
    OrderNotFound, OrderStateError (completed, cancelled, or a request already open).
    """
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=MAX_TEXT, required=True)
    if errors:
        raise OrderError(errors)
    order = _lock_for(actor, order_id)
    if order.status in ("completed", "cancelled"):
        raise _state_error(order, "ask to cancel it")
    _refuse_disputed(order, "ask to cancel it")
    now = _now(now)
    if pending_cancellation(order, for_update=True) is not None:
        raise OrderStateError(
            f"Order {order.number} already has an open cancellation request; it is "
            f"{status_label(order.status).lower()}.",
            order.status,
            code="cancellation_pending",
        )
    refund = _refund_amount(order, refund_minor)
    request = CancellationRequest(
        order_id=order.id,
        requested_by=actor.id,
        reason=text,
        refund_minor=refund,
        created_at=now,
        resolve_at=now + timedelta(days=settings().cancellation_auto_resolve_days),
    )
    db.session.add(request)
    order.cancellation_requests += 1
    db.session.flush()
    if order.status == "awaiting_payment":  # nothing paid: nothing to agree on
        request.status = "accepted"
        request.responded_by = actor.id
        request.responded_at = now
        _cancel(order, 0, actor.id, "cancelled", now, {"cancellation_id": request.id, "reason": text})
        return request
    _record(
        order,
        "cancellation_requested",
        actor.id,
        {"cancellation_id": request.id, "reason": text, "refund_minor": refund},
    )
    return request


def respond_cancellation(
    actor: User, order_id: Any, accept: bool, *, now: datetime | None = None
) -> CancellationRequest:
    """Accept or decline the other side's cancellation request (the requester may
    withdraw it with ``accept=False``); flushes.

    Accepting refunds the agreed share and releases the rest (checked again
    against the escrow). Raises OrderNotFound, OrderForbidden (accepting your
    own request), OrderStateError (no open request, order already finished).
    """
    if not isinstance(accept, bool):
        raise OrderError({"accept": "Answer true (accept) or false (decline)."})
    order = _lock_for(actor, order_id)
    request = pending_cancellation(order, for_update=True)
    if request is None or order.status in ("completed", "cancelled"):
        raise OrderStateError(
            f"Order {order.number} has no open cancellation request; "
            f"it is {status_label(order.status).lower()}.",
            order.status,
            code="no_cancellation_pending",
        )
    now = _now(now)
    own = request.requested_by == actor.id
    if own and accept:
        raise OrderForbidden("The other side has to accept your cancellation request.")
    if accept:
        _refuse_disputed(order, "accept a cancellation")
    request.responded_by = actor.id
    request.responded_at = now
    if not accept:
        request.status = "withdrawn" if own else "declined"
        _record(
            order,
            f"cancellation_{request.status}",
            actor.id,
            {"cancellation_id": request.id},
            event="order.cancellation_declined",
        )
        return request
    request.status = "accepted"
    _refund_amount(order, request.refund_minor)  # the escrow may have changed since the request
    _cancel(
        order,
        request.refund_minor,
        actor.id,
        "cancelled",
        now,
        {"cancellation_id": request.id, "reason": request.reason},
    )
    return request


def auto_resolve_cancellation(
    cancellation_id: Any, *, now: datetime | None = None
) -> CancellationRequest | None:
    """Accept an unanswered request whose ``resolve_at`` has passed (job step); flushes.

    Returns None, changing nothing, when it is no longer pending or not yet due.
    """
    now = _now(now)
    cid = parse_id(cancellation_id)
    request = db.session.get(CancellationRequest, cid) if cid else None
    if request is None:
        return None
    order = lock_order(request.order_id)
    request = pending_cancellation(order, for_update=True)
    if (
        request is None
        or request.id != cid
        or request.resolve_at > now
        or order.status in ("completed", "cancelled")
    ):
        return None
    if disputed_milestone(order) is not None:
        return None
    request.status = "auto_accepted"
    request.responded_at = now
    _cancel(
        order,
        min(request.refund_minor, escrow_balance(order)),
        None,
        "cancelled",
        now,
        {"cancellation_id": request.id, "reason": request.reason, "auto": True},
    )
    return request


def cancellations_due(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = _now(now)
    return list(
        db.session.scalars(
            sa.select(CancellationRequest.id)
            .where(CancellationRequest.status == "pending", CancellationRequest.resolve_at <= now)
            .order_by(CancellationRequest.resolve_at, CancellationRequest.id)
            .limit(limit)
        )
    )


def operator_cancel(
    admin: User, order_id: Any, refund_minor: Any = None, reason: Any = "", *, now: datetime | None = None
) -> Order:
    """The marketplace operator cancels an order with a full (default) or partial refund; flushes.

    Raises OrderForbidden (not an admin), OrderNotFound, OrderError (refund
    negative or larger than the escrow), OrderStateError (completed or cancelled).
    """
    if not admin.is_admin:
        raise OrderForbidden("Only the marketplace's operators can do this.")
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=MAX_TEXT, required=True)
    if errors:
        raise OrderError(errors)
    order = lock_order(order_id)
    if order.status in ("completed", "cancelled"):
        raise _state_error(order, "cancel it")
    _refuse_disputed(order, "cancel it (decide the dispute instead)")
    now = _now(now)
    refund = _refund_amount(order, refund_minor)
    request = pending_cancellation(order, for_update=True)
    if request is not None:
        request.status = "withdrawn"
        request.responded_at = now
    return _cancel(order, refund, admin.id, "cancelled", now, {"reason": text, "by_operator": True})


# --------------------------------------------------------------------------- custom offers


def _clean_offer(data: dict, currency: str) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "title": _text(
            data.get("title"), "title", errors, label="The title", max_len=MAX_TITLE, required=True
        ),
        "description": _text(
            data.get("description"),
            "description",
            errors,
            label="The description",
            max_len=MAX_TEXT,
            required=False,
        ),
    }
    total = data.get("total_minor")
    if not _is_int(total) or not 0 < total <= MAX_AMOUNT_MINOR:
        errors["total_minor"] = (
            f"The price must be a whole number of minor units from 1 to {MAX_AMOUNT_MINOR:,}."
        )
    days = data.get("delivery_days")
    if not _is_int(days) or not 1 <= days <= OFFER_MAX_DELIVERY_DAYS:
        errors["delivery_days"] = f"The delivery time must be 1 to {OFFER_MAX_DELIVERY_DAYS} days."
    revisions = data.get("revisions", 0)
    if revisions is None:
        revisions = 0
    if not _is_int(revisions) or not -1 <= revisions <= 20:
        errors["revisions"] = "Revisions must be 0 to 20, or -1 for unlimited."
    given_currency = data.get("currency")
    if given_currency is not None and given_currency != currency:
        errors["currency"] = f"This marketplace charges in {currency}, not {given_currency}."
    milestones = data.get("milestones") or []
    if not isinstance(milestones, list | tuple):
        errors["milestones"] = "Give the milestones as a list."
        milestones = []
    if len(milestones) > MAX_OFFER_MILESTONES:
        errors["milestones"] = f"An offer has at most {MAX_OFFER_MILESTONES} milestones."
    clean_milestones = []
    for i, raw in enumerate(milestones[:MAX_OFFER_MILESTONES]):
        if not isinstance(raw, dict):
            errors[f"milestones.{i}"] = "Each milestone needs a title and an amount."
            continue
        title = _text(
            raw.get("title"),
            f"milestones.{i}.title",
            errors,
            label="A milestone's title",
            max_len=MAX_TITLE,
            required=True,
        )
        amount = raw.get("amount_minor")
        if not _is_int(amount) or amount <= 0:
            errors[f"milestones.{i}.amount_minor"] = "Each milestone's amount must be more than zero."
        clean_milestones.append({"title": title, "amount_minor": amount})
    if (
        clean_milestones
        and "total_minor" not in errors
        and not any(k.startswith("milestones") for k in errors)
    ):
        subtotal = sum(m["amount_minor"] for m in clean_milestones)
        if subtotal != total:
            errors["milestones"] = f"The milestones add up to {subtotal}, not the offer's price {total}."
    if not clean_milestones and "total_minor" not in errors:
        clean_milestones = [{"title": clean["title"], "amount_minor": total}]
    clean.update(total_minor=total, delivery_days=days, revisions=revisions, milestones=clean_milestones)
    return clean, errors


@dataclass(frozen=True)
class OfferConversation:
    """The conversation an offer is made in, as the messaging domain describes it."""

    id: int
    kind: str  # "direct" (offers are made here) or "order"
    participant_ids: tuple[int, ...]


# Conversations belong to the messaging domain, which sits above orders in the domain graph
# (money code never depends on chat): it registers ``lookup(user, conversation_id) ->
# OfferConversation | None`` (None: no such conversation, or the user takes no part in it)
# here at app setup (``app._register_domain_hooks``).
_conversation_lookup: Callable[[User, Any], OfferConversation | None] | None = None


def register_conversation_lookup(lookup: Callable[[User, Any], OfferConversation | None]) -> None:
    global _conversation_lookup
    _conversation_lookup = lookup


def offer_conversation(user: User, conversation_id: Any) -> OfferConversation:
    """The conversation ``user`` takes part in, to make or list offers in. Raises OrderNotFound."""
    conversation = _conversation_lookup(user, conversation_id) if _conversation_lookup else None
    if conversation is None:
        raise OrderNotFound({"conversation_id": "This conversation does not exist."})
    return conversation


def send_offer(seller: User, conversation_id: Any, data: dict, *, now: datetime | None = None) -> CustomOffer:
    """A custom offer from a seller to the other person of a direct conversation; flushes.

    ``data``: title, description, total_minor, delivery_days, revisions (-1
    unlimited), optional currency (must be the marketplace's), gig_id (one of
    the seller's gigs) and milestones (up to 3 ``{title, amount_minor}``
    summing to total_minor). Publishes ``offer.sent``. Raises OrderNotFound
    (conversation), OrderForbidden (no seller profile), OrderError (fields).
    """
    conversation = offer_conversation(seller, conversation_id)
    if not seller.is_seller or not seller.is_active:
        raise OrderForbidden("Only sellers can send custom offers.")
    require_verified(seller)
    others = [uid for uid in conversation.participant_ids if uid != seller.id]
    if conversation.kind != "direct" or len(others) != 1:
        raise OrderError({"conversation_id": "Send offers from a direct conversation with the buyer."})
    if not isinstance(data, dict):
        raise OrderError("The offer must be an object.")
    clean, errors = _clean_offer(data, marketplace_currency())
    gig_id = data.get("gig_id")
    if gig_id is not None:
        gig = _gig(gig_id)
        if gig is None or gig.seller_id != seller.id or gig.status == "archived":
            errors["gig_id"] = "That gig is not one of yours."
    if errors:
        raise OrderError(errors)
    now = _now(now)
    offer = CustomOffer(
        conversation_id=conversation.id,
        seller_id=seller.id,
        buyer_id=others[0],
        gig_id=parse_id(gig_id) if gig_id is not None else None,
        currency=marketplace_currency(),
        status="open",
        expires_at=now + timedelta(days=OFFER_EXPIRY_DAYS),
        created_at=now,
        **clean,
    )
    db.session.add(offer)
    db.session.flush()
    publish("offer.sent", {"offer_id": offer.id})
    return offer


def get_offer(user: User, offer_id: Any) -> CustomOffer:
    """An offer ``user`` sent or received. Raises OrderNotFound."""
    oid = parse_id(offer_id)
    offer = db.session.get(CustomOffer, oid) if oid else None
    if offer is None or user.id not in (offer.buyer_id, offer.seller_id):
        raise OrderNotFound("This offer does not exist.")
    return offer


def offers_in_conversation(user: User, conversation_id: int) -> list[CustomOffer]:
    return list(
        db.session.scalars(
            sa.select(CustomOffer)
            .where(
                CustomOffer.conversation_id == conversation_id,
                sa.or_(CustomOffer.buyer_id == user.id, CustomOffer.seller_id == user.id),
            )
            .order_by(CustomOffer.id)
        )
    )


def _lock_offer(user: User, offer_id: Any, role: str) -> CustomOffer:
    oid = parse_id(offer_id)
    offer = (
        db.session.execute(
            sa.select(CustomOffer)
            .where(CustomOffer.id == oid)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if oid
        else None
    )
    if offer is None or user.id not in (offer.buyer_id, offer.seller_id):
        raise OrderNotFound("This offer does not exist.")
    if getattr(offer, f"{role}_id") != user.id:
        raise OrderForbidden(f"Only the {role} can do this.")
    return offer


def _offer_state_error(offer: CustomOffer, doing: str) -> OrderStateError:
    return OrderStateError(f"This offer is {offer.status}: you cannot {doing} it.", offer.status)


def accept_offer(buyer: User, offer_id: Any, *, now: datetime | None = None) -> Order:
    """The buyer accepts an open offer: an order awaiting payment with the offer's
    milestones; flushes. Publishes ``order.placed``. Raises OrderNotFound,
    OrderForbidden (not the buyer), OrderStateError (not open, or expired)."""
    offer = _lock_offer(buyer, offer_id, "buyer")
    now = _now(now)
    if offer.status != "open":
        raise _offer_state_error(offer, "accept")
    if offer.expires_at is not None and offer.expires_at <= now:
        raise OrderStateError("This offer has expired: ask the seller for a new one.", "expired")
    if not buyer.is_active:
        raise OrderForbidden("Your account cannot place orders.")
    require_verified(buyer)
    order = Order(
        kind="offer",
        buyer_id=offer.buyer_id,
        seller_id=offer.seller_id,
        gig_id=offer.gig_id,
        title=offer.title,
        quantity=1,
        extras=[],
        currency=offer.currency,
        subtotal_minor=offer.total_minor,
        total_minor=offer.total_minor,
        status="awaiting_payment",
        delivery_days=offer.delivery_days,
        revisions_allowed=offer.revisions,
        revisions_used=0,
    )
    order.milestones = [
        # The checkout funds the first milestone; the buyer funds each next one (or several
        # ahead) from the order page: they wait as "planned" until then.
        Milestone(
            seq=i,
            title=m["title"],
            amount_minor=m["amount_minor"],
            status="funding_required" if i == 1 else "planned",
        )
        for i, m in enumerate(offer.milestones, start=1)
    ]
    db.session.add(order)
    db.session.flush()
    offer.status = "accepted"
    offer.order_id = order.id
    offer.responded_at = now
    _record(
        order,
        "placed",
        buyer.id,
        {"offer_id": offer.id, "total_minor": order.total_minor, "currency": order.currency},
    )
    return order


def decline_offer(buyer: User, offer_id: Any, *, now: datetime | None = None) -> CustomOffer:
    """The buyer declines an open offer; flushes. Raises OrderNotFound, OrderForbidden, OrderStateError."""
    return _close_offer(buyer, offer_id, "buyer", "decline", "declined", now)


def withdraw_offer(seller: User, offer_id: Any, *, now: datetime | None = None) -> CustomOffer:
    """The seller withdraws an open offer; flushes. Raises OrderNotFound, OrderForbidden, OrderStateError."""
    return _close_offer(seller, offer_id, "seller", "withdraw", "withdrawn", now)


def _close_offer(
    user: User, offer_id: Any, role: str, action: str, status: str, now: datetime | None
) -> CustomOffer:
    """Move an open offer, locked as ``role``'s, to ``status`` and announce ``offer.<status>``."""
    offer = _lock_offer(user, offer_id, role)
    if offer.status != "open":
        raise _offer_state_error(offer, action)
    offer.status = status
    offer.responded_at = _now(now)
    publish(f"offer.{status}", {"offer_id": offer.id})
    return offer


# --------------------------------------------------------------------------- what orders tell other domains


def currency_lock() -> str | None:
    """Registered with settings (``register_currency_lock``): orders' prices, escrow and the
    sellers' balances are amounts of the current currency, so it cannot change once there are orders."""
    if db.session.scalar(sa.select(sa.exists().where(Order.id.is_not(None)))):
        return (
            "The currency cannot change once the marketplace has orders: their prices, escrow and "
            "sellers' balances are amounts of the current currency."
        )
    return None
