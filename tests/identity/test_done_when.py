"""#22's "Done when", as the people involved live it (real clamd, a real local OAuth provider over
HTTP, the real pages): an operator enrols in two-factor sign-in with the QR code, requires it of
admins and moderators, and configures GitHub sign-in for their marketplace; a freelancer signs in
with the (local test) provider on two devices, sees both sessions and signs the other device out;
an uploaded EICAR test file is quarantined and never downloadable.
"""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.accounts.models import TwoFactor, User, UserIdentity, UserSession
from app.storage import StorageNotFound, storage
from app.storage.models import StoredFile
from tenants.db import db
from tests.accounts.test_oauth import CLIENTS, idp, provider_server, sign_in_with  # noqa: F401  (fixtures)
from tests.accounts.test_two_factor import clock, enrol, signed_in  # noqa: F401  (fixture)
from tests.clamd import EICAR
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import form_data
from tests.helpers import csrf_token, login

LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def device(tenant_client):
    def make(agent: str):
        client = tenant_client("acme")
        client.environ_base["HTTP_USER_AGENT"] = agent
        return client

    return make


def test_operator_secures_the_console_and_github_sign_in_a_freelancer_manages_devices_eicar_never_served(
    acme,
    tenant_client,
    in_tenant,
    make_user,
    access_token,
    run_jobs,
    scanning,
    idp,  # noqa: F811  (the imported fixture)
    clock,  # noqa: F811  (the imported fixture)
    device,
):
    # 1. The operator enrols with the QR code (the page draws it; the code from the app confirms).
    operator = tenant_client("acme")
    signed_in(operator, "admin@acme.test", ADMIN_PASSWORD)
    secret, codes = enrol(operator, clock)
    assert len(codes) == 10
    with in_tenant(acme):
        admin = db.session.scalars(sa.select(User).where(User.email == "admin@acme.test")).one()
        assert db.session.get(TwoFactor, admin.id).confirmed_at is not None

    # 2. ... and requires two-factor sign-in of admins and moderators.
    saved = operator.post("/console/settings", data=form_data(operator, require_2fa_staff="y"))
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:500]
    moderator_id = make_user(acme, email="mo@acme.test", role="moderator")
    moderator = login(tenant_client("acme"), "mo@acme.test", "correct-horse-battery")
    refused = moderator.get("/console/")
    assert refused.status_code in (302, 303) and refused.headers["Location"].endswith("/account/security")
    assert operator.get("/console/").status_code == 200  # the enrolled operator goes on

    # 3. The operator configures GitHub sign-in for the marketplace (the callback URL is shown).
    page = "/console/sign-in-methods"
    assert "http://acme.localhost/login/oauth/github/callback" in operator.get(page).get_data(as_text=True)
    client_id, client_secret = CLIENTS[("acme", "github")]
    configured = operator.post(
        f"{page}/github",
        data={
            "csrf_token": csrf_token(operator, page),
            "github-client_id": client_id,
            "github-client_secret": client_secret,
            "github-enabled": "y",
        },
    )
    assert configured.status_code == 303
    assert 'data-testid="oauth-github"' in tenant_client("acme").get("/login").get_data(as_text=True)

    # 4. A freelancer signs in with the local provider on a laptop and on a phone ...
    laptop, phone = device(LAPTOP), device(PHONE)
    for browser in (laptop, phone):
        assert sign_in_with(browser, "github", "octo-ada").status_code == 302
        assert browser.get("/account").status_code == 200
    with in_tenant(acme):
        identity = db.session.scalars(sa.select(UserIdentity)).one()
        freelancer_id = identity.user_id
        assert freelancer_id not in (admin.id, moderator_id) and identity.provider == "github"
        rows = db.session.scalars(
            sa.select(UserSession).where(UserSession.user_id == freelancer_id).order_by(UserSession.id)
        ).all()
        assert [(r.kind, r.method, r.device, r.revoked_at) for r in rows] == [
            ("web", "github", "Firefox on Windows", None),
            ("web", "github", "Chrome on Android", None),
        ]
        phone_row = rows[1].id

    # ... sees both sessions and signs the phone out from the laptop.
    listed = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Windows" in listed and "Chrome on Android" in listed and "This device" in listed
    ended = laptop.post(
        f"/account/sessions/{phone_row}/end", data={"csrf_token": csrf_token(laptop, "/account/sessions")}
    )
    assert ended.status_code in (302, 303)
    assert phone.get("/account").status_code == 302  # the phone is signed out at its next request
    assert laptop.get("/account").status_code == 200

    # 5. The freelancer uploads the EICAR test file: "being checked", then quarantined, never served.
    token = access_token(acme, freelancer_id)
    uploaded = laptop.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(EICAR), "brief.txt", "text/plain")},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    url = uploaded.json["url"]
    assert laptop.get(url).status_code == 503
    run_jobs()
    assert laptop.get(url).status_code == 410
    assert tenant_client("acme").get(url).status_code == 410
    with in_tenant(acme):
        row = db.session.scalars(sa.select(StoredFile)).one()
        assert row.status == "quarantined" and row.uploaded_by_id == freelancer_id
        with pytest.raises(StorageNotFound):
            storage.open(row.key)
    console = operator.get("/console/quarantine").get_data(as_text=True)
    assert "brief.txt" in console and "Eicar-Test-Signature" in console
