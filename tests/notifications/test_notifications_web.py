"""The bell in the header, the /notifications page and the preferences form."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import User
from app.notifications import services
from app.notifications.models import Notification, NotificationPreference
from tenants.db import db


@pytest.fixture
def ada(acme, make_user, in_tenant):
    """acme: Ada with notifications for orders 1..12 (newest: order 12) -> (user_id, ids)."""
    user_id = make_user(acme, email="ada@example.com", display_name="Ada")
    with in_tenant(acme):
        ids = [
            services.notify(user_id, "order_paid", {"order_id": n}, url=f"/orders/{n}").id
            for n in range(1, 13)
        ]
        db.session.commit()
    return user_id, ids


def _read_count(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(db.select(db.func.count()).where(Notification.read_at.is_not(None)))


def test_the_bell_shows_the_unread_count_and_the_latest_ten(tenant_client, acme, ada, web):
    client = web.login(tenant_client("acme"), "ada@example.com")
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="notification-badge"[^>]*>12<', html)
    items = re.findall(r'data-testid="notification-item">\s*<a href="(/orders/\d+)">', html)
    assert items == [f"/orders/{n}" for n in range(12, 2, -1)]
    assert "js/notifications.js" in html and "vendor/socket.io.min.js" in html


def test_signed_out_visitors_get_no_bell_and_no_notification_pages(tenant_client, acme):
    client = tenant_client("acme")
    assert 'data-testid="notification-bell"' not in client.get("/").get_data(as_text=True)
    for path in ("/notifications", "/notifications/latest", "/account/notifications"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_the_list_page_and_mark_one_read(tenant_client, acme, ada, web, in_tenant):
    _user, ids = ada
    client = web.login(tenant_client("acme"), "ada@example.com")
    page = client.get("/notifications").get_data(as_text=True)
    assert page.count('data-testid="notification-row"') == 12  # page size 20
    token = web.csrf_token(client, "/notifications")
    response = client.post("/notifications/read", data={"csrf_token": token, "id": str(ids[0])})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications")
    assert _read_count(in_tenant, acme) == 1
    assert re.search(r'data-testid="notification-badge"[^>]*>11<', client.get("/").get_data(as_text=True))


def test_mark_all_read_from_the_dropdown_goes_back_where_you_were(tenant_client, acme, ada, web, in_tenant):
    client = web.login(tenant_client("acme"), "ada@example.com")
    token = web.csrf_token(client, "/notifications")
    response = client.post("/notifications/read", data={"csrf_token": token, "all": "1", "next": "/inbox"})
    assert response.headers["Location"].endswith("/inbox")
    assert _read_count(in_tenant, acme) == 12
    evil = client.post(
        "/notifications/read", data={"csrf_token": token, "all": "1", "next": "//evil.example/"}
    )
    assert evil.headers["Location"].endswith("/notifications")


def test_the_dropdown_script_marks_read_with_json_and_the_csrf_header(
    tenant_client, acme, ada, web, in_tenant
):
    _user, ids = ada
    client = web.login(tenant_client("acme"), "ada@example.com")
    token = web.csrf_token(client, "/notifications")
    latest = client.get("/notifications/latest").get_json()
    assert latest["count"] == 12 and len(latest["items"]) == 10
    response = client.post(
        "/notifications/read",
        json={"ids": [ids[-1]]},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert response.get_json() == {"marked": 1, "unread_count": 11}
    refused = client.post(
        "/notifications/read",
        json={"ids": [99999]},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert refused.status_code == 404 and refused.get_json()["code"] == "unknown_notification"
    assert _read_count(in_tenant, acme) == 1


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(tenant_client, acme, ada, web, in_tenant):
    client = web.login(tenant_client("acme"), "ada@example.com")
    assert client.post("/notifications/read", data={"all": "1"}).status_code == 400
    assert client.post("/notifications/read", json={"all": True}).status_code == 400
    assert client.post("/account/notifications", data={"email__new_message": "y"}).status_code == 400
    assert _read_count(in_tenant, acme) == 0
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count()).select_from(NotificationPreference)) == 0


def test_you_cannot_mark_another_users_notifications(tenant_client, acme, ada, make_user, web, in_tenant):
    _ada, ids = ada
    make_user(acme, email="eve@example.com")
    client = web.login(tenant_client("acme"), "eve@example.com")
    token = web.csrf_token(client, "/notifications")
    response = client.post("/notifications/read", data={"csrf_token": token, "id": str(ids[0])})
    assert response.status_code == 302
    assert "No such notification" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _read_count(in_tenant, acme) == 0


def test_a_session_on_one_tenant_sees_nothing_of_another(tenant_client, acme, globex, ada, make_user, web):
    make_user(globex, email="ada@example.com")  # same email, same id, other marketplace
    client = web.login(tenant_client("globex"), "ada@example.com")
    assert client.get("/notifications/latest").get_json() == {"count": 0, "items": []}


def test_the_preferences_form_saves_choices(tenant_client, acme, ada, web, in_tenant):
    user_id, _ = ada
    client = web.login(tenant_client("acme"), "ada@example.com")
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'name="email__new_message"' in page and "checked" in page
    token = web.csrf_token(client, "/account/notifications")
    # Everything ticked except new-message email and order-paid in-app.
    data = {"csrf_token": token}
    with in_tenant(acme):
        for p in services.get_preferences(db.session.get(User, user_id)):
            data[f"in_app__{p.kind}"] = "y"
            data[f"email__{p.kind}"] = "y"
    del data["email__new_message"], data["in_app__order_paid"]
    response = client.post("/account/notifications", data=data)
    assert response.status_code == 302
    with in_tenant(acme):
        prefs = {p.kind: p for p in services.get_preferences(db.session.get(User, user_id))}
    assert prefs["new_message"].email is False and prefs["new_message"].in_app is True
    assert prefs["order_paid"].in_app is False and prefs["order_paid"].email is True
    assert prefs["password_changed"].email is True
