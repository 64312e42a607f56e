"""Registering endpoints: bad URLs (incl. SSRF in production mode), unknown event types, the
limit, who may; nothing is stored after a refusal. And re-enabling an endpoint."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.webhooks import services, urls
from app.webhooks.errors import WebhookError, WebhookForbidden, WebhookLimit
from app.webhooks.models import ENDPOINTS_PER_TENANT, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tenants.db import db
from tests.webhooks.conftest import admin_of


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint))


def _refused(tenant, in_tenant, field, **kwargs) -> str:
    kwargs.setdefault("url", "https://hooks.example.com/in")
    kwargs.setdefault("event_types", ["order.paid"])
    with in_tenant(tenant):
        with pytest.raises(WebhookError) as refused:
            services.create_endpoint(admin_of(tenant), **kwargs)
        db.session.rollback()
        assert _count() == 0
        assert field in refused.value.errors, refused.value.errors
        return refused.value.errors[field]


@pytest.fixture
def production(app, monkeypatch):
    """Production's rules: https only, no private or reserved destinations."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_HTTP", False)
    monkeypatch.setitem(app.config, "WEBHOOK_BLOCK_PRIVATE", True)


@pytest.fixture
def dns(monkeypatch):
    """``dns["name"] = "1.2.3.4"``: what socket.getaddrinfo answers for a name (the internet's DNS
    is not the tests'); unknown names don't resolve."""
    table: dict[str, str | None] = {"nowhere.example.com": None}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            return real(host, port, *args, **kwargs)  # our database and Redis
        if table[host] is None:
            raise socket.gaierror("unknown")
        family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (table[host], port))]

    monkeypatch.setattr(urls.socket, "getaddrinfo", getaddrinfo)
    return table


def test_an_admin_registers_an_endpoint_and_gets_its_secret_once(acme, in_tenant):
    with in_tenant(acme):
        endpoint, secret = services.create_endpoint(
            admin_of(acme), url=" https://hooks.example.com/in ", event_types=["order.paid", "order.placed"]
        )
        db.session.commit()
        assert endpoint.url == "https://hooks.example.com/in"
        assert endpoint.event_types == ["order.placed", "order.paid"]  # catalogue order
        assert secret.startswith("whsec_") and secret not in endpoint.secret_enc
        assert services.reveal_secret(admin_of(acme), endpoint.id) == secret


@pytest.mark.parametrize(
    "url",
    [
        "",
        None,
        42,
        "not a url",
        "hooks.example.com/in",
        "/relative/path",
        "ftp://hooks.example.com/in",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "https://user:pw@hooks.example.com/in",
        "https://hooks.example.com:99999/in",
        "https://hooks.example.com/in with space",
        "https://hooks.example.com/" + "a" * 2048,
        "http://hooks.example.com/in",  # http only to localhost
    ],
)
def test_bad_urls_are_refused_and_nothing_is_stored(acme, in_tenant, url):
    assert _refused(acme, in_tenant, "url", url=url)


def test_http_to_localhost_is_allowed_in_development_and_tests(acme, in_tenant):
    with in_tenant(acme):
        for url in ("http://localhost:8000/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook"):
            services.create_endpoint(admin_of(acme), url=url, event_types=["*"])
        assert _count() == 3


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",  # the clouds' metadata service
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://240.0.0.1/hook",
        "http://localhost/hook",
        "https://localhost/hook",
        "https://internal.example.com/hook",  # resolves to a private address
        "https://nowhere.example.com/hook",  # does not resolve
    ],
)
def test_private_and_reserved_destinations_are_refused_in_production(acme, in_tenant, production, dns, url):
    dns["localhost"] = "127.0.0.1"
    dns["internal.example.com"] = "10.1.2.3"
    assert _refused(acme, in_tenant, "url", url=url)


def test_a_public_destination_is_accepted_in_production(acme, in_tenant, production, dns):
    dns["hooks.example.com"] = "93.184.216.34"
    with in_tenant(acme):
        services.create_endpoint(admin_of(acme), url="https://hooks.example.com/in", event_types=["*"])
        services.create_endpoint(admin_of(acme), url="https://8.8.8.8/in", event_types=["*"])
        assert _count() == 2


