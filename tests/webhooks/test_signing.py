"""Signatures as a partner's receiver checks them (app/webhooks/signing.py), and a secret roll's
overlap: both secrets sign until the old one expires, then only the new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.webhooks import services, signing
from tenants.db import db
from tests.webhooks.conftest import admin_of

BODY = b'{"id":"evt_1","type":"order.paid"}'
NOW = 1_800_000_000


def test_a_valid_signature_verifies():
    secret = signing.new_secret()
    header = signing.header_value([secret], NOW, BODY)
    assert signing.verify(BODY, header, secret, now=NOW + 10) == NOW


def test_a_tampered_body_is_refused():
    secret = signing.new_secret()
    header = signing.header_value([secret], NOW, BODY)
    with pytest.raises(signing.SignatureError, match="No signature matches"):
        signing.verify(BODY.replace(b"paid", b"free"), header, secret, now=NOW)


def test_a_wrong_secret_is_refused():
    header = signing.header_value([signing.new_secret()], NOW, BODY)
    with pytest.raises(signing.SignatureError, match="No signature matches"):
        signing.verify(BODY, header, signing.new_secret(), now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_a_signature_outside_the_tolerance_is_refused(offset):
    secret = signing.new_secret()
    header = signing.header_value([secret], NOW, BODY)
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify(BODY, header, secret, now=NOW + offset)
    assert signing.verify(BODY, header, secret, now=NOW + 299) == NOW


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=12", "t=abc,v1=00", "x" * 2001])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(signing.SignatureError):
        signing.verify(BODY, header, "whsec_x", now=NOW)


def test_a_rolled_secret_keeps_signing_beside_the_new_one_until_it_expires(acme, in_tenant, make_endpoint):
    endpoint_id, old = make_endpoint(acme, "https://hooks.example.com/in")
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with in_tenant(acme):
        new = services.roll_secret(admin_of(acme), endpoint_id, overlap_hours=24, now=t0)
        db.session.commit()
        endpoint = services.get_endpoint(endpoint_id)
        assert new != old and new.startswith(signing.SECRET_PREFIX)

        during = t0 + timedelta(hours=23)
        header = signing.header_value(services.live_secrets(endpoint, during), int(during.timestamp()), BODY)
        for secret in (old, new):
            signing.verify(BODY, header, secret, now=during.timestamp())

        after = t0 + timedelta(hours=24, seconds=1)
        header = signing.header_value(services.live_secrets(endpoint, after), int(after.timestamp()), BODY)
        signing.verify(BODY, header, new, now=after.timestamp())
        with pytest.raises(signing.SignatureError):
            signing.verify(BODY, header, old, now=after.timestamp())
        assert services.reveal_secret(admin_of(acme), endpoint_id) == new


def test_a_roll_without_overlap_retires_the_old_secret_at_once(acme, in_tenant, make_endpoint):
    endpoint_id, old = make_endpoint(acme, "https://hooks.example.com/in")
    with in_tenant(acme):
        new = services.roll_secret(admin_of(acme), endpoint_id, overlap_hours=0)
        assert services.live_secrets(services.get_endpoint(endpoint_id)) == [new]


@pytest.mark.parametrize("overlap", [-1, 169, "24", 1.5, True, None])
def test_an_overlap_outside_0_to_168_hours_is_refused(acme, in_tenant, make_endpoint, overlap):
    endpoint_id, old = make_endpoint(acme, "https://hooks.example.com/in")
    with in_tenant(acme):
        with pytest.raises(services.WebhookError) as refused:
            services.roll_secret(admin_of(acme), endpoint_id, overlap_hours=overlap)
        assert "overlap_hours" in refused.value.errors
        db.session.rollback()
        assert services.reveal_secret(admin_of(acme), endpoint_id) == old
