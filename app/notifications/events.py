"""Handlers of other domains' events that notify people.

``message.posted`` (messaging) ``{"conversation_id", "message_id", "sender_id"}``:
every participant but the sender gets a ``new_message`` notification. System
messages (``sender_id`` None) notify no one here: they tell an order step, whose
own event notifies with its own kind (below). A participant ``@mentioned`` in the
message who wants ``mention`` notifications gets none for it here: ``message.mentioned``
``{"conversation_id", "message_id", "mentioned_user_id", "by_user_id"}`` tells them
(``mention``, "Ana mentioned you: …", linking to the message in the conversation;
de-duplicated by ``mention:<message id>``; whatever the conversation's state).

Orders (``app/orders/services.py``; who acted comes from ``app.orders.announcements``):
every ``order.*`` event ``{"order_id", "order_event_id"}`` with a notification kind of
its own (``ORDER_NOTIFICATIONS``) notifies the other side of the actor, or both sides
when the marketplace acted (auto-completion, an operator) or money moved (paid,
completed, cancelled). Steps without a kind (requirements, a declined cancellation, a
refund) are told in the order's conversation only (``app.messaging.events``).
De-duplicated by ``order-event:<id>``. An open-ended engagement's (an hourly contract's)
``milestone.*`` steps notify no one here: each is a billed week, told by ``timesheet_*``.

Gig moderation (``app/gigs/moderation.py``, ``app/gigs/services.py``):

- ``gig.approved`` ``{"gig_id"}``: the seller gets ``gig_approved``;
- ``gig.rejected`` ``{"gig_id", "reason"}``: the seller gets ``gig_rejected`` with the reason;
- ``gig.paused`` ``{"gig_id", "by_operator": true, "reason"}``: the seller gets
  ``gig_paused_by_operator`` (a pause by the seller themself notifies no one);
- ``gig.submitted`` ``{"gig_id"}``: every active admin and moderator (but the seller)
  gets ``gig_submitted``, linking to the gig's review page in the console.

Reviews (``app/reviews/services.py``; every link goes to the order page's review section,
``/orders/<id>#reviews``). Each handler loads the review or window fresh and tells only what
is still true (a review hidden and restored before its ``review.hidden`` is handled is not
told as hidden); de-duplicated by ``event:<id>`` (the prompt by ``review-request:<order>``):

- ``order.completed``: besides ``order_completed``, both parties get ``review_requested``
  ("Leave a review of <other> for order #7"), in the same transaction and email group, so
  the completion and the prompt arrive as one email;
- ``review.submitted`` ``{"review_id"}``: the other side gets ``review_submitted`` while the
  review waits for theirs (never its rating or text: both publish together);
- ``review.published``: the reviewed side gets ``review_published``;
- ``review.reminder`` ``{"order_id", "user_ids"}``: each of them still without a review
  gets ``review_reminder`` ("3 days left ...");
- ``review.replied``: the author gets ``review_replied``;
- ``review.held`` / ``review.hidden`` / ``review.restored``: the author gets
  ``review_moderated`` with the moderator's reason (``Review.moderation_reason``);
- ``seller.level_changed`` ``{"user_id", "old", "new"}`` (reputation): the seller gets
  ``seller_level_changed``, worded as a congratulation or, for a drop, with the way back.

Jobs (``app/jobs/services.py``, ``app/jobs/proposals.py``), de-duplicated by ``event:<id>``;
each handler reads the row fresh and tells only what is still true:

- ``proposal.submitted`` ``{"proposal_id", "job_id"}``: the job's client gets
  ``proposal_received`` (unless the proposal was withdrawn since);
- ``proposal.declined`` ``{"proposal_id", "job_id"}``: the freelancer gets
  ``proposal_declined`` with the client's optional message;
- ``job.invite_sent`` ``{"invite_id", "job_id", "freelancer_id"}``: the freelancer gets
  ``job_invite`` (unless already answered);
- ``job.closed`` ``{"job_id", "by_operator": true, "reason"}``: the job's client gets
  ``job_closed_by_operator`` with the operator's reason (unless the job was reopened since);
- ``job.filled`` ``{"job_id", "proposal_id"}``: every other live proposal's freelancer gets
  ``job_filled``.

Contracts (``app/contracts/services.py``), payload ``{"contract_id", ...}``, de-duplicated by
``event:<id>``: ``contract.offered`` (the freelancer), ``contract.declined`` (the client),
``contract.withdrawn`` (the freelancer), ``contract.created`` (the client: sign the SoW),
``contract.signed`` (the other party), ``contract.activated`` (both), ``contract.ended``
(the other party, or both when the marketplace ended it), ``contract.change_proposed`` and
``contract.change_answered`` (the other party).

Payouts (``app/payments/backoffice.py``, ``app/payments/services.py``), de-duplicated by
``event:<id>``, each read fresh (a hold released before its ``payout.held`` is handled is not
told as held):

- ``payout.held`` ``{"user_id", "hold_id"}``: the seller gets ``payout_held`` (no reason:
  "contact support");
- ``payout.hold_released`` ``{"user_id", "hold_id"}``: the seller gets ``payout_hold_released``;
- ``payout_account.kyc_changed`` ``{"user_id", "old", "new"}``: the seller gets
  ``payout_kyc_changed`` when the status is ``verified`` or ``rejected`` (with the note).

The antivirus (``app/storage/files.py``): ``file.quarantined`` ``{"file_id", "uploaded_by_id"}``:
the uploader (none for files of unknown origin) gets ``file_quarantined`` ("A file you uploaded
was blocked: it contained <signature>"), de-duplicated by ``event:<id>``; only while the file
is still quarantined (an operator may have deleted it since: then nothing is told).

The event's tenant is bound when a handler runs, and every row (review, window, user) is
read in that tenant: a user of another tenant with an equal id is never told.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from werkzeug.routing import BuildError

from app.accounts.models import SELLER_LEVELS, User
from app.contracts.models import Contract
from app.events import handles
from app.gigs.models import Gig
from app.jobs.models import Job, JobInvite, Proposal
from app.messaging.services import posted_message, read_up_to
from app.notifications.models import Notification
from app.notifications.services import notify, path_for, register_seen_check, wants
from app.orders import services as orders
from app.orders.announcements import order_step
from app.orders.models import Order
from app.payments.models import PayoutHold
from app.payments.services import payout_account_of
from app.reviews import services as reviews
from app.reviews.models import Review, ReviewWindow
from app.storage.models import StoredFile
from app.workroom.models import WorkroomEvent, WorkroomTask
from tenants.db import db


@handles("message.posted")
def notify_message_recipients(event) -> None:
    payload = event.payload or {}
    sender_id = payload.get("sender_id")
    if sender_id is None:
        return
    message = posted_message(payload.get("message_id"))
    if message is None:  # deleted since: nothing to tell
        return
    sender = db.session.get(User, sender_id)
    snippet = message.body or ("sent an attachment" if message.has_attachments else "")
    data = {
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "sender_id": sender_id,
        "actor_name": sender.display_name if sender else "Someone",
        "snippet": snippet[:200],
    }
    url = path_for("messaging.conversation", conversation_id=message.conversation_id)
    for user_id in message.participant_ids:
        if user_id == sender_id:
            continue
        if user_id in message.mentioned_ids and wants(user_id, "mention"):
            continue  # message.mentioned tells them (one notification per message)
        notify(user_id, "new_message", data, url=url, dedupe_key=f"message:{message.message_id}")


@handles("message.mentioned")
def notify_mentioned(event) -> None:
    payload = event.payload or {}
    user_id, by_user_id = payload.get("mentioned_user_id"), payload.get("by_user_id")
    message = posted_message(payload.get("message_id"))
    if message is None or user_id == by_user_id or user_id not in message.participant_ids:
        return  # gone since, or no longer theirs to see
    sender = db.session.get(User, by_user_id) if by_user_id else None
    snippet = message.body or ("sent an attachment" if message.has_attachments else "")
    data = {
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "sender_id": by_user_id,
        "actor_name": sender.display_name if sender else "Someone",
        "snippet": snippet[:200],
    }
    url = path_for("messaging.conversation", conversation_id=message.conversation_id)
    notify(
        user_id,
        "mention",
        data,
        url=f"{url}#m-{message.message_id}",
        dedupe_key=f"mention:{message.message_id}",
    )


@register_seen_check("new_message")
@register_seen_check("mention")
def _messages_already_read(user_id: int, notifications: list[Notification]) -> set[int]:
    """Messages the user read in the conversation itself need no email."""
    read = read_up_to(user_id, {int(n.data["conversation_id"]) for n in notifications})
    return {
        n.id
        for n in notifications
        if (read.get(int(n.data["conversation_id"])) or 0) >= int(n.data["message_id"])
    }


@handles("account.password_changed")
def notify_password_changed(event) -> None:
    """The account's owner sees the security notice in the bell too (the email is sent by accounts)."""
    notify(int(event.payload["user_id"]), "password_changed", {}, dedupe_key=f"event:{event.id}")


