"""CSV exports of users, orders and the audit log (web and API): admins only, streamed, safe to
open in a spreadsheet, honouring the list filters, audited, and never crossing tenants."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from app.accounts.models import User
from app.console.operations import exports, orders
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, STANDARD, audit_rows, drive


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_users_csv_lists_every_user_and_defuses_formulas(acme, shop, make_user, in_tenant, web_as):
    s = shop(acme)
    evil = make_user(acme, email="evil@acme.test", display_name='=HYPERLINK("http://x","click")')
    with in_tenant(acme):
        db.session.get(User, s.buyer2_id).status = "suspended"
        db.session.commit()
        expected = set(db.session.scalars(sa.select(User.email)))
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    response = admin.get("/console/exports/users.csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="acme-users-')
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv(response)
    assert {r["email"] for r in rows} == expected
    assert list(rows[0]) == list(exports.USER_CSV_HEADER)
    by_email = {r["email"]: r for r in rows}
    assert by_email["evil@acme.test"]["display_name"].startswith("'=HYPERLINK")
    assert by_email["evil@acme.test"]["id"] == str(evil)
    assert by_email["seller@acme.test"]["seller"] == "yes" and by_email["buyer@acme.test"]["seller"] == "no"
    assert by_email["buyer2@acme.test"]["status"] == "suspended"
    assert by_email["admin@acme.test"]["role"] == "admin" and by_email["mod@acme.test"]["role"] == "moderator"
    with in_tenant(acme):
        assert audit_rows() == [("export.users", "export", "users", s.admin_id, "web")]


def test_orders_csv_honours_the_filters(acme, shop, in_tenant, web_as, api_as):
    s = shop(acme)
    with in_tenant(acme):
        done = drive(s, "completed", tier="standard")
        working = drive(s, "in_progress")
        orders.cancel_order(db.session.get(User, s.admin_id), working, 1500, "Partly")
        db.session.commit()
        unpaid = drive(s, "awaiting_payment", buyer_id=s.buyer2_id)
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    rows = _csv(admin.get("/console/exports/orders.csv"))
    assert [int(r["id"]) for r in rows] == [done, working, unpaid]
    first = rows[0]
    assert (first["number"], first["status"], first["total_minor"], first["total"]) == (
        f"#{done}",
        "completed",
        str(STANDARD),
        "120.00",
    )
    assert first["buyer_email"] == "buyer@acme.test" and first["seller_email"] == "seller@acme.test"
    assert first["paid_at"] and first["completed_at"] and not first["cancelled_at"]
    assert rows[1]["refunded_minor"] == "1500" and rows[1]["status"] == "cancelled"
    assert [r["id"] for r in _csv(admin.get("/console/exports/orders.csv?status=cancelled"))] == [
        str(working)
    ]
    assert [r["id"] for r in _csv(admin.get("/console/exports/orders.csv?q=buyer2"))] == [str(unpaid)]
    # the list page links its filters to the export
    page = admin.get("/console/orders?status=completed").get_data(as_text=True)
    assert 'href="/console/exports/orders.csv?status=completed"' in page
    bad = admin.get("/console/exports/orders.csv?status=lost")
    assert bad.status_code == 422 and "Unknown status" in bad.get_data(as_text=True)

    client, headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)
    api_rows = _csv(client.get("/api/v1/console/exports/orders.csv?status=completed", headers=headers))
    assert [r["id"] for r in api_rows] == [str(done)]
    refused = client.get("/api/v1/console/exports/orders.csv?from=2024-13-01", headers=headers)
    assert refused.status_code == 422 and "from" in refused.json["errors"]["query"]
    with in_tenant(acme):
        exported = [row for row in audit_rows() if row[0] == "export.orders"]
        # the refused ones are not exports
        assert [row[4] for row in exported] == ["web", "web", "web", "api"]
        from app.console.models import AuditEntry

        filtered = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "export.orders").order_by(AuditEntry.id)
        ).all()
        assert filtered[1].changes == {"filters": {"status": "cancelled"}}


def test_audit_log_csv(acme, shop, in_tenant, web_as, api_as):
    s = shop(acme)
    with in_tenant(acme):
        oid = drive(s, "in_progress")
        orders.cancel_order(db.session.get(User, s.admin_id), oid, None, "Refund from a script")
        db.session.commit()
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    rows = _csv(admin.get("/console/exports/audit-log.csv?action=order"))
    assert [r["action"] for r in rows] == ["order.refund"]
    (row,) = rows
    assert row["target_type"] == "order" and row["target_id"] == str(oid)
    assert row["via"] == "cli"  # called outside a request, as a script would
    assert "admin@acme.test" in row["actor_label"]
    import json

    assert json.loads(row["changes"])["status"] == ["in_progress", "cancelled"]
    all_rows = _csv(admin.get("/console/exports/audit-log.csv"))
    # the export is itself in the log (written before the rows are read)
    assert [r["action"] for r in all_rows] == ["export.audit_log", "export.audit_log", "order.refund"]
    client, headers = api_as(acme, s.admin_email, ADMIN_PASSWORD)
    api_rows = _csv(client.get("/api/v1/console/exports/audit-log.csv?action=order.refund", headers=headers))
    assert [r["target_id"] for r in api_rows] == [str(oid)]
    assert client.get("/api/v1/console/exports/audit-log.csv?actor_id=x", headers=headers).status_code == 422


def test_exports_are_for_admins_only(acme, shop, web_as, api_as, in_tenant, tenant_client):
    s = shop(acme)
    paths = ("users.csv", "orders.csv", "audit-log.csv")
    for email in (s.moderator_email, s.buyer_email, s.seller_email):
        client = web_as(acme, email)
        api_client, headers = api_as(acme, email)
        for path in paths:
            assert client.get(f"/console/exports/{path}").status_code == 403, (email, path)
            assert api_client.get(f"/api/v1/console/exports/{path}", headers=headers).status_code == 403
    anonymous = tenant_client("acme")
    for path in paths:
        assert anonymous.get(f"/console/exports/{path}").status_code == 302
        assert anonymous.get(f"/api/v1/console/exports/{path}").status_code == 401
    with in_tenant(acme):
        assert audit_rows() == []
    moderator_page = web_as(acme, s.moderator_email).get("/console/orders").get_data(as_text=True)
    assert 'data-testid="export-orders"' not in moderator_page


def test_exports_never_cross_tenants(acme, globex, shop, in_tenant, web_as, api_as, tenant_client):
    a, g = shop(acme), shop(globex)
    with in_tenant(acme):
        drive(a, "completed")
    with in_tenant(globex):
        drive(g, "in_progress")
    acme_admin = web_as(acme, a.admin_email, ADMIN_PASSWORD)
    users = _csv(acme_admin.get("/console/exports/users.csv"))
    order_rows = _csv(acme_admin.get("/console/exports/orders.csv"))
    assert all(r["email"].endswith("@acme.test") for r in users)
    assert [r["buyer_email"] for r in order_rows] == ["buyer@acme.test"]
    assert order_rows[0]["status"] == "completed"
    globex_admin = web_as(globex, g.admin_email, ADMIN_PASSWORD)
    globex_orders = _csv(globex_admin.get("/console/exports/orders.csv"))
    assert [r["buyer_email"] for r in globex_orders] == ["buyer@globex.test"]
    assert order_rows[0]["id"] == globex_orders[0]["id"]  # equal ids, each tenant its own row
    _client, headers = api_as(acme, a.admin_email, ADMIN_PASSWORD)
    assert (
        tenant_client("globex").get("/api/v1/console/exports/users.csv", headers=headers).status_code == 401
    )
    with in_tenant(globex):
        assert [row[0] for row in audit_rows()] == ["export.orders"]


def test_export_rows_come_in_batches_without_gaps_or_repeats(acme, make_user, in_tenant):
    ids = [make_user(acme, email=f"bulk{i}@acme.test") for i in range(7)]
    with in_tenant(acme):
        exported = [row[0] for row in exports.user_csv_rows(batch=3)]
        assert exported == sorted(exported) and len(set(exported)) == len(exported)
        assert set(ids) <= set(exported)
        assert len(exported) == db.session.scalar(sa.select(sa.func.count()).select_from(User))
