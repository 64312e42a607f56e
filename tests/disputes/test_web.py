"""The resolution centre's pages: opening a dispute from the order page (with a file), My
disputes, the dispute page for its parties (404 for strangers and other tenants), evidence,
proposals with exact amounts, escalation, withdrawal, the expert's assessment, the refusals on
their forms, and the contract page's per-milestone entry."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import sqlalchemy as sa

from app.accounts.models import User
from app.disputes import services
from app.disputes.models import Dispute, DisputeEvidence, DisputeExpert
from app.ledger import services as ledger
from app.orders.models import Milestone, Order
from tenants.db import db
from tests.disputes.conftest import user
from tests.helpers import form_tokens, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _open_via_web(client, order_id, *, milestone_id=None, files=None, **fields):
    query = f"?order_id={order_id}" + (f"&milestone_id={milestone_id}" if milestone_id else "")
    data = {
        **form_tokens(client, f"/disputes/new{query}"),
        "reason": "not_as_described",
        "statement": "The logo is not what we agreed on.",
        **({"milestone_id": str(milestone_id)} if milestone_id else {}),
        **fields,
    }
    if files:
        data["files"] = files
    return client.post(f"/disputes/new{query}", data=data, content_type="multipart/form-data")


def _dispute_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return int(re.search(r"/disputes/(\d+)$", response.headers["Location"]).group(1))


def _post(client, dispute_id, path, data, **kwargs):
    page = f"/disputes/{dispute_id}"
    return client.post(f"{page}/{path}", data={**form_tokens(client, page), **data}, **kwargs)


def test_buyer_opens_a_dispute_from_the_order_page_with_a_file(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer = login(tenant_client("acme"), m.buyer_email)
    order_page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'data-testid="open-dispute-link"' in order_page
    assert f"/disputes/new?order_id={order_id}" in order_page

    form = buyer.get(f"/disputes/new?order_id={order_id}").get_data(as_text=True)
    assert "Not as described" in form and 'name="milestone_id"' not in form  # a gig order: one milestone

    did = _dispute_id(_open_via_web(buyer, order_id, files=[(io.BytesIO(PNG), "shot.png")]))
    page = buyer.get(f"/disputes/{did}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Dispute D-" in html and 'data-stage="self_resolution"' in html
    assert 'aria-current="step"' in html and "The logo is not what we agreed on." in html
    file_url = re.search(r'href="([^"]+)" data-testid="evidence-file"', html).group(1).replace("&amp;", "&")
    assert buyer.get(file_url).status_code == 200
    # The order page now shows the banner instead of the button; the money stays in escrow.
    order_page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Under dispute: D-" in order_page and 'data-testid="open-dispute-link"' not in order_page
    for refused_step in ("complete-form", "revision-form", "cancellation-form"):  # wait for the dispute
        assert f'data-testid="{refused_step}"' not in order_page
    with in_tenant(acme):
        d = db.session.get(Dispute, did)
        assert d.opened_by == m.buyer_id and d.status == "open"
        assert [e.kind for e in services.evidence_of(d)] == ["file"]
        assert db.session.get(Order, order_id).milestones[0].status == "disputed"


def test_the_open_form_shows_refusals_on_its_inputs_and_stores_nothing(
    acme, order_in, tenant_client, in_tenant
):
    m, order_id = order_in(acme, "in_progress")
    buyer = login(tenant_client("acme"), m.buyer_email)
    bad = _open_via_web(buyer, order_id, reason="because", statement="  ")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'class="field-error"' in html and "Choose a reason" in html and "statement is required" in html
    wrong_file = _open_via_web(buyer, order_id, files=[(io.BytesIO(b"MZ\x90\x00"), "virus.exe")])
    assert wrong_file.status_code == 422
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0
        assert db.session.get(Order, order_id).milestones[0].status != "disputed"
    # Someone else's order, an unpaid one: nothing to open.
    stranger = login(tenant_client("acme"), m.stranger_email)
    assert stranger.get(f"/disputes/new?order_id={order_id}").status_code == 404
    assert stranger.get("/disputes/new?order_id=abc").status_code == 404


def test_unpaid_order_has_nothing_to_dispute(acme, order_in, tenant_client):
    m, order_id = order_in(acme, "awaiting_payment")
    buyer = login(tenant_client("acme"), m.buyer_email)
    page = buyer.get(f"/disputes/new?order_id={order_id}").get_data(as_text=True)
    assert 'data-testid="nothing-disputable"' in page
    assert 'data-testid="open-dispute-link"' not in buyer.get(f"/orders/{order_id}").get_data(as_text=True)


def test_my_disputes_lists_open_and_closed_for_both_parties(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer = login(tenant_client("acme"), m.buyer_email)
    seller = login(tenant_client("acme"), m.seller_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    for client in (buyer, seller):
        html = client.get("/disputes").get_data(as_text=True)
        assert f'data-dispute-id="{did}"' in html and 'data-testid="dispute-deadline"' in html
        assert "Self-resolution" in html
        assert 'data-testid="no-disputes"' in client.get("/disputes?tab=closed").get_data(as_text=True)
        dashboard = client.get("/dashboard").get_data(as_text=True)
        assert 'data-testid="dashboard-dispute"' in dashboard
    assert "Answer:" in seller.get("/disputes").get_data(as_text=True)  # the deadline waits for them
    assert buyer.get("/disputes?tab=nonsense&page=zzz").status_code == 200


def test_deadline_is_shown_in_the_members_time_zone(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        db.session.get(User, m.buyer_id).timezone = "Asia/Tokyo"
        db.session.commit()
    buyer = login(tenant_client("acme"), m.buyer_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    with in_tenant(acme):
        deadline = db.session.get(Dispute, did).stage_deadline_at
    from zoneinfo import ZoneInfo

    local = deadline.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    assert f"{local} JST" in buyer.get(f"/disputes/{did}").get_data(as_text=True)


def test_strangers_and_other_tenants_get_404(acme, globex, order_in, market, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    g = market(globex)  # globex's buyer has the same id as acme's
    buyer = login(tenant_client("acme"), m.buyer_email)
    did = _dispute_id(_open_via_web(buyer, order_id, files=[(io.BytesIO(PNG), "shot.png")]))
    html = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    file_url = re.search(r'href="([^"]+)" data-testid="evidence-file"', html).group(1).replace("&amp;", "&")
    stranger = login(tenant_client("acme"), m.stranger_email)
    assert stranger.get(f"/disputes/{did}").status_code == 404
    assert _post(buyer, did, "messages", {"body": "hi"}).status_code == 303
    page = f"/disputes/{did}"
    tokens = form_tokens(buyer, page)
    assert stranger.post(f"{page}/messages", data={**tokens, "body": "x"}).status_code in (400, 404)

    other = login(tenant_client("globex"), g.buyer_email)
    assert g.buyer_id == m.buyer_id
    assert other.get(f"/disputes/{did}").status_code == 404
    assert f'data-dispute-id="{did}"' not in other.get("/disputes").get_data(as_text=True)
    path = file_url.split("localhost", 1)[-1] if file_url.startswith("http") else file_url
    assert other.get(path).status_code == 404  # acme's signed file URL on globex's host
    assert buyer.get(path).status_code == 200


def test_evidence_of_each_kind_through_the_page(acme, order_in, tenant_client, in_tenant):
    from app.messaging import services as messaging

    m, order_id = order_in(acme, "delivered")
    with in_tenant(acme):
        conversation = messaging.order_conversation_of(user(m.buyer_id), order_id)
        said = messaging.post_message(user(m.seller_id), conversation.id, "Final files by Friday, promised")
        db.session.commit()
        message_id = said.id
    buyer = login(tenant_client("acme"), m.buyer_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    page = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    assert "Final files by Friday, promised" in page  # offered to pick

    assert _post(buyer, did, "evidence", {"kind": "note", "text": "They went silent."}).status_code == 303
    link = {"kind": "link", "url": "https://ci.example.com/run/9", "text": "The failing CI run"}
    assert _post(buyer, did, "evidence", link).status_code == 303
    assert (
        _post(buyer, did, "evidence", {"kind": "message", "message_id": str(message_id)}).status_code == 303
    )
    files = {"kind": "file", "files": (io.BytesIO(PNG), "proof.png"), "text": "Screenshot"}
    assert _post(buyer, did, "evidence", files, content_type="multipart/form-data").status_code == 303

    bad_link = _post(buyer, did, "evidence", {"kind": "link", "url": "ftp://nope"})
    assert bad_link.status_code == 422 and "http(s) address" in bad_link.get_data(as_text=True)
    nothing_picked = _post(buyer, did, "evidence", {"kind": "message"})
    assert nothing_picked.status_code == 422 and "Pick at least one message" in nothing_picked.get_data(
        as_text=True
    )
    assert _post(buyer, did, "evidence", {"kind": "bogus"}).status_code == 400

    html = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    assert html.count('data-testid="evidence-item"') == 4
    assert "https://ci.example.com/run/9" in html and "They went silent." in html
    with in_tenant(acme):
        rows = db.session.scalars(sa.select(DisputeEvidence).order_by(DisputeEvidence.id)).all()
        assert [r.kind for r in rows] == ["note", "link", "message", "file"]
        assert all(r.author_id == m.buyer_id for r in rows) and rows[2].message_id == message_id


def test_a_split_proposal_accepted_resolves_with_exact_amounts(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer = login(tenant_client("acme"), m.buyer_email)
    seller = login(tenant_client("acme"), m.seller_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    with in_tenant(acme):
        held = db.session.get(Dispute, did).amount_minor
        currency = db.session.get(Dispute, did).currency
    refund = held * 40 // 100
    major = f"{refund // 100}.{refund % 100:02d}"

    # Amounts that do not add up, or are not amounts: errors on the form, nothing stored.
    too_much = _post(seller, did, "proposals", {"way": "split", "refund": major, "release": major})
    assert too_much.status_code == 422 and "must add up" in too_much.get_data(as_text=True)
    words = _post(seller, did, "proposals", {"way": "split", "refund": "ten"})
    assert words.status_code == 422 and "Enter an amount like" in words.get_data(as_text=True)
    negative = _post(seller, did, "proposals", {"way": "split", "refund": "-5"})
    assert negative.status_code == 422 and "cannot be negative" in negative.get_data(as_text=True)

    sent = _post(seller, did, "proposals", {"way": "split", "refund": major, "message": "60/40?"})
    assert sent.status_code == 303
    with in_tenant(acme):
        proposal = services.proposals_of(db.session.get(Dispute, did))[-1]
        assert (proposal.refund_minor, proposal.release_minor) == (refund, held - refund)
        pid = proposal.id
    html = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    assert 'data-testid="accept-proposal"' in html
    assert 'data-testid="withdraw-proposal"' in seller.get(f"/disputes/{did}").get_data(as_text=True)
    # The seller cannot accept their own proposal.
    own = _post(seller, did, f"proposals/{pid}/answer", {"accept": "1", "confirm": "yes"})
    assert own.status_code == 403

    # Without confirmation: the confirmation page, nothing moves.
    ask = _post(buyer, did, f"proposals/{pid}/answer", {"accept": "1"})
    assert ask.status_code == 200 and 'data-testid="confirm-page"' in ask.get_data(as_text=True)
    accepted = _post(buyer, did, f"proposals/{pid}/answer", {"accept": "1", "confirm": "yes"})
    assert accepted.status_code == 303
    with in_tenant(acme):
        d = db.session.get(Dispute, did)
        assert d.status == "resolved" and d.outcome == "resolved_split"
        assert (d.refund_minor, d.release_minor) == (refund, held - refund)
        assert ledger.escrow_balance(order_id, currency) == 0
    html = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    assert 'data-testid="dispute-outcome"' in html and "Split" in html
    assert 'data-testid="add-evidence"' not in html and 'data-testid="proposal-form"' not in html
    # Evidence after the resolution: refused above the page.
    late = _post(buyer, did, "evidence", {"kind": "note", "text": "One more thing"})
    assert late.status_code == 409 and "resolved" in late.get_data(as_text=True)
    assert "Past disputes" in buyer.get(f"/orders/{order_id}").get_data(as_text=True)


def test_release_all_and_decline(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer = login(tenant_client("acme"), m.buyer_email)
    seller = login(tenant_client("acme"), m.seller_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    assert _post(seller, did, "proposals", {"way": "release"}).status_code == 303
    with in_tenant(acme):
        pid = services.proposals_of(db.session.get(Dispute, did))[-1].id
    assert _post(buyer, did, f"proposals/{pid}/answer", {"accept": "0"}).status_code == 303
    assert _post(buyer, did, "proposals", {"way": "refund"}).status_code == 303
    with in_tenant(acme):
        d = db.session.get(Dispute, did)
        declined, mine = services.proposals_of(d)
        assert declined.status == "declined" and (declined.refund_minor, declined.release_minor) == (
            0,
            d.amount_minor,
        )
        assert (mine.refund_minor, mine.release_minor) == (d.amount_minor, 0) and d.is_open


def test_escalate_then_withdraw(acme, order_in, tenant_client, in_tenant):
    m, order_id = order_in(acme, "delivered")
    buyer = login(tenant_client("acme"), m.buyer_email)
    seller = login(tenant_client("acme"), m.seller_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    assert 'data-testid="withdraw"' not in seller.get(f"/disputes/{did}").get_data(as_text=True)
    assert _post(seller, did, "withdraw", {"confirm": "yes"}).status_code in (400, 403)
    assert _post(seller, did, "escalate", {"reason": "We cannot agree."}).status_code == 303
    html = buyer.get(f"/disputes/{did}").get_data(as_text=True)
    assert 'data-stage="mediation"' in html and "We cannot agree." in html
    assert _post(buyer, did, "escalate", {}).status_code == 409  # not in self-resolution any more
    assert _post(buyer, did, "withdraw", {"confirm": "yes"}).status_code == 303
    with in_tenant(acme):
        d = db.session.get(Dispute, did)
        assert d.status == "dismissed" and d.outcome == "dismissed"
        assert db.session.get(Order, order_id).milestones[0].status != "disputed"


def test_the_expert_sees_the_case_and_sends_an_assessment(
    acme, order_in, moderator_of, make_user, tenant_client, in_tenant
):
    m, order_id = order_in(acme, "delivered")
    mod = moderator_of(acme)
    expert_id = make_user(acme, email="expert@acme.test", display_name="Eve Expert")
    buyer = login(tenant_client("acme"), m.buyer_email)
    did = _dispute_id(_open_via_web(buyer, order_id))
    with in_tenant(acme):
        db.session.add(DisputeExpert(user_id=expert_id, field="Design", appointed_at=datetime.now(UTC)))
        services.escalate(user(m.buyer_id), did)
        services.request_expert(user(mod), did, expert_id, "Does the logo match the brief?")
        db.session.commit()
    expert = login(tenant_client("acme"), "expert@acme.test")
    html = expert.get(f"/disputes/{did}").get_data(as_text=True)
    assert "Does the logo match the brief?" in html and 'data-testid="assessment-form"' in html
    assert 'data-testid="proposal-form"' not in html
    empty = _post(expert, did, "assessment", {"assessment": " "})
    assert empty.status_code == 422 and "assessment is required" in empty.get_data(as_text=True)
    assert _post(expert, did, "assessment", {"assessment": "Item 3 is missing."}).status_code == 303
    with in_tenant(acme):
        d = db.session.get(Dispute, did)
        assert d.stage == "mediation" and d.expert_assessment == "Item 3 is missing."
    assert 'data-testid="assessment-form"' not in expert.get(f"/disputes/{did}").get_data(as_text=True)


def test_contract_page_offers_a_dispute_per_funded_milestone(acme, contract_in, tenant_client, in_tenant):
    h, contract_id, order_id, ids = contract_in(acme, fund=1)
    client = login(tenant_client("acme"), h.emails["client"])
    page = client.get(f"/contracts/{contract_id}").get_data(as_text=True)
    assert f"/disputes/new?order_id={order_id}&amp;milestone_id={ids[0]}" in page
    assert f"milestone_id={ids[1]}" not in page  # not funded: nothing to dispute

    form = client.get(f"/disputes/new?order_id={order_id}&milestone_id={ids[0]}").get_data(as_text=True)
    assert 'name="milestone_id"' in form and f'selected value="{ids[0]}"' in form
    did = _dispute_id(_open_via_web(client, order_id, milestone_id=ids[0]))
    html = client.get(f"/disputes/{did}").get_data(as_text=True)
    assert f"/contracts/{contract_id}" in html  # the contract's page, not the order's
    assert 'data-testid="evidence-dod-form"' in html
    assert (
        _post(client, did, "evidence", {"kind": "dod", "text": "The ERD was never shared"}).status_code == 303
    )
    with in_tenant(acme):
        row = db.session.scalars(sa.select(DisputeEvidence)).one()
        assert row.kind == "dod" and row.data["milestone"] == "Design"
        assert db.session.get(Milestone, ids[0]).status == "disputed"
    page = client.get(f"/contracts/{contract_id}").get_data(as_text=True)
    assert "Under dispute: D-" in page and 'data-testid="milestone-disputed"' in page