@handles("account.email_changed")
def notify_email_changed(event) -> None:
    user = db.session.get(User, int(event.payload["user_id"]))
    if user is not None:
        notify(user.id, "email_changed", {"new_email": user.email}, dedupe_key=f"event:{event.id}")


# --- gig moderation --------------------------------------------------------------------


def _gig_of(event) -> Gig | None:
    gig_id = (event.payload or {}).get("gig_id")
    return db.session.get(Gig, gig_id) if isinstance(gig_id, int) else None


def _tell_seller(event, kind: str, url: str | None = None) -> None:
    gig = _gig_of(event)
    if gig is None:  # gone since: nothing to tell
        return
    reason = (event.payload or {}).get("reason") or gig.moderation_reason or ""
    data = {"gig_id": gig.id, "gig_title": gig.title, "reason": reason[:1000]}
    url = url or path_for("gigs.edit_gig", gig_id=gig.id)
    notify(gig.seller_id, kind, data, url=url, dedupe_key=f"event:{event.id}")


@handles("gig.approved")
def notify_gig_approved(event) -> None:
    gig = _gig_of(event)
    if gig is not None:
        _tell_seller(event, "gig_approved", path_for("gigs.gig_page", slug=gig.slug))


@handles("gig.rejected")
def notify_gig_rejected(event) -> None:
    _tell_seller(event, "gig_rejected")


@handles("gig.paused")
def notify_gig_paused_by_operator(event) -> None:
    if (event.payload or {}).get("by_operator"):
        _tell_seller(event, "gig_paused_by_operator")


@handles("gig.submitted")
def notify_operators_of_submission(event) -> None:
    gig = _gig_of(event)
    if gig is None or gig.status != "pending_approval":  # decided (or withdrawn) already
        return
    operators = db.session.scalars(
        sa.select(User.id).where(
            User.role.in_(("admin", "moderator")), User.status == "active", User.id != gig.seller_id
        )
    ).all()
    data = {"gig_id": gig.id, "gig_title": gig.title, "actor_name": gig.seller.display_name}
    url = path_for("console.gig", gig_id=gig.id)
    for operator_id in operators:
        notify(operator_id, "gig_submitted", data, url=url, dedupe_key=f"event:{event.id}")


# --- orders ---------------------------------------------------------------------------

# order event -> (notification kind, notify both sides?)
ORDER_NOTIFICATIONS = {
    "order.placed": ("order_placed", False),
    "order.paid": ("order_paid", True),
    "order.delivered": ("order_delivered", False),
    "order.revision_requested": ("order_revision_requested", False),
    "order.completed": ("order_completed", True),
    "order.cancellation_requested": ("order_cancellation_requested", False),
    "order.cancelled": ("order_cancellation_accepted", True),
    "milestone.funding_requested": ("milestone_funding_requested", False),
    "milestone.funded": ("milestone_funded", True),
    "milestone.submitted": ("milestone_submitted", False),
    "milestone.rejected": ("milestone_rejected", False),
    "milestone.accepted": ("milestone_accepted", True),
    "milestone.auto_release_reminder": ("milestone_auto_release_reminder", True),
}


