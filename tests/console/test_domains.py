"""Console domains (issue 7): add a custom domain, publish its DNS record, verify it, make it
primary, remove it; on the web and the API, audited, refused cleanly, per marketplace."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from tenants.db import db
from tenants.models import TenantDomain
from tests.console.conftest import PASSWORD, admin_web, bearer, csrf_token, login
from tests.gigs.conftest import png


@pytest.fixture
def dns_records(app, monkeypatch):
    """The TXT records the (static) verifier sees: DNS itself is outside the test."""
    records: dict[str, list[str]] = {}
    monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", "tenants.domains.StaticTxtVerifier")
    monkeypatch.setitem(app.config, "DOMAIN_VERIFIER_RECORDS", records)
    return records


@pytest.fixture(autouse=True)
def _default_hosts_stay_primary(app):
    """The suite's cleanup keeps primary domains only: give the default hosts their role back."""
    yield
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE public.tenant_domains d SET is_primary = (d.hostname = t.slug || '.' || :base) "
                "FROM public.tenants t WHERE t.id = d.tenant_id"
            ),
            {"base": app.config["BASE_DOMAIN"]},
        )


def domain_rows(app) -> list[tuple]:
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(
                    TenantDomain.tenant_id,
                    TenantDomain.hostname,
                    TenantDomain.status,
                    TenantDomain.is_primary,
                ).order_by(TenantDomain.id)
            )
        ]


def audit(in_tenant, tenant) -> list[tuple]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith("domain.")).order_by(AuditEntry.id)
        )
        return [(r.action, r.via, r.target_id, r.changes) for r in rows]


def test_web_add_verify_make_primary_and_remove_a_custom_domain(
    app, tenant_client, acme, in_tenant, dns_records, mailbox, run_jobs, make_user
):
    client = admin_web(tenant_client, acme)
    token = csrf_token(client, "/console/domains")
    response = client.post("/console/domains", data={"csrf_token": token, "hostname": "Shop.Acme-Market.com"})
    assert response.status_code == 302
    html = client.get("/console/domains").get_data(as_text=True)
    assert "shop.acme-market.com added" in html and "Pending DNS" in html
    value = re.search(r'data-testid="dns-value">(gigforge-verification=[0-9a-f]{32})<', html).group(1)
    assert "_gigforge.shop.acme-market.com" in html and "acme.localhost" in html  # TXT name and CNAME target
    domain_id = int(re.search(r"/console/domains/(\d+)/verify", html).group(1))
    # Pending: the hostname does not reach the marketplace yet.
    assert tenant_client("shop.acme-market.com").get("/").status_code == 404

    token = csrf_token(client, "/console/domains")
    client.post(f"/console/domains/{domain_id}/verify", data={"csrf_token": token})
    html = client.get("/console/domains").get_data(as_text=True)
    assert "not verified yet: No TXT record found at _gigforge.shop.acme-market.com" in html
    assert tenant_client("shop.acme-market.com").get("/").status_code == 404

    dns_records["_gigforge.shop.acme-market.com"] = [value]
    token = csrf_token(client, "/console/domains")
    client.post(f"/console/domains/{domain_id}/verify", data={"csrf_token": token})
    html = client.get("/console/domains").get_data(as_text=True)
    assert "is verified and now reaches your marketplace" in html and "Pending DNS" not in html
    assert "Acme Test Market" in tenant_client("shop.acme-market.com").get("/").get_data(as_text=True)

    token = csrf_token(client, "/console/domains")
    client.post(f"/console/domains/{domain_id}/primary", data={"csrf_token": token})
    assert domain_rows(app)[-1] == (acme.id, "shop.acme-market.com", "verified", True)
    # Emails now point at the primary domain (the logo's absolute URL is built from it).
    api, headers = bearer(tenant_client, acme)
    logo = api.put(
        "/api/v1/console/branding/logo",
        data={"file": (io.BytesIO(png((200, 60))), "logo.png")},
        headers=headers,
        content_type="multipart/form-data",
    ).json["logo_url"]
    make_user(acme, email="buyer@example.com")
    visitor = tenant_client("acme")
    visitor.post(
        "/password/forgot",
        data={"csrf_token": csrf_token(visitor, "/password/forgot"), "email": "buyer@example.com"},
    )
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert f'src="http://shop.acme-market.com{logo}"' in mailbox.html(message)

    token = csrf_token(client, "/console/domains")
    client.post(f"/console/domains/{domain_id}/remove", data={"csrf_token": token})
    assert tenant_client("shop.acme-market.com").get("/").status_code == 404
    assert [r for r in domain_rows(app) if r[0] == acme.id] == [(acme.id, "acme.localhost", "verified", True)]

    entries = audit(in_tenant, acme)
    assert [e[0] for e in entries] == [
        "domain.add",
        "domain.check_failed",
        "domain.verify",
        "domain.primary",
        "domain.remove",
    ]
    assert all(e[1] == "web" and e[2] == str(domain_id) for e in entries)
    assert entries[3][3] == {"primary": ["acme.localhost", "shop.acme-market.com"]}


