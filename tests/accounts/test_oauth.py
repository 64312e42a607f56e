"""Sign in with GitHub and Google (app/accounts/oauth.py), over real HTTP against the local
provider (app/demo/oidc_provider.py) on a live server: the app exchanges codes, fetches the
JWKS and GitHub's /user with ``requests``, as it does against the real providers."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from app.accounts import oauth
from app.accounts.models import User, UserIdentity
from app.demo.oidc_provider import DemoProvider, endpoints_for, make_provider_app
from app.events.models import OutboxEvent
from tenants.db import db
from tests.helpers import LiveServer, csrf_token, login

PASSWORD = "correct-horse-battery"
CLIENTS = {
    ("acme", "github"): ("acme-gh-client", "acme-gh-secret-0123456789"),
    ("acme", "google"): ("acme-google-client", "acme-google-secret-0123456789"),
    ("globex", "github"): ("globex-gh-client", "globex-gh-secret-0123456789"),
}


@pytest.fixture(scope="module")
def provider_server():
    state = DemoProvider()
    server = LiveServer(make_provider_app(state)).start()
    yield state, f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def idp(provider_server, app, monkeypatch):
    """The local provider, fresh for each test, with the app pointed at it."""
    state, base = provider_server
    fresh = DemoProvider()
    state.identities, state.spoil, state.codes, state.tokens = fresh.identities, set(), {}, {}
    state.issued.clear()
    state.clients.clear()
    for (_, provider), (client_id, secret) in CLIENTS.items():
        state.register_client(provider, client_id, secret)
    monkeypatch.setitem(app.config, "OAUTH_PROVIDER_ENDPOINTS", endpoints_for(base))
    return state


@pytest.fixture
def configure(in_tenant):
    def configure(tenant, provider, enabled=True):
        client_id, secret = CLIENTS[(tenant.slug, provider)]
        with in_tenant(tenant):
            oauth.configure_provider(provider, client_id=client_id, client_secret=secret, enabled=enabled)
            db.session.commit()

    return configure


@pytest.fixture
def acme_github(idp, acme, configure):
    configure(acme, "github")
    return idp


def go_to_provider(client, provider: str, **query):
    start = client.get(f"/login/oauth/{provider}", query_string=query)
    assert start.status_code == 302, start.get_data(as_text=True)[:400]
    return start.headers["Location"]


def approve(url: str, identity: str) -> str:
    """The provider's answer for ``identity``: the callback path and query on the tenant."""
    answer = requests.get(url, params={"approve": identity}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def sign_in_with(client, provider: str, identity: str):
    return client.get(approve(go_to_provider(client, provider), identity))


def users(in_tenant, tenant):
    """The tenant's users but its operator (every test tenant has admin@<slug>.test)."""
    with in_tenant(tenant):
        query = sa.select(User).where(User.email != f"admin@{tenant.slug}.test").order_by(User.id)
        return db.session.scalars(query).all()


def identities(in_tenant, tenant):
    with in_tenant(tenant):
        return db.session.scalars(sa.select(UserIdentity).order_by(UserIdentity.id)).all()


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# --------------------------------------------------------------------------- happy paths


def test_sign_up_with_github_then_sign_in_again_as_the_same_person(
    tenant_client, acme, acme_github, in_tenant
):
    client = tenant_client("acme")
    url = go_to_provider(client, "github")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("http://127.0.0.1")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["client_id"] == ["acme-gh-client"]
    assert query["redirect_uri"] == ["http://acme.localhost/login/oauth/github/callback"]

    answer = client.get(approve(url, "octo-ada"))
    assert answer.status_code == 302
    assert signed_in(client)
    [user] = users(in_tenant, acme)
    assert user.email == "ada.octocat@github.demo" and user.password_hash is None
    assert user.email_verified_at is not None and user.handle == "octo-ada"
    assert user.display_name == "Ada Octocat"
    [identity] = identities(in_tenant, acme)
    assert (identity.user_id, identity.provider, identity.subject, identity.login) == (
        user.id,
        "github",
        "5101",
        "octo-ada",
    )
    with in_tenant(acme):
        names = db.session.scalars(sa.select(OutboxEvent.name)).all()
    assert "user.registered" in names

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert not signed_in(client)
    assert sign_in_with(client, "github", "octo-ada").status_code == 302
    assert signed_in(client)
    assert [u.id for u in users(in_tenant, acme)] == [user.id]  # nobody new
    assert identities(in_tenant, acme)[0].last_used_at is not None


def test_google_sign_in_is_openid_connect_with_a_verified_id_token(
    tenant_client, acme, idp, configure, in_tenant
):
    configure(acme, "google")
    client = tenant_client("acme")
    url = go_to_provider(client, "google")
    query = parse_qs(urlsplit(url).query)
    assert query["nonce"][0] and query["code_challenge_method"] == ["S256"]
    assert "openid" in query["scope"][0].split()
    assert client.get(approve(url, "grace")).status_code == 302
    assert signed_in(client)
    [user] = users(in_tenant, acme)
    assert user.email == "grace.hopper@gmail.demo" and user.email_verified_at is not None
    [identity] = identities(in_tenant, acme)
    assert (identity.provider, identity.subject) == ("google", "110000000000000000001")


def test_an_unverified_provider_email_is_not_marked_verified(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    assert sign_in_with(client, "github", "linus-dev").status_code == 302
    [user] = users(in_tenant, acme)
    assert user.email == "linus.dev@github.demo" and user.email_verified_at is None


# --------------------------------------------------------------------------- refusals


def assert_refused(answer, in_tenant, tenant, text: str = ""):
    page = answer.get_data(as_text=True)
    assert 400 <= answer.status_code < 500, page[:400]
    assert 'data-testid="login-form"' in page
    assert text in page
    assert users(in_tenant, tenant) == [] and identities(in_tenant, tenant) == []


@pytest.mark.parametrize("spoil", ["signature", "nonce", "audience", "issuer", "expired"])
def test_a_spoiled_id_token_signs_in_nobody(tenant_client, acme, idp, configure, in_tenant, spoil):
    configure(acme, "google")
    idp.spoil = {spoil}
    client = tenant_client("acme")
    answer = sign_in_with(client, "google", "grace")
    assert_refused(answer, in_tenant, acme, "could not be verified")
    assert not signed_in(client)


def test_a_tampered_state_is_refused_and_the_flow_is_spent(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    callback = approve(go_to_provider(client, "github"), "octo-ada")
    tampered = callback.replace("state=", "state=x")
    assert_refused(client.get(tampered), in_tenant, acme, "not valid any more")
    # The genuine answer afterwards finds nothing: the state was used up by the first try.
    assert_refused(client.get(callback), in_tenant, acme)


def test_a_missing_or_used_state_is_refused(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    callback = approve(go_to_provider(client, "github"), "octo-ada")
    no_state = callback.split("&state=")[0]
    assert_refused(client.get(no_state), in_tenant, acme)

    other = tenant_client("acme")
    callback = approve(go_to_provider(other, "github"), "octo-ada")
    assert other.get(callback).status_code == 302
    other.post("/logout", data={"csrf_token": csrf_token(other, "/account")})
    replay = other.get(callback)
    assert 400 <= replay.status_code < 500
    assert len(users(in_tenant, acme)) == 1


def test_a_state_from_another_browser_is_refused(tenant_client, acme, acme_github, in_tenant):
    victim, attacker = tenant_client("acme"), tenant_client("acme")
    go_to_provider(victim, "github")  # the victim has a flow of their own
    callback = approve(go_to_provider(attacker, "github"), "octo-ada")
    assert_refused(victim.get(callback), in_tenant, acme, "not valid any more")


def test_a_pkce_verifier_mismatch_is_refused_by_the_provider(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    callback = approve(go_to_provider(client, "github"), "octo-ada")
    with client.session_transaction(base_url="http://acme.localhost") as session:
        flows = session["oauth"]
        flows["github"]["verifier"] = "x" * 64
        session["oauth"] = flows
    assert_refused(client.get(callback), in_tenant, acme, "refused the sign-in")


def test_a_flow_older_than_ten_minutes_is_refused(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    callback = approve(go_to_provider(client, "github"), "octo-ada")
    with client.session_transaction(base_url="http://acme.localhost") as session:
        flows = session["oauth"]
        flows["github"]["started"] = time.time() - oauth.FLOW_SECONDS - 1
        session["oauth"] = flows
    assert_refused(client.get(callback), in_tenant, acme, "took too long")


def test_the_provider_saying_no_is_shown(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    url = go_to_provider(client, "github")
    answer = requests.get(url, params={"deny": "1"}, allow_redirects=False, timeout=10)
    back = urlsplit(answer.headers["Location"])
    assert_refused(client.get(f"{back.path}?{back.query}"), in_tenant, acme, "did not allow GitHub")


def test_unknown_or_unconfigured_or_disabled_providers_are_refused(
    tenant_client, acme, idp, configure, in_tenant
):
    client = tenant_client("acme")
    assert client.get("/login/oauth/twitter").status_code == 404
    assert client.get("/login/oauth/twitter/callback").status_code == 404
    assert client.get("/login/oauth/github").status_code == 404  # not configured
    assert 'data-testid="oauth-buttons"' not in client.get("/login").get_data(as_text=True)
    configure(acme, "github", enabled=False)
    assert client.get("/login/oauth/github").status_code == 404
    assert 'data-testid="oauth-github"' not in client.get("/login").get_data(as_text=True)
    configure(acme, "github", enabled=True)
    page = client.get("/login").get_data(as_text=True)
    assert 'data-testid="oauth-github"' in page and 'data-testid="oauth-google"' not in page
    assert 'data-testid="oauth-github"' in client.get("/signup").get_data(as_text=True)
    # Turned off between the start and the answer: the answer signs in nobody.
    callback = approve(go_to_provider(client, "github"), "octo-ada")
    configure(acme, "github", enabled=False)
    assert_refused(client.get(callback), in_tenant, acme, "not available")


# --------------------------------------------------------------------------- existing accounts


def test_an_unverified_provider_email_of_an_existing_account_is_refused(
    tenant_client, acme, acme_github, make_user, in_tenant
):
    make_user(acme, email="linus.dev@github.demo", display_name="Linus")
    client = tenant_client("acme")
    answer = sign_in_with(client, "github", "linus-dev")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Sign in with your password, then link GitHub in your settings" in page
    assert identities(in_tenant, acme) == [] and len(users(in_tenant, acme)) == 1
    assert not signed_in(client)


def test_a_verified_provider_email_of_an_existing_account_links_after_its_password(
    tenant_client, acme, acme_github, make_user, in_tenant
):
    owner_id = make_user(acme, email="ada.octocat@github.demo", display_name="Ada")
    client = tenant_client("acme")
    answer = sign_in_with(client, "github", "octo-ada")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/login/oauth/link")
    assert not signed_in(client) and identities(in_tenant, acme) == []
    page = client.get("/login/oauth/link")
    assert page.status_code == 200 and "ada.octocat@github.demo" in page.get_data(as_text=True)

    token = csrf_token(client, "/login/oauth/link")
    wrong = client.post("/login/oauth/link", data={"csrf_token": token, "password": "not-it-at-all"})
    assert wrong.status_code == 422 and identities(in_tenant, acme) == []
    right = client.post("/login/oauth/link", data={"csrf_token": token, "password": PASSWORD})
    assert right.status_code == 302 and signed_in(client)
    [identity] = identities(in_tenant, acme)
    assert identity.user_id == owner_id and identity.login == "octo-ada"
    assert len(users(in_tenant, acme)) == 1

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert sign_in_with(client, "github", "octo-ada").status_code == 302 and signed_in(client)
    assert client.get("/login/oauth/link").status_code == 302  # nothing pending any more


# --------------------------------------------------------------------------- link and unlink


def link(client, provider: str, identity: str):
    token = csrf_token(client, "/account/sign-in")
    start = client.post(f"/login/oauth/{provider}?link=1", data={"csrf_token": token})
    assert start.status_code == 303, start.get_data(as_text=True)[:300]
    return client.get(approve(start.headers["Location"], identity))


def unlink(client, provider: str):
    token = csrf_token(client, "/account/sign-in")
    return client.post(f"/account/sign-in/{provider}/unlink", data={"csrf_token": token})


def test_a_member_links_and_unlinks_github(tenant_client, acme, acme_github, make_user, in_tenant):
    member_id = make_user(acme, email="member@acme.test")
    client = login(tenant_client("acme"), "member@acme.test", PASSWORD)
    assert client.post("/login/oauth/github?link=1").status_code == 400  # no CSRF token
    answer = link(client, "github", "octo-ada")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/account/sign-in")
    [identity] = identities(in_tenant, acme)
    assert identity.user_id == member_id
    page = client.get("/account/sign-in").get_data(as_text=True)
    assert "Linked as <strong>octo-ada</strong>" in page and 'data-testid="unlink-github"' in page
    # A second GitHub account on the same member is refused.
    assert link(client, "github", "linus-dev").status_code == 303
    assert [i.subject for i in identities(in_tenant, acme)] == ["5101"]

    assert unlink(client, "github").status_code == 303
    assert identities(in_tenant, acme) == []


def test_a_github_account_of_another_member_cannot_be_linked(
    tenant_client, acme, acme_github, make_user, in_tenant
):
    sign_in_with(tenant_client("acme"), "github", "octo-ada")  # Ada signs up with it
    make_user(acme, email="member@acme.test")
    client = login(tenant_client("acme"), "member@acme.test", PASSWORD)
    link(client, "github", "octo-ada")
    page = client.get("/account/sign-in").get_data(as_text=True)
    assert "already linked to another account" in page
    [identity] = identities(in_tenant, acme)
    assert users(in_tenant, acme)[0].id == identity.user_id  # still Ada's


def test_the_last_way_to_sign_in_cannot_be_unlinked(tenant_client, acme, acme_github, in_tenant):
    client = tenant_client("acme")
    sign_in_with(client, "github", "octo-ada")
    page = client.get("/account/sign-in").get_data(as_text=True)
    assert "Set a password" in page and 'data-testid="unlink-github"' not in page
    assert unlink(client, "github").status_code == 303
    assert "the only way to sign in" in client.get("/account/sign-in").get_data(as_text=True)
    assert len(identities(in_tenant, acme)) == 1


# --------------------------------------------------------------------------- profile


def test_a_linked_github_login_shows_on_the_public_profile_and_in_the_api(
    tenant_client, acme, acme_github, in_tenant
):
    client = tenant_client("acme")
    sign_in_with(client, "github", "octo-ada")
    page = client.get("/u/octo-ada").get_data(as_text=True)
    assert 'href="https://github.com/octo-ada"' in page
    assert client.get("/api/v1/profiles/octo-ada").json["github_login"] == "octo-ada"


# --------------------------------------------------------------------------- tenants


def test_a_marketplace_without_the_provider_refuses_it(tenant_client, acme, globex, acme_github, in_tenant):
    acme_client = tenant_client("acme")
    sign_in_with(acme_client, "github", "octo-ada")
    globex_client = tenant_client("globex")
    assert globex_client.get("/login/oauth/github").status_code == 404
    assert 'data-testid="oauth-buttons"' not in globex_client.get("/login").get_data(as_text=True)
    # acme's flow answered on globex: no flow there, nobody signed in or created.
    other = tenant_client("acme")
    callback = approve(go_to_provider(other, "github"), "octo-ada")
    answer = globex_client.get(callback)
    assert 400 <= answer.status_code < 500
    assert users(in_tenant, globex) == [] and identities(in_tenant, globex) == []


def test_an_acme_identity_signs_in_nobody_on_globex(
    tenant_client, acme, globex, acme_github, configure, make_user, in_tenant
):
    configure(globex, "github")
    acme_member = make_user(acme, email="member@acme.test")
    globex_member = make_user(globex, email="member@globex.test")
    assert acme_member == globex_member  # equal ids in both schemas
    client = login(tenant_client("acme"), "member@acme.test", PASSWORD)
    link(client, "github", "octo-ada")
    assert identities(in_tenant, acme)[0].user_id == acme_member

    globex_client = tenant_client("globex")
    url = go_to_provider(globex_client, "github")
    assert parse_qs(urlsplit(url).query)["client_id"] == ["globex-gh-client"]
    assert globex_client.get(approve(url, "octo-ada")).status_code == 302
    # A new globex account: the acme link means nothing there.
    globex_users = users(in_tenant, globex)
    assert [u.email for u in globex_users] == ["member@globex.test", "ada.octocat@github.demo"]
    [identity] = identities(in_tenant, globex)
    assert identity.user_id == globex_users[1].id != globex_member


def test_the_development_server_mounts_the_local_provider_on_the_platform_host(platform_client):
    keys = platform_client.get("/dev/oauth-provider/google/jwks").json["keys"]
    assert keys[0]["kty"] == "RSA" and "d" not in keys[0]
    assert platform_client.get("/dev/oauth-provider/github/authorize").status_code == 400