def notify_order_step(event) -> None:
    payload = event.payload or {}
    step = order_step(payload.get("order_id"), payload.get("order_event_id"))
    if step is None:  # gone since: nothing to tell
        return
    kind, both = ORDER_NOTIFICATIONS[event.name]
    if event.name.startswith("milestone.") and _open_ended(step.order_id):
        return  # an hourly engagement's weekly milestone: the timesheet_* kinds tell it
    if both or step.actor_id is None:
        recipients = [step.buyer_id, step.seller_id]
    else:
        recipients = [uid for uid in (step.buyer_id, step.seller_id) if uid != step.actor_id]
    data = {"order_id": step.order_id, "gig_title": step.title[:80], "actor_name": step.actor_name}
    url = path_for("orders.order_page", order_id=step.order_id)
    for user_id in recipients:
        notify(user_id, kind, data, url=url, dedupe_key=f"order-event:{step.order_event_id}")
    if event.name == "order.completed":
        _ask_for_reviews(step)


def _open_ended(order_id: int) -> bool:
    order = db.session.get(Order, order_id)
    return order is not None and bool(order.open_ended)


for _event_name in ORDER_NOTIFICATIONS:
    handles(_event_name)(notify_order_step)


# --- reviews --------------------------------------------------------------------------


def _review_path(order_id: int) -> str:
    """The review section of the order page (both parties' reviews and the form are there)."""
    return path_for("orders.order_page", order_id=order_id) + "#reviews"


def _name(user_id: int | None, fallback: str = "Someone") -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user else fallback


def _days_left(closes_at: datetime, now: datetime) -> int:
    """Whole days left, rounded up: a window closing in 2 days 3 hours has "3 days" left."""
    return max(1, math.ceil((closes_at - now) / timedelta(days=1)))


def _authors(order_id: int) -> set[int]:
    return set(db.session.scalars(sa.select(Review.author_id).where(Review.order_id == order_id)))


def _ask_for_reviews(step) -> None:
    """Both parties of a completed order are asked to review the other.

    In the same transaction as the ``order_completed`` notifications and in the same email
    group (``order:<id>``), so one email carries both ("2 updates on order #7"). The window is
    opened here if the reviews domain's own handler of this event has not run yet (idempotent).
    """
    window = reviews.open_window(step.order_id)
    now = datetime.now(UTC)
    if window is None or window.status != "open" or window.closes_at <= now:
        return
    written = _authors(step.order_id)
    days = _days_left(window.closes_at, now)
    for user_id, other_id in ((step.buyer_id, step.seller_id), (step.seller_id, step.buyer_id)):
        if user_id in written:
            continue
        data = {
            "order_id": step.order_id,
            "gig_title": step.title[:80],
            "actor_name": _name(other_id),
            "days_left": days,
        }
        url = _review_path(step.order_id)
        notify(user_id, "review_requested", data, url=url, dedupe_key=f"review-request:{step.order_id}")


def _review_of(event) -> Review | None:
    """The event's review, loaded fresh (None when it is gone)."""
    review_id = (event.payload or {}).get("review_id")
    if not isinstance(review_id, int) or isinstance(review_id, bool):
        return None
    return db.session.get(Review, review_id, populate_existing=True)


def _order_title(recipient_id: int, order_id: int) -> str | None:
    """The order's title as its party ``recipient_id`` sees it (the orders domain's own read)."""
    recipient = db.session.get(User, recipient_id)
    try:
        return orders.get_order(recipient, order_id).title[:80] if recipient else None
    except orders.OrderNotFound:
        return None


def _review_data(review: Review, recipient_id: int, actor_id: int | None, **extra) -> dict:
    """What a review notification stores: the order and its title, who acted. Never the
    rating or the text (a submitted review is secret until the pair publishes)."""
    data = {"order_id": review.order_id}
    if actor_id is not None:
        data["actor_name"] = _name(actor_id)
    title = _order_title(recipient_id, review.order_id)
    if title:
        data["gig_title"] = title
    return {**data, **extra}


@handles("review.submitted")
def notify_review_submitted(event) -> None:
    """The other side hears that a review waits for theirs (only while it does)."""
    review = _review_of(event)
    if review is None or review.status != "submitted":
        return  # published together with theirs already: review.published tells them
    window = db.session.get(ReviewWindow, review.order_id)
    if window is None or window.status != "open" or window.closes_at <= datetime.now(UTC):
        return
    if review.subject_id in _authors(review.order_id):
        return
    notify(
        review.subject_id,
        "review_submitted",
        _review_data(review, review.subject_id, review.author_id),
        url=_review_path(review.order_id),
        dedupe_key=f"event:{event.id}",
    )


@handles("review.published")
def notify_review_published(event) -> None:
    review = _review_of(event)
    if review is None or review.status != "published":
        return  # hidden since: nothing to read
    data = _review_data(review, review.subject_id, review.author_id, review_id=review.id)
    notify(
        review.subject_id,
        "review_published",
        data,
        url=_review_path(review.order_id),
        dedupe_key=f"event:{event.id}",
    )


@handles("review.reminder")
def notify_review_reminder(event) -> None:
    """``{"order_id", "user_ids"}``: each party named who has still not written theirs."""
    payload = event.payload or {}
    order_id = payload.get("order_id")
    window = db.session.get(ReviewWindow, order_id) if isinstance(order_id, int) else None
    now = datetime.now(UTC)
    if window is None or window.status != "open" or window.closes_at <= now:
        return
    parties = {window.buyer_id: window.seller_id, window.seller_id: window.buyer_id}
    written = _authors(order_id)
    for user_id in payload.get("user_ids") or []:
        if user_id not in parties or user_id in written:
            continue  # not a party of this tenant's order, or written since
        data = {
            "order_id": order_id,
            "actor_name": _name(parties[user_id]),
            "days_left": _days_left(window.closes_at, now),
        }
        title = _order_title(user_id, order_id)
        if title:
            data["gig_title"] = title
        notify(user_id, "review_reminder", data, url=_review_path(order_id), dedupe_key=f"event:{event.id}")


