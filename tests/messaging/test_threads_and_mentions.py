"""Threads (a reply quotes its parent) and @mentions (a notification to the mentioned participant),
through the services, the API, the sockets and the web page; attachments_of_conversation."""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.messaging import services
from app.messaging.models import Message
from app.notifications import services as notifications
from app.notifications.models import Notification
from tenants.db import db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def person(make_user, in_tenant):
    """``person(tenant, name)`` -> id of a user ``name`` with handle ``name.lower()``."""

    def make(tenant, name):
        user_id = make_user(tenant, email=f"{name.lower()}@example.com", display_name=name)
        with in_tenant(tenant):
            db.session.get(User, user_id).handle = name.lower()
            db.session.commit()
        return user_id

    return make


@pytest.fixture
def trio(acme, person, start_conversation):
    """acme: Ana and Bob in one conversation (handles ``ana``, ``bob``), Eve outside it."""
    ana, bob, eve = person(acme, "Ana"), person(acme, "Bob"), person(acme, "Eve")
    return ana, bob, eve, start_conversation(acme, ana, bob)


@pytest.fixture
def post(in_tenant):
    """``post(tenant, sender, cid, body, reply_to_id=None)`` -> message id (committed)."""

    def send(tenant, sender_id, cid, body, reply_to_id=None, attachment_ids=None):
        with in_tenant(tenant):
            message = services.post_message(
                db.session.get(User, sender_id), cid, body, attachment_ids, reply_to_id
            )
            db.session.commit()
            return message.id

    return send


@pytest.fixture
def api(tenant_client, access_token):
    def make(tenant, user_id):
        return tenant_client(tenant.slug), {"Authorization": f"Bearer {access_token(tenant, user_id)}"}

    return make


def _events(in_tenant, tenant, name):
    with in_tenant(tenant):
        return [e.payload for e in db.session.scalars(db.select(OutboxEvent).where(OutboxEvent.name == name))]


def _notifications(in_tenant, tenant, user_id):
    with in_tenant(tenant):
        rows = db.session.scalars(
            db.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        ).all()
        return [(n.kind, n.text, n.url) for n in rows]


# --- threads ---------------------------------------------------------------------------------


def test_a_reply_quotes_its_parent_in_every_shape(acme, trio, post, in_tenant, api):
    ana, bob, _eve, cid = trio
    long_text = "Could you make the fox " + "really " * 40 + "orange?"
    parent = post(acme, ana, cid, long_text)
    reply = post(acme, bob, cid, "Sure, orange it is.", reply_to_id=parent)
    with in_tenant(acme):
        assert db.session.get(Message, reply).reply_to_id == parent
        [_, shown] = services.serialize_messages(services.history(db.session.get(User, ana), cid)[0])
        single = services.serialize_message(db.session.get(Message, reply))
    for payload in (shown, single):
        quoted = payload["reply_to"]
        assert quoted["id"] == parent and quoted["sender_id"] == ana and quoted["sender_name"] == "Ana"
        assert len(quoted["excerpt"]) <= 140 and quoted["excerpt"].startswith("Could you make the fox really")
        assert quoted["excerpt"].endswith("…") and quoted["deleted"] is False
    client, auth = api(acme, bob)
    page = client.get(f"/api/v1/conversations/{cid}/messages", headers=auth).json
    assert page["items"][0]["reply_to"] is None and page["items"][1]["reply_to"]["id"] == parent


def test_a_reply_over_the_api(acme, trio, post, api):
    ana, bob, _eve, cid = trio
    parent = post(acme, ana, cid, "Which colour?")
    client, auth = api(acme, bob)
    posted = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "Teal", "reply_to_id": parent}, headers=auth
    )
    assert posted.status_code == 201, posted.json
    assert posted.json["reply_to"] == {
        "id": parent,
        "sender_id": ana,
        "sender_name": "Ana",
        "excerpt": "Which colour?",
        "deleted": False,
    }


