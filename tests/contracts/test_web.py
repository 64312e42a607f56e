"""Contract pages: the hire form (pre-filled, refusals on the form), answering the offer,
signing, the contract page with its milestones, the SoW download, the order page's redirect,
and tenants that never meet with equal ids."""

from __future__ import annotations

from app.contracts.models import Contract
from app.orders.models import Order
from tenants.db import db
from tests.helpers import bearer_headers, form_tokens, login

from .conftest import TERMS, user


def _hire_form(*rows) -> dict:
    data = {"scope": "Build the booking tool.", "nda": "on", "ip_assignment": "on", "message": "Welcome"}
    for i, (title, amount, due) in enumerate(rows):
        data.update({f"m{i}_title": title, f"m{i}_amount": amount, f"m{i}_due": due})
    return data


def test_hire_sign_and_work_through_the_web(acme, hiring, tenant_client, in_tenant):
    h = hiring(acme)
    client = login(tenant_client("acme"), h.emails["client"])
    ann = login(tenant_client("acme"), h.emails["ann"])
    path = f"/proposals/{h.ann_proposal}/hire"

    page = client.get(path).get_data(as_text=True)
    assert 'value="Design"' in page and 'value="1000.00"' in page  # the proposal's milestones
    assert ann.get(path).status_code == 404  # the freelancer cannot hire on the client's job

    # A zero amount and a past due date: the form again with the errors, nothing offered.
    bad = client.post(path, data={**form_tokens(client, path), **_hire_form(("Design", "0", "2001-01-01"))})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "above zero" in text and "in the past" in text
    unparsable = client.post(path, data={**form_tokens(client, path), **_hire_form(("Design", "ten", ""))})
    assert unparsable.status_code == 422
    with in_tenant(acme):
        assert db.session.query(Contract).count() == 0

    sent = client.post(
        path,
        data={
            **form_tokens(client, path),
            **_hire_form(("Design", "1000", ""), ("Build", "2000.50", "")),
        },
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)[:600]
    contract_path = sent.headers["Location"]
    with in_tenant(acme):
        contract = db.session.query(Contract).one()
        assert contract.total_minor == 300050 and [
            m["amount_minor"] for m in contract.terms["milestones"]
        ] == [
            100000,
            200050,
        ]
        cid = contract.id

    # Ann accepts on the page, then both sign by typing their names.
    offer_page = ann.get(contract_path).get_data(as_text=True)
    assert 'data-testid="accept-offer"' in offer_page
    assert ann.post(f"/contracts/{cid}/accept", data=form_tokens(ann, contract_path)).status_code == 303
    wrong = ann.post(f"/contracts/{cid}/sign", data={**form_tokens(ann, contract_path), "typed_name": "Bob"})
    assert wrong.status_code == 422 and "Type your name as it is on your account" in wrong.get_data(
        as_text=True
    )
    for web, name in ((ann, "Ann Dev"), (client, "Cleo Client")):
        r = web.post(f"/contracts/{cid}/sign", data={**form_tokens(web, contract_path), "typed_name": name})
        assert r.status_code == 303, r.get_data(as_text=True)[:600]

    page = client.get(contract_path).get_data(as_text=True)
    assert 'data-status="active"' in page and 'data-testid="milestone-fund"' in page
    assert "Cleo Client" in page and "Statement of Work" in page
    download = client.get(f"/contracts/{cid}/sow.txt")
    assert download.status_code == 200 and download.mimetype == "text/plain"
    assert "attachment" in download.headers["Content-Disposition"] and "/Ann Dev/" in download.get_data(
        as_text=True
    )
    # The engagement's order page opens the contract page.
    with in_tenant(acme):
        order_id = db.session.get(Contract, cid).order_id
    assert client.get(f"/orders/{order_id}").headers["Location"].endswith(f"/contracts/{cid}")
    # Lists.
    assert f"/contracts/{cid}" in ann.get("/contracts?tab=active").get_data(as_text=True)
    assert f"/contracts/{cid}" not in ann.get("/contracts?tab=ended").get_data(as_text=True)
    member = login(tenant_client("acme"), h.emails["member"])
    assert member.get(contract_path).status_code == 404
    assert member.get(f"/contracts/{cid}/sow.txt").status_code == 404


def test_ending_with_submitted_work_is_refused_on_the_page(acme, contract_in, tenant_client, in_tenant):
    from app.orders import milestones

    h, cid, order_id, (m1, _) = contract_in(acme, fund=1)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        db.session.commit()
    client = login(tenant_client("acme"), h.emails["client"])
    path = f"/contracts/{cid}"
    r = client.post(f"{path}/end", data={**form_tokens(client, path), "reason": "Stop"})
    assert r.status_code == 409 and "accept it, or agree" in r.get_data(as_text=True)
    with in_tenant(acme):
        assert db.session.get(Order, order_id).status == "in_progress"