@handles("review.replied")
def notify_review_replied(event) -> None:
    review = _review_of(event)
    if review is None or review.status != "published" or review.reply_text is None:
        return
    notify(
        review.author_id,
        "review_replied",
        _review_data(review, review.author_id, review.subject_id, review_id=review.id),
        url=_review_path(review.order_id),
        dedupe_key=f"event:{event.id}",
    )


# event -> (the review's status it tells of, the action named in the text)
REVIEW_MODERATION = {
    "review.held": ("held", "held"),
    "review.hidden": ("hidden", "hidden"),
    "review.restored": ("published", "restored"),
}


def notify_review_moderated(event) -> None:
    """The author hears a moderator's decision and reason. A decision undone before this ran
    (hidden, then restored) is not told: the later event tells the state the review is in."""
    review = _review_of(event)
    status, action = REVIEW_MODERATION[event.name]
    if review is None or review.status != status:
        return
    reason = (review.moderation_reason or "") if action != "held" else ""
    # The moderator stays unnamed: the author hears "a moderator" and the reason.
    data = _review_data(review, review.author_id, None, review_id=review.id, action=action, reason=reason)
    notify(
        review.author_id,
        "review_moderated",
        data,
        url=_review_path(review.order_id),
        dedupe_key=f"event:{event.id}",
    )


for _event_name in REVIEW_MODERATION:
    handles(_event_name)(notify_review_moderated)


@handles("seller.level_changed")
def notify_seller_level_changed(event) -> None:
    """``{"user_id", "old", "new"}``: the seller hears of a new level, kindly when it is a drop."""
    payload = event.payload or {}
    user_id, new = payload.get("user_id"), payload.get("new")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.seller_profile is None or new not in SELLER_LEVELS:
        return
    if user.seller_profile.level != new:
        return  # changed again since: that change's event tells the level they have
    notify(
        user.id,
        "seller_level_changed",
        {"user_id": user.id, "old": payload.get("old"), "new": new},
        url=path_for("accounts.public_profile", handle=user.handle),
        dedupe_key=f"event:{event.id}",
    )


# --- jobs ------------------------------------------------------------------------------


@handles("proposal.submitted")
def notify_proposal_received(event) -> None:
    proposal = db.session.get(Proposal, (event.payload or {}).get("proposal_id"))
    if proposal is None or proposal.status == "withdrawn":
        return
    job = db.session.get(Job, proposal.job_id)
    freelancer = db.session.get(User, proposal.freelancer_id)
    data = {
        "job_id": job.id,
        "job_title": job.title,
        "proposal_id": proposal.id,
        "actor_name": freelancer.display_name if freelancer else None,
    }
    url = path_for("jobs.job_proposals", job_id=job.id)
    notify(job.client_id, "proposal_received", data, url=url, dedupe_key=f"event:{event.id}")


@handles("proposal.declined")
def notify_proposal_declined(event) -> None:
    proposal = db.session.get(Proposal, (event.payload or {}).get("proposal_id"))
    if proposal is None or proposal.status != "declined":
        return
    job = db.session.get(Job, proposal.job_id)
    data = {"job_id": job.id, "job_title": job.title, "message": proposal.decline_message or ""}
    url = path_for("jobs.my_proposals")
    notify(proposal.freelancer_id, "proposal_declined", data, url=url, dedupe_key=f"event:{event.id}")


@handles("job.invite_sent")
def notify_job_invite(event) -> None:
    invite = db.session.get(JobInvite, (event.payload or {}).get("invite_id"))
    if invite is None or invite.status != "sent":
        return
    job = db.session.get(Job, invite.job_id)
    client = db.session.get(User, job.client_id)
    data = {
        "job_id": job.id,
        "job_title": job.title,
        "invite_id": invite.id,
        "actor_name": client.display_name if client else None,
    }
    url = path_for("jobs.job_page", job_id=job.id)
    notify(invite.freelancer_id, "job_invite", data, url=url, dedupe_key=f"event:{event.id}")


@handles("job.filled")
def notify_job_filled(event) -> None:
    payload = event.payload or {}
    job = db.session.get(Job, payload.get("job_id"))
    if job is None:
        return
    others = db.session.scalars(
        sa.select(Proposal).where(
            Proposal.job_id == job.id,
            Proposal.status.in_(("submitted", "shortlisted", "archived")),
            Proposal.id != (payload.get("proposal_id") or 0),
        )
    )
    data = {"job_id": job.id, "job_title": job.title}
    url = path_for("jobs.my_proposals")
    for proposal in others:
        notify(proposal.freelancer_id, "job_filled", data, url=url, dedupe_key=f"event:{event.id}")


# --- contracts ------------------------------------------------------------------------

# event -> (kind, who is told: "client", "freelancer", "other", "both")
CONTRACT_NOTIFICATIONS = {
    "contract.offered": ("contract_offered", "freelancer"),
    "contract.declined": ("contract_declined", "client"),
    "contract.withdrawn": ("contract_withdrawn", "freelancer"),
    "contract.created": ("contract_created", "client"),
    "contract.signed": ("contract_signed", "other"),
    "contract.activated": ("contract_activated", "both"),
    "contract.ended": ("contract_ended", "other"),
    "contract.change_proposed": ("contract_change_proposed", "other"),
    "contract.change_answered": ("contract_change_answered", "other"),
}


def notify_contract_step(event) -> None:
    payload = event.payload or {}
    contract = db.session.get(Contract, payload.get("contract_id"))
    if contract is None:
        return
    kind, who = CONTRACT_NOTIFICATIONS[event.name]
    actor_id = {
        "contract.offered": contract.client_id,
        "contract.withdrawn": contract.client_id,
        "contract.declined": contract.freelancer_id,
        "contract.created": contract.freelancer_id,
        "contract.signed": payload.get("user_id"),
        "contract.change_proposed": payload.get("user_id"),
        "contract.change_answered": payload.get("user_id"),
        "contract.ended": contract.ended_by,
    }.get(event.name)
    if who == "client":
        recipients = [contract.client_id]
    elif who == "freelancer":
        recipients = [contract.freelancer_id]
    elif who == "other" and actor_id is not None:
        recipients = [uid for uid in (contract.client_id, contract.freelancer_id) if uid != actor_id]
    else:
        recipients = [contract.client_id, contract.freelancer_id]
    data = {"contract_id": contract.id, "title": contract.title[:80], "actor_name": _name(actor_id)}
    if event.name == "contract.declined" and contract.decline_reason:
        data["reason"] = contract.decline_reason
    if event.name == "contract.change_answered":
        data["status"] = payload.get("status", "")
    if event.name == "contract.ended":
        data["status"] = contract.status
        if contract.end_reason:
            data["reason"] = contract.end_reason
        if payload.get("by_operator"):
            data["by_operator"] = True
    url = path_for("contracts.contract_page", contract_id=contract.id)
    for user_id in recipients:
        notify(user_id, kind, data, url=url, dedupe_key=f"event:{event.id}")


