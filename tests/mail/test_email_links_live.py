"""Every link in every kind of email, sent by jobs (no request around them), opens on a live
server: the public scheme, host and port come from configuration (app/core/urls.py)."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest

from app.accounts import services as accounts
from app.accounts.models import User
from app.messaging import services as messaging
from tenants import provisioning
from tenants.db import db
from tests.notifications.conftest import release_scheduled  # noqa: F401  (fixture)
from tests.orders.conftest import drive, make_gig, market  # noqa: F401  (fixtures)

HREF_RE = re.compile(r'(?:href|src)="(https?://[^"]+)"')


def _get(live_server, url: str) -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"Host": parts.netloc})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        connection.close()


@pytest.fixture
def public_port(app, live_server):
    app.config["PUBLIC_PORT"] = str(live_server.port)
    yield live_server.port
    app.config["PUBLIC_PORT"] = ""


def test_every_link_of_every_email_kind_opens_on_the_live_server(
    app,
    acme,
    public_port,
    live_server,
    mailbox,
    run_jobs,
    release_scheduled,  # noqa: F811
    in_tenant,
    market,  # noqa: F811
):
    m = market(acme)
    with in_tenant(acme):
        # Accounts: verification, password reset, password changed (and the new admin's invitation below).
        accounts.register_user("newbie@example.com", "correct-horse-battery", "New Bie")
        db.session.commit()
        accounts.request_password_reset("newbie@example.com")
        db.session.commit()
        # Orders step by step (placed, paid, requirements, delivered), a cancellation, a message.
        drive(m, "delivered")
        drive(m, "cancelled")
        conversation = messaging.start_direct_conversation(db.session.get(User, m.buyer_id), m.seller_id)
        messaging.post_message(db.session.get(User, m.buyer_id), conversation.id, "Hello, are you free?")
        db.session.commit()
    # A marketplace created outside any web request invites its first admin.
    with app.app_context():
        provisioning.create_tenant(
            "initech", "Initech Gigs", base_domain="localhost", options={"admin_email": "boss@initech.test"}
        )
    for _ in range(3):  # events -> notifications -> their batched emails (delayed jobs released now)
        run_jobs()
        release_scheduled()
    run_jobs()

    messages = mailbox.messages
    subjects = sorted(message["Subject"] for message in messages)
    kinds = " | ".join(subjects)
    for expected in ("Confirm", "password", "Initech Gigs", "order", "message"):
        assert expected.lower() in kinds.lower(), kinds
    links = set()
    for message in messages:
        links.update(mailbox.links(message))
        links.update(HREF_RE.findall(mailbox.html(message)))
    paths = " ".join(sorted(links))
    for expected in (
        "acme.localhost",
        "initech.localhost",
        "/verify/",
        "/password/reset/",
        "/orders/",
        "/inbox/",
    ):
        assert expected in paths, (expected, sorted(links), kinds)
    failures = []
    for link in sorted(links):
        parts = urlsplit(link)
        if parts.scheme != "http" or parts.port != public_port:
            failures.append((link, "not on the public scheme and port"))
            continue
        status, location = _get(live_server, link)
        if not 200 <= status < 400:
            failures.append((link, status))
        elif 300 <= status < 400 and "/login" not in location:
            failures.append((link, status, location))  # the only redirect expected: sign in first
    assert failures == [], failures
