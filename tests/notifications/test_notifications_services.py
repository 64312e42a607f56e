"""notify(), reading, preferences: the rules, called without HTTP."""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.notifications import services
from app.notifications.kinds import KINDS
from app.notifications.models import Notification, NotificationPreference
from tenants.db import db

ORDER_KINDS = [
    "order_placed",
    "order_paid",
    "order_delivered",
    "order_revision_requested",
    "order_completed",
    "order_cancellation_requested",
    "order_cancellation_accepted",
]


def _count(model=Notification) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_order_event_kinds_are_declared_with_email_on_by_default():
    for kind in ORDER_KINDS:
        assert KINDS[kind].default_in_app and KINDS[kind].default_email
    assert {"new_message", "password_changed", "email_changed"} <= set(KINDS)


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_each_order_kind_is_stored_with_its_text_through_notify(acme, make_user, in_tenant, kind):
    seller = make_user(acme)
    with in_tenant(acme):
        notification = services.notify(
            seller, kind, {"order_id": 7, "gig_title": "Minimal logo", "actor_name": "Ada"}, url="/orders/7"
        )
        db.session.commit()
        assert notification.kind == kind and notification.url == "/orders/7"
        assert "order #7 (minimal logo)" in notification.text.lower()
        assert notification.group_key == "order:7"
        assert notification.data["order_id"] == 7


def test_bad_input_is_refused_and_nothing_is_stored(acme, make_user, in_tenant):
    user = make_user(acme)
    cases = [
        (dict(user_id=user, kind="order_exploded", data={"order_id": 1}), "unknown_kind"),
        (dict(user_id=9999, kind="order_paid", data={"order_id": 1}), "unknown_user"),
        (dict(user_id="x", kind="order_paid", data={"order_id": 1}), "unknown_user"),
        (dict(user_id=user, kind="order_paid", data={}), "missing_data"),
        (dict(user_id=user, kind="new_message", data={"conversation_id": 1}), "missing_data"),
        (
            dict(user_id=user, kind="order_paid", data={"order_id": 1}, url="https://evil.example/x"),
            "bad_url",
        ),
        (dict(user_id=user, kind="order_paid", data={"order_id": 1}, url="//evil.example/x"), "bad_url"),
        (dict(user_id=user, kind="order_paid", data={"order_id": 1, "blob": object()}), "bad_data"),
        (dict(user_id=user, kind="order_paid", data={"order_id": 1, "blob": "x" * 5000}), "bad_data"),
    ]
    with in_tenant(acme):
        for kwargs, code in cases:
            with pytest.raises(services.NotificationError) as excinfo:
                services.notify(kwargs.pop("user_id"), kwargs.pop("kind"), **kwargs)
            assert excinfo.value.code == code, kwargs
        db.session.commit()
        assert _count() == 0


def test_a_dedupe_key_makes_notify_idempotent(acme, make_user, in_tenant):
    user = make_user(acme)
    with in_tenant(acme):
        first = services.notify(user, "order_paid", {"order_id": 3}, dedupe_key="order:3:paid")
        db.session.commit()
        again = services.notify(user, "order_paid", {"order_id": 3}, dedupe_key="order:3:paid")
        db.session.commit()
        assert again.id == first.id
        assert _count() == 1


def test_defaults_apply_until_the_user_chooses(acme, make_user, in_tenant):
    user_id = make_user(acme)
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        prefs = {p.kind: p for p in services.get_preferences(user)}
        assert prefs["new_message"].in_app and prefs["new_message"].email and prefs["new_message"].is_default
        assert prefs["password_changed"].in_app and not prefs["password_changed"].email

        prefs = {p.kind: p for p in services.set_preferences(user, {"new_message": {"email": False}})}
        db.session.commit()
        assert prefs["new_message"].in_app is True and prefs["new_message"].email is False
        assert not prefs["new_message"].is_default and prefs["order_paid"].is_default


@pytest.mark.parametrize(
    "changes",
    [
        {"new_message": {"email": False}, "no_such_kind": {"email": False}},
        {"new_message": {"email": "no"}},
        {"new_message": {"sms": True}},
        {"new_message": {}},
        ["new_message"],
    ],
)
def test_invalid_preferences_change_nothing(acme, make_user, in_tenant, changes):
    user_id = make_user(acme)
    with in_tenant(acme):
        with pytest.raises(services.NotificationError):
            services.set_preferences(db.session.get(User, user_id), changes)
        db.session.commit()
        assert _count(NotificationPreference) == 0


