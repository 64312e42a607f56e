"""Reviews and seller levels tell people: the prompt after completion, the double-blind hint,
publication, the reminder, replies, moderation and level changes (app/notifications/events.py)."""

# The orders kit's fixtures are imported below and then named as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.services import set_seller_reputation
from app.events import publish
from app.events.models import OutboxEvent, ProcessedEvent
from app.events.tasks import deliver_event
from app.notifications.kinds import CATEGORIES, KINDS
from app.notifications.models import Notification
from app.orders import services as orders
from app.reviews import services as reviews
from tenants.db import db
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.helpers import login
from tests.orders.conftest import PASSWORD, drive, market, user  # noqa: F401  (fixture and helpers)

GOOD = {
    "rating": 5,
    "communication": 5,
    "as_described": 4,
    "would_recommend": 5,
    "text": "Secret praise: quick, tidy vector files.",
}
BACK = {"rating": 4, "text": "Clear brief and paid on time."}
TITLE = "I will design a modern minimalist logo (Starter)"  # the order's title: gig and package
REVIEW_KINDS = (
    "review_requested",
    "review_submitted",
    "review_published",
    "review_reminder",
    "review_replied",
    "review_moderated",
    "seller_level_changed",
)


def _of(notifications_of, tenant, user_id, kind=None) -> list[Notification]:
    rows = notifications_of(tenant, user_id)
    return [n for n in rows if kind is None or n.kind == kind]


def _complete(in_tenant, tenant, m, *, days_ago: float = 0) -> int:
    """An order of market ``m`` delivered and completed ``days_ago`` days ago; its id."""
    now = datetime.now(UTC)
    with in_tenant(tenant):
        order_id = drive(m, "in_progress")
        orders.deliver(user(m.seller_id), order_id, "Here it is.", now=now - timedelta(days=days_ago + 0.5))
        db.session.commit()
        orders.complete(user(m.buyer_id), order_id, now=now - timedelta(days=days_ago))
        db.session.commit()
        return order_id


def _write(in_tenant, tenant, user_id, order_id, data) -> int:
    with in_tenant(tenant):
        review = reviews.submit_review(user(user_id), order_id, data)
        db.session.commit()
        return review.id


def test_the_review_kinds_are_on_by_default_in_their_own_preferences_category():
    assert ("reviews", "Reviews and seller level") in CATEGORIES
    for kind in REVIEW_KINDS:
        spec = KINDS[kind]
        assert spec.category == "reviews" and spec.default_in_app and spec.default_email


def test_the_preferences_page_lists_the_review_kinds(acme, market, tenant_client):
    m = market(acme)
    client = login(tenant_client("acme"), m.buyer_email, PASSWORD)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert "Reviews and seller level" in page
    for kind in REVIEW_KINDS:
        assert f'name="email__{kind}"' in page and KINDS[kind].label in page


def test_a_completed_order_asks_both_sides_for_a_review_in_the_completion_email(
    acme,
    market,
    in_tenant,
    run_jobs,
    release_scheduled,
    mailbox,
    mail_settled,
    notifications_of,
    tenant_client,
):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
    run_jobs()
    release_scheduled()
    run_jobs()  # the emails of the earlier steps go out now, apart from the completion's
    mail_settled(acme)
    mailbox.clear()
    with in_tenant(acme):
        orders.complete(user(m.buyer_id), order_id)
        db.session.commit()
    run_jobs()

    for me, other in ((m.buyer_id, "Sally Seller"), (m.seller_id, "Bob Buyer")):
        (prompt,) = _of(notifications_of, acme, me, "review_requested")
        assert prompt.text == f"Leave a review of {other} for order #{order_id} ({TITLE}): you have 14 days."
        assert prompt.url == f"/orders/{order_id}#reviews"
        assert _of(notifications_of, acme, me, "order_completed")  # the completion notice stays

    assert release_scheduled() == 2, "one email job per person: completion and prompt batched"
    run_jobs()
    messages = mail_settled(acme)
    assert len(messages) == 2
    by_recipient = {str(message["To"]): message for message in messages}
    buyer_mail = by_recipient[m.buyer_email]
    assert buyer_mail["Subject"] == f"2 updates on order #{order_id}"
    text = mailbox.text(buyer_mail)
    assert "is complete" in text and "Leave a review of Sally Seller" in text
    assert "Write your review: http://acme.localhost/orders/" in text
    link = f"http://acme.localhost/orders/{order_id}#reviews"
    assert link in mailbox.links(buyer_mail)
    assert f'href="{link}"' in mailbox.html(buyer_mail)
    # The absolute link leads to the order page, for the person it was sent to.
    client = login(tenant_client("acme"), m.buyer_email, PASSWORD)
    assert client.get(link.removeprefix("http://acme.localhost").split("#")[0]).status_code == 200


