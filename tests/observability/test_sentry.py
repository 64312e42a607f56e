"""Error reports: an unhandled error of a request or a job reaches Sentry with its tenant, request
and trace, and without personal data (user, cookies, credentials, bodies, query strings, emails)."""

from __future__ import annotations

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope

from app.core import sentry_setup
from app.core.jobs import tenant_job_context
from app.extensions import get_queue
from tests.helpers import wait_until
from tests.observability.receiver import Receiver

# Joined at run time: the event's stack frames carry source lines of this file, which must not
# contain the values looked for.
EMAIL = "victim" + "@example.com"
API_KEY, COOKIE, PASSWORD, QUERY_TOKEN = (f"{kind}-secret" for kind in ("auth", "cookie", "body", "query"))
SECRETS = (EMAIL, API_KEY, COOKIE, PASSWORD, QUERY_TOKEN)


@pytest.fixture
def sentry(app, monkeypatch):
    """Sentry on for this test, reporting to a local receiver (the DSN's project 1)."""
    with Receiver() as receiver:
        monkeypatch.setitem(app.config, "SENTRY_DSN", f"http://public@127.0.0.1:{receiver.port}/1")
        monkeypatch.setitem(app.config, "SENTRY_ENVIRONMENT", "test")
        monkeypatch.setattr(sentry_setup, "_configured", None)
        sentry_setup.init_app(app)
        try:
            yield receiver
        finally:
            sentry_sdk.get_client().close(timeout=2)
            sentry_sdk.get_global_scope().set_client(None)  # back to the inert client


def reported_events(receiver: Receiver) -> list[tuple[dict, bytes]]:
    """(event, raw envelope) of every event the receiver got."""
    events = []
    for request in receiver.received("/api/1/envelope/"):
        for item in Envelope.deserialize(request.body).items:
            if item.type == "event":
                events.append((item.payload.json, request.body))
    return events


def _one_event(receiver: Receiver) -> tuple[dict, bytes]:
    sentry_sdk.flush(timeout=5)
    [reported] = wait_until(lambda: reported_events(receiver), message="no event reached the receiver")
    return reported


def explode():
    raise RuntimeError(f"could not sign in {EMAIL}")


def test_an_unhandled_request_error_is_reported_with_tenant_and_request_but_no_personal_data(
    app, acme, tenant_client, sentry, monkeypatch
):
    [endpoint] = [rule.endpoint for rule in app.url_map.iter_rules() if rule.rule == "/api/v1/auth/token"]
    monkeypatch.setitem(app.view_functions, endpoint, lambda **kwargs: explode())
    client = tenant_client("acme")
    client.set_cookie("session", COOKIE, domain=f"acme.{app.config['BASE_DOMAIN']}")

    response = client.post(
        f"/api/v1/auth/token?email={EMAIL}&token={QUERY_TOKEN}",
        json={"email": EMAIL, "password": PASSWORD},
        headers={"X-Api-Key": API_KEY, "X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 500

    event, raw = _one_event(sentry)
    assert event["tags"]["tenant"] == "acme" and event["tags"]["tenant_id"] == str(acme.id)
    assert event["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert len(event["tags"]["trace_id"]) == 32
    assert event["environment"] == "test"
    assert "user" not in event
    request = event["request"]
    assert request["url"].endswith("/api/v1/auth/token")
    assert not {"cookies", "data", "query_string"} & set(request)
    assert not {"cookie", "x-api-key", "x-forwarded-for", "authorization"} & {
        h.lower() for h in request["headers"]
    }
    assert "could not sign in [email]" in raw.decode()
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def fail_in_tenant(tenant_id: int) -> None:
    with tenant_job_context(tenant_id):
        raise RuntimeError(f"job failed for {EMAIL}")


def test_a_failed_job_is_reported_with_its_tenant(app, acme, sentry, run_jobs):
    with app.app_context():
        get_queue("default").enqueue(fail_in_tenant, acme.id)
    run_jobs()

    event, raw = _one_event(sentry)
    assert event["tags"]["tenant"] == "acme" and event["tags"]["tenant_id"] == str(acme.id)
    assert len(event["tags"]["trace_id"]) == 32
    assert EMAIL.encode() not in raw and b"job failed for [email]" in raw
