"""The sandbox checkout is behind bot protection (app/accounts/bot.py): a filled honeypot or, with
the challenge on, an unsolved one is refused with 422 and no money moves."""

from __future__ import annotations

import hashlib
import re

from app.accounts import bot
from app.settings.services import settings_row
from tenants.db import db
from tests.payments.conftest import form_tokens

CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}


def test_checkout_refuses_bots_and_moves_no_money(market, money, acme, in_tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "BOT_POW_BITS", 4)
    m = market(acme)
    order_id, url, client = m.buyer_checkout()
    page = client.get(url).get_data(as_text=True)
    assert 'name="homepage"' in page and 'name="bot_ts"' in page

    trap = client.post(url, data={**form_tokens(client, url), **CARD, "homepage": "x"})
    assert trap.status_code == 422 and bot.HONEYPOT in trap.get_data(as_text=True)
    assert money(acme, order_id).escrow == 0

    with in_tenant(acme):
        settings_row(lock=True).bot_protection = "always"
        db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert 'name="bot_challenge"' in html
    unsolved = client.post(url, data={**form_tokens(client, url), **CARD})
    assert unsolved.status_code == 422 and bot.WAIT_FOR_CHECK in unsolved.get_data(as_text=True)
    assert money(acme, order_id).escrow == 0

    tokens = form_tokens(client, url)
    html = client.get(url).get_data(as_text=True)
    challenge = re.search(r'name="bot_challenge" value="([^"]+)"', html).group(1)
    digest = lambda n: hashlib.sha256((challenge + str(n)).encode()).digest()  # noqa: E731
    nonce = next(str(n) for n in range(100000) if bot.leading_zero_bits(digest(n)) >= 4)
    paid = client.post(url, data={**tokens, **CARD, "bot_challenge": challenge, "bot_nonce": nonce})
    assert paid.status_code == 302
    assert money(acme, order_id).escrow == 5000
