"""The sandbox provider's checkout, through HTTP: Stripe's test cards, TEST MODE labels,
card validation, and a replayed submit that pays once."""

from __future__ import annotations

from tests.helpers import statements_of
from tests.payments.conftest import form_tokens

SUCCEEDS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
AUTHENTICATE = "4000 0025 0000 3155"


def pay(client, url, number, expiry="12/40", cvc="123", tokens=None):
    tokens = tokens or form_tokens(client, url)
    return client.post(url, data={**tokens, "card_number": number, "expiry": expiry, "cvc": cvc})


def test_checkout_page_is_labelled_test_mode_and_lists_the_test_cards(market, acme):
    m = market(acme)
    order_id = m.place()
    url = m.checkout(order_id)
    assert url.startswith("/checkout/sandbox/")
    page = m.client(m.buyer_email).get(url).get_data(as_text=True)
    assert "TEST MODE" in page
    for card in (SUCCEEDS, DECLINED, AUTHENTICATE):
        assert card in page
    assert "$50.00" in page


def test_checkout_pages_show_a_focused_header_and_read_no_header_counts(market, acme, app):
    """As on Stripe Checkout: the brand, a secure-checkout note and the way back to the order;
    no menu, search, inbox or bell, so the page reads none of their counts."""
    m = market(acme)
    order_id = m.place()
    url = m.checkout(order_id)
    client = m.client(m.buyer_email)
    sent = statements_of(app, lambda: client.get(url))
    page = client.get(url).get_data(as_text=True)
    assert 'data-testid="checkout-header"' in page and 'data-testid="brand"' in page
    assert f'href="/orders/{order_id}" data-testid="checkout-back"' in page
    for gone in ("header-search", "inbox-link", "notification-bell", "logout", "socket.io.min.js"):
        assert gone not in page, gone
    assert not any("unread_count" in statement for statement in sent), sent
    # The authentication step (3-D Secure) is a checkout page too.
    pay(client, url, AUTHENTICATE)
    step = client.get(f"{url}/authenticate").get_data(as_text=True)
    assert 'data-testid="checkout-header"' in step and "inbox-link" not in step


def test_card_that_succeeds_pays_the_order_into_escrow(market, money, acme):
    m = market(acme)
    order_id = m.place()
    url = m.checkout(order_id)
    response = pay(m.client(m.buyer_email), url, SUCCEEDS)
    assert response.status_code == 302
    after = money(acme, order_id)
    assert after.order_status == "awaiting_requirements"
    assert after.escrow == 5000
    assert after.payments[0][1] == "succeeded"
    assert after.ledger_ok


def test_declined_card_shows_a_clear_message_and_moves_no_money(market, money, acme):
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    response = pay(client, url, DECLINED)
    assert response.status_code == 402
    assert "Your card was declined" in response.get_data(as_text=True)
    after = money(acme, order_id)
    assert after.order_status == "awaiting_payment"
    assert after.escrow == 0
    assert after.payments[0][1] == "failed"
    # The buyer tries again with another card on the same payment.
    assert pay(client, url, SUCCEEDS).status_code == 302
    assert money(acme, order_id).escrow == 5000


def test_card_needing_authentication_pays_only_after_the_second_step(market, money, acme):
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    response = pay(client, url, AUTHENTICATE)
    assert response.status_code == 302
    step = response.headers["Location"]
    assert step.endswith("/authenticate")
    assert money(acme, order_id).escrow == 0
    page = client.get(step).get_data(as_text=True)
    assert "TEST MODE" in page and "Complete authentication" in page
    tokens = form_tokens(client, step)
    response = client.post(step, data={**tokens, "approve": "1"})
    assert response.status_code == 302
    after = money(acme, order_id)
    assert after.order_status == "awaiting_requirements" and after.escrow == 5000


def test_failed_authentication_leaves_the_order_unpaid(market, money, acme):
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    step = pay(client, url, AUTHENTICATE).headers["Location"]
    client.post(step, data={**form_tokens(client, step), "fail": "1"})
    after = money(acme, order_id)
    assert after.order_status == "awaiting_payment" and after.escrow == 0
    assert after.payments[0][1] == "failed"


def test_bad_card_details_get_field_errors_and_change_nothing(market, money, acme):
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    for number, expiry, cvc, message in (
        ("4242 4242 4242 4241", "12/40", "123", "Enter a valid card number."),
        ("5555 5555 5555 4444", "12/40", "123", "use a test card"),
        (SUCCEEDS, "13/40", "123", "MM/YY"),
        (SUCCEEDS, "01/20", "123", "This card has expired."),
        (SUCCEEDS, "12/40", "12", "security code"),
    ):
        response = pay(client, url, number, expiry, cvc)
        assert response.status_code == 422, number
        assert message in response.get_data(as_text=True)
    after = money(acme, order_id)
    assert after.payments[0][1] == "pending" and after.escrow == 0 and after.ledger_transactions == 0


def test_replayed_submit_pays_once(market, money, acme):
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    tokens = form_tokens(client, url)
    first = pay(client, url, SUCCEEDS, tokens=tokens)
    second = pay(client, url, SUCCEEDS, tokens=tokens)  # a double click: same form, same key
    assert first.status_code == second.status_code == 302
    assert second.headers.get("Idempotent-Replayed") == "true"
    # Even a fresh form on an already paid payment moves nothing (the page shows no form now: a
    # token from the order's page).
    third = pay(client, url, SUCCEEDS, tokens=form_tokens(client, f"/orders/{order_id}"))
    assert third.status_code in (302, 409)
    after = money(acme, order_id)
    assert after.escrow == 5000 and after.ledger_transactions == 1 and after.ledger_ok


def test_another_user_cannot_open_or_pay_the_buyers_checkout(market, make_user, money, acme):
    m = market(acme)
    order_id = m.place()
    url = m.checkout(order_id)
    make_user(acme, email="stranger@example.com")
    stranger = m.client("stranger@example.com")
    assert stranger.get(url).status_code == 404
    assert money(acme, order_id).escrow == 0


def test_checkout_of_acme_does_not_exist_on_globex(market, tenant_client, acme):
    m = market(acme)
    url = m.checkout(m.place())
    assert tenant_client("globex").get(url).status_code in (302, 404)


def test_start_checkout_twice_reuses_the_payment(market, money, acme):
    m = market(acme)
    order_id = m.place()
    assert m.checkout(order_id) == m.checkout(order_id)
    assert len(money(acme, order_id).payments) == 1
