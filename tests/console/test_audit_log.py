"""The audit log: every console action with its actor, time, target and change, written in the
transaction of the change (and gone with it on a refusal), searchable on the page and through
the API, each tenant's log its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.console import audit
from app.console.models import AuditEntry
from app.console.operations import orders
from app.orders import services as order_services
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, audit_rows, drive, form_tokens


def _refund_through_web_and_api(acme, s, in_tenant, web_as, api_as):
    with in_tenant(acme):
        web_order, api_order = drive(s, "in_progress"), drive(s, "delivered", tier="standard")
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    page = f"/console/orders/{web_order}"
    posted = admin.post(
        f"{page}/cancel",
        data={**form_tokens(admin, page), "confirm": "yes", "reason": "Duplicate order", "refund": ""},
    )
    assert posted.status_code == 303
    client, headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)
    response = client.post(
        f"/api/v1/console/orders/{api_order}/cancel",
        json={"reason": "Partial work", "refund_minor": 0},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    return admin, client, headers, web_order, api_order


def _entries(html: str) -> list[str]:
    import re

    return re.findall(r'data-testid="audit-entry" data-action="([^"]+)" data-target="([^"]+)"', html)


def test_each_console_action_is_on_the_page_with_actor_time_target_and_change(
    acme, shop, in_tenant, web_as, api_as
):
    s = shop(acme)
    admin, _client, _headers, web_order, api_order = _refund_through_web_and_api(
        acme, s, in_tenant, web_as, api_as
    )
    with in_tenant(acme):
        assert audit_rows() == [
            ("order.refund", "order", str(web_order), s.admin_id, "web"),
            ("order.cancel", "order", str(api_order), s.admin_id, "api"),
        ]
    response = admin.get("/console/audit-log")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _entries(html) == [("order.cancel", f"order:{api_order}"), ("order.refund", f"order:{web_order}")]
    assert "admin@acme.test" in html and "via web" in html and "via api" in html
    assert "<del>in_progress</del> → <ins>cancelled</ins>" in html  # the change, readable
    assert "Duplicate order" in html and "full refund" in html
    assert f'href="/console/orders/{web_order}"' in html
    # moderators read the log too, without the export buttons
    moderator_page = web_as(acme, s.moderator_email).get("/console/audit-log").get_data(as_text=True)
    assert len(_entries(moderator_page)) == 2 and 'data-testid="export-audit"' not in moderator_page


def test_audit_log_filters_on_the_page(acme, shop, in_tenant, web_as, api_as):
    s = shop(acme)
    admin, *_rest, web_order, api_order = _refund_through_web_and_api(acme, s, in_tenant, web_as, api_as)
    with in_tenant(acme):
        moderator = db.session.get(User, s.moderator_id)
        audit.record_audit(
            moderator,
            "user.suspend",
            "user",
            s.buyer2_id,
            "Suspended Beth: spam",
            {"status": ["active", "suspended"]},
        )
        old = audit.record_audit(
            None,
            "settings.update",
            "settings",
            None,
            "Commission 10% -> 12%",
            {"commission_bps": [1000, 1200]},
        )
        db.session.flush()
        old.created_at = datetime.now(UTC) - timedelta(days=40)
        db.session.commit()

    def actions(query):
        response = admin.get(f"/console/audit-log?{query}")
        assert response.status_code == 200, (query, response.get_data(as_text=True)[:500])
        return [action for action, _target in _entries(response.get_data(as_text=True))]

    assert actions("") == ["user.suspend", "order.cancel", "order.refund", "settings.update"]
    assert actions("action=order") == ["order.cancel", "order.refund"]
    assert actions("action=order.refund") == ["order.refund"]
    assert actions(f"actor_id={s.moderator_id}") == ["user.suspend"]
    assert actions(f"target_type=order&target_id={api_order}") == ["order.cancel"]
    assert actions("q=spam") == ["user.suspend"]
    assert actions("q=DUPLICATE") == ["order.refund"]  # case-insensitive, in the summary
    assert actions("q=100%25") == []  # a literal %, not a wildcard
    recent_from = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    assert actions(f"from={recent_from}") == ["user.suspend", "order.cancel", "order.refund"]
    old_to = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    assert actions(f"to={old_to}") == ["settings.update"]
    page = admin.get("/console/audit-log").get_data(as_text=True)
    assert f'<option value="{s.moderator_id}">' in page  # the operator filter lists who acted
    assert "<del>1000</del> → <ins>1200</ins>" in page and "system" in page


def test_bad_filters_are_refused_on_the_form(acme, shop, web_as):
    s = shop(acme)
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    for query, message in (
        ("from=2024-05-02&to=2024-05-01", "on or after the first day"),
        ("from=31.12.2024", "must be a date like"),
        ("action=DROP TABLE", "An action looks like"),
        ("actor_id=abc", "Choose an operator"),
        ("q=" + "x" * 101, "at most 100 characters"),
        ("target_id=" + "9" * 65, "at most 64 characters"),
    ):
        response = admin.get(f"/console/audit-log?{query}")
        assert response.status_code == 422, query
        html = response.get_data(as_text=True)
        assert message in html, query
        assert 'data-testid="audit-entry"' not in html


def test_audit_log_api_with_filters_and_pagination(acme, shop, in_tenant, web_as, api_as):
    s = shop(acme)
    _admin, client, headers, web_order, api_order = _refund_through_web_and_api(
        acme, s, in_tenant, web_as, api_as
    )
    response = client.get("/api/v1/console/audit-log?page_size=1", headers=headers)
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    (entry,) = response.json
    assert entry["action"] == "order.cancel" and entry["target_id"] == str(api_order)
    assert entry["actor_id"] == s.admin_id and entry["actor_label"].endswith("<admin@acme.test>")
    assert entry["via"] == "api" and entry["changes"]["status"] == ["delivered", "cancelled"]
    assert entry["changes"]["refund_minor"] == 0 and entry["changes"]["released_to_seller_minor"] == 12000
    refund = client.get("/api/v1/console/audit-log?action=order.refund", headers=headers).json
    assert [e["target_id"] for e in refund] == [str(web_order)]
    assert (
        client.get(f"/api/v1/console/audit-log?actor_id={s.admin_id}&q=duplicate", headers=headers).json[0][
            "action"
        ]
        == "order.refund"
    )
    today = datetime.now(UTC).date().isoformat()
    assert len(client.get(f"/api/v1/console/audit-log?from={today}&to={today}", headers=headers).json) == 2
    for query, field in (
        ("actor_id=abc", "actor_id"),
        ("actor_id=0", "actor_id"),
        ("from=2024-05-02&to=2024-05-01", "to"),
        ("to=someday", "to"),
        ("action=Bad Action", "action"),
    ):
        refused = client.get(f"/api/v1/console/audit-log?{query}", headers=headers)
        assert refused.status_code == 422, query
        assert field in refused.json["errors"]["query"], (query, refused.json)
    moderator, mod_headers = api_as(acme, s.moderator_email)
    assert len(moderator.get("/api/v1/console/audit-log", headers=mod_headers).json) == 2


def test_a_refused_action_writes_no_entry_and_the_entry_goes_with_a_rollback(acme, shop, in_tenant):
    s = shop(acme)
    with in_tenant(acme):
        oid = drive(s, "completed")
        admin = db.session.get(User, s.admin_id)
        with pytest.raises(order_services.OrderStateError):
            orders.cancel_order(admin, oid, None, "Too late")
        db.session.rollback()
        assert audit_rows() == []
        open_order = drive(s, "in_progress")
        orders.cancel_order(admin, open_order, None, "Changed my mind")
        assert [row[0] for row in audit_rows()] == ["order.refund"]  # pending in this transaction
        db.session.rollback()
        assert audit_rows() == []
        assert db.session.get(order_services.Order, open_order).status == "in_progress"


def test_each_tenant_has_its_own_audit_log(acme, globex, shop, in_tenant, web_as, api_as, tenant_client):
    s = shop(acme)
    g = shop(globex)
    _refund_through_web_and_api(acme, s, in_tenant, web_as, api_as)
    with in_tenant(globex):
        oid = drive(g, "in_progress")
        orders.cancel_order(db.session.get(User, g.admin_id), oid, None, "Globex refund")
        db.session.commit()
        assert [row[:3] for row in audit_rows()] == [("order.refund", "order", str(oid))]
    globex_admin = web_as(globex, g.admin_email, ADMIN_PASSWORD)
    html = globex_admin.get("/console/audit-log").get_data(as_text=True)
    assert len(_entries(html)) == 1 and "Globex refund" in html and "Duplicate order" not in html
    # the same entry id exists in both schemas; each host reads its own
    with in_tenant(acme):
        acme_first = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).first()
    with in_tenant(globex):
        globex_first = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).first()
    assert acme_first.id == globex_first.id and acme_first.summary != globex_first.summary
    g_client, g_headers = api_as(globex, g.admin_email, ADMIN_PASSWORD)
    entries = g_client.get("/api/v1/console/audit-log", headers=g_headers).json
    assert [e["summary"] for e in entries] == [globex_first.summary]
    _c, a_headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)
    assert tenant_client("globex").get("/api/v1/console/audit-log", headers=a_headers).status_code == 401


def test_describe_changes_reads_pairs_as_changes_and_the_rest_as_details():
    assert audit.describe_changes({"status": ["a", "b"], "reason": "x", "filters": {"q": "y"}}) == [
        ("status", "a", "b", True),
        ("reason", None, "x", False),
        ("filters", None, {"q": "y"}, False),
    ]
    assert audit.describe_changes(None) == []
