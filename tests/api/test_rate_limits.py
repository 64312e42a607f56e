"""Rate limits of the API (per credential and per IP, by the tenant's plan) and of messages.

Each test sets small limits itself (the suite's config keeps them out of the way) and spends
them; counters live in the suite's Redis database, flushed between tests. No sleeping: every
assertion is about budgets spent within one window.
"""

from __future__ import annotations

import pytest

from app.accounts import tokens
from app.accounts.models import User
from app.messaging.models import Message
from app.platform import services as platform_services
from tenants.db import db
from tenants.models import TENANT_PLANS
from tenants.resolver import get_tenant_by_slug
from tests.helpers import csrf_token, login, statements_of

LIMIT_NAMES = ("credential_read", "credential_write", "ip_read", "ip_write")
ME = "/api/v1/me"
GIGS = "/api/v1/gigs"


@pytest.fixture
def limits(app, monkeypatch):
    """``limits(standard={"credential_read": "3/minute"}, scale={...})``: every other API limit
    generous; ``limits(messages="2/minute")`` for the message budget."""

    def apply(messages: str | None = None, **plans: dict[str, str]) -> None:
        table = {plan: dict.fromkeys(LIMIT_NAMES, "1000/minute") for plan in TENANT_PLANS}
        for plan, values in plans.items():
            table[plan].update(values)
        monkeypatch.setitem(app.config, "RATELIMIT_API_PLANS", table)
        if messages is not None:
            monkeypatch.setitem(app.config, "RATELIMIT_MESSAGES", messages)

    return apply


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def from_ip(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def headers_of(response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["RateLimit-Limit"]), int(h["RateLimit-Remaining"]), int(h["RateLimit-Reset"])


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert body["errors"]["code"] == "rate_limited" and body["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Remaining"] == "0"


def test_headers_count_down_then_429_in_the_json_error_shape(
    acme, make_user, access_token, tenant_client, limits
):
    limits(standard={"credential_read": "3/minute"})
    client = tenant_client("acme")
    auth = bearer(access_token(acme, make_user(acme)))
    seen = []
    for _ in range(3):
        response = client.get(ME, headers=auth)
        assert response.status_code == 200
        seen.append(headers_of(response))
    assert [(limit, remaining) for limit, remaining, _ in seen] == [(3, 2), (3, 1), (3, 0)]
    assert all(1 <= reset <= 60 for _, _, reset in seen)  # seconds until the window resets, not a date
    refused = client.get(ME, headers=auth)
    assert_rate_limited(refused)
    assert int(refused.headers["Retry-After"]) == int(refused.headers["RateLimit-Reset"])


def test_reads_and_writes_have_budgets_of_their_own(acme, make_user, access_token, tenant_client, limits):
    limits(standard={"credential_write": "1/minute"})
    client = tenant_client("acme")
    auth = bearer(access_token(acme, make_user(acme)))
    first = client.post(GIGS, json={}, headers=auth)  # refused by the view (422) but counted
    assert first.status_code == 422 and headers_of(first)[:2] == (1, 0)
    assert_rate_limited(client.post(GIGS, json={}, headers=auth))
    read = client.get(ME, headers=auth)
    assert read.status_code == 200 and headers_of(read)[0] == 1000


def test_a_token_family_shares_one_budget_other_users_have_their_own(
    acme, make_user, tenant_client, in_tenant, access_token, limits
):
    limits(standard={"credential_read": "2/minute"})
    client = tenant_client("acme")
    alice = make_user(acme)
    with in_tenant(acme):
        pair = tokens.issue_token_pair(db.session.get(User, alice))
        db.session.commit()
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 200
    with in_tenant(acme):
        renewed = tokens.refresh(pair["refresh_token"])  # same family
        db.session.commit()
    assert client.get(ME, headers=bearer(renewed["access_token"])).status_code == 200
    assert_rate_limited(client.get(ME, headers=bearer(renewed["access_token"])))
    # A second login of the same person is another family; another person has their own budget.
    assert client.get(ME, headers=bearer(access_token(acme, alice))).status_code == 200
    assert client.get(ME, headers=bearer(access_token(acme, make_user(acme)))).status_code == 200


def test_one_ip_has_one_budget_across_credentials(acme, make_user, access_token, tenant_client, limits):
    limits(standard={"ip_read": "2/minute"})
    client = tenant_client("acme")
    assert client.get(GIGS, **from_ip("10.0.0.1")).status_code == 200
    assert (
        client.get(ME, headers=bearer(access_token(acme, make_user(acme))), **from_ip("10.0.0.1")).status_code
        == 200
    )
    assert_rate_limited(
        client.get(ME, headers=bearer(access_token(acme, make_user(acme))), **from_ip("10.0.0.1"))
    )
    assert client.get(GIGS, **from_ip("10.0.0.2")).status_code == 200


def test_anonymous_clients_are_counted_per_ip(acme, tenant_client, limits):
    limits(standard={"credential_read": "2/minute"})
    client = tenant_client("acme")
    for _ in range(2):
        assert client.get(GIGS, **from_ip("10.0.0.7")).status_code == 200
    assert_rate_limited(client.get(GIGS, **from_ip("10.0.0.7")))
    assert client.get(GIGS, **from_ip("10.0.0.8")).status_code == 200
    # An unknown bearer is no credential: it counts as its IP's anonymous client.
    assert_rate_limited(client.get(ME, headers=bearer("gfa_not-a-real-token"), **from_ip("10.0.0.7")))


def test_one_trip_budget_counts_on_the_same_windows_as_limits_and_stops_at_the_first_spent(
    app, acme, tenant_client, limits
):
    """The one-script spend (app.core.rate_limits._hit_budgets: the credential's budget then the
    IP's, one round trip) uses limits' fixed-window keys: limits' own strategy reads the same
    counts; a spent minute window leaves the hour window and the IP's budget untouched."""
    from app.core import rate_limits
    from app.extensions import limiter

    limits(standard={"credential_read": "2/minute;50/hour"})
    client = tenant_client("acme")
    for _ in range(2):
        assert client.get(GIGS, **from_ip("10.0.0.9")).status_code == 200
    assert_rate_limited(client.get(GIGS, **from_ip("10.0.0.9")))
    assert rate_limits._one_trip_storage(limiter.limiter) is not None
    minute, hour = rate_limits._limits("2/minute;50/hour")
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    key = f"t:{acme.id}:cred:anon:10.0.0.9"
    with app.app_context():
        assert limiter.limiter.get_window_stats(minute, prefix, key, "api-read").remaining == 0
        assert limiter.limiter.get_window_stats(hour, prefix, key, "api-read").remaining == 48
        (ip_minute,) = rate_limits._limits(app.config["RATELIMIT_API_PLANS"]["standard"]["ip_read"])
        ip_key = f"t:{acme.id}:ip:10.0.0.9"
        # Two requests counted on the IP; the third stopped at the credential's spent window.
        assert limiter.limiter.get_window_stats(ip_minute, prefix, ip_key, "api-read").remaining == (
            ip_minute.amount - 2
        )


def test_tenants_never_share_a_counter(acme, globex, make_user, access_token, tenant_client, limits):
    limits(standard={"credential_read": "1/minute", "ip_read": "1/minute"})
    on_acme, on_globex = make_user(acme), make_user(globex)
    assert on_acme == on_globex  # the same user id in both marketplaces
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    assert acme_client.get(ME, headers=bearer(access_token(acme, on_acme))).status_code == 200
    assert_rate_limited(acme_client.get(ME, headers=bearer(access_token(acme, on_acme))))
    # Same IP (the test client's), same user id: globex's budgets are untouched.
    response = globex_client.get(ME, headers=bearer(access_token(globex, on_globex)))
    assert response.status_code == 200 and headers_of(response)[:2] == (1, 0)


def test_a_bigger_plan_raises_the_limit_at_once(app, acme, make_user, access_token, tenant_client, limits):
    limits(standard={"credential_read": "2/minute"}, scale={"credential_read": "20/minute"})
    resolver = app.extensions["tenants"]
    resolver.ttl = 60  # a production-like resolution cache: the change must still apply at once
    try:
        client = tenant_client("acme")
        auth = bearer(access_token(acme, make_user(acme)))
        for _ in range(2):
            assert client.get(ME, headers=auth).status_code == 200
        assert_rate_limited(client.get(ME, headers=auth))
        with app.app_context():
            platform_services.set_tenant_plan("acme", "scale", actor=None)
            assert get_tenant_by_slug("acme").plan == "scale"
        response = client.get(ME, headers=auth)
        assert response.status_code == 200
        assert headers_of(response)[0] == 20
    finally:
        resolver.ttl = 0.0
        resolver.invalidate()


def test_health_docs_and_the_platform_host_are_not_limited(tenant_client, platform_client, limits):
    limits(**{plan: dict.fromkeys(LIMIT_NAMES, "1/minute") for plan in TENANT_PLANS})
    client = tenant_client("acme")
    for _ in range(3):
        for path in ("/healthz", "/api/v1/openapi.json", "/api/v1/docs"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert "RateLimit-Limit" not in response.headers
        response = platform_client.get("/healthz")
        assert response.status_code == 200 and "RateLimit-Limit" not in response.headers
    # The API itself is limited on the same host.
    assert client.get(GIGS).status_code == 200
    assert_rate_limited(client.get(GIGS))


def test_every_operation_documents_the_429_and_the_headers(app, tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    assert spec["components"]["responses"]["RATE_LIMITED"]["headers"].keys() >= {
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    }
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    missing = [f"{m} {p}" for p, m, op in operations if "429" not in op["responses"]]
    assert not missing
    me = spec["paths"]["/api/v1/me"]["get"]["responses"]["200"]
    assert set(me["headers"]) >= {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}


# --------------------------------------------------------------------------- messages


@pytest.fixture
def chat(acme, make_user, make_seller, in_tenant):
    """acme: a buyer and a seller in one conversation -> (buyer id, seller id, conversation id)."""
    from app.messaging import services

    buyer = make_user(acme, email="buyer@example.com")
    seller = make_seller(acme, email="seller@example.com")
    with in_tenant(acme):
        cid = services.start_direct_conversation(db.session.get(User, buyer), seller).id
        db.session.commit()
    return buyer, seller, cid


def messages_in(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(db.select(db.func.count(Message.id)))


def test_posting_messages_through_the_api_is_limited_per_user(
    acme, chat, access_token, tenant_client, in_tenant, limits
):
    limits(messages="2/minute")
    buyer, seller, cid = chat
    client = tenant_client("acme")
    auth = bearer(access_token(acme, buyer))
    url = f"/api/v1/conversations/{cid}/messages"
    for n in range(2):
        assert client.post(url, json={"body": f"hello {n}"}, headers=auth).status_code == 201
    assert_rate_limited(client.post(url, json={"body": "one too many"}, headers=auth))
    assert messages_in(in_tenant, acme) == 2
    # The budget is the user's: the seller still answers.
    assert (
        client.post(url, json={"body": "hi"}, headers=bearer(access_token(acme, seller))).status_code == 201
    )


def test_posting_messages_on_the_web_is_limited_with_a_message(acme, chat, tenant_client, in_tenant, limits):
    limits(messages="1/minute")
    _, _, cid = chat
    client = tenant_client("acme")
    login(client, "buyer@example.com")
    token = csrf_token(client, f"/inbox/{cid}")
    assert (
        client.post(f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "first"}).status_code == 302
    )
    refused = client.post(
        f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "second"}, follow_redirects=True
    )
    assert refused.status_code == 200  # the conversation page, not a 429 page
    assert "You are sending messages too fast" in refused.get_data(as_text=True)
    assert messages_in(in_tenant, acme) == 1


def test_sending_messages_over_socketio_is_limited(
    acme, chat, access_token, socket_server, in_tenant, limits
):
    from tests.helpers import ChatClient, close_all

    limits(messages="2/minute")
    buyer, _, cid = chat
    client = ChatClient(socket_server, "acme", token=access_token(acme, buyer)).connect()
    try:
        for n in range(2):
            assert client.call("send_message", {"conversation_id": cid, "body": f"live {n}"})["ok"]
        refused = client.call("send_message", {"conversation_id": cid, "body": "one too many"})
        assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
        assert "too fast" in refused["error"]["message"]
    finally:
        close_all([client])
    assert messages_in(in_tenant, acme) == 2


def test_the_rate_limit_and_the_views_authentication_read_the_token_once(
    app, acme, make_user, access_token, tenant_client
):
    """The per-credential budget names the token's family before the view; the view's
    authentication takes the token and its user from that same look-up: one statement reads
    api_tokens in the request, and the budget is the family's."""
    auth = bearer(access_token(acme, make_user(acme)))
    client = tenant_client("acme")
    answers = []
    seen = statements_of(app, lambda: answers.append(client.get(ME, headers=auth)))
    response = answers[0]
    assert response.status_code == 200 and headers_of(response)[0] > 0
    # One statement names api_tokens: the read (which also writes the token's first use).
    token_reads = [s for s in seen if "api_tokens" in s]
    assert len(token_reads) == 1, token_reads
