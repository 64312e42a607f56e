"""The messaging REST API with bearer tokens."""

from __future__ import annotations

import io

import pytest

from app.messaging.models import Message, MessageAttachment
from tenants.db import db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def api(tenant_client, access_token):
    """``api(tenant, user_id)`` -> (client, headers)."""

    def make(tenant, user_id):
        return tenant_client(tenant.slug), {"Authorization": f"Bearer {access_token(tenant, user_id)}"}

    return make


def test_conversation_lifecycle_over_the_api(acme, make_user, make_seller, api):
    buyer, seller = make_user(acme), make_seller(acme)
    client, auth = api(acme, buyer)
    created = client.post("/api/v1/conversations", json={"user_id": seller}, headers=auth)
    assert created.status_code == 201, created.json
    cid = created.json["id"]
    assert created.json["participants"][0]["id"] == seller
    assert client.post("/api/v1/conversations", json={"user_id": seller}, headers=auth).json["id"] == cid

    for text in ("one", "two", "three"):
        posted = client.post(f"/api/v1/conversations/{cid}/messages", json={"body": text}, headers=auth)
        assert posted.status_code == 201 and posted.json["body"] == text

    seller_client, seller_auth = api(acme, seller)
    assert seller_client.get("/api/v1/conversations/unread", headers=seller_auth).json["total"] == 3
    listing = seller_client.get("/api/v1/conversations", headers=seller_auth).json
    assert listing[0]["id"] == cid and listing[0]["unread_count"] == 3
    assert listing[0]["last_message"]["body"] == "three"

    page = seller_client.get(f"/api/v1/conversations/{cid}/messages?limit=2", headers=seller_auth).json
    assert [m["body"] for m in page["items"]] == ["two", "three"] and page["has_more"]
    older = seller_client.get(
        f"/api/v1/conversations/{cid}/messages?limit=2&before_id={page['next_before_id']}",
        headers=seller_auth,
    ).json
    assert [m["body"] for m in older["items"]] == ["one"] and not older["has_more"]

    read = seller_client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=seller_auth)
    assert read.status_code == 200 and read.json["unread"] == 0 and read.json["total"] == 0


def test_the_api_requires_a_token(acme, tenant_client):
    client = tenant_client("acme")
    assert client.get("/api/v1/conversations").status_code == 401
    assert client.post("/api/v1/conversations/1/messages", json={"body": "x"}).status_code == 401


def test_foreign_and_unknown_conversations_are_404_and_nothing_is_stored(
    acme, globex, make_user, start_conversation, api, in_tenant
):
    a, b, eve = make_user(acme), make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    client, auth = api(acme, eve)
    assert client.get(f"/api/v1/conversations/{cid}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/conversations/{cid}/messages", headers=auth).status_code == 404
    assert (
        client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "hi"}, headers=auth).status_code
        == 404
    )
    assert (
        client.post("/api/v1/conversations/999/messages", json={"body": "hi"}, headers=auth).status_code
        == 404
    )
    # globex's user with the same id as acme's participant sees nothing of acme.
    assert make_user(globex) == a  # the same id, in another tenant
    g_client, g_auth = api(globex, a)
    assert g_client.get(f"/api/v1/conversations/{cid}", headers=g_auth).status_code == 404
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(Message.id))) == 0


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"body": ""}, 422), ({"body": "x" * 5001}, 422), ({"body": 5}, 422), ({"attachment_ids": [77]}, 422)],
)
def test_bad_messages_are_rejected(acme, make_user, start_conversation, api, in_tenant, payload, status):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    client, auth = api(acme, a)
    response = client.post(f"/api/v1/conversations/{cid}/messages", json=payload, headers=auth)
    assert response.status_code == status, response.json
    assert response.json.get("message") or response.json.get("errors")
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(Message.id))) == 0


def test_attachments_are_uploaded_then_referenced_once(acme, make_user, start_conversation, api, in_tenant):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    client, auth = api(acme, a)
    upload = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(PNG), "../../etc/logo.png", "image/png")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.json
    assert upload.json["filename"] == "logo.png" and upload.json["size"] == len(PNG)
    aid = upload.json["id"]
    posted = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "", "attachment_ids": [aid]}, headers=auth
    )
    assert posted.status_code == 201
    [attachment] = posted.json["attachments"]
    assert attachment["id"] == aid and attachment["url"].startswith("/files/")
    assert client.get(attachment["url"]).data == PNG
    again = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "again", "attachment_ids": [aid]}, headers=auth
    )
    assert again.status_code == 422
    # Someone else's upload cannot be attached either.
    b_client, b_auth = api(acme, b)
    other = b_client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(PNG), "b.png", "image/png")},
        headers=b_auth,
        content_type="multipart/form-data",
    ).json["id"]
    stolen = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "x", "attachment_ids": [other]}, headers=auth
    )
    assert stolen.status_code == 422


@pytest.mark.parametrize(
    ("data", "name", "ctype"),
    [
        (b"<html><script>alert(1)</script>", "page.html", "text/html"),
        (b"<svg onload=alert(1)>", "x.svg", "image/svg+xml"),
        (b"MZ\x90\x00", "setup.exe", "application/octet-stream"),
        (b"not a png at all", "fake.png", "image/png"),
        (b"", "empty.txt", "text/plain"),
    ],
)
def test_forbidden_or_disguised_files_are_refused(acme, make_user, api, in_tenant, data, name, ctype):
    a = make_user(acme)
    client, auth = api(acme, a)
    response = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(data), name, ctype)},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.json
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(MessageAttachment.id))) == 0


def test_oversized_attachment_is_refused(app, acme, make_user, api, in_tenant, monkeypatch):
    monkeypatch.setitem(app.config, "MESSAGE_ATTACHMENT_MAX_BYTES", 100)
    client, auth = api(acme, make_user(acme))
    response = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(b"a" * 101), "big.txt", "text/plain")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "too large" in response.json["message"]
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(MessageAttachment.id))) == 0