for _event_name in CONTRACT_NOTIFICATIONS:
    handles(_event_name)(notify_contract_step)


@handles("job.closed")
def notify_job_closed_by_operator(event) -> None:
    payload = event.payload or {}
    if not payload.get("by_operator"):
        return
    job_id = payload.get("job_id")
    job = db.session.get(Job, job_id) if isinstance(job_id, int) else None
    if job is None or job.status != "cancelled":
        return
    reason = str(payload.get("reason") or job.closed_reason or "")[:1000]
    data = {"job_id": job.id, "job_title": job.title, "reason": reason}
    url = path_for("jobs.job_page", job_id=job.id)
    notify(job.client_id, "job_closed_by_operator", data, url=url, dedupe_key=f"event:{event.id}")


# --- disputes -------------------------------------------------------------------------
#
# Disputes (``app/disputes/services.py``), payload ``{"dispute_id", "dispute_event_id", "kind"}``
# plus the event's own keys; de-duplicated by ``event:<id>``; each handler reads the dispute
# fresh and tells only what is still true:
#
# - ``dispute.opened``: the other party gets ``dispute_opened`` (with the answer deadline);
# - ``dispute.activity`` (evidence, proposals and answers, messages, assignment): the parties
#   and the mediator but the actor get ``dispute_activity``;
# - ``dispute.escalated`` ``{"stage"}``: both parties get ``dispute_escalated``; the
#   marketplace's moderators and admins too when it reaches mediation unassigned, the admins
#   when it reaches a decision;
# - ``dispute.expert_requested``: the expert gets ``dispute_expert_requested``;
#   ``dispute.expert_answered``: the mediator hears of the assessment (``dispute_activity``);
# - ``dispute.resolved`` ``{"outcome", "winner", "split"}``: both parties get ``dispute_resolved``.


def _dispute_of(event):
    from app.disputes.models import Dispute

    dispute_id = (event.payload or {}).get("dispute_id")
    if not isinstance(dispute_id, int) or isinstance(dispute_id, bool):
        return None
    return db.session.get(Dispute, dispute_id, populate_existing=True)


def _dispute_data(d, actor_id: int | None, **extra) -> dict:
    order = db.session.get(Order, d.order_id)
    data = {"dispute_id": d.id, "title": order.title[:80] if order else None, **extra}
    if actor_id is not None:
        data["actor_name"] = _name(actor_id)
    return {k: v for k, v in data.items() if v is not None}


def _tell_dispute(d, user_ids, kind: str, data: dict, event) -> None:
    staff = set(
        db.session.scalars(
            sa.select(User.id).where(User.id.in_(list(user_ids)), User.role.in_(("admin", "moderator")))
        )
    )
    for user_id in dict.fromkeys(user_ids):
        if d.party(user_id) is None and user_id in staff:
            url = path_for("console.dispute", dispute_id=d.id)
        else:
            url = path_for("disputes.dispute_page", dispute_id=d.id)
        notify(user_id, kind, data, url=url, dedupe_key=f"event:{event.id}")


@handles("dispute.opened")
def notify_dispute_opened(event) -> None:
    d = _dispute_of(event)
    if d is None or not d.is_open:
        return
    deadline = (
        d.stage_deadline_at.strftime("%Y-%m-%d %H:%M") if d.awaiting_id and d.stage_deadline_at else None
    )
    _tell_dispute(
        d, [d.against_id], "dispute_opened", _dispute_data(d, d.opened_by, deadline=deadline), event
    )


@handles("dispute.activity")
def notify_dispute_activity(event) -> None:
    from app.disputes.models import DisputeEvent

    d = _dispute_of(event)
    payload = event.payload or {}
    row = db.session.get(DisputeEvent, payload.get("dispute_event_id"))
    if d is None or row is None or row.dispute_id != d.id:
        return
    if row.kind == "proposal_withdrawn":
        return  # nothing for the other side to do
    audience = [d.buyer_id, d.seller_id] + ([d.mediator_id] if d.mediator_id else [])
    recipients = [uid for uid in audience if uid != row.actor_id]
    extra = {"step": row.kind}
    if row.kind == "message":
        extra["snippet"] = row.body[:140]
    if row.kind == "assigned":
        recipients = [d.buyer_id, d.seller_id]
        actor = (row.data or {}).get("mediator_id")
        _tell_dispute(d, recipients, "dispute_activity", _dispute_data(d, actor, **extra), event)
        return
    _tell_dispute(d, recipients, "dispute_activity", _dispute_data(d, row.actor_id, **extra), event)


@handles("dispute.escalated")
def notify_dispute_escalated(event) -> None:
    d = _dispute_of(event)
    stage = (event.payload or {}).get("stage")
    if d is None or not d.is_open or d.stage != stage:
        return  # moved on since: the later step tells
    recipients = [d.buyer_id, d.seller_id]
    roles = {"mediation": ("admin", "moderator"), "decision": ("admin",)}.get(stage, ())
    if roles and not (stage == "mediation" and d.mediator_id):
        recipients += list(
            db.session.scalars(sa.select(User.id).where(User.role.in_(roles), User.status == "active"))
        )
    elif d.mediator_id:
        recipients.append(d.mediator_id)
    _tell_dispute(d, recipients, "dispute_escalated", _dispute_data(d, None, stage=stage), event)


