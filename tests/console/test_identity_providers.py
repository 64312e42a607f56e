"""Console page "Sign-in methods" (app/console/identity): the GitHub / Google clients of a
marketplace, the secret write-only and masked, audited, admins only, per tenant."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import IdentityProvider
from app.core.crypto import decrypt_secret
from tenants.db import db
from tests.console.conftest import admin_web, csrf_token

PAGE = "/console/sign-in-methods"
SECRET = "gh-secret-abcdefghijklmnop-7xQ2"


def rows(in_tenant, tenant):
    with in_tenant(tenant):
        return {
            r.provider: (r.client_id, decrypt_secret(r.client_secret_encrypted), r.enabled)
            for r in db.session.scalars(sa.select(IdentityProvider))
        }


def save(client, provider, **fields):
    data = {"csrf_token": csrf_token(client, PAGE)}
    data.update({f"{provider}-{k}": v for k, v in fields.items()})
    return client.post(f"{PAGE}/{provider}", data=data)


def test_an_admin_configures_github_and_the_secret_is_never_shown(acme, tenant_client, in_tenant, audit_of):
    client = admin_web(tenant_client, acme)
    page = client.get(PAGE).get_data(as_text=True)
    assert "http://acme.localhost/login/oauth/github/callback" in page
    assert "http://acme.localhost/login/oauth/google/callback" in page

    answer = save(client, "github", client_id="Iv1.acme", client_secret=SECRET, enabled="y")
    assert answer.status_code == 303
    assert rows(in_tenant, acme) == {"github": ("Iv1.acme", SECRET, True)}
    page = client.get(PAGE).get_data(as_text=True)
    assert SECRET not in page and SECRET[:-4] not in page and "••••7xQ2" in page
    entry = [e for e in audit_of(acme) if e[0] == "identity_provider.save"][-1]
    assert entry[2] == "github" and entry[5]["client_secret"] == "(changed)"
    assert SECRET not in str(entry)
    # The login page now offers it.
    assert 'data-testid="oauth-github"' in tenant_client("acme").get("/login").get_data(as_text=True)

    # Saving again without a secret keeps the stored one; turning it off hides the button.
    assert save(client, "github", client_id="Iv1.acme2").status_code == 303
    assert rows(in_tenant, acme) == {"github": ("Iv1.acme2", SECRET, False)}
    assert 'data-testid="oauth-github"' not in tenant_client("acme").get("/login").get_data(as_text=True)
    entry = [e for e in audit_of(acme) if e[0] == "identity_provider.save"][-1]
    assert entry[5] == {"client_id": ["Iv1.acme", "Iv1.acme2"], "enabled": [True, False]}

    # Remove: asked to confirm, then gone and audited.
    token = csrf_token(client, PAGE)
    asked = client.post(f"{PAGE}/github/remove", data={"csrf_token": token})
    assert asked.status_code == 200 and rows(in_tenant, acme) != {}
    done = client.post(f"{PAGE}/github/remove", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and rows(in_tenant, acme) == {}
    assert audit_of(acme)[-1][0] == "identity_provider.remove"


def test_bad_input_is_refused_on_the_form_and_nothing_is_saved(acme, tenant_client, in_tenant, audit_of):
    client = admin_web(tenant_client, acme)
    before = len(audit_of(acme))
    empty_id = save(client, "github", client_id="  ", client_secret=SECRET, enabled="y")
    assert empty_id.status_code == 422 and "Enter the client ID" in empty_id.get_data(as_text=True)
    no_secret = save(client, "google", client_id="abc.apps.googleusercontent.com", enabled="y")
    assert no_secret.status_code == 422 and "Enter the client secret" in no_secret.get_data(as_text=True)
    spaced = save(client, "google", client_id="abc def", client_secret=SECRET)
    assert spaced.status_code == 422
    assert save(client, "twitter", client_id="x", client_secret=SECRET).status_code == 404
    assert client.post(f"{PAGE}/github", data={"github-client_id": "x"}).status_code == 400  # no CSRF
    assert rows(in_tenant, acme) == {} and len(audit_of(acme)) == before


def test_members_and_moderators_cannot_open_the_page(acme, tenant_client, make_user, web_as, in_tenant):
    make_user(acme, email="mod@acme.test", role="moderator")
    make_user(acme, email="member@acme.test")
    for email in ("mod@acme.test", "member@acme.test"):
        client = web_as(acme, email, "correct-horse-battery")
        assert client.get(PAGE).status_code == 403
        token = csrf_token(client, "/account")
        data = {"csrf_token": token, "github-client_id": "x", "github-client_secret": SECRET}
        assert client.post(f"{PAGE}/github", data=data).status_code == 403
    assert rows(in_tenant, acme) == {}


def test_a_provider_of_acme_is_not_globex_s(acme, globex, tenant_client, in_tenant):
    acme_admin = admin_web(tenant_client, acme)
    assert (
        save(acme_admin, "github", client_id="Iv1.acme", client_secret=SECRET, enabled="y").status_code == 303
    )
    globex_admin = admin_web(tenant_client, globex)
    page = globex_admin.get(PAGE).get_data(as_text=True)
    assert "Iv1.acme" not in page and "••••" not in page
    assert rows(in_tenant, globex) == {}
    token = csrf_token(globex_admin, PAGE)
    gone = globex_admin.post(f"{PAGE}/github/remove", data={"csrf_token": token, "confirm": "yes"})
    assert gone.status_code == 404
    assert rows(in_tenant, acme) == {"github": ("Iv1.acme", SECRET, True)}
    assert tenant_client("globex").get("/login/oauth/github").status_code == 404
