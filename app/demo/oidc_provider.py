"""A local GitHub-like and Google-like sign-in provider (development and tests only).

It speaks the protocol the real ones do, so the sign-in code (app/accounts/oauth.py) runs
unchanged against it:

- ``/<provider>/authorize``: a small page listing demo identities to pick (links adding
  ``approve=<key>`` or ``deny=1`` to the query, which tests use directly); it checks the client,
  ``response_type=code`` and a PKCE S256 challenge, then sends the browser back to
  ``redirect_uri`` with ``code`` and ``state``;
- ``/<provider>/token``: checks the client id and secret (form or HTTP Basic), the code (single
  use, 5 minutes), the same ``redirect_uri`` and the PKCE verifier; answers an access token and,
  for Google, an id token signed RS256 (``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``email``,
  ``email_verified``) with an RSA key made at start;
- ``/google/jwks``, ``/google/userinfo``, ``/google/.well-known/openid-configuration``;
- ``/github/user`` and ``/github/user/emails`` (GitHub's API shapes).

``make run`` mounts it on the platform host under ``/dev/oauth-provider`` (``DEMO_OIDC_PROVIDER``,
and ``OAUTH_PROVIDER_ENDPOINTS`` in DevelopmentConfig points there); it accepts the demo
marketplaces' clients (app/demo/identity.py). Tests run their own ``DemoProvider`` on a live
server (``make_provider_app``), register their clients and identities, and may ask the next id
token to be spoiled (``provider.spoil = {"signature"}``: also ``nonce``, ``audience``,
``issuer``, ``expired``) to check that the client refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint, Flask, abort, jsonify, render_template, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

PATH = "/dev/oauth-provider"
CODE_SECONDS = 300
DEMO_CLIENT_PREFIX = "gigforge-demo-"

DEFAULT_IDENTITIES = {
    "github": {
        "octo-ada": {
            "id": 5101,
            "login": "octo-ada",
            "name": "Ada Octocat",
            "email": "ada.octocat@github.demo",
            "verified": True,
        },
        "linus-dev": {
            "id": 5102,
            "login": "linus-dev",
            "name": "Linus Dev",
            "email": "linus.dev@github.demo",
            "verified": False,
        },
    },
    "google": {
        "grace": {
            "id": "110000000000000000001",
            "name": "Grace Hopper",
            "email": "grace.hopper@gmail.demo",
            "verified": True,
        },
    },
}


def demo_client_secret(client_id: str) -> str:
    """The secret of a demo marketplace's client (app/demo/identity.py): derived, so the local
    provider needs no list of the demo's tenants. Development only."""
    return "demo-secret-" + hashlib.sha256(f"gigforge-demo-oauth:{client_id}".encode()).hexdigest()[:24]