def test_api_domain_lifecycle(app, tenant_client, acme, in_tenant, dns_records):
    client, headers = bearer(tenant_client, acme)
    listed = client.get("/api/v1/console/domains", headers=headers).json
    assert [(d["hostname"], d["is_default"], d["is_primary"], d["status"]) for d in listed] == [
        ("acme.localhost", True, True, "verified")
    ]

    created = client.post(
        "/api/v1/console/domains", json={"hostname": "shop.acme-market.com"}, headers=headers
    )
    assert created.status_code == 201
    body = created.json
    assert body["status"] == "pending" and body["is_primary"] is False and body["is_default"] is False
    assert (
        body["dns_record"]["type"] == "TXT" and body["dns_record"]["name"] == "_gigforge.shop.acme-market.com"
    )
    assert body["cname_target"] == "acme.localhost"
    domain_id = body["id"]
    assert (
        client.get(f"/api/v1/console/domains/{domain_id}", headers=headers).json["hostname"]
        == body["hostname"]
    )

    refused = client.post(f"/api/v1/console/domains/{domain_id}/primary", headers=headers)
    assert refused.status_code == 409 and "not verified yet" in refused.json["message"]

    checked = client.post(f"/api/v1/console/domains/{domain_id}/verify", headers=headers)
    assert checked.status_code == 200 and checked.json["status"] == "pending"
    assert checked.json["last_check_error"].startswith("No TXT record found")

    dns_records["_gigforge.shop.acme-market.com"] = [body["dns_record"]["value"]]
    checked = client.post(f"/api/v1/console/domains/{domain_id}/verify", headers=headers)
    assert checked.json["status"] == "verified" and checked.json["dns_record"] is None
    assert checked.json["verified_at"] is not None
    assert tenant_client("shop.acme-market.com").get("/api/v1/categories").status_code == 200

    primary = client.post(f"/api/v1/console/domains/{domain_id}/primary", headers=headers)
    assert primary.status_code == 200 and primary.json["is_primary"] is True
    payments = client.get("/api/v1/console/payments", headers=headers).json
    assert payments["webhook_url"] == "http://shop.acme-market.com/webhooks/stripe"

    default_id = next(
        d["id"] for d in client.get("/api/v1/console/domains", headers=headers).json if d["is_default"]
    )
    refused = client.delete(f"/api/v1/console/domains/{default_id}", headers=headers)
    assert refused.status_code == 409 and "cannot be removed" in refused.json["message"]

    assert client.delete(f"/api/v1/console/domains/{domain_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/console/domains/{domain_id}", headers=headers).status_code == 404
    assert client.get("/api/v1/console/domains", headers=headers).json[0]["is_primary"] is True
    assert [e[0] for e in audit(in_tenant, acme)] == [
        "domain.add",
        "domain.check_failed",
        "domain.verify",
        "domain.primary",
        "domain.remove",
    ]
    assert {e[1] for e in audit(in_tenant, acme)} == {"api"}


