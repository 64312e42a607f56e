"""Sign in with GitHub and Google, configured per marketplace (console "Sign-in methods").

Each tenant's operator registers their own OAuth client at the provider; its id and secret are
the tenant's ``identity_providers`` row (the secret encrypted with app/core/crypto.py). Authlib
does the protocol work:

- Google is OpenID Connect: authorization code with PKCE (S256), ``state`` and ``nonce``; the id
  token's signature is checked against Google's JWKS (joserfc, Authlib's JOSE library), then its
  ``iss``, ``aud`` (our client id), ``exp``/``iat`` and ``nonce`` (``authlib.oidc.core.CodeIDToken``).
- GitHub is OAuth 2 with PKCE and ``state``, then ``GET /user`` and ``GET /user/emails`` (the
  verified primary address).

The provider endpoints are a built-in table of the real URLs, overridable per provider with the
config ``OAUTH_PROVIDER_ENDPOINTS`` (``{"github": {"authorize_url": ..., "token_url": ...,
"api_base": ...}, "google": {..., "jwks_uri": ..., "issuer": ...}}``); a value starting with "/"
is a path on the platform host (the demo's local provider, app/demo/oidc_provider.py).

The flow's secrets (state, nonce, PKCE verifier) live in the Flask session under ``oauth``, bound
to the tenant and the provider, for ``FLOW_SECONDS``, and are taken (single use) by the callback.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import current_app, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.accounts import services
from app.accounts.models import IdentityProvider, User, UserIdentity
from app.accounts.services import AccountError
from app.core.crypto import SecretUnavailable, decrypt_secret, encrypt_secret
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

PROVIDERS = ("github", "google")
LABELS = {"github": "GitHub", "google": "Google"}
FLOW_SECONDS = 10 * 60  # how long a started sign-in may take at the provider
LINK_SECONDS = 10 * 60  # how long the "confirm your password to link" step stays open
HTTP_TIMEOUT = 10  # seconds, each call to the provider
JWKS_TTL = 3600  # seconds a provider's key set is cached (refetched at once for an unknown key id)
SESSION_KEY = "oauth"
PENDING_LINK_KEY = "oauth_link"

DEFAULT_ENDPOINTS: dict[str, dict[str, str]] = {
    "github": {
        "authorize_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "api_base": "https://api.github.com",
        "scope": "read:user user:email",
    },
    "google": {
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "issuer": "https://accounts.google.com",
        "scope": "openid email profile",
    },
}
# Google documents both forms of its issuer.
EXTRA_ISSUERS = {"https://accounts.google.com": ["accounts.google.com"]}


class OAuthError(AccountError):
    """A sign-in through a provider that cannot go on (the message is safe to show)."""

    status = 400
    code = "oauth_failed"


class ProviderUnavailable(OAuthError):
    status = 404
    code = "provider_unavailable"


@dataclass(frozen=True)
class ProviderProfile:
    """Who the provider says the person is."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    login: str | None = None


def label(provider: str) -> str:
    return LABELS.get(provider, provider)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- configuration


def endpoints(provider: str) -> dict[str, str]:
    """The provider's URLs: the built-in ones, overridden by ``OAUTH_PROVIDER_ENDPOINTS``."""
    merged = dict(DEFAULT_ENDPOINTS[provider])
    merged.update((current_app.config.get("OAUTH_PROVIDER_ENDPOINTS") or {}).get(provider) or {})
    if any(isinstance(v, str) and v.startswith("/") for v in merged.values()):
        from app.core.urls import platform_base_url

        base = platform_base_url()
        merged = {k: base + v if isinstance(v, str) and v.startswith("/") else v for k, v in merged.items()}
    return merged


def provider_row(provider: str) -> IdentityProvider | None:
    if provider not in PROVIDERS:
        return None
    return db.session.scalars(
        sa.select(IdentityProvider).where(IdentityProvider.provider == provider)
    ).first()


def provider_rows() -> dict[str, IdentityProvider]:
    return {row.provider: row for row in db.session.scalars(sa.select(IdentityProvider))}


def enabled_providers() -> list[str]:
    """The providers the marketplace offers on its login and sign-up pages, in a stable order."""
    rows = provider_rows()
    return [p for p in PROVIDERS if p in rows and rows[p].enabled]