@handles("dispute.expert_requested")
def notify_dispute_expert(event) -> None:
    d = _dispute_of(event)
    if d is None or d.stage != "expert_review" or d.expert_id is None:
        return
    _tell_dispute(d, [d.expert_id], "dispute_expert_requested", _dispute_data(d, d.mediator_id), event)


@handles("dispute.expert_answered")
def notify_dispute_assessment(event) -> None:
    d = _dispute_of(event)
    if d is None or not d.is_open or d.mediator_id is None:
        return
    data = _dispute_data(
        d,
        d.expert_id,
        step="message",
        snippet="(the expert's assessment) " + (d.expert_assessment or "no answer in time"),
    )
    _tell_dispute(d, [d.mediator_id], "dispute_activity", data, event)


@handles("dispute.resolved")
def notify_dispute_resolved(event) -> None:
    from app.core import money

    d = _dispute_of(event)
    if d is None or d.is_open:
        return
    extra = {"outcome": d.outcome}
    if d.outcome == "resolved_split":
        extra["split_text"] = (
            f"{money.format(d.refund_minor, d.currency)} refunded to the buyer, "
            f"{money.format(d.release_minor, d.currency)} released to the seller"
        )
    _tell_dispute(
        d, [d.buyer_id, d.seller_id], "dispute_resolved", _dispute_data(d, d.decided_by, **extra), event
    )


# --- the contract workroom -------------------------------------------------------------
#
# ``calendar.reminder`` ``{"contract_id", "event_id", "occurrence_start", "title", "timezone",
# "user_ids"}`` (``app/workroom/calendar.py``): each party still a party gets
# ``calendar_reminder`` (the time in the event's timezone), unless the event was deleted since.
# ``task.updated`` with ``"assigned_to"`` (``app/workroom/board.py``): that party gets
# ``task_assigned`` while the task is still theirs. De-duplicated by ``event:<id>``.


@handles("calendar.reminder")
def notify_calendar_reminder(event) -> None:
    payload = event.payload or {}
    row = (
        db.session.get(WorkroomEvent, payload.get("event_id"))
        if isinstance(payload.get("event_id"), int)
        else None
    )
    contract = db.session.get(Contract, row.contract_id) if row is not None else None
    if row is None or contract is None:
        return
    when = None
    try:
        start = datetime.fromisoformat(str(payload.get("occurrence_start")))
        when = f"{start.astimezone(ZoneInfo(row.timezone)):%Y-%m-%d %H:%M} {row.timezone}"
    except (ValueError, KeyError):
        pass
    data = {"contract_id": contract.id, "event_id": row.id, "title": row.title[:120], "when": when}
    data = {k: v for k, v in data.items() if v is not None}
    url = path_for("workroom.page", contract_id=contract.id, tab="calendar")
    for user_id in (contract.client_id, contract.freelancer_id):
        notify(user_id, "calendar_reminder", data, url=url, dedupe_key=f"event:{event.id}")


@handles("task.updated")
def notify_task_assigned(event) -> None:
    payload = event.payload or {}
    assignee = payload.get("assigned_to")
    task_id = payload.get("task_id")
    if not isinstance(assignee, int) or not isinstance(task_id, int):
        return
    task = db.session.get(WorkroomTask, task_id)
    contract = db.session.get(Contract, task.contract_id) if task is not None else None
    if task is None or contract is None or task.assignee_id != assignee or contract.party(assignee) is None:
        return
    data = {
        "contract_id": contract.id,
        "task_id": task.id,
        "task_title": task.title[:120],
        "title": contract.title[:80],
        "actor_name": _name(payload.get("actor_id")),
    }
    url = path_for("workroom.page", contract_id=contract.id, tab="tasks")
    notify(assignee, "task_assigned", data, url=url, dedupe_key=f"event:{event.id}")


# --- code & CI ---------------------------------------------------------------------------
#
# The repository's webhook (``app/code/services.py``), payloads ``{"contract_id", "link_id",
# "pull_request_id", ...}``; each handler reads the pull request fresh:
#
# - ``pr.updated`` ``{"state"}``: when the pull request is merged, the client gets ``pr_merged``
#   ("PR #12 “Add booking API” was merged in acme/booking"); once per pull request
#   (``pr-merged:<id>``: a later edit of a merged one reports "merged" again);
# - ``ci.updated`` ``{"ci_run_id", "status", "head_sha"}``: when a run fails on a pull request
#   that is still open (and the run is of its current head), the freelancer gets ``ci_failed``
#   with the head's summary ("lint failed"); once per pull request and head commit
#   (``ci-failed:<pr>:<sha>``: a suite and its check runs failing together tell once).
#
# Links go to the contract page's Repository section (all its PRs, merged ones too).


def _pr_data(pr, link, contract, **extra) -> dict:
    data = {
        "contract_id": contract.id,
        "pull_request_id": pr.id,
        "number": pr.number,
        "pr_title": pr.title[:120],
        "repo": link.full_name[:120],
        "provider": link.provider,
        "title": contract.title[:80],
        **extra,
    }
    return {k: v for k, v in data.items() if v not in (None, "")}


def _pr_of(pull_request_id):
    from app.code.models import PullRequest, RepoLink

    if not isinstance(pull_request_id, int) or isinstance(pull_request_id, bool):
        return None, None, None
    pr = db.session.get(PullRequest, pull_request_id, populate_existing=True)
    link = db.session.get(RepoLink, pr.link_id) if pr is not None else None
    contract = db.session.get(Contract, link.contract_id) if link is not None else None
    if contract is None:
        return None, None, None
    return pr, link, contract


def _repository_url(contract_id: int) -> str:
    return path_for("contracts.contract_page", contract_id=contract_id) + "#repository"


@handles("pr.updated")
def notify_pr_merged(event) -> None:
    payload = event.payload or {}
    if payload.get("state") != "merged":
        return
    pr, link, contract = _pr_of(payload.get("pull_request_id"))
    if pr is None or pr.state != "merged":
        return
    notify(
        contract.client_id,
        "pr_merged",
        _pr_data(pr, link, contract),
        url=_repository_url(contract.id),
        dedupe_key=f"pr-merged:{pr.id}",
    )


