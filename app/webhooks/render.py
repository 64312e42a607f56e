"""A webhook event's body: the object of its catalogue type as the REST API shows it.

Rendered once, at fan-out, and stored (``webhook_events.body``): every endpoint and every retry
gets the same bytes, the object as it was when the event happened (like Stripe's events).
The representation is viewer-independent: the API's marshmallow schemas dumped from the row
(``OrderSchema``, ``GigSchema`` ...), or, where the API's answer depends on who asks (a
conversation's unread count) or no resource exists (a payment into escrow, a payout hold), a
small explicit dict. An object gone by the time the event is fanned out is
``{"object": kind, "id": id, "deleted": true}``.

``object_key`` ("order:42") orders deliveries per object; payments into and out of escrow are
keyed by their order, so an order's ``escrow.funded`` never overtakes its ``order.placed``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.webhooks.catalogue import EventType

log = logging.getLogger(__name__)

API_VERSION = "v1"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


# --- one renderer per object kind: (model loader, dump) -------------------------------------


def _get(model, object_id):
    from tenants.db import db

    return db.session.get(model, object_id)


def _order(object_id):
    from app.orders.models import Order
    from app.orders.schemas import OrderSchema

    order = _get(Order, object_id)
    if order is None:
        return None
    data = OrderSchema.shared().dump(order)
    data.pop("checkout_url", None)  # only in the answer that placed the order
    return data


def _offer(object_id):
    from app.orders.models import CustomOffer
    from app.orders.schemas import OfferSchema

    row = _get(CustomOffer, object_id)
    return None if row is None else OfferSchema.shared().dump(row)


def _gig(object_id):
    from app.gigs.models import Gig
    from app.gigs.schemas import GigSchema

    row = _get(Gig, object_id)
    return None if row is None else GigSchema.shared().dump(row)


def _job(object_id):
    from app.jobs.models import Job
    from app.jobs.schemas import JobSchema

    row = _get(Job, object_id)
    return None if row is None else JobSchema.shared().dump(row)


def _proposal(object_id):
    from app.jobs.models import Proposal
    from app.jobs.schemas import ProposalSchema

    row = _get(Proposal, object_id)
    return None if row is None else ProposalSchema.shared().dump(row)


def _contract(object_id):
    from app.contracts.models import Contract
    from app.contracts.schemas import ContractSchema

    row = _get(Contract, object_id)
    return None if row is None else ContractSchema.shared().dump(row)


def _review(object_id):
    from app.reviews.models import Review
    from app.reviews.schemas import ReviewSchema

    row = _get(Review, object_id)
    return None if row is None else ReviewSchema.shared().dump(row)


def _dispute(object_id):
    from app.disputes.models import Dispute
    from app.disputes.schemas import DisputeSchema

    row = _get(Dispute, object_id)
    return None if row is None else DisputeSchema.shared().dump(row)


def _timesheet(object_id):
    from app.hourly.models import Timesheet
    from app.hourly.schemas import TimesheetSchema

    row = _get(Timesheet, object_id)
    return None if row is None else TimesheetSchema.shared().dump(row)


def _payout(object_id):
    from app.payments.models import Payout
    from app.payments.schemas import PayoutSchema

    row = _get(Payout, object_id)
    return None if row is None else PayoutSchema.shared().dump(row)


def _message(object_id):
    from app.messaging.models import Message
    from app.messaging.services import serialize_message

    row = _get(Message, object_id)
    return None if row is None else serialize_message(row, with_urls=False)


def _conversation(object_id):
    # The API's conversation carries the reader's unread count and "the others": here, every
    # participant and no count.
    from app.accounts.models import User
    from app.messaging.models import Conversation

    row = _get(Conversation, object_id)
    if row is None:
        return None
    users = [_get(User, p.user_id) for p in row.participants]
    return {
        "id": row.id,
        "kind": row.kind,
        "gig_id": row.gig_id,
        "order_id": row.order_id,
        "created_at": _iso(row.created_at),
        "last_message_at": _iso(row.last_message_at),
        "participants": [
            {"id": u.id, "display_name": u.display_name, "handle": u.handle} for u in users if u is not None
        ],
    }


def _user(object_id):
    # The public face of a member (what GET /users/<handle> shows) and no contact details:
    # partners read more through the API with a key's scopes.
    from app.accounts.models import User

    user = _get(User, object_id)
    if user is None or user.status == "deleted":
        return None
    return {
        "id": user.id,
        "handle": user.handle,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "country": user.country,
        "created_at": _iso(user.created_at),
    }


LOADERS: dict[str, Callable[[int], dict | None]] = {
    "order": _order,
    "offer": _offer,
    "gig": _gig,
    "job": _job,
    "proposal": _proposal,
    "contract": _contract,
    "review": _review,
    "dispute": _dispute,
    "timesheet": _timesheet,
    "payout": _payout,
    "message": _message,
    "conversation": _conversation,
    "user": _user,
}


def _payment(payload: dict) -> dict:
    """Money into or out of escrow, or a refund: no API resource of its own; the payload's figures."""
    from app.payments.models import Refund

    refund_id = _int(payload.get("refund_id"))
    if refund_id is not None:
        refund = _get(Refund, refund_id)
        if refund is not None:
            return {
                "object": "refund",
                "id": refund.id,
                "order_id": refund.order_id,
                "amount_minor": refund.amount_minor,
                "currency": refund.currency,
                "status": refund.status,
                "created_at": _iso(refund.created_at),
            }
    keep = ("order_id", "milestone_id", "amount_minor", "currency", "fee_minor", "net_minor", "payment_ref")
    return {"object": "payment", **{k: payload[k] for k in keep if k in payload}}


