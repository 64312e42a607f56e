"""Gig approval (``marketplace_settings.gigs_require_approval``): what publishing does for the seller.

With approval on, publishing sends a new gig to ``pending_approval`` (``gig.submitted``,
not ``gig.published``): it is not public and not in search until an operator approves it.
A pending gig stays editable and must stay complete; a rejected gig is edited and
resubmitted; a gig an operator paused goes back through review even with approval off;
a gig already approved goes live again at once when its seller resumes it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs import moderation, services
from app.gigs.models import Gig
from app.gigs.services import GigError, GigNotFound
from tenants.db import db


def _user(user_id) -> User:
    return db.session.get(User, user_id)


def _gig(gig_id) -> Gig:
    return db.session.get(Gig, gig_id)


def _admin() -> User:
    return db.session.scalar(sa.select(User).where(User.role == "admin"))


def test_without_approval_publishing_goes_live_at_once(acme, make_seller, make_gig, gig_row, events_of):
    seller = make_seller(acme)
    gig_id = make_gig(acme, seller)
    assert gig_row(acme, gig_id)["status"] == "active"
    assert events_of(acme) == [("gig.published", {"gig_id": gig_id})]


def test_with_approval_publishing_submits_the_gig_for_review(
    acme, approval, make_seller, make_gig, in_tenant, events_of, make_user
):
    approval(acme)
    seller = make_seller(acme)
    stranger = make_user(acme, email="stranger@example.com")
    gig_id = make_gig(acme, seller, status="draft")
    with in_tenant(acme):
        gig = services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        assert gig.status == "pending_approval" and gig.published_at is None
        # Publishing again changes nothing (no second submission).
        services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        slug = gig.slug
        for viewer in (None, _user(stranger)):
            with pytest.raises(GigNotFound):
                services.get_public_gig(slug, viewer)
        assert services.get_public_gig(slug, _user(seller)).id == gig_id  # the owner's preview
        assert services.list_category_gigs(_gig(gig_id).category) == ([], 0)
        assert services.list_seller_gigs(_user(seller)) == ([], 0)
        mine, _ = services.list_seller_gigs(_user(seller), include_drafts=True)
        assert [g.id for g in mine] == [gig_id]
        assert moderation.queue_size() == 1
    assert events_of(acme) == [("gig.submitted", {"gig_id": gig_id})]


def test_a_pending_gig_stays_editable_but_must_stay_complete(
    acme, approval, make_seller, make_gig, in_tenant, gig_row
):
    approval(acme)
    seller = make_seller(acme)
    gig_id = make_gig(acme, seller, status="draft")
    with in_tenant(acme):
        services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        services.update_gig(_user(seller), _gig(gig_id), {"title": "I will design a bolder vintage logo"})
        db.session.commit()
        with pytest.raises(GigError) as refused:
            services.update_gig(_user(seller), _gig(gig_id), {"description": ""})
        assert "description" in refused.value.errors
        db.session.rollback()
    row = gig_row(acme, gig_id)
    assert row["status"] == "pending_approval" and row["title"] == "I will design a bolder vintage logo"
    assert row["description_html"]


def test_a_rejected_gig_is_edited_and_resubmitted(
    acme, approval, make_seller, make_gig, in_tenant, events_of
):
    approval(acme)
    seller = make_seller(acme)
    gig_id = make_gig(acme, seller, status="draft")
    with in_tenant(acme):
        services.publish_gig(_user(seller), _gig(gig_id))
        moderation.reject_gig(_admin(), gig_id, "The title promises too much.")
        db.session.commit()
        services.update_gig(_user(seller), _gig(gig_id), {"title": "I will design a simple clean logo"})
        services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        gig = _gig(gig_id)
        # The previous reason stays on the gig for the reviewer until the next decision.
        assert gig.status == "pending_approval" and gig.moderation_reason == "The title promises too much."
        moderation.approve_gig(_admin(), gig_id)
        db.session.commit()
        assert _gig(gig_id).status == "active" and _gig(gig_id).moderation_reason is None
    names = [name for name, _payload in events_of(acme)]
    assert names == [
        "gig.submitted", "gig.rejected", "gig.updated", "gig.submitted", "gig.published", "gig.approved",
    ]  # fmt: skip


def test_an_approved_gig_paused_by_its_seller_goes_live_again_at_once(
    acme, approval, make_seller, make_gig, in_tenant
):
    approval(acme)
    seller = make_seller(acme)
    gig_id = make_gig(acme, seller, status="draft")
    with in_tenant(acme):
        services.publish_gig(_user(seller), _gig(gig_id))
        moderation.approve_gig(_admin(), gig_id)
        services.pause_gig(_user(seller), _gig(gig_id))
        services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        assert _gig(gig_id).status == "active"


def test_a_gig_an_operator_paused_goes_back_through_review_even_without_approval(
    acme, make_seller, make_gig, in_tenant, events_of
):
    seller = make_seller(acme)
    gig_id = make_gig(acme, seller)
    with in_tenant(acme):
        moderation.operator_pause_gig(_admin(), gig_id, "Misleading delivery times.")
        db.session.commit()
        with pytest.raises(services.GigStateError):  # a paused gig is not live: no second pause
            moderation.operator_pause_gig(_admin(), gig_id, "Again, and more.")
        db.session.rollback()
        services.publish_gig(_user(seller), _gig(gig_id))
        db.session.commit()
        assert _gig(gig_id).status == "pending_approval"
    assert [name for name, _ in events_of(acme)][-2:] == ["gig.paused", "gig.submitted"]


def test_the_seller_sees_pending_and_publishes_for_review_on_the_web(
    acme, approval, tenant_client, make_seller, make_gig, web, gig_row
):
    approval(acme)
    seller = make_seller(acme, email="seller@example.com")
    gig_id = make_gig(acme, seller, status="draft")
    client = tenant_client("acme")
    web.login(client, "seller@example.com")
    token = web.csrf_token(client, "/seller/gigs")
    response = client.post(f"/seller/gigs/{gig_id}/publish", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get("/seller/gigs").get_data(as_text=True)
    assert "sent for review" in page and "Pending approval" in page and 'data-testid="pending-notice"' in page
    assert f'data-testid="publish-{gig_id}"' not in page  # nothing to publish while it waits
    edit = client.get(f"/seller/gigs/{gig_id}/edit").get_data(as_text=True)
    assert 'data-testid="pending-notice"' in edit and "Pending approval" in edit
    assert gig_row(acme, gig_id)["status"] == "pending_approval"


def test_publishing_through_the_api_reports_the_pending_status(
    acme, approval, make_seller, make_gig, api_token
):
    approval(acme)
    seller = make_seller(acme, email="seller@example.com")
    gig_id = make_gig(acme, seller, status="draft")
    client, headers = api_token(acme, "seller@example.com")
    response = client.post(f"/api/v1/gigs/{gig_id}/publish", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "pending_approval"
    assert client.get(f"/api/v1/gigs/{gig_id}").status_code == 404  # not public
    assert client.get(f"/api/v1/gigs/{gig_id}", headers=headers).json["status"] == "pending_approval"


def test_the_owner_reads_the_rejection_reason_through_the_api(
    acme, approval, make_seller, make_gig, in_tenant, api_token
):
    approval(acme)
    seller = make_seller(acme, email="seller@example.com")
    gig_id = make_gig(acme, seller, status="draft")
    with in_tenant(acme):
        services.publish_gig(_user(seller), _gig(gig_id))
        moderation.reject_gig(_admin(), gig_id, "The title promises too much.")
        db.session.commit()
    client, headers = api_token(acme, "seller@example.com")
    body = client.get(f"/api/v1/gigs/{gig_id}", headers=headers).json
    assert body["status"] == "rejected" and body["moderation_reason"] == "The title promises too much."


def test_approval_is_per_marketplace(acme, globex, approval, make_seller, make_gig, gig_row):
    approval(acme)
    acme_gig = make_gig(acme, make_seller(acme), status="draft")
    globex_gig = make_gig(globex, make_seller(globex))
    assert acme_gig == globex_gig
    assert gig_row(globex, globex_gig)["status"] == "active"
    assert gig_row(acme, acme_gig)["status"] == "draft"
