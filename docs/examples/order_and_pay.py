#!/usr/bin/env python3
"""Order a gig and pay for it through the Gigforge API alone (a partner's buyer bot).

Signs in (an API key from ``GIGFORGE_API_KEY``, else email and password for a token), searches
the marketplace's gigs, orders the first match's cheapest package, opens a payment session and
pays it with the sandbox's test card, then prints the paid order. Every call that moves money
sends an ``Idempotency-Key``: a retry after a network error replays the first answer instead of
paying twice.

The sandbox (test mode) is the marketplace's default provider. A marketplace on Stripe answers
the session with a PaymentIntent ``client_secret`` instead: confirm it with Stripe.js (or
Stripe's API, with the marketplace's publishable key) and wait for the ``order.paid`` webhook.

Environment:
  GIGFORGE_URL       the marketplace, e.g. https://talent.example.com (default http://demo.localhost:5000)
  GIGFORGE_HOST      optional Host header, when GIGFORGE_URL is an IP address
  GIGFORGE_API_KEY   an API key (orders:write and payments:write scopes), or else
  GIGFORGE_EMAIL / GIGFORGE_PASSWORD   a member's sign-in
  GIGFORGE_QUERY     what to search for (default: every gig)

Run: ``GIGFORGE_EMAIL=buyer@example.com GIGFORGE_PASSWORD=... python docs/examples/order_and_pay.py``
Needs: ``pip install requests``. Exit status 0 when the order is paid.
"""

from __future__ import annotations

import os
import sys
import uuid

import requests

TEST_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123"}


class Gigforge:
    """A small client: one session, JSON errors raised with their message."""

    def __init__(self, base_url: str, host: str | None = None, timeout: float = 30):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        if host:
            self.http.headers["Host"] = host
        self.timeout = timeout

    def call(self, method: str, path: str, *, idempotency_key: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for attempt in range(3):  # retry network errors with the same key: never twice
            try:
                response = self.http.request(
                    method, self.base + path, headers=headers, timeout=self.timeout, **kwargs
                )
                break
            except requests.ConnectionError:
                if attempt == 2 or (method != "GET" and not idempotency_key):
                    raise
        if response.status_code >= 400:
            try:
                error = response.json()
            except ValueError:
                error = {"message": response.text[:200]}
            raise ApiError(response.status_code, error)
        return response.json() if response.content else None

    def sign_in(self, api_key: str | None, email: str | None, password: str | None) -> None:
        if api_key:
            token = api_key
        elif email and password:
            token = self.call("POST", "/auth/token", json={"email": email, "password": password})[
                "access_token"
            ]
        else:
            raise SystemExit("Set GIGFORGE_API_KEY, or GIGFORGE_EMAIL and GIGFORGE_PASSWORD.")
        self.http.headers["Authorization"] = f"Bearer {token}"


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        super().__init__(f"{status}: {body.get('message')} {body.get('errors') or ''}".strip())


def items(page):
    """A list's items (a bare list, or an envelope with ``items``)."""
    return page.get("items", []) if isinstance(page, dict) else page


def main() -> int:
    api = Gigforge(
        os.environ.get("GIGFORGE_URL", "http://demo.localhost:5000"), os.environ.get("GIGFORGE_HOST")
    )
    api.sign_in(
        os.environ.get("GIGFORGE_API_KEY"),
        os.environ.get("GIGFORGE_EMAIL"),
        os.environ.get("GIGFORGE_PASSWORD"),
    )

    # 1. Find a gig.
    query = os.environ.get("GIGFORGE_QUERY", "")
    hits = items(api.call("GET", "/gigs", params={"q": query, "limit": 5} if query else {"limit": 5}))
    if not hits:
        print(f"No gig matches {query!r}.", file=sys.stderr)
        return 1
    gig = api.call("GET", f"/gigs/{hits[0]['id']}")
    package = min(gig["packages"], key=lambda p: p["price_minor"])
    print(f"Gig {gig['id']}: {gig['title']} ({package['tier']}, {package['price_minor']} minor units)")

    # 2. Order it; the total we expect is checked by the marketplace (422 if it differs).
    order = api.call(
        "POST",
        "/orders",
        idempotency_key=str(uuid.uuid4()),
        json={
            "gig_id": gig["id"],
            "tier": package["tier"],
            "quantity": 1,
            "total_minor": package["price_minor"],
            "currency": gig["currency"],
        },
    )
    print(f"Order {order['number']} placed: {order['status']}")

    # 3. Open the payment session.
    session = api.call("POST", f"/orders/{order['id']}/payment-session", idempotency_key=str(uuid.uuid4()))
    if session["provider"] != "sandbox":
        print(
            "This marketplace uses Stripe: confirm the PaymentIntent with Stripe.js "
            f"(client_secret {session['client_secret'][:12]}..., key {session['publishable_key']}).",
            file=sys.stderr,
        )
        return 2

    # 4. Pay with the sandbox's test card (4000 0000 0000 0002 would be declined: 402).
    try:
        paid = api.call(
            "POST",
            f"/orders/{order['id']}/payment-session/confirm",
            idempotency_key=str(uuid.uuid4()),
            json=TEST_CARD,
        )
    except ApiError as exc:
        print(f"Payment refused: {exc}", file=sys.stderr)
        return 1
    print(f"Order {paid['number']} is {paid['status']} (paid at {paid['paid_at']}).")
    print(f"Escrow: {paid['money']}")
    return 0 if paid["paid_at"] else 1


if __name__ == "__main__":
    sys.exit(main())