def usable_provider(provider: str) -> IdentityProvider:
    """The enabled, configured row of ``provider``; raises ProviderUnavailable."""
    row = provider_row(provider)
    if row is None or not row.enabled:
        raise ProviderUnavailable(f"Sign in with {label(provider)} is not available on this marketplace.")
    return row


def mask_secret(plain: str | None) -> str | None:
    """What the console shows of a stored client secret: never more than its last 4 characters."""
    if not plain:
        return None
    return f"••••{plain[-4:]}" if len(plain) >= 12 else "••••"


def stored_secret_mask(row: IdentityProvider) -> str | None:
    try:
        return mask_secret(decrypt_secret(row.client_secret_encrypted))
    except SecretUnavailable:
        return "(cannot be decrypted: enter it again)"


def configure_provider(
    provider: Any, *, client_id: Any, client_secret: Any, enabled: bool
) -> tuple[IdentityProvider, dict]:
    """Add or change the tenant's client of ``provider``; returns ``(row, changes)`` where
    ``changes`` is ``{field: [old, new]}`` without the secret's value (``"(changed)"``).

    The secret may be left empty when one is stored already (it is kept). Raises AccountError
    with field errors (provider, client_id, client_secret).
    """
    if provider not in PROVIDERS:
        raise AccountError({"provider": "Choose GitHub or Google."})
    client_id = (client_id or "").strip() if isinstance(client_id, str) else ""
    client_secret = (client_secret or "").strip() if isinstance(client_secret, str) else ""
    errors = {}
    if not client_id:
        errors["client_id"] = "Enter the client ID the provider gave you."
    elif len(client_id) > 255 or any(ch.isspace() or ord(ch) < 32 for ch in client_id):
        errors["client_id"] = "A client ID has no spaces and at most 255 characters."
    if client_secret and (len(client_secret) > 500 or any(ch.isspace() for ch in client_secret)):
        errors["client_secret"] = "A client secret has no spaces and at most 500 characters."  # noqa: S105
    row = provider_row(provider)
    if row is None and not client_secret:
        errors["client_secret"] = "Enter the client secret the provider gave you."  # noqa: S105
    if errors:
        raise AccountError(errors)
    changes: dict[str, Any] = {}
    if row is None:
        row = IdentityProvider(
            provider=provider, client_id=client_id, client_secret_encrypted="", enabled=enabled
        )
        db.session.add(row)
        changes = {"client_id": [None, client_id], "enabled": [None, enabled], "client_secret": "(changed)"}
    else:
        if row.client_id != client_id:
            changes["client_id"] = [row.client_id, client_id]
        if row.enabled != enabled:
            changes["enabled"] = [row.enabled, enabled]
        if client_secret:
            changes["client_secret"] = "(changed)"  # noqa: S105
        row.client_id = client_id
        row.enabled = enabled
    if client_secret:
        row.client_secret_encrypted = encrypt_secret(client_secret)
    db.session.flush()
    return row, changes


def remove_provider(provider: Any) -> IdentityProvider:
    """Forget the tenant's client of ``provider`` (linked identities stay, unusable until it is
    configured again). Raises ProviderUnavailable when there is none."""
    row = provider_row(provider) if isinstance(provider, str) else None
    if row is None:
        raise ProviderUnavailable("This sign-in method is not configured.")
    db.session.delete(row)
    db.session.flush()
    return row


# --------------------------------------------------------------------------- the flow


def _client(provider: str, row: IdentityProvider, redirect_uri: str) -> OAuth2Session:
    try:
        secret = decrypt_secret(row.client_secret_encrypted)
    except SecretUnavailable:
        log.error("identity provider secret cannot be decrypted", extra={"provider": provider})
        secret = None
    if not secret:
        raise ProviderUnavailable(f"Sign in with {label(provider)} is not available on this marketplace.")
    return OAuth2Session(
        client_id=row.client_id,
        client_secret=secret,
        scope=endpoints(provider)["scope"],
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",  # noqa: S106  (a method's name)
    )