@pytest.mark.parametrize(
    ("hostname", "status", "message"),
    [
        ("not a host", 422, "only the hostname"),
        ("https://shop.acme-market.com/", 422, "only the hostname"),
        ("shop.acme-market.com:443", 422, "valid hostname"),
        ("shop_acme.com", 422, "valid hostname"),
        ("acme.localhost", 422, "belongs to the platform"),
        ("evil.globex.localhost", 422, "belongs to the platform"),
        ("127.0.0.1", 422, "valid hostname"),
        ("x" * 301, 422, "Longer than maximum length"),
        ("taken.example-shop.com", 409, "already used by another marketplace"),
        ("mine.acme-market.com", 409, "already one of this marketplace's domains"),
    ],
)
def test_bad_or_taken_domains_are_refused_and_nothing_changes(
    app, tenant_client, acme, globex, in_tenant, hostname, status, message
):
    g_client, g_headers = bearer(tenant_client, globex)
    assert (
        g_client.post(
            "/api/v1/console/domains", json={"hostname": "taken.example-shop.com"}, headers=g_headers
        ).status_code
        == 201
    )
    client, headers = bearer(tenant_client, acme)
    assert (
        client.post(
            "/api/v1/console/domains", json={"hostname": "mine.acme-market.com"}, headers=headers
        ).status_code
        == 201
    )
    before, audited = domain_rows(app), audit(in_tenant, acme)

    response = client.post("/api/v1/console/domains", json={"hostname": hostname}, headers=headers)
    assert response.status_code == status, response.json
    assert message in str(response.json["errors"]["json"]["hostname"])
    assert domain_rows(app) == before and audit(in_tenant, acme) == audited

    if len(hostname) < 253:
        web = admin_web(tenant_client, acme)
        response = web.post(
            "/console/domains", data={"csrf_token": csrf_token(web, "/console/domains"), "hostname": hostname}
        )
        assert response.status_code == status
        assert 'id="hostname-error"' in response.get_data(as_text=True)
        assert domain_rows(app) == before and audit(in_tenant, acme) == audited


def test_moderators_cannot_see_or_change_domains(app, tenant_client, acme, make_user):
    make_user(acme, email="mod@acme.test", role="moderator")
    web = tenant_client("acme")
    login(web, "mod@acme.test", PASSWORD)
    assert web.get("/console/domains").status_code == 403
    token = csrf_token(web, "/account")
    assert (
        web.post(
            "/console/domains", data={"csrf_token": token, "hostname": "shop.acme-market.com"}
        ).status_code
        == 403
    )
    client, headers = bearer(tenant_client, acme, "mod@acme.test", PASSWORD)
    assert client.get("/api/v1/console/domains", headers=headers).status_code == 403
    assert (
        client.post(
            "/api/v1/console/domains", json={"hostname": "shop.acme-market.com"}, headers=headers
        ).status_code
        == 403
    )
    before = domain_rows(app)
    assert client.delete("/api/v1/console/domains/1", headers=headers).status_code == 403
    assert domain_rows(app) == before and len(before) == 2


def test_an_operator_of_acme_cannot_see_or_touch_globex_domains(
    app, tenant_client, acme, globex, in_tenant, dns_records
):
    g_client, g_headers = bearer(tenant_client, globex)
    g_domain = g_client.post(
        "/api/v1/console/domains", json={"hostname": "shop.globex-market.com"}, headers=g_headers
    ).json
    dns_records["_gigforge.shop.globex-market.com"] = [g_domain["dns_record"]["value"]]
    before = domain_rows(app)

    client, headers = bearer(tenant_client, acme)
    hostnames = [d["hostname"] for d in client.get("/api/v1/console/domains", headers=headers).json]
    assert hostnames == ["acme.localhost"]
    globex_default = next(r for r in domain_rows(app) if r[1] == "globex.localhost")
    with app.app_context():
        globex_default_id = db.session.scalar(
            sa.select(TenantDomain.id).where(TenantDomain.hostname == globex_default[1])
        )
    for domain_id in (g_domain["id"], globex_default_id):
        assert client.get(f"/api/v1/console/domains/{domain_id}", headers=headers).status_code == 404
        assert client.post(f"/api/v1/console/domains/{domain_id}/verify", headers=headers).status_code == 404
        assert client.post(f"/api/v1/console/domains/{domain_id}/primary", headers=headers).status_code == 404
        assert client.delete(f"/api/v1/console/domains/{domain_id}", headers=headers).status_code == 404
    web = admin_web(tenant_client, acme)
    for step in ("verify", "primary", "remove"):
        token = csrf_token(web, "/console/domains")
        assert (
            web.post(f"/console/domains/{g_domain['id']}/{step}", data={"csrf_token": token}).status_code
            == 404
        )
    assert "shop.globex-market.com" not in web.get("/console/domains").get_data(as_text=True)
    assert domain_rows(app) == before
    assert audit(in_tenant, acme) == []
