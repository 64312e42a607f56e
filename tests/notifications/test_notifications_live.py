"""Live pushes over a real Socket.IO connection (python-socketio client, live server)."""

from __future__ import annotations

from app.accounts.models import User
from app.notifications import services
from tenants.db import db


def test_a_connected_user_receives_the_notification_and_no_email(
    acme,
    globex,
    pair,
    post,
    make_user,
    socket_client,
    access_token,
    run_jobs,
    release_scheduled,
    mail_settled,
    notifications_of,
    in_tenant,
):
    bea, sam, cid = pair
    make_user(globex)
    g_sam = make_user(globex)
    assert g_sam == sam
    sam_socket = socket_client("acme", token=access_token(acme, sam))
    twin_socket = socket_client("globex", token=access_token(globex, g_sam))  # same id, other tenant

    post(acme, bea, cid, "Hello from Bea")
    run_jobs()  # message.posted -> notify, in the worker; pushed after its commit

    pushed = sam_socket.wait_for("notification")
    (stored,) = notifications_of(acme, sam)
    assert pushed["id"] == stored.id and pushed["kind"] == "new_message"
    assert pushed["text"] == "Bea Buyer: Hello from Bea" and pushed["url"] == f"/inbox/{cid}"
    assert sam_socket.wait_for("unread_count") == {"count": 1}
    # Sam is online, so no email is even scheduled.
    assert stored.email_status == "skipped"
    assert release_scheduled() == 0
    assert mail_settled(acme) == []  # nothing was emailed before the sentinel email
    # The twin's own notification comes after Sam's: once it has arrived, Sam's would have too.
    with in_tenant(globex):
        services.notify(g_sam, "order_paid", {"order_id": 1})
        db.session.commit()
    twin_socket.wait_for("notification")
    events = [event for event, _data in twin_socket.events]
    before_own = events[: events.index("notification")]
    assert "unread_count" not in before_own  # nor any notification: the first is its own
    assert twin_socket.of("notification")[0]["kind"] == "order_paid"


def test_marking_read_elsewhere_updates_the_count_live(
    acme, make_user, socket_client, access_token, in_tenant
):
    ada = make_user(acme)
    client = socket_client("acme", token=access_token(acme, ada))
    with in_tenant(acme):
        first = services.notify(ada, "order_paid", {"order_id": 1})
        services.notify(ada, "order_delivered", {"order_id": 1, "actor_name": "Sam"})
        db.session.commit()
        client.wait_for("unread_count", lambda u: u == {"count": 2})
        services.mark_read(db.session.get(User, ada), [first.id])
        db.session.commit()
        client.wait_for("unread_count", lambda u: u == {"count": 1})
        services.mark_all_read(db.session.get(User, ada))
        db.session.commit()
    client.wait_for("unread_count", lambda u: u == {"count": 0})
    assert [n["text"] for n in client.of("notification")] == ["Order #1 was paid.", "Sam delivered order #1."]


def test_nothing_is_pushed_for_a_rolled_back_notification(
    acme, make_user, socket_client, access_token, in_tenant
):
    ada = make_user(acme)
    client = socket_client("acme", token=access_token(acme, ada))
    with in_tenant(acme):
        services.notify(ada, "order_paid", {"order_id": 1})
        db.session.rollback()
        services.notify(ada, "order_paid", {"order_id": 2})
        db.session.commit()
    client.wait_for("notification", lambda n: n["data"]["order_id"] == 2)
    assert [n["data"]["order_id"] for n in client.of("notification")] == [2]