@handles("ci.updated")
def notify_ci_failed(event) -> None:
    from app.code import services as code
    from app.code.models import CiRun

    payload = event.payload or {}
    run_id = payload.get("ci_run_id")
    if payload.get("status") != "failed" or not isinstance(run_id, int) or isinstance(run_id, bool):
        return
    run = db.session.get(CiRun, run_id, populate_existing=True)
    if run is None or run.status != "failed":
        return  # re-run and passed since
    pr, link, contract = _pr_of(run.pull_request_id)
    if pr is None or pr.state != "open" or (run.head_sha and pr.head_sha and run.head_sha != pr.head_sha):
        return  # merged or closed, or an older commit's run
    ci = code.ci_of(pr)
    notify(
        contract.freelancer_id,
        "ci_failed",
        _pr_data(pr, link, contract, summary=ci.text if ci.status == "failed" else None),
        url=_repository_url(contract.id),
        dedupe_key=f"ci-failed:{pr.id}:{(run.head_sha or pr.head_sha)[:64]}",
    )


# --- payouts ---------------------------------------------------------------------------


def _hold_of(event) -> PayoutHold | None:
    hold_id = (event.payload or {}).get("hold_id")
    return db.session.get(PayoutHold, hold_id) if isinstance(hold_id, int) else None


@handles("payout.held")
def notify_payout_held(event) -> None:
    hold = _hold_of(event)
    if hold is None or not hold.active:  # released since: nothing to tell
        return
    url = path_for("payments.earnings")
    notify(hold.user_id, "payout_held", {"hold_id": hold.id}, url=url, dedupe_key=f"event:{event.id}")


@handles("payout.hold_released")
def notify_payout_hold_released(event) -> None:
    hold = _hold_of(event)
    if hold is None or hold.active:
        return
    url = path_for("payments.earnings")
    notify(
        hold.user_id, "payout_hold_released", {"hold_id": hold.id}, url=url, dedupe_key=f"event:{event.id}"
    )


@handles("payout_account.kyc_changed")
def notify_payout_kyc_changed(event) -> None:
    payload = event.payload or {}
    user_id = payload.get("user_id")
    if not isinstance(user_id, int) or payload.get("new") not in ("verified", "rejected"):
        return
    account = payout_account_of(user_id)
    if account is None or account.kyc_status != payload["new"]:  # changed again since
        return
    data = {"status": account.kyc_status}
    if account.kyc_status == "rejected" and account.kyc_note:
        data["note"] = account.kyc_note[:1000]
    url = path_for("payments.earnings")
    notify(user_id, "payout_kyc_changed", data, url=url, dedupe_key=f"event:{event.id}")


# --- hourly contracts -------------------------------------------------------------------
#
# Hourly contracts (``app/hourly/services.py``), payload ``{"contract_id", ...}``, de-duplicated
# by ``event:<id>``; each handler reads the timesheet or contract fresh and tells only what is
# still true (a timesheet approved before its ``timesheet.submitted`` is handled is not offered
# for review; a pause already lifted is not told):
#
# - ``timesheet.submitted``: the client gets ``timesheet_submitted`` ("Ann's timesheet for the
#   week of 2 Mar: 10 h, $450.00 — review by 7 Mar ...");
# - ``timesheet.approved`` ``{"by"}``: the freelancer gets ``timesheet_approved`` ("approved
#   automatically" when ``by`` is null);
# - ``timesheet.billed``: both get ``timesheet_billed`` (charged / paid);
# - ``timesheet.payment_failed``: both get ``timesheet_payment_failed`` (the client: update the
#   card; the freelancer: the contract is paused);
# - ``contract.paused`` / ``contract.resumed`` ``{"reason", "by"}``: the other party gets
#   ``contract_paused`` / ``contract_resumed``; both when the reason is ``payment_failed`` /
#   ``payment_received`` (the marketplace acted);
# - ``contract.rate_change_proposed`` / ``contract.rate_change_answered`` ``{"change_id", "by"}``:
#   the other party gets ``contract_rate_change_proposed`` / ``..._answered``.
#
# Links go to the hourly pages (``/contracts/<id>/time``, ``/timesheets/<id>``) when the web
# app has them, else to the contract's page.


def _page_for(rule: str, **values) -> str | None:
    """The path of the web page whose URL rule is ``rule`` (converters ignored), or None."""
    for candidate in current_app.url_map.iter_rules():
        if "GET" in (candidate.methods or ()) and _plain_rule(candidate.rule) == rule:
            try:
                return path_for(candidate.endpoint, **values)
            except BuildError:  # a rule that wants other values: not this page
                return None
    return None