class DemoProvider:
    """The provider's state: clients, identities, pending codes, tokens and the signing key."""

    def __init__(self, *, accept_demo_clients: bool = False):
        self._key: RSAKey | None = None
        self.clients: dict[tuple[str, str], str] = {}  # (provider, client id) -> secret
        self.identities = {p: {k: dict(v) for k, v in ids.items()} for p, ids in DEFAULT_IDENTITIES.items()}
        self.accept_demo_clients = accept_demo_clients
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.spoil: set[str] = set()
        self.issued: list[dict] = []  # the authorization requests seen (tests read them)
        self.lock = threading.Lock()

    @property
    def key(self) -> RSAKey:
        """The signing key, made on first use (a 2048-bit RSA key takes a moment)."""
        with self.lock:
            if self._key is None:
                params = {"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}
                self._key = RSAKey.generate_key(2048, parameters=params)
            return self._key

    def register_client(self, provider: str, client_id: str, secret: str) -> None:
        self.clients[(provider, client_id)] = secret

    def add_identity(self, provider: str, key: str, **fields) -> None:
        self.identities[provider][key] = fields

    def client_secret(self, provider: str, client_id: str) -> str | None:
        if (provider, client_id) in self.clients:
            return self.clients[(provider, client_id)]
        if self.accept_demo_clients and client_id.startswith(DEMO_CLIENT_PREFIX):
            return demo_client_secret(client_id)
        return None

    def public_jwks(self) -> dict:
        return KeySet([self.key]).as_dict(private=False)


def _redirect_with(uri: str, **params) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _issuer(provider: str, prefix: str) -> str:
    return request.host_url.rstrip("/") + prefix + f"/{provider}"


def make_blueprint(state: DemoProvider, *, name: str = "demo_oidc", url_prefix: str = PATH) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=url_prefix or None, template_folder="templates")
    prefix = url_prefix or ""

    def known(provider: str) -> None:
        if provider not in state.identities:
            abort(404)

    @bp.get("/<provider>/authorize")
    def authorize(provider: str):
        known(provider)
        args = request.args
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        if state.client_secret(provider, client_id) is None:
            return "Unknown client_id.", 400
        if not redirect_uri.startswith(("http://", "https://")):
            return "A redirect_uri is required.", 400
        if args.get("response_type") != "code":
            return "response_type must be code.", 400
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return "A PKCE S256 code_challenge is required.", 400
        with state.lock:
            state.issued.append(dict(args))
        if args.get("deny"):
            return (
                "",
                302,
                {
                    "Location": _redirect_with(
                        redirect_uri, error="access_denied", state=args.get("state", "")
                    )
                },
            )
        chosen = args.get("approve")
        if not chosen:
            return render_template(
                "demo/oidc_authorize.html",
                provider=provider,
                identities=state.identities[provider],
                client_id=client_id,
                redirect_host=urlsplit(redirect_uri).netloc,
                here=request.full_path,
            )
        if chosen not in state.identities[provider]:
            return "Unknown identity.", 400
        code = secrets.token_urlsafe(24)
        with state.lock:
            state.codes[code] = {
                "provider": provider,
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "challenge": args["code_challenge"],
                "nonce": args.get("nonce"),
                "identity": chosen,
                "expires": time.time() + CODE_SECONDS,
            }
        return "", 302, {"Location": _redirect_with(redirect_uri, code=code, state=args.get("state", ""))}

    def client_credentials() -> tuple[str, str]:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                raw = base64.b64decode(auth[6:]).decode()
            except ValueError:
                return "", ""
            client_id, _, secret = raw.partition(":")
            from urllib.parse import unquote

            return unquote(client_id), unquote(secret)
        return request.form.get("client_id", ""), request.form.get("client_secret", "")

    def token_error(error: str, status: int = 400):
        return jsonify(error=error), status

    @bp.post("/<provider>/token")
    def token(provider: str):
        known(provider)
        client_id, secret = client_credentials()
        expected = state.client_secret(provider, client_id)
        if expected is None or not hmac.compare_digest(expected, secret):
            return token_error("invalid_client", 401)
        if request.form.get("grant_type") != "authorization_code":
            return token_error("unsupported_grant_type")
        with state.lock:
            grant = state.codes.pop(request.form.get("code", ""), None)
        if grant is None or grant["provider"] != provider or grant["expires"] < time.time():
            return token_error("invalid_grant")
        if grant["client_id"] != client_id or grant["redirect_uri"] != request.form.get("redirect_uri"):
            return token_error("invalid_grant")
        verifier = request.form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(create_s256_code_challenge(verifier), grant["challenge"]):
            return token_error("invalid_grant")
        access = secrets.token_urlsafe(24)
        identity = state.identities[provider][grant["identity"]]
        with state.lock:
            state.tokens[access] = {"provider": provider, "identity": grant["identity"]}
        answer = {"access_token": access, "token_type": "bearer", "scope": request.form.get("scope", "")}
        if provider == "google":
            answer["id_token"] = id_token(provider, client_id, grant["nonce"], identity)
        return jsonify(answer)

    def id_token(provider: str, client_id: str, nonce: str | None, identity: dict) -> str:
        now = int(time.time())
        spoil = set(state.spoil)
        claims = {
            "iss": "https://evil.example" if "issuer" in spoil else _issuer(provider, prefix),
            "aud": "someone-else" if "audience" in spoil else client_id,
            "sub": str(identity["id"]),
            "iat": now - (7200 if "expired" in spoil else 0),
            "exp": now + (-3600 if "expired" in spoil else 3600),
            "email": identity.get("email"),
            "email_verified": bool(identity.get("verified")),
            "name": identity.get("name"),
        }
        if nonce:
            claims["nonce"] = "not-the-nonce" if "nonce" in spoil else nonce
        header = {"alg": "RS256", "kid": state.key.kid}
        signed = jwt.encode(header, claims, state.key, algorithms=["RS256"])
        if "signature" in spoil:
            head, body, sig = signed.split(".")
            forged = jwt.encode(header, {**claims, "sub": "999"}, state.key, algorithms=["RS256"])
            signed = ".".join([head, forged.split(".")[1], sig])  # another body under this signature
        return signed

    def bearer_identity(provider: str) -> dict:
        auth = request.headers.get("Authorization", "")
        grant = state.tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
        if grant is None or grant["provider"] != provider:
            abort(401)
        return state.identities[provider][grant["identity"]]

    @bp.get("/google/jwks")
    def jwks():
        return jsonify(state.public_jwks())

    @bp.get("/google/.well-known/openid-configuration")
    def discovery():
        base = _issuer("google", prefix)
        return jsonify(
            issuer=base,
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            jwks_uri=f"{base}/jwks",
            userinfo_endpoint=f"{base}/userinfo",
            code_challenge_methods_supported=["S256"],
            id_token_signing_alg_values_supported=["RS256"],
        )

    @bp.get("/google/userinfo")
    def userinfo():
        identity = bearer_identity("google")
        return jsonify(
            sub=str(identity["id"]),
            email=identity.get("email"),
            email_verified=bool(identity.get("verified")),
            name=identity.get("name"),
        )

    @bp.get("/github/user")
    def github_user():
        identity = bearer_identity("github")
        return jsonify(id=identity["id"], login=identity["login"], name=identity.get("name"), email=None)

    @bp.get("/github/user/emails")
    def github_emails():
        identity = bearer_identity("github")
        if not identity.get("email"):
            return jsonify([])
        return jsonify(
            [{"email": identity["email"], "primary": True, "verified": bool(identity.get("verified"))}]
        )

    return bp


# The development server's provider (one process, threads): made on first import.
DEMO = DemoProvider(accept_demo_clients=True)
bp = make_blueprint(DEMO)


def make_provider_app(state: DemoProvider) -> Flask:
    """A Flask app serving only ``state`` at its root (tests run it on a live server)."""
    app = Flask(__name__)
    app.register_blueprint(make_blueprint(state, name="oidc", url_prefix=""))
    return app


def endpoints_for(base_url: str) -> dict:
    """``OAUTH_PROVIDER_ENDPOINTS`` pointing at a provider served at ``base_url`` (no trailing
    slash; a path such as ``/dev/oauth-provider`` means the platform host)."""
    return {
        "github": {
            "authorize_url": f"{base_url}/github/authorize",
            "token_url": f"{base_url}/github/token",
            "api_base": f"{base_url}/github",
        },
        "google": {
            "authorize_url": f"{base_url}/google/authorize",
            "token_url": f"{base_url}/google/token",
            "jwks_uri": f"{base_url}/google/jwks",
            "issuer": f"{base_url}/google",
        },
    }