def _payout_hold(payload: dict) -> dict:
    from app.payments.models import PayoutHold

    hold = _get(PayoutHold, _int(payload.get("hold_id")))
    if hold is None:
        return {"object": "payout_hold", "id": payload.get("hold_id"), "deleted": True}
    return {
        "object": "payout_hold",
        "id": hold.id,
        "user_id": hold.user_id,
        "reason": hold.reason,
        "placed_at": _iso(hold.placed_at),
        "released_at": _iso(hold.released_at),
    }


def object_id(kind: str, payload: dict) -> int | None:
    return _int((payload or {}).get(f"{kind}_id"))


def object_key(event_type: EventType, payload: dict) -> str:
    payload = payload or {}
    if event_type.object == "payment":
        order_id = _int(payload.get("order_id"))
        if order_id is not None:
            return f"order:{order_id}"
        return f"refund:{_int(payload.get('refund_id'))}"
    if event_type.object == "payout" and "hold_id" in payload:
        return f"payout_hold:{_int(payload.get('hold_id'))}"
    return f"{event_type.object}:{object_id(event_type.object, payload)}"


def render_object(event_type: EventType, payload: dict) -> dict:
    """``data.object`` of an event: ``{"object": kind, "id": ..., ...the API's fields}``."""
    payload = payload or {}
    kind = event_type.object
    if kind == "payment":
        return _payment(payload)
    if kind == "payout" and "hold_id" in payload:
        return _payout_hold(payload)
    the_id = object_id(kind, payload)
    loader = LOADERS.get(kind)
    data = loader(the_id) if loader is not None and the_id is not None else None
    if data is None:
        return {"object": kind, "id": the_id, "deleted": True}
    return {"object": kind, **_jsonable(data)}


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def event_body(
    *, event_id: int, type_: str, created: datetime, tenant_slug: str, obj: dict, payload: dict
) -> dict:
    """The whole body (docs/webhooks.md): what is stored and sent."""
    return {
        "id": f"evt_{event_id}",
        "type": type_,
        "created": _iso(created),
        "tenant": tenant_slug,
        "api_version": API_VERSION,
        "data": {"object": obj, "event": _jsonable(payload or {})},
    }


def body_bytes(body: dict) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted (JSONB keeps no key order,
    so sorting makes every attempt byte for byte the same)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