def _plain_rule(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", rule)


def _hourly_url(contract_id: int, sheet_id: int | None = None) -> str:
    if sheet_id is not None:
        url = _page_for("/timesheets/<sheet_id>", sheet_id=sheet_id) or _page_for(
            "/timesheets/<timesheet_id>", timesheet_id=sheet_id
        )
        if url:
            return url
    return _page_for("/contracts/<contract_id>/time", contract_id=contract_id) or path_for(
        "contracts.contract_page", contract_id=contract_id
    )


def _duration_text(minutes: int) -> str:
    hours, mins = divmod(int(minutes), 60)
    return f"{hours} h {mins:02d} min" if mins else f"{hours} h"


def _day_text(value) -> str:
    return f"{value.day} {value:%b}"


def _sheet_of(event):
    from app.hourly.models import Timesheet

    sheet_id = (event.payload or {}).get("timesheet_id")
    if not isinstance(sheet_id, int) or isinstance(sheet_id, bool):
        return None, None
    sheet = db.session.get(Timesheet, sheet_id, populate_existing=True)
    contract = db.session.get(Contract, sheet.contract_id) if sheet is not None else None
    return sheet, contract


def _sheet_data(sheet, contract, **extra) -> dict:
    from app.core import money

    data = {
        "contract_id": contract.id,
        "timesheet_id": sheet.id,
        "title": contract.title[:80],
        "week": _day_text(sheet.week_start),
        "hours": _duration_text(sheet.minutes_billable),
        "amount": money.format(sheet.amount_minor, sheet.currency),
        **extra,
    }
    return {k: v for k, v in data.items() if v is not None}


def _tell_hourly(user_ids, kind: str, data: dict, url: str, event) -> None:
    for user_id in dict.fromkeys(user_ids):
        notify(user_id, kind, data, url=url, dedupe_key=f"event:{event.id}")


@handles("timesheet.submitted")
def notify_timesheet_submitted(event) -> None:
    sheet, contract = _sheet_of(event)
    if sheet is None or sheet.status != "submitted":
        return
    data = _sheet_data(
        sheet,
        contract,
        actor_name=_name(contract.freelancer_id, "The freelancer"),
        review_by=_day_text(sheet.review_due_at.date()),
    )
    _tell_hourly([contract.client_id], "timesheet_submitted", data, _hourly_url(contract.id, sheet.id), event)


@handles("timesheet.approved")
def notify_timesheet_approved(event) -> None:
    sheet, contract = _sheet_of(event)
    if sheet is None or sheet.approved_at is None:
        return
    by = (event.payload or {}).get("by")
    extra = {"auto": True} if by is None else {"actor_name": _name(by, "The client")}
    data = _sheet_data(sheet, contract, **extra)
    url = _hourly_url(contract.id, sheet.id)
    _tell_hourly([contract.freelancer_id], "timesheet_approved", data, url, event)


@handles("timesheet.billed")
def notify_timesheet_billed(event) -> None:
    sheet, contract = _sheet_of(event)
    if sheet is None or sheet.billed_at is None:
        return
    url = _hourly_url(contract.id, sheet.id)
    for user_id, role in ((contract.client_id, "client"), (contract.freelancer_id, "freelancer")):
        _tell_hourly([user_id], "timesheet_billed", _sheet_data(sheet, contract, role=role), url, event)


@handles("timesheet.payment_failed")
def notify_timesheet_payment_failed(event) -> None:
    sheet, contract = _sheet_of(event)
    if sheet is None or sheet.status != "payment_failed":
        return  # paid since: nothing to do
    url = _hourly_url(contract.id, sheet.id)
    reason = sheet.failure_reason or (event.payload or {}).get("reason")
    for user_id, role in ((contract.client_id, "client"), (contract.freelancer_id, "freelancer")):
        data = _sheet_data(sheet, contract, role=role, reason=str(reason)[:255] if reason else None)
        _tell_hourly([user_id], "timesheet_payment_failed", data, url, event)


def _hourly_contract_of(event) -> Contract | None:
    contract_id = (event.payload or {}).get("contract_id")
    if not isinstance(contract_id, int) or isinstance(contract_id, bool):
        return None
    return db.session.get(Contract, contract_id, populate_existing=True)


def _others(contract: Contract, actor_id) -> list[int]:
    parties = [contract.client_id, contract.freelancer_id]
    return parties if actor_id is None else [uid for uid in parties if uid != actor_id]


@handles("contract.paused")
def notify_contract_paused(event) -> None:
    contract = _hourly_contract_of(event)
    payload = event.payload or {}
    if contract is None or contract.paused_at is None or contract.pause_reason != payload.get("reason"):
        return  # resumed (or paused again by someone else) since
    by = payload.get("by") if payload.get("reason") != "payment_failed" else None
    data = {"contract_id": contract.id, "title": contract.title[:80], "reason": payload.get("reason")}
    if by is not None:
        data["actor_name"] = _name(by)
    _tell_hourly(_others(contract, by), "contract_paused", data, _hourly_url(contract.id), event)


@handles("contract.resumed")
def notify_contract_resumed(event) -> None:
    contract = _hourly_contract_of(event)
    payload = event.payload or {}
    if contract is None or contract.paused_at is not None or contract.status != "active":
        return
    by = payload.get("by") if payload.get("reason") != "payment_received" else None
    data = {"contract_id": contract.id, "title": contract.title[:80]}
    if payload.get("reason"):
        data["reason"] = payload["reason"]
    if by is not None:
        data["actor_name"] = _name(by)
    _tell_hourly(_others(contract, by), "contract_resumed", data, _hourly_url(contract.id), event)


def _rate_change_of(event):
    from app.hourly.models import RateChange

    change_id = (event.payload or {}).get("change_id")
    if not isinstance(change_id, int) or isinstance(change_id, bool):
        return None, None
    change = db.session.get(RateChange, change_id, populate_existing=True)
    contract = db.session.get(Contract, change.contract_id) if change is not None else None
    return change, contract


@handles("contract.rate_change_proposed")
def notify_rate_change_proposed(event) -> None:
    from app.core import money

    change, contract = _rate_change_of(event)
    if change is None or change.status != "pending":
        return  # answered or withdrawn since
    data = {
        "contract_id": contract.id,
        "title": contract.title[:80],
        "actor_name": _name(change.proposed_by),
        "rate": money.format(change.rate_minor, contract.currency),
        "cap": change.weekly_cap_hours,
    }
    url = path_for("contracts.contract_page", contract_id=contract.id)
    _tell_hourly(_others(contract, change.proposed_by), "contract_rate_change_proposed", data, url, event)


@handles("contract.rate_change_answered")
def notify_rate_change_answered(event) -> None:
    change, contract = _rate_change_of(event)
    if change is None or change.status == "pending":
        return
    data = {
        "contract_id": contract.id,
        "title": contract.title[:80],
        "actor_name": _name(change.responded_by),
        "status": change.status,
    }
    if change.effective_week is not None:
        data["effective"] = _day_text(change.effective_week)
    url = path_for("contracts.contract_page", contract_id=contract.id)
    _tell_hourly(_others(contract, change.responded_by), "contract_rate_change_answered", data, url, event)


@handles("file.quarantined")
def notify_file_quarantined(event) -> None:
    payload = event.payload or {}
    file_id = payload.get("file_id")
    row = db.session.get(StoredFile, file_id) if isinstance(file_id, int) else None
    if row is None or row.status != "quarantined" or row.uploaded_by_id is None:
        return
    data = {"file_id": row.id, "filename": row.filename or "", "signature": row.signature or "a virus"}
    notify(row.uploaded_by_id, "file_quarantined", data, dedupe_key=f"event:{event.id}")
