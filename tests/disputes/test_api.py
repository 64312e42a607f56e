"""The disputes API over HTTP: opening (and the refusals: unpaid, someone else's, a second one),
evidence (JSON and multipart files, after the end), proposals with exact amounts (and splits
that do not add up, negative, in another currency), escalation, withdrawal, the expert's
assessment, idempotency, and tenants that never meet with equal ids."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from app.disputes import services
from app.disputes.models import Dispute, DisputeExpert
from app.ledger import services as ledger
from app.orders.models import Order
from tenants.db import db
from tests.disputes.conftest import user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _open(client, headers, order_id, **extra):
    body = {
        "order_id": order_id,
        "reason": "late",
        "statement": "Ten days late and nothing delivered.",
        **extra,
    }
    return client.post("/api/v1/disputes", json=body, headers=headers)


def test_open_read_and_list_through_the_api(acme, order_in, api_token, in_tenant):
    m, order_id = order_in(acme, "in_progress")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)

    opened = _open(buyer, {**bh, "Idempotency-Key": "open-1"}, order_id)
    assert opened.status_code == 201, opened.json
    d = opened.json
    assert d["status"] == "open" and d["stage"] == "self_resolution" and d["number"].startswith("D-")
    assert d["opened_by"] == m.buyer_id and d["awaiting_id"] == m.seller_id
    assert [e["kind"] for e in d["timeline"]] == ["opened"] and d["next_step"]
    again = _open(buyer, {**bh, "Idempotency-Key": "open-1"}, order_id)  # replayed, not a second one
    assert again.status_code == 201 and again.json["id"] == d["id"]

    listed = seller.get("/api/v1/disputes?status=open", headers=sh)
    assert listed.status_code == 200 and [x["id"] for x in listed.json] == [d["id"]]
    assert "Answer" in listed.json[0]["next_step"]
    assert seller.get("/api/v1/disputes?status=closed", headers=sh).json == []
    assert seller.get(f"/api/v1/disputes/{d['id']}", headers=sh).status_code == 200
    with in_tenant(acme):
        assert db.session.get(Order, order_id).milestones[0].status == "disputed"


def test_opening_is_refused_with_the_right_status(acme, order_in, api_token, in_tenant):
    m, unpaid_id = order_in(acme, "awaiting_payment")
    buyer, bh = api_token(acme, m.buyer_email)
    stranger, xh = api_token(acme, m.stranger_email)
    unpaid = _open(buyer, bh, unpaid_id)
    assert unpaid.status_code == 409 and unpaid.json["errors"]["code"] == "not_disputable"

    with in_tenant(acme):
        from tests.orders.conftest import drive

        paid_id = drive(m, "delivered")
    assert _open(stranger, xh, paid_id).status_code == 404  # someone else's order
    assert _open(buyer, bh, 2_000_000).status_code == 404
    assert _open(buyer, bh, paid_id).status_code == 201
    seller, sh = api_token(acme, m.seller_email)
    second = _open(seller, sh, paid_id)
    assert second.status_code == 409 and second.json["errors"]["code"] == "dispute_open"

    bad = buyer.post(
        "/api/v1/disputes", json={"order_id": paid_id, "reason": "meh", "statement": ""}, headers=bh
    )
    assert bad.status_code == 422 and set(bad.json["errors"]["json"]) == {"reason", "statement"}
    for body in (
        {"order_id": -1, "reason": "late", "statement": "x"},
        {"order_id": "1", "reason": "late", "statement": "x"},
        {"order_id": 1, "reason": "late", "statement": "x", "extra": True},
        {"order_id": 1, "reason": "late", "statement": "x" * 5001},
    ):
        assert buyer.post("/api/v1/disputes", json=body, headers=bh).status_code == 422, body
    assert buyer.get("/api/v1/disputes?status=maybe", headers=bh).status_code == 422
    assert buyer.get("/api/v1/disputes").status_code == 401


def test_evidence_json_and_files_then_nothing_after_the_end(acme, order_in, api_token, in_tenant):
    from app.messaging import services as messaging

    m, order_id = order_in(acme, "delivered")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    with in_tenant(acme):
        conversation = messaging.order_conversation_of(user(m.buyer_id), order_id)
        message_id = messaging.post_message(user(m.seller_id), conversation.id, "Tomorrow, I promise").id
        db.session.commit()
    did = _open(buyer, bh, order_id).json["id"]
    path = f"/api/v1/disputes/{did}/evidence"

    note = buyer.post(path, json={"kind": "note", "text": "Still nothing."}, headers=bh)
    assert note.status_code == 201 and note.json[0]["author_id"] == m.buyer_id
    link = buyer.post(path, json={"kind": "link", "url": "https://ci.example.com/1"}, headers=bh)
    assert link.status_code == 201 and link.json[0]["url"] == "https://ci.example.com/1"
    quoted = buyer.post(path, json={"kind": "message", "message_id": message_id}, headers=bh)
    assert quoted.status_code == 201 and quoted.json[0]["text"] == "Tomorrow, I promise"
    files = seller.post(
        path,
        data={"files": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")], "text": "Screens"},
        headers=sh,
        content_type="multipart/form-data",
    )
    assert files.status_code == 201, files.json
    assert [f["filename"] for f in files.json] == ["a.png", "b.png"]
    assert files.json[0]["download_url"] and seller.get(files.json[0]["download_url"]).status_code == 200

    for body, field in (
        ({"kind": "link", "url": "javascript:alert(1)"}, "url"),
        ({"kind": "note", "text": ""}, "text"),
        ({"kind": "message", "message_id": 999_999}, "message_id"),
        ({"kind": "file"}, "kind"),
        ({"kind": "dod"}, "kind"),  # a gig order's milestone has no DoD
    ):
        refused = buyer.post(path, json=body, headers=bh)
        assert refused.status_code == 422 and field in refused.json["errors"]["json"], (body, refused.json)
    assert buyer.post(path, data="nope", headers=bh, content_type="text/plain").status_code == 422
    exe = buyer.post(
        path,
        data={"files": [(io.BytesIO(b"MZ\x90"), "x.exe")]},
        headers=bh,
        content_type="multipart/form-data",
    )
    assert exe.status_code == 422
    listed = buyer.get(path, headers=bh)
    assert [e["kind"] for e in listed.json] == ["note", "link", "message", "file", "file"]

    assert buyer.post(f"/api/v1/disputes/{did}/withdraw", json={}, headers=bh).status_code == 200
    late = buyer.post(path, json={"kind": "note", "text": "One more"}, headers=bh)
    assert late.status_code == 409 and late.json["errors"]["current_status"] == "dismissed"


def test_proposals_split_exactly_and_refuse_bad_amounts(acme, order_in, api_token, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    d = _open(buyer, bh, order_id).json
    held, currency, did = d["amount_minor"], d["currency"], d["id"]
    path = f"/api/v1/disputes/{did}/proposals"

    for body, status in (
        ({"refund_minor": held, "release_minor": 1}, 422),  # does not add up
        ({"refund_minor": -1, "release_minor": held + 1}, 422),  # negative
        ({"refund_minor": held, "release_minor": 0, "currency": "EUR"}, 422),  # another currency
        ({"refund_minor": 1.5, "release_minor": held - 1.5}, 422),  # not integers
        ({"refund_minor": 2**60, "release_minor": 0}, 422),  # out of range
        ({"refund_minor": "10", "release_minor": held - 10}, 422),
    ):
        refused = seller.post(path, json=body, headers=sh)
        assert refused.status_code == status, (body, refused.json)
    mismatch = seller.post(path, json={"refund_minor": held, "release_minor": 1}, headers=sh)
    assert mismatch.json["errors"]["code"] == "split_mismatch"

    refund = held * 40 // 100
    made = seller.post(
        path,
        json={
            "refund_minor": refund,
            "release_minor": held - refund,
            "currency": currency,
            "message": "60/40",
        },
        headers={**sh, "Idempotency-Key": "p-1"},
    )
    assert made.status_code == 201 and made.json["status"] == "open"
    pid = made.json["id"]
    assert len(buyer.get(path, headers=bh).json) == 1
    answer = f"{path}/{pid}/answer"
    assert seller.post(answer, json={"accept": True}, headers=sh).status_code == 403  # your own
    assert buyer.post(answer, json={"accept": "yes"}, headers=bh).status_code == 422
    assert buyer.post(f"{path}/999999/answer", json={"accept": True}, headers=bh).status_code == 404

    accepted = buyer.post(answer, json={"accept": True}, headers={**bh, "Idempotency-Key": "a-1"})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "resolved" and accepted.json["outcome"] == "resolved_split"
    assert (accepted.json["refund_minor"], accepted.json["release_minor"]) == (refund, held - refund)
    replay = buyer.post(answer, json={"accept": True}, headers={**bh, "Idempotency-Key": "a-1"})
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    again = buyer.post(answer, json={"accept": True}, headers=bh)
    assert again.status_code == 409
    with in_tenant(acme):
        assert ledger.escrow_balance(order_id, currency) == 0
        assert db.session.get(Dispute, did).refund_minor == refund


def test_escalate_withdraw_message_and_assessment(
    acme, order_in, api_token, in_tenant, moderator_of, make_user
):
    m, order_id = order_in(acme, "delivered")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    did = _open(buyer, bh, order_id).json["id"]
    base = f"/api/v1/disputes/{did}"
    said = seller.post(f"{base}/messages", json={"body": "Let us talk."}, headers=sh)
    assert said.status_code == 201 and said.json["kind"] == "message"
    assert seller.post(f"{base}/messages", json={"body": ""}, headers=sh).status_code == 422
    assert seller.post(f"{base}/withdraw", json={}, headers=sh).status_code == 403  # not the opener
    escalated = seller.post(f"{base}/escalate", json={"reason": "No agreement"}, headers=sh)
    assert escalated.status_code == 200 and escalated.json["stage"] == "mediation"
    assert buyer.post(f"{base}/escalate", json={}, headers=bh).status_code == 409

    mod = moderator_of(acme)
    expert_id = make_user(acme, email="expert@acme.test", display_name="Eve Expert")
    with in_tenant(acme):
        db.session.add(DisputeExpert(user_id=expert_id, field="Design", appointed_at=datetime.now(UTC)))
        services.request_expert(user(mod), did, expert_id, "Is the logo what was asked?")
        db.session.commit()
    expert, eh = api_token(acme, "expert@acme.test")
    assert expert.get(base, headers=eh).json["expert_question"] == "Is the logo what was asked?"
    assert buyer.post(f"{base}/assessment", json={"assessment": "Mine"}, headers=bh).status_code == 404
    assessed = expert.post(f"{base}/assessment", json={"assessment": "Mostly yes."}, headers=eh)
    assert assessed.status_code == 200 and assessed.json["stage"] == "mediation"

    withdrawn = buyer.post(f"{base}/withdraw", json={}, headers=bh)
    assert withdrawn.status_code == 200 and withdrawn.json["outcome"] == "dismissed"
    assert buyer.post(f"{base}/withdraw", json={}, headers=bh).status_code == 409


def test_tenants_never_meet_through_the_api(acme, globex, order_in, api_token):
    m, order_id = order_in(acme, "delivered")
    g, globex_order = order_in(globex, "delivered")
    assert (g.buyer_id, globex_order) == (m.buyer_id, order_id)  # equal ids in both tenants
    buyer, bh = api_token(acme, m.buyer_email)
    did = _open(buyer, bh, order_id).json["id"]
    uploaded = buyer.post(
        f"/api/v1/disputes/{did}/evidence",
        data={"files": [(io.BytesIO(PNG), "a.png")]},
        headers=bh,
        content_type="multipart/form-data",
    )
    url = uploaded.json[0]["download_url"]

    other, oh = api_token(globex, g.buyer_email)
    assert other.get(f"/api/v1/disputes/{did}", headers=oh).status_code == 404
    assert other.get(f"/api/v1/disputes/{did}/evidence", headers=oh).status_code == 404
    assert other.post(f"/api/v1/disputes/{did}/messages", json={"body": "hi"}, headers=oh).status_code == 404
    assert other.get("/api/v1/disputes", headers=oh).json == []
    assert other.get(url).status_code == 404  # acme's signed file URL on globex's host
    assert buyer.get(url).status_code == 200
    # acme's token on globex's host is not a globex token.
    assert other.get("/api/v1/disputes", headers=bh).status_code == 401