def test_nothing_is_stored_when_the_user_wants_neither_channel(acme, make_user, in_tenant):
    user_id = make_user(acme)
    with in_tenant(acme):
        services.set_preferences(
            db.session.get(User, user_id), {"order_paid": {"in_app": False, "email": False}}
        )
        assert services.notify(user_id, "order_paid", {"order_id": 1}) is None
        db.session.commit()
        assert _count() == 0


def test_in_app_off_keeps_the_notification_out_of_the_bell(acme, make_user, in_tenant):
    user_id = make_user(acme)
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        services.set_preferences(user, {"order_paid": {"in_app": False}})
        stored = services.notify(user_id, "order_paid", {"order_id": 1})
        db.session.commit()
        assert stored.in_app is False and stored.email_status == "pending"  # still emailed
        assert services.unread_count(user) == 0
        assert services.list_notifications(user) == ([], 0)


def test_mark_read_and_mark_all_read(acme, make_user, in_tenant):
    user_id = make_user(acme)
    with in_tenant(acme):
        ids = [services.notify(user_id, "order_paid", {"order_id": n}).id for n in range(1, 5)]
        db.session.commit()
        user = db.session.get(User, user_id)
        assert services.unread_count(user) == 4
        assert services.mark_read(user, [ids[0], ids[1]]) == 2
        assert services.mark_read(user, [ids[0]]) == 0  # already read: fine, nothing changes
        db.session.commit()
        assert services.unread_count(user) == 2
        assert services.mark_all_read(user) == 2
        db.session.commit()
        assert services.unread_count(user) == 0


def test_marking_someone_elses_notification_is_refused_and_changes_nothing(acme, make_user, in_tenant):
    ada, bob = make_user(acme), make_user(acme)
    with in_tenant(acme):
        mine = services.notify(ada, "order_paid", {"order_id": 1}).id
        theirs = services.notify(bob, "order_paid", {"order_id": 2}).id
        db.session.commit()
        user = db.session.get(User, ada)
        for ids in ([mine, theirs], [theirs], [mine, 99999]):
            with pytest.raises(services.NotificationError) as excinfo:
                services.mark_read(user, ids)
            assert excinfo.value.status == 404
        for ids in ([], "1,2", [0], [True], ["x"], list(range(1, 502))):
            with pytest.raises(services.NotificationError):
                services.mark_read(user, ids)
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).where(Notification.read_at.is_not(None))) == 0


def test_the_list_pages_newest_first(acme, make_user, in_tenant):
    user_id = make_user(acme)
    with in_tenant(acme):
        ids = [services.notify(user_id, "order_paid", {"order_id": n}).id for n in range(1, 6)]
        db.session.commit()
        user = db.session.get(User, user_id)
        page1, total = services.list_notifications(user, 1, 2)
        page3, _ = services.list_notifications(user, 3, 2)
        assert total == 5
        assert [n.id for n in page1] == [ids[4], ids[3]]
        assert [n.id for n in page3] == [ids[0]]
        with pytest.raises(services.NotificationError):
            services.list_notifications(user, 0, 2)


def test_tenants_with_equal_ids_never_see_each_others_notifications(acme, globex, make_user, in_tenant):
    ada = make_user(acme)
    gil = make_user(globex)
    assert ada == gil  # equal IDs in the two schemas
    with in_tenant(acme):
        services.notify(ada, "order_paid", {"order_id": 1})
        db.session.commit()
    with in_tenant(globex):
        user = db.session.get(User, gil)
        assert services.unread_count(user) == 0
        assert services.list_notifications(user) == ([], 0)
        assert _count() == 0


def test_the_header_statement_built_once_reads_each_users_own_counts(acme, globex, make_user, in_tenant):
    ada, bob = make_user(acme), make_user(acme)
    gil = make_user(globex)
    assert ada == gil  # equal IDs in the two schemas
    with in_tenant(acme):
        ids = [services.notify(ada, "order_paid", {"order_id": n}).id for n in range(1, 5)]
        services.notify(bob, "order_paid", {"order_id": 9})
        db.session.commit()
    for _ in range(2):  # alternately, through the one statement (its parameters differ)
        with in_tenant(acme):
            shown = services.header(db.session.get(User, ada), limit=3)
            assert (shown.inbox_unread, shown.notifications_unread) == (0, 4)
            assert [n.id for n in shown.notifications_latest] == ids[::-1][:3]
            other = services.header(db.session.get(User, bob))
            assert other.notifications_unread == 1 and len(other.notifications_latest) == 1
        with in_tenant(globex):
            empty = services.header(db.session.get(User, gil))
            assert (empty.inbox_unread, empty.notifications_unread, empty.notifications_latest) == (0, 0, [])