def test_refused_replies_store_nothing(
    acme, globex, trio, post, make_user, start_conversation, in_tenant, api
):
    ana, bob, eve, cid = trio
    parent = post(acme, ana, cid, "mine")
    elsewhere = post(acme, eve, start_conversation(acme, eve, ana), "another conversation")
    with in_tenant(acme):
        system = services.post_system_message(cid, "Order placed.").id
        db.session.commit()
    # globex: more messages, so that one of its ids is no message of acme at all.
    g1, g2 = make_user(globex), make_user(globex)
    g_cid = start_conversation(globex, g1, g2)
    for text in ("g", "g", "g", "g", "g"):
        foreign = post(globex, g1, g_cid, text)
    with in_tenant(acme):
        assert db.session.get(Message, foreign) is None
        before = db.session.scalar(db.select(db.func.count(Message.id)))

    client, auth = api(acme, bob)
    for bad in (elsewhere, system, foreign, 999_999, "abc", 1.5, True, -1, 0, [parent], {"id": parent}):
        response = client.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": "x", "reply_to_id": bad}, headers=auth
        )
        assert response.status_code == 422, (bad, response.json)
        assert "reply_to_id" in response.json["errors"]["json"], (bad, response.json)
    with in_tenant(acme):
        sender = db.session.get(User, bob)
        for bad in (elsewhere, system, foreign, 999_999, "abc", 1.5, True, -1, "0"):
            for attempt in (
                lambda bad=bad: services.post_message(sender, cid, "x", None, bad),
                lambda bad=bad: services.send_message(acme.id, bob, cid, "x", None, bad),
            ):
                with pytest.raises(services.MessagingError) as exc:
                    attempt()
                assert exc.value.status == 422 and exc.value.code == "invalid_reply"
                assert "reply_to_id" in exc.value.field_errors
                db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(Message.id))) == before
    # A reply to acme's own message with an id globex also has resolves to acme's message.
    ok = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "y", "reply_to_id": parent}, headers=auth
    )
    assert ok.status_code == 201 and ok.json["reply_to"]["excerpt"] == "mine"


def test_an_outsider_replying_gets_not_found_first(acme, trio, post, in_tenant):
    ana, _bob, eve, cid = trio
    parent = post(acme, ana, cid, "private")
    with in_tenant(acme):
        outsider = db.session.get(User, eve)
        for bad in (parent, "abc"):
            with pytest.raises(services.ConversationNotFound):
                services.post_message(outsider, cid, "x", None, bad)
            with pytest.raises(services.ConversationNotFound):
                services.send_message(acme.id, eve, cid, "x", None, bad)


def test_a_reply_over_the_socket_reaches_the_other_side_with_its_quote(
    acme, trio, post, chat_client, access_token, message_count
):
    ana, bob, _eve, cid = trio
    parent = post(acme, ana, cid, "Ready for review?")
    a = chat_client("acme", token=access_token(acme, ana))
    b = chat_client("acme", token=access_token(acme, bob))
    assert a.call("join", {"conversation_id": cid})["ok"] and b.call("join", {"conversation_id": cid})["ok"]
    ack = b.call("send_message", {"conversation_id": cid, "body": "Yes @ana", "reply_to_id": parent})
    assert ack["ok"], ack
    live = a.wait_for("message", lambda m: m["id"] == ack["message"]["id"])
    assert live["reply_to"]["id"] == parent and live["reply_to"]["excerpt"] == "Ready for review?"
    assert '<span class="mention">@ana</span>' in live["body_html"]

    count = message_count(acme)
    for bad in (parent + 100, "x", {"id": 1}):
        refused = b.call("send_message", {"conversation_id": cid, "body": "no", "reply_to_id": bad})
        assert refused["ok"] is False and refused["error"]["code"] == "invalid_reply"
    assert message_count(acme) == count


def test_attachments_still_work_with_replies(acme, trio, post, in_tenant, chat_client, access_token):
    ana, bob, _eve, cid = trio
    parent = post(acme, ana, cid, "Send the logo please")
    with in_tenant(acme):
        upload = services.upload_attachment(db.session.get(User, bob), PNG, "logo.png", "image/png")
        db.session.commit()
        aid = upload.id
    b = chat_client("acme", token=access_token(acme, bob))
    ack = b.call(
        "send_message", {"conversation_id": cid, "body": "", "attachment_ids": [aid], "reply_to_id": parent}
    )
    assert ack["ok"], ack
    sent = ack["message"]
    assert sent["reply_to"]["id"] == parent and sent["attachments"][0]["filename"] == "logo.png"
    # The parent of a reply may itself be an attachment-only message.
    reply = post(acme, ana, cid, "Thanks!", reply_to_id=sent["id"])
    with in_tenant(acme):
        quoted = services.serialize_message(db.session.get(Message, reply))["reply_to"]
        assert quoted["excerpt"] == "Attachment: logo.png"
        [listed] = services.attachments_of_conversation(cid)
        assert listed.id == aid and listed.message_id == sent["id"] and listed.uploader_id == bob
        assert listed.message.conversation_id == cid
        assert services.attachments_of_conversation(cid + 1000) == []