@pytest.mark.parametrize(
    "types", [["order.payed"], ["order.paid", "nope"], [], None, "", [1], ["calendar.reminder"], "ping"]
)
def test_unknown_event_types_are_refused_and_nothing_is_stored(acme, in_tenant, types):
    assert _refused(acme, in_tenant, "event_types", event_types=types)


def test_every_field_error_comes_at_once(acme, in_tenant):
    with in_tenant(acme):
        with pytest.raises(WebhookError) as refused:
            services.create_endpoint(admin_of(acme), url="nope", event_types=["nope"], description="x" * 501)
        assert set(refused.value.errors) == {"url", "event_types", "description"}


def test_star_subscribes_to_everything(acme, in_tenant):
    with in_tenant(acme):
        endpoint, _ = services.create_endpoint(
            admin_of(acme), url="https://h.example.com/x", event_types=["order.paid", "*"]
        )
        assert endpoint.event_types == ["*"]


def test_members_and_moderators_may_not_manage_webhooks(acme, in_tenant, make_user):
    member = make_user(acme)
    moderator = make_user(acme, role="moderator")
    with in_tenant(acme):
        for user_id in (member, moderator):
            with pytest.raises(WebhookForbidden):
                services.create_endpoint(
                    db.session.get(User, user_id), url="https://h.example.com/x", event_types=["*"]
                )


def test_a_marketplace_has_at_most_so_many_endpoints(acme, in_tenant):
    with in_tenant(acme):
        for n in range(ENDPOINTS_PER_TENANT):
            services.create_endpoint(admin_of(acme), url=f"https://h.example.com/{n}", event_types=["*"])
        with pytest.raises(WebhookLimit):
            services.create_endpoint(admin_of(acme), url="https://h.example.com/x", event_types=["*"])


def test_an_update_with_a_stale_version_is_refused(acme, in_tenant, make_endpoint):
    from app.core.domain_errors import PreconditionFailed

    endpoint_id, _ = make_endpoint(acme, "https://h.example.com/x")
    with in_tenant(acme):
        endpoint = services.update_endpoint(
            admin_of(acme), endpoint_id, description="Orders", expected_version=1
        )
        assert endpoint.version == 2
        with pytest.raises(PreconditionFailed):
            services.update_endpoint(admin_of(acme), endpoint_id, description="Again", expected_version=1)
        with pytest.raises(WebhookError) as refused:
            services.update_endpoint(admin_of(acme), endpoint_id, url="ftp://x", event_types=["nope"])
        assert set(refused.value.errors) == {"url", "event_types"}


def test_re_enabling_clears_the_failure_state_and_makes_pending_deliveries_due(
    acme, in_tenant, make_endpoint
):
    endpoint_id, _ = make_endpoint(acme, "https://h.example.com/x")
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    with in_tenant(acme):
        endpoint = services.get_endpoint(endpoint_id)
        endpoint.status, endpoint.disabled_reason = "disabled", "failing"
        endpoint.failing_since, endpoint.consecutive_failures = t0, 9
        endpoint.blocked_until = t0 + timedelta(hours=12)
        event = WebhookEvent(type="order.paid", object_key="order:1", body={})
        db.session.add(event)
        db.session.flush()
        db.session.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event.id,
                object_key="order:1",
                next_attempt_at=t0 + timedelta(days=1),
            )
        )
        db.session.commit()
        later = t0 + timedelta(days=5)
        services.update_endpoint(admin_of(acme), endpoint_id, enabled=True, now=later)
        db.session.commit()
        endpoint = services.get_endpoint(endpoint_id)
        assert (endpoint.status, endpoint.disabled_reason, endpoint.blocked_until) == ("enabled", None, None)
        assert (endpoint.failing_since, endpoint.consecutive_failures) == (None, 0)
        assert db.session.scalar(sa.select(WebhookDelivery.next_attempt_at)) == later
