"""Issue 12, findings 6 and 7: input the database would refuse gets a 4xx (JSON under /api/,
a form message on the web) and stores nothing; a streamed CSV export refuses before it starts.

Each case answered 500 (or a cut-off 200) before the edge guards (app/core/schema.py,
app/core/forms.py, app/core/converters.py, app/core/api.py).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import admin_web, bearer, csrf_token


def _users(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count(User.id)))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders?page=99999999999999999999",
        "/api/v1/notifications?page=10001",
        "/api/v1/console/audit-log?actor_id=3000000000",
        "/api/v1/console/users?q=a%00b",
        "/api/v1/gigs?q=logo%00",
        "/api/v1/search/facets?min_price=99999999999999999999",
    ],
)
def test_query_values_beyond_the_columns_are_a_422_in_the_json_shape(tenant_client, acme, path):
    client, headers = bearer(tenant_client, acme)
    response = client.get(path, headers=headers)
    assert response.status_code == 422, (path, response.status_code, response.get_data(as_text=True)[:300])
    assert response.json["code"] == 422 and response.json["errors"]


@pytest.mark.parametrize("path", ["/api/v1/orders/99999999999", "/api/v1/gigs/9223372036854775808"])
def test_a_path_id_beyond_integer_is_a_404(tenant_client, acme, path):
    client, headers = bearer(tenant_client, acme)
    response = client.get(path, headers=headers)
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("post", "/api/v1/conversations", {"user_id": 100000000000000, "body": "hi"}, "user_id"),
        ("put", "/api/v1/console/categories/order", {"ids": [9223372036854775808]}, "ids"),
        ("post", "/api/v1/gigs", {"title": "I will design a logo\u0000"}, "title"),
    ],
)
def test_json_bodies_beyond_the_columns_are_refused_with_the_field_named(
    tenant_client, acme, method, path, body, field
):
    client, headers = bearer(tenant_client, acme)
    response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert field in response.json["errors"]["json"]


def test_nul_in_an_api_signup_email_stores_nobody(tenant_client, acme, in_tenant):
    before = _users(in_tenant, acme)
    response = tenant_client("acme").post(
        "/api/v1/users",
        json={"email": "eve\u0000@example.com", "password": "correct-horse-battery", "display_name": "Eve"},
    )
    assert response.status_code == 422 and "email" in response.json["errors"]["json"]
    assert _users(in_tenant, acme) == before


def test_nul_in_a_web_signup_is_a_message_on_the_form_and_stores_nobody(tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    before = _users(in_tenant, acme)
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client, "/signup"),
            "email": "eve@example.com",
            "display_name": "Eve\u0000",
            "password": "correct-horse-battery",
            "confirm": "correct-horse-battery",
        },
    )
    assert response.status_code in (200, 422)
    assert "Remove the control characters" in response.get_data(as_text=True)
    assert _users(in_tenant, acme) == before


@pytest.mark.parametrize(
    "path", ["/search?q=logo%00", "/console/users?q=a%00b", "/search?page=99999999999999999999"]
)
def test_web_pages_never_answer_500_for_such_query_strings(tenant_client, acme, path):
    client = admin_web(tenant_client, acme)
    response = client.get(path)
    assert response.status_code < 500, (path, response.status_code)


def test_a_csv_export_with_a_bad_filter_is_refused_before_streaming(tenant_client, acme):
    client = admin_web(tenant_client, acme)
    response = client.get("/console/exports/audit-log.csv?actor_id=3000000000")
    assert response.status_code == 422
    assert response.mimetype == "text/html"  # the page with its form error, not a cut-off CSV
    assert ADMIN_PASSWORD not in response.get_data(as_text=True)