def begin(
    provider: str,
    redirect_uri: str,
    *,
    link_user_id: int | None = None,
    next_url: str | None = None,
    now: float | None = None,
) -> str:
    """Start a sign-in (or a link, for ``link_user_id``): remember state, nonce and PKCE verifier
    in the session and return the provider's authorization URL. Raises ProviderUnavailable."""
    row = usable_provider(provider)
    client = _client(provider, row, redirect_uri)
    state = generate_token(40)
    verifier = generate_token(64)
    extra = {}
    flow = {
        "tenant": current_tenant().id,
        "state": state,
        "verifier": verifier,
        "started": now if now is not None else time.time(),
        "link": link_user_id,
        "next": next_url,
        "redirect_uri": redirect_uri,
    }
    if provider == "google":
        flow["nonce"] = extra["nonce"] = generate_token(32)
    else:
        extra["allow_signup"] = "true"
    url, _ = client.create_authorization_url(
        endpoints(provider)["authorize_url"], state=state, code_verifier=verifier, **extra
    )
    flows = dict(session.get(SESSION_KEY) or {})
    flows[provider] = flow
    session[SESSION_KEY] = flows
    return url


def take_flow(provider: str, state: str | None, *, now: float | None = None) -> dict:
    """The flow this callback answers, removed from the session (single use). Raises OAuthError
    for a missing, foreign, expired or mismatched state."""
    flows = dict(session.get(SESSION_KEY) or {})
    flow = flows.pop(provider, None)
    session[SESSION_KEY] = flows
    if not flows:
        session.pop(SESSION_KEY, None)
    problem = "This sign-in link is not valid any more. Please start again."
    if not isinstance(flow, dict) or not isinstance(state, str) or not state:
        raise OAuthError(problem)
    if flow.get("tenant") != current_tenant().id or not secrets.compare_digest(str(flow.get("state")), state):
        raise OAuthError(problem)
    now = now if now is not None else time.time()
    if not isinstance(flow.get("started"), int | float) or not 0 <= now - flow["started"] <= FLOW_SECONDS:
        raise OAuthError("This sign-in took too long. Please start again.")
    return flow


_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_lock = threading.Lock()


def _key_set(uri: str, kid: str | None) -> KeySet:
    with _jwks_lock:
        cached = _jwks_cache.get(uri)
    fresh = cached is not None and time.monotonic() - cached[0] < JWKS_TTL
    known = cached is not None and any(k.get("kid") == kid for k in cached[1].get("keys", []))
    if not (fresh and (known or kid is None)):
        answer = requests.get(uri, timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        cached = (time.monotonic(), answer.json())
        with _jwks_lock:
            _jwks_cache[uri] = cached
    return KeySet.import_key_set(cached[1])


def verify_id_token(
    id_token: str, *, client_id: str, nonce: str, issuer: str, jwks_uri: str, now: int | None = None
) -> dict:
    """The claims of a Google id token whose signature (JWKS, RS256), ``iss``, ``aud``,
    ``exp``/``iat`` and ``nonce`` check out; raises OAuthError otherwise."""
    refused = OAuthError("Google's answer could not be verified. Please try again.")
    try:
        from joserfc.jws import extract_compact

        header = extract_compact(id_token.encode()).protected
        token = jwt.decode(id_token, _key_set(jwks_uri, header.get("kid")), algorithms=["RS256"])
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "values": [issuer, *EXTRA_ISSUERS.get(issuer, [])]},
                "aud": {"essential": True, "value": client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
            params={"nonce": nonce, "client_id": client_id},
        )
        claims.validate(now=now, leeway=60)
    except (JoseError, ValueError, TypeError, requests.RequestException) as exc:
        log.info("id token refused", extra={"reason": repr(exc)[:200]})
        raise refused from None
    return dict(claims)