def test_tenants_never_meet_with_equal_contract_ids(acme, globex, contract_in, tenant_client, in_tenant):
    ids = {}
    for tenant in (acme, globex):
        h, cid, order_id, mids = contract_in(tenant, fund=1, terms={**TERMS, "scope": f"{tenant.slug} scope"})
        ids[tenant.slug] = (h, cid, order_id, mids)
    assert ids["acme"][1:3] == ids["globex"][1:3]  # equal contract and order ids
    h, cid, order_id, _ = ids["acme"]
    acme_web = tenant_client("acme")
    globex_headers = bearer_headers(tenant_client("globex"), ids["globex"][0].emails["client"])
    # globex's token is refused on acme's host.
    assert acme_web.get(f"/api/v1/contracts/{cid}", headers=globex_headers).status_code == 401
    assert acme_web.get(f"/api/v1/contracts/{cid}/sow/download", headers=globex_headers).status_code == 401
    # acme's client reads acme's contract only: the SoW is acme's, signed by acme's people.
    acme_headers = bearer_headers(acme_web, h.emails["client"])
    sow = acme_web.get(f"/api/v1/contracts/{cid}/sow", headers=acme_headers).json
    assert "acme scope" in sow["body"] and "globex scope" not in sow["body"]
    # A session of acme is nothing on globex's host.
    login(acme_web, h.emails["client"])
    assert acme_web.get(f"/contracts/{cid}").status_code == 200
    globex_web = tenant_client("globex")
    assert globex_web.get(f"/contracts/{cid}").status_code in (302, 401)
    with in_tenant(globex):
        assert "globex scope" in db.session.get(Contract, cid).terms["scope"]
        assert db.session.get(Order, order_id).milestones[0].status == "funded"


def test_the_dashboard_says_whose_step_it_is(acme, contract_in, tenant_client, in_tenant):
    from app.orders import milestones

    h, cid, order_id, (m1, m2) = contract_in(acme, fund=0)
    client = login(tenant_client("acme"), h.emails["client"])
    ann = login(tenant_client("acme"), h.emails["ann"])
    assert "Fund milestone 1" in client.get("/dashboard").get_data(as_text=True)
    with in_tenant(acme):
        milestones.mark_milestone_funded(order_id, m1, "pay_dash_1")
        db.session.commit()
    assert "Deliver milestone 1" in ann.get("/dashboard").get_data(as_text=True)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        db.session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Review milestone 1" in page and f"/contracts/{cid}" in page
    assert 'data-testid="todo-order"' not in page  # the engagement is told by its contract


def test_the_client_messages_a_freelancer_from_the_proposals(acme, hiring, tenant_client):
    h = hiring(acme)
    client = login(tenant_client("acme"), h.emails["client"])
    page = client.get(f"/jobs/{h.job_id}/proposals").get_data(as_text=True)
    assert (
        f'data-testid="contact-{h.ann_proposal}"' in page and f'data-testid="hire-{h.ann_proposal}"' in page
    )
    r = client.post(f"/contact/{h.ann}", data=form_tokens(client, f"/jobs/{h.job_id}/proposals"))
    assert r.status_code == 302 and "/inbox/" in r.headers["Location"]


def test_a_direct_offer_from_the_freelancers_profile(acme, hiring, tenant_client, in_tenant):
    h = hiring(acme)
    with in_tenant(acme):
        from app.accounts.models import User

        handle = db.session.get(User, h.ann).handle
    client = login(tenant_client("acme"), h.emails["client"])
    assert handle and f"/contracts/new/{h.ann}" in client.get(f"/u/{handle}").get_data(as_text=True)
    path = f"/contracts/new/{h.ann}"
    page = client.get(path).get_data(as_text=True)
    assert (
        'data-testid="offer-title"' in page and "Build a booking tool for gyms" in page
    )  # the open job offered
    form = {**_hire_form(("Landing page", "400", "")), "title": "Land"}
    short = client.post(path, data={**form_tokens(client, path), **form})
    assert short.status_code == 422 and "at least 5 characters" in short.get_data(as_text=True)
    sent = client.post(path, data={**form_tokens(client, path), **form, "title": "Landing page for the gym"})
    assert sent.status_code == 303
    with in_tenant(acme):
        contract = db.session.query(Contract).one()
        assert (contract.title, contract.job_id, contract.total_minor) == (
            "Landing page for the gym",
            None,
            40000,
        )
    assert client.get(f"/contracts/new/{h.client}").status_code == 404  # not a freelancer (and yourself)
    assert client.get(f"/contracts/new/{h.member}").status_code == 404