def test_no_prompt_for_whoever_has_already_reviewed(acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)  # before the completion event is handled
    run_jobs()
    assert _of(notifications_of, acme, m.buyer_id, "review_requested") == []
    assert len(_of(notifications_of, acme, m.seller_id, "review_requested")) == 1


def test_the_other_side_hears_of_a_review_but_not_its_rating_or_text(
    acme,
    market,
    in_tenant,
    run_jobs,
    release_scheduled,
    mailbox,
    mail_settled,
    notifications_of,
    tenant_client,
):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    run_jobs()
    release_scheduled()
    run_jobs()
    mail_settled(acme)
    mailbox.clear()
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    run_jobs()

    (hint,) = _of(notifications_of, acme, m.seller_id, "review_submitted")
    assert hint.text == (
        f"Bob Buyer reviewed order #{order_id} ({TITLE}). Write yours to see it: both reviews are "
        "published together."
    )
    assert hint.url == f"/orders/{order_id}#reviews"
    stored = json.dumps(hint.data)
    assert "Secret praise" not in stored and "rating" not in stored and "communication" not in stored
    assert set(hint.data) == {"order_id", "gig_title", "actor_name", "text"}
    assert _of(notifications_of, acme, m.buyer_id, "review_submitted") == []  # not the author

    # The API shows the seller the same, and the email too: no rating, no text.
    client = login(tenant_client("acme"), m.seller_email, PASSWORD)
    listed = client.get("/notifications/latest").get_json()["items"]
    assert "Secret praise" not in json.dumps(listed)
    assert release_scheduled() == 1
    run_jobs()
    (message,) = mail_settled(acme)
    assert str(message["To"]) == m.seller_email
    body = mailbox.text(message) + mailbox.html(message)
    assert "Secret praise" not in body and "5 stars" not in body and "★" not in body
    link = f"http://acme.localhost/orders/{order_id}#reviews"
    assert link in mailbox.links(message)
    assert client.get(f"/orders/{order_id}").status_code == 200