def fetch_profile(provider: str, flow: dict, code: str | None) -> ProviderProfile:
    """Exchange ``code`` (with the PKCE verifier) for tokens and learn who the person is.
    Raises OAuthError when the provider refuses or answers something unverifiable."""
    if not code or not isinstance(code, str):
        raise OAuthError(f"{label(provider)} did not send the sign-in back. Please try again.")
    row = usable_provider(provider)
    client = _client(provider, row, flow["redirect_uri"])
    urls = endpoints(provider)
    try:
        token = client.fetch_token(
            urls["token_url"],
            code=code,
            code_verifier=flow["verifier"],
            timeout=HTTP_TIMEOUT,
            headers={"Accept": "application/json"},
        )
    except Exception as exc:  # noqa: BLE001  (Authlib raises OAuthError, requests its own; all mean "no")
        log.info("token exchange refused", extra={"provider": provider, "reason": repr(exc)[:200]})
        raise OAuthError(f"{label(provider)} refused the sign-in. Please try again.") from None
    if provider == "google":
        if not token.get("id_token"):
            raise OAuthError("Google's answer could not be verified. Please try again.")
        claims = verify_id_token(
            token["id_token"],
            client_id=row.client_id,
            nonce=flow.get("nonce") or "",
            issuer=urls["issuer"],
            jwks_uri=urls["jwks_uri"],
        )
        return ProviderProfile(
            provider="google",
            subject=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=claims.get("email_verified") is True,
            name=claims.get("name"),
        )
    return _github_profile(client, urls["api_base"].rstrip("/"))


def _github_profile(client: OAuth2Session, api: str) -> ProviderProfile:
    headers = {"Accept": "application/vnd.github+json"}
    try:
        user = client.get(f"{api}/user", headers=headers, timeout=HTTP_TIMEOUT)
        user.raise_for_status()
        emails = client.get(f"{api}/user/emails", headers=headers, timeout=HTTP_TIMEOUT)
        emails.raise_for_status()
        user_data, email_list = user.json(), emails.json()
    except (requests.RequestException, ValueError):
        raise OAuthError("GitHub did not tell who you are. Please try again.") from None
    if not isinstance(user_data, dict) or not isinstance(user_data.get("id"), int | str):
        raise OAuthError("GitHub did not tell who you are. Please try again.")
    entries = [e for e in email_list if isinstance(e, dict)] if isinstance(email_list, list) else []
    primary = next((e for e in entries if e.get("primary")), None)
    verified = next((e for e in entries if e.get("primary") and e.get("verified") is True), None)
    chosen = verified or primary
    login = user_data.get("login") if isinstance(user_data.get("login"), str) else None
    return ProviderProfile(
        provider="github",
        subject=str(user_data["id"]),
        email=chosen.get("email") if chosen else user_data.get("email"),
        email_verified=verified is not None,
        name=user_data.get("name") or login,
        login=login,
    )


# --------------------------------------------------------------------------- identities


def identity_for(provider: str, subject: str) -> UserIdentity | None:
    return db.session.scalars(
        sa.select(UserIdentity).where(UserIdentity.provider == provider, UserIdentity.subject == subject)
    ).first()


def identities_of(user: User) -> dict[str, UserIdentity]:
    rows = db.session.scalars(sa.select(UserIdentity).where(UserIdentity.user_id == user.id))
    return {row.provider: row for row in rows}


def github_login(user_id: int) -> str | None:
    """The GitHub username linked to ``user_id`` (shown on the public profile), or None."""
    return db.session.scalar(
        sa.select(UserIdentity.login).where(
            UserIdentity.user_id == user_id, UserIdentity.provider == "github"
        )
    )


def github_logins(user_ids) -> dict[int, str]:
    ids = list({i for i in user_ids if i})
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(UserIdentity.user_id, UserIdentity.login).where(
            UserIdentity.user_id.in_(ids), UserIdentity.provider == "github", UserIdentity.login.is_not(None)
        )
    )
    return dict(rows.all())


def _touch(identity: UserIdentity, profile: ProviderProfile) -> None:
    identity.last_used_at = _now()
    identity.login = profile.login
    identity.email = profile.email
    identity.email_verified = profile.email_verified


def link_identity(user: User, profile: ProviderProfile) -> UserIdentity:
    """Link the provider account to ``user``. Raises OAuthError when it belongs to someone else
    or ``user`` already has another account of that provider."""
    existing = identity_for(profile.provider, profile.subject)
    name = label(profile.provider)
    if existing is not None and existing.user_id != user.id:
        raise OAuthError(f"This {name} account is already linked to another account here.")
    if existing is not None:
        _touch(existing, profile)
        db.session.flush()
        return existing
    if profile.provider in identities_of(user):
        raise OAuthError(f"Your account already has a {name} account linked. Unlink it first.")
    identity = UserIdentity(user_id=user.id, provider=profile.provider, subject=profile.subject)
    _touch(identity, profile)
    db.session.add(identity)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise OAuthError(f"This {name} account is already linked to another account here.") from None
    return identity