def test_reply_on_the_web_page_without_javascript(acme, trio, post, tenant_client, web, in_tenant):
    ana, bob, _eve, cid = trio
    parent = post(acme, ana, cid, "Draft attached <b>soon</b>")
    client = tenant_client("acme")
    web.login(client, "bob@example.com")
    page = client.get(f"/inbox/{cid}?reply_to={parent}").get_data(as_text=True)
    assert "Replying to" in page and f'name="reply_to_id" value="{parent}"' in page
    assert "Draft attached &lt;b&gt;soon&lt;/b&gt;" in page
    token = web.csrf_token(client, f"/inbox/{cid}")
    posted = client.post(
        f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "Great", "reply_to_id": str(parent)}
    )
    assert posted.status_code == 302
    refused = client.post(
        f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "Nope", "reply_to_id": "12345"}
    )
    assert refused.status_code == 302
    with in_tenant(acme):
        bodies = {m.body: m.reply_to_id for m in db.session.scalars(db.select(Message))}
    assert bodies == {"Draft attached <b>soon</b>": None, "Great": parent}
    shown = client.get(f"/inbox/{cid}").get_data(as_text=True)
    assert f'href="#m-{parent}"' in shown and 'data-testid="message-quote"' in shown
    assert "You can only reply to a person" in shown  # the refusal, flashed


# --- mentions --------------------------------------------------------------------------------


def test_a_mention_notifies_the_mentioned_participant_once(acme, trio, post, in_tenant, run_jobs):
    ana, bob, eve, cid = trio
    mid = post(acme, ana, cid, "@bob look, @BOB! cc @eve @ana @nobody and ana@example.com")
    assert _events(in_tenant, acme, "message.mentioned") == [
        {"conversation_id": cid, "message_id": mid, "mentioned_user_id": bob, "by_user_id": ana}
    ]
    run_jobs()
    [(kind, text, url)] = _notifications(in_tenant, acme, bob)
    assert kind == "mention" and text.startswith("Ana mentioned you: @bob look, @BOB!")
    assert url == f"/inbox/{cid}#m-{mid}"
    assert _notifications(in_tenant, acme, ana) == [] and _notifications(in_tenant, acme, eve) == []


def test_no_mention_no_event_and_the_usual_new_message(acme, trio, post, in_tenant, run_jobs):
    ana, bob, _eve, cid = trio
    post(acme, ana, cid, "Mail me at bob@example.com or ping @ana (that's me) or @eve")
    assert _events(in_tenant, acme, "message.mentioned") == []
    run_jobs()
    assert [kind for kind, *_ in _notifications(in_tenant, acme, bob)] == ["new_message"]


def test_who_turned_mentions_off_still_hears_of_the_message(acme, trio, post, in_tenant, run_jobs):
    ana, bob, _eve, cid = trio
    with in_tenant(acme):
        notifications.set_preferences(
            db.session.get(User, bob), {"mention": {"in_app": False, "email": False}}
        )
        db.session.commit()
    post(acme, ana, cid, "@bob hello")
    run_jobs()
    assert [kind for kind, *_ in _notifications(in_tenant, acme, bob)] == ["new_message"]


def test_mentions_over_the_socket_publish_too(acme, trio, chat_client, access_token, in_tenant, run_jobs):
    ana, bob, _eve, cid = trio
    a = chat_client("acme", token=access_token(acme, ana))
    ack = a.call("send_message", {"conversation_id": cid, "body": "hey @bob"})
    assert ack["ok"]
    assert '<span class="mention">@bob</span>' in ack["message"]["body_html"]
    assert [e["mentioned_user_id"] for e in _events(in_tenant, acme, "message.mentioned")] == [bob]
    run_jobs()
    assert [kind for kind, *_ in _notifications(in_tenant, acme, bob)] == ["mention"]


def test_mentions_do_not_cross_tenants(acme, globex, trio, post, person, in_tenant, run_jobs):
    ana, bob, _eve, cid = trio
    # globex has a "bob" with the same id (same handle, same email) and no part in acme.
    g_ana, g_bob = person(globex, "Ana"), person(globex, "Bob")
    assert (g_ana, g_bob) == (ana, bob)
    post(acme, ana, cid, "@bob only acme's")
    run_jobs()
    assert [kind for kind, *_ in _notifications(in_tenant, acme, bob)] == ["mention"]
    assert _notifications(in_tenant, globex, g_bob) == []
    assert _events(in_tenant, globex, "message.mentioned") == []


def test_rendering_highlights_mentions_and_escapes_everything_else(acme, trio, post, tenant_client, web):
    ana, bob, _eve, cid = trio
    post(acme, ana, cid, '<b>@bob</b> "@eve" <img src=x onerror=alert(1)> @bob<script>x</script>')
    client = tenant_client("acme")
    web.login(client, "bob@example.com")
    page = client.get(f"/inbox/{cid}").get_data(as_text=True)
    assert '&lt;b&gt;<span class="mention">@bob</span>&lt;/b&gt;' in page
    assert '<span class="mention">@eve</span>' not in page  # not a participant
    assert "<img src=x" not in page and "<script>x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