def test_publication_tells_each_reviewed_side(acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    run_jobs()
    _write(in_tenant, acme, m.seller_id, order_id, BACK)  # both written: both publish now
    run_jobs()

    (for_seller,) = _of(notifications_of, acme, m.seller_id, "review_published")
    assert for_seller.text == f"You have a new review from Bob Buyer on order #{order_id} ({TITLE})."
    assert for_seller.url == f"/orders/{order_id}#reviews"
    (for_buyer,) = _of(notifications_of, acme, m.buyer_id, "review_published")
    assert "from Sally Seller" in for_buyer.text
    # The seller's review published at once: the buyer never got "write yours" for it.
    assert _of(notifications_of, acme, m.buyer_id, "review_submitted") == []


def test_a_review_submitted_and_published_before_delivery_gives_no_stale_hint(
    acme, market, in_tenant, run_jobs, notifications_of
):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    _write(in_tenant, acme, m.seller_id, order_id, BACK)
    run_jobs()  # both review.submitted events arrive after the pair published
    assert _of(notifications_of, acme, m.seller_id, "review_submitted") == []
    assert len(_of(notifications_of, acme, m.seller_id, "review_published")) == 1


def test_the_reminder_says_how_many_days_are_left(acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m, days_ago=11.5)  # the window closes in 2.5 days
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    with in_tenant(acme):
        assert reviews.remind(order_id, now=datetime.now(UTC)) == [m.seller_id]
        db.session.commit()
    run_jobs()
    (reminder,) = _of(notifications_of, acme, m.seller_id, "review_reminder")
    assert reminder.text == f"3 days left to review order #{order_id} ({TITLE})."
    assert reminder.url == f"/orders/{order_id}#reviews"
    assert _of(notifications_of, acme, m.buyer_id, "review_reminder") == []


def test_the_author_hears_of_a_reply(acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    review_id = _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    _write(in_tenant, acme, m.seller_id, order_id, BACK)
    with in_tenant(acme):
        reviews.reply_to_review(user(m.seller_id), review_id, "Thank you, Bob!")
        db.session.commit()
    run_jobs()
    (reply,) = _of(notifications_of, acme, m.buyer_id, "review_replied")
    assert reply.text == f"Sally Seller replied to your review of order #{order_id} ({TITLE})."
    assert reply.data["review_id"] == review_id


def test_a_held_review_tells_its_author_it_waits_for_a_moderator(
    acme, market, in_tenant, run_jobs, notifications_of
):
    m = market(acme)
    with in_tenant(acme):
        reviews.update_review_settings({"hold_banned_words": True, "banned_words": ["scam"]})
        db.session.commit()
    order_id = _complete(in_tenant, acme, m)
    _write(in_tenant, acme, m.buyer_id, order_id, {**GOOD, "text": "Not a scam after all, good work."})
    _write(in_tenant, acme, m.seller_id, order_id, BACK)
    run_jobs()
    (held,) = _of(notifications_of, acme, m.buyer_id, "review_moderated")
    assert "is waiting for a moderator" in held.text and f"order #{order_id}" in held.text
    # The seller is not told of a review they cannot read yet.
    assert _of(notifications_of, acme, m.seller_id, "review_published") == []


def test_hide_and_restore_tell_the_author_the_reason(acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    review_id = _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    _write(in_tenant, acme, m.seller_id, order_id, BACK)
    with in_tenant(acme):
        reviews.hide_review(user(m.admin_id), review_id, "It shares a phone number.")
        db.session.commit()
    run_jobs()
    (hidden,) = _of(notifications_of, acme, m.buyer_id, "review_moderated")
    assert hidden.text == (
        f"A moderator hid your review of order #{order_id} ({TITLE}): It shares a phone number."
    )
    assert "actor_name" not in hidden.data  # the moderator stays unnamed
    with in_tenant(acme):
        reviews.restore_review(user(m.admin_id), review_id, "The number was the shop's, checked.")
        db.session.commit()
    run_jobs()
    restored = _of(notifications_of, acme, m.buyer_id, "review_moderated")[-1]
    assert restored.text == (
        f"A moderator restored your review of order #{order_id} ({TITLE}): "
        "The number was the shop's, checked."
    )


def test_a_hide_undone_before_delivery_is_not_told_as_hidden(
    acme, market, in_tenant, run_jobs, notifications_of
):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    review_id = _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    _write(in_tenant, acme, m.seller_id, order_id, BACK)
    with in_tenant(acme):
        reviews.hide_review(user(m.admin_id), review_id, "Looks like spam.")
        db.session.commit()
        reviews.restore_review(user(m.admin_id), review_id, "Not spam: a real order.")
        db.session.commit()
    run_jobs()
    (told,) = _of(notifications_of, acme, m.buyer_id, "review_moderated")
    assert (
        told.data["action"] == "restored" and "Not spam" in told.text and "Looks like spam" not in told.text
    )


def test_level_changes_congratulate_and_drops_are_worded_kindly(
    acme, market, in_tenant, run_jobs, notifications_of
):
    m = market(acme)
    with in_tenant(acme):
        set_seller_reputation(m.seller_id, level="level_2")
        publish("seller.level_changed", {"user_id": m.seller_id, "old": "level_1", "new": "level_2"})
        db.session.commit()
    run_jobs()
    (up,) = _of(notifications_of, acme, m.seller_id, "seller_level_changed")
    assert up.text == "Congratulations: you are now a Level 2 seller!"
    assert up.url.startswith("/u/")
    with in_tenant(acme):
        set_seller_reputation(m.seller_id, level="level_1")
        publish("seller.level_changed", {"user_id": m.seller_id, "old": "level_2", "new": "level_1"})
        # Stale: the level is level_1 by now, so this older news is not told.
        publish("seller.level_changed", {"user_id": m.seller_id, "old": "new", "new": "top_rated"})
        db.session.commit()
    run_jobs()
    up, down = _of(notifications_of, acme, m.seller_id, "seller_level_changed")
    assert down.text.startswith("Your seller level is now Level 1 (it was Level 2).")
    assert "good reviews bring it back" in down.text


def test_redelivered_events_notify_once(app, acme, market, in_tenant, run_jobs, notifications_of):
    m = market(acme)
    order_id = _complete(in_tenant, acme, m)
    run_jobs()
    _write(in_tenant, acme, m.buyer_id, order_id, GOOD)
    run_jobs()
    with in_tenant(acme):
        events = db.session.scalars(
            sa.select(OutboxEvent.id).where(OutboxEvent.name.in_(("order.completed", "review.submitted")))
        ).all()
        assert len(events) == 2
        # Delivered again from scratch (their processed marks gone): the dedupe keys hold.
        db.session.execute(sa.delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(events)))
        db.session.execute(sa.update(OutboxEvent).where(OutboxEvent.id.in_(events)).values(status="pending"))
        db.session.commit()
    with app.app_context():
        for event_id in events:
            assert deliver_event(acme.id, event_id) == "dispatched"
    assert len(_of(notifications_of, acme, m.seller_id, "review_requested")) == 1
    assert len(_of(notifications_of, acme, m.seller_id, "review_submitted")) == 1
    assert len(_of(notifications_of, acme, m.buyer_id, "review_requested")) == 1


def test_a_review_never_notifies_the_other_tenants_user_with_the_same_id(
    acme, globex, market, in_tenant, run_jobs, notifications_of
):
    a = market(acme)
    g = market(globex)
    assert (a.buyer_id, a.seller_id, a.gig_id) == (g.buyer_id, g.seller_id, g.gig_id)  # equal ids
    order_id = _complete(in_tenant, acme, a)
    run_jobs()
    review_id = _write(in_tenant, acme, a.buyer_id, order_id, GOOD)
    run_jobs()
    _write(in_tenant, acme, a.seller_id, order_id, BACK)
    run_jobs()
    with in_tenant(acme):
        reviews.reply_to_review(user(a.seller_id), review_id, "Thanks!")
        db.session.commit()
    run_jobs()
    with in_tenant(acme):
        reviews.hide_review(user(a.admin_id), review_id, "Testing the tenants.")
        db.session.commit()
    with in_tenant(globex):
        # Forged in globex with acme's ids: globex has no such order, review or level.
        publish("review.reminder", {"order_id": order_id, "user_ids": [g.buyer_id, g.seller_id]})
        publish("review.published", {"review_id": review_id})
        publish("seller.level_changed", {"user_id": g.seller_id, "old": "new", "new": "level_1"})
        db.session.commit()
    run_jobs()
    reviews_told = {kind for kind in REVIEW_KINDS if kind != "seller_level_changed"}
    told = {n.kind for n in notifications_of(acme, a.seller_id)} & reviews_told
    assert told == {"review_requested", "review_submitted", "review_published"}
    told = {n.kind for n in notifications_of(acme, a.buyer_id)} & reviews_told
    assert told == {"review_requested", "review_published", "review_replied", "review_moderated"}
    for user_id in (g.buyer_id, g.seller_id, g.stranger_id, g.admin_id):
        assert notifications_of(globex, user_id) == []