def unlink_identity(user: User, provider: Any) -> UserIdentity:
    """Remove the link of ``provider`` from ``user``; never the last way to sign in. Raises
    AccountError."""
    identities = identities_of(user)
    identity = identities.get(provider) if isinstance(provider, str) else None
    if identity is None:
        raise AccountError("This sign-in method is not linked to your account.")
    if not user.password_hash and len(identities) == 1:
        raise AccountError(
            f"{label(provider)} is the only way to sign in to your account. Set a password or link "
            "another provider first."
        )
    db.session.delete(identity)
    db.session.flush()
    return identity


def user_of_identity(profile: ProviderProfile) -> User | None:
    """The account this provider account signs in to (and notes the use), or None."""
    identity = identity_for(profile.provider, profile.subject)
    if identity is None:
        return None
    user = db.session.get(User, identity.user_id)
    if user is None or user.status == "deleted":
        return None
    if user.status != "active":
        raise OAuthError("This account is suspended. Please contact the marketplace's support.")
    _touch(identity, profile)
    user.first_login = user.last_login_at is None
    user.last_login_at = _now()
    db.session.flush()
    return user


def account_for_new_identity(profile: ProviderProfile) -> tuple[str, User]:
    """What to do with a provider account linked to nobody: ``("confirm", user)`` when an
    account has the provider's verified email (its owner confirms with the password), or
    ``("created", user)`` for a new account. Raises OAuthError when the email collides but the
    provider did not verify it, or the account cannot take a password to confirm."""
    name = label(profile.provider)
    if not profile.email:
        raise OAuthError(
            f"Your {name} account has no email address we can use. Sign up with your email instead."
        )
    existing = services.get_user_by_email(profile.email)
    if existing is not None:
        if not profile.email_verified:
            raise OAuthError(
                f"An account with this email already exists, but {name} has not verified the address. "
                f"Sign in with your password, then link {name} in your settings."
            )
        if not existing.password_hash:
            raise OAuthError(
                f"An account with this email already exists. Sign in the way you usually do, then link "
                f"{name} in your settings."
            )
        if existing.status != "active":
            raise OAuthError("This account is suspended. Please contact the marketplace's support.")
        return "confirm", existing
    try:
        user = services.register_external_user(
            profile.email,
            profile.name or profile.login or profile.email.split("@", 1)[0],
            handle_hint=profile.login,
            email_verified=profile.email_verified,
        )
    except AccountError as exc:
        raise OAuthError(f"We could not create your account from {name}: {exc.message}") from None
    link_identity(user, profile)
    user.first_login = True
    user.last_login_at = _now()
    db.session.flush()
    return "created", user


# --------------------------------------------------------------------------- the pending link


def remember_pending_link(
    user: User, profile: ProviderProfile, *, next_url: str | None, now: float | None = None
) -> None:
    session[PENDING_LINK_KEY] = {
        "tenant": current_tenant().id,
        "user": user.id,
        "provider": profile.provider,
        "subject": profile.subject,
        "login": profile.login,
        "email": profile.email,
        "email_verified": profile.email_verified,
        "name": profile.name,
        "next": next_url,
        "started": now if now is not None else time.time(),
    }


def pending_link(*, now: float | None = None) -> tuple[User, ProviderProfile, str | None] | None:
    """The link waiting for its password (user, profile, next) when still valid, else None."""
    data = session.get(PENDING_LINK_KEY)
    if not isinstance(data, dict) or data.get("tenant") != current_tenant().id:
        return None
    now = now if now is not None else time.time()
    if not isinstance(data.get("started"), int | float) or not 0 <= now - data["started"] <= LINK_SECONDS:
        session.pop(PENDING_LINK_KEY, None)
        return None
    user = db.session.get(User, data.get("user")) if isinstance(data.get("user"), int) else None
    if user is None or user.status == "deleted" or data.get("provider") not in PROVIDERS:
        return None
    profile = ProviderProfile(
        provider=data["provider"],
        subject=str(data["subject"]),
        email=data.get("email"),
        email_verified=bool(data.get("email_verified")),
        name=data.get("name"),
        login=data.get("login"),
    )
    return user, profile, data.get("next")


def drop_pending_link() -> None:
    session.pop(PENDING_LINK_KEY, None)
