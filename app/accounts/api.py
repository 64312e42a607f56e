"""Accounts REST API: bearer tokens, sign-up, the signed-in user, public and seller profiles.

Views are thin: parse with a schema, call one service, serialize; the request's unit of
work commits. The services raise ``AccountError`` (a ``DomainError``) with field errors;
the central handler answers flask-smorest's 422 shape ``{"errors": {"json": {field: [msg]}}}``.
"""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import abort

from app.accounts import services, sessions, tokens, two_factor
from app.accounts.limits import configured, ip_key, login_limits
from app.accounts.schemas import (
    ME_ETAG_SCHEMA,
    SELLER_ETAG_SCHEMA,
    DeleteAccountSchema,
    MeSchema,
    PortfolioItemCreateSchema,
    PortfolioItemSchema,
    ProfileFieldsSchema,
    PublicProfileSchema,
    RefreshRequestSchema,
    RevokeRequestSchema,
    SellerProfileSchema,
    SessionSchema,
    SignupSchema,
    TokenPairSchema,
    TokenRequestSchema,
    TwoFactorStatusSchema,
)
from app.core import unit_of_work
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.extensions import limiter

blp = Blueprint(
    "accounts_api",
    __name__,
    url_prefix="/api/v1",
    description="Accounts: bearer tokens, sign-up, your own profile, public and seller profiles.",
)

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access token from `POST /api/v1/auth/token`, or a partner API key "
    "(`gfk_...`, made by an operator admin in the console) sent the same way: "
    "`Authorization: Bearer gfk_...`. Both are valid on the issuing marketplace only. A key acts "
    "as one member within its scopes: `GET` needs `<area>:read`, other methods `<area>:write` "
    "(which includes read); the areas are catalog, orders, payments, messaging, jobs, disputes, "
    "account, console and webhooks. A call outside the key's scopes answers 403 with "
    "`errors.code` `insufficient_scope`, `errors.scope` naming the scope needed and "
    '`WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`; the token and sign-up '
    "operations refuse keys (403, `errors.scope` null).",
}


def register_security_scheme(api) -> None:
    """Declare the bearer scheme in the spec (once per app, when the blueprint is registered)."""
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)


def document_key_refusals(api) -> None:
    """Every operation may answer 403 to an API key outside its scopes: document it where the
    operation does not already (call once, after every API blueprint is registered)."""
    ref = api.spec.components.get_ref("response", "FORBIDDEN")
    for item in api.spec._paths.values():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch") and isinstance(operation, dict):
                responses = operation.setdefault("responses", {})
                if "403" not in responses and 403 not in responses:
                    responses["403"] = dict(ref)


def auth_required(view):
    """A view for signed-in API clients: checks the token and documents it in the spec."""
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


limit_signup_per_ip = limiter.limit(configured("RATELIMIT_LOGIN_PER_IP"), key_func=ip_key("signup"))


def _current_user():
    return g.api_user


# --- tokens ----------------------------------------------------------------


@blp.route("/auth/token")
class Token(MethodView):
    @login_limits  # one budget with the web login form (keys carry the tenant)
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(
        401,
        response="UNAUTHORIZED",
        description="Unknown email or wrong password (the same answer, also for a locked account); "
        "or, after the right password of an account with two-factor sign-in, `errors.code` "
        "`two_factor_required` (no `otp` sent) or `two_factor_invalid` (a wrong, reused or expired "
        "`otp`, which counts toward the lockout like a wrong password)",
    )
    @blp.alt_response(403, response="FORBIDDEN", description="Right password, but the account is suspended")
    @blp.alt_response(423, response="LOCKED", description="Right password, but locked after failed attempts")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    def post(self, credentials):
        """Exchange email and password for an access token and a refresh token."""
        email = credentials["email"]
        try:
            user = services.authenticate(email, credentials["password"], ip=request.remote_addr)
        except services.AccountError as exc:
            unit_of_work.keep()  # authenticate records the failure; it must count
            # The service words the refusal: one message (and 401) for every wrong guess,
            # 423/403 only after the right password.
            if isinstance(exc, services.AccountLocked | services.AccountSuspended):
                abort(exc.status, message=exc.message)
            abort(401, message=services.LOGIN_FAILED)
        if two_factor.has_two_factor(user):
            _second_factor(user, credentials.get("otp"))
        return tokens.issue_token_pair(user)


def _second_factor(user, code: str | None) -> None:
    """The ``otp`` of an account with two-factor sign-in: missing or wrong is a 401 whose
    ``errors.code`` says which; a wrong one counts toward the lockout."""
    if not code:
        abort(
            401,
            message="This account has two-factor sign-in: send the same request with `otp`, the code "
            "of its authenticator app (or a recovery code).",
            errors={"code": two_factor.TwoFactorRequired.code},
        )
    try:
        two_factor.verify_login_code(user, code, ip=request.remote_addr)
    except services.AccountError as exc:
        unit_of_work.keep()  # the wrong code counts toward the lockout
        if isinstance(exc, services.AccountLocked):
            abort(exc.status, message=exc.message)
        abort(
            401,
            message=exc.errors.get("code", exc.message),
            errors={
                "code": two_factor.TwoFactorError.code,
                "json": {"otp": [exc.errors.get("code", exc.message)]},
            },
        )


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshRequestSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    def post(self, body):
        """Trade a refresh token for a new pair. The presented refresh token stops working."""
        try:
            return tokens.refresh(body["refresh_token"])
        except tokens.TokenError as exc:
            unit_of_work.keep()  # a reused token revokes its family: keep that
            abort(401, message=exc.message, headers={"WWW-Authenticate": tokens.TOKEN_TYPE})


@blp.route("/auth/revoke")
class Revoke(MethodView):
    @blp.arguments(RevokeRequestSchema)
    @blp.response(204)
    def post(self, body):
        """Revoke an access or refresh token. Answers 204 whether or not the token was valid."""
        tokens.revoke(body["token"])


# --- users -----------------------------------------------------------------


@blp.route("/users")
class Users(MethodView):
    @limit_signup_per_ip
    @blp.arguments(SignupSchema)
    @blp.response(201, MeSchema, headers=LOCATION)
    def post(self, body):
        """Sign up. A verification email is sent; sign in with `POST /auth/token`.
        `Location`: the account (`/me`, once signed in)."""
        user = services.register_user(
            body["email"], body["password"], body["display_name"], handle=body.get("handle")
        )
        return created(user, "accounts_api.Me")


@blp.route("/me")
class Me(MethodView):
    @auth_required
    @blp.etag
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in user."""
        user = _current_user()
        blp.set_etag(user, ME_ETAG_SCHEMA)
        return user

    @auth_required
    @blp.etag
    @blp.arguments(ProfileFieldsSchema(partial=True))
    @blp.response(200, MeSchema)
    def patch(self, fields):
        """Change profile fields. Send the ETag of your last read as `If-Match`."""
        user = _current_user()
        blp.check_etag(user, ME_ETAG_SCHEMA)
        services.update_profile(user, **fields)
        blp.set_etag(user, ME_ETAG_SCHEMA)
        return user

    @auth_required
    @blp.arguments(DeleteAccountSchema, example={"password": "correct-horse-battery"})
    @blp.response(204)
    @blp.alt_response(
        422,
        response="UNPROCESSABLE_ENTITY",
        description="Wrong password (errors.json.password), or an operator admin (who cannot delete "
        "their own account): nothing changes",
    )
    def delete(self, body):
        """Delete your account (GDPR), as the web's privacy page does: your personal data is
        erased (email, password, name, handle, profile, seller profile, avatar, portfolio),
        every token of yours stops working, and your gigs leave search. Orders and ledger
        entries keep pointing at the anonymised account. Download your data first
        (`GET /me/export`)."""
        services.delete_account(_current_user(), body["password"])


@blp.route("/me/two-factor")
class MyTwoFactor(MethodView):
    @auth_required
    @blp.response(200, TwoFactorStatusSchema)
    def get(self):
        """Whether your account has two-factor sign-in, since when, and how many recovery codes are
        left. Set it up or turn it off on the web (Account → Security)."""
        return two_factor.status(_current_user())


@blp.route("/me/export")
class MyData(MethodView):
    @auth_required
    @blp.response(
        200,
        description="Everything the marketplace stores about you, as JSON.",
        example={"user": {"email": "ada@example.com", "display_name": "Ada Lovelace"}},
    )
    def get(self):
        """Download your personal data."""
        return services.export_user_data(_current_user())


@blp.route("/me/sessions")
class MySessions(MethodView):
    @auth_required
    @blp.response(200, SessionSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Where you are signed in: browsers and API token families, live ones first (the one
        making this request marked `current`), then those ended in the last week."""
        return sessions.list_sessions(_current_user())


@blp.route("/me/sessions/<int(max=9223372036854775807):session_id>")
class MySession(MethodView):
    @auth_required
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND", description="No session of yours has this id")
    def delete(self, session_id):
        """Sign a session out: a browser is logged out at its next request, an API token family's
        tokens stop working. Ending an ended session answers 204 too."""
        sessions.end_session(_current_user(), session_id, "ended")


@blp.route("/me/seller-profile")
class MySellerProfile(MethodView):
    @auth_required
    @blp.etag
    @blp.response(200, SellerProfileSchema)
    @blp.alt_response(404, response="NOT_FOUND", description="You have no seller profile yet")
    def get(self):
        """Your seller profile."""
        profile = _current_user().seller_profile
        if profile is None:
            abort(404, message="You have no seller profile yet.")
        blp.set_etag(profile, SELLER_ETAG_SCHEMA)
        return profile

    @auth_required
    @blp.etag
    @blp.arguments(SellerProfileSchema)
    @blp.response(200, SellerProfileSchema)
    def put(self, body):
        """Create or replace your seller profile: this makes you a seller.

        `If-Match` must carry the ETag of your last read, or `*` to write regardless.
        """
        user = _current_user()
        current = user.seller_profile
        blp.check_etag(current if current is not None else {}, SELLER_ETAG_SCHEMA if current else None)
        profile = services.upsert_seller_profile(user, **body)
        blp.set_etag(profile, SELLER_ETAG_SCHEMA)
        return profile


@blp.route("/me/seller-profile/portfolio")
class MyPortfolio(MethodView):
    @auth_required
    @blp.arguments(PortfolioItemCreateSchema)
    @blp.response(201, PortfolioItemSchema, headers=LOCATION)
    def post(self, body):
        """Add a piece of work (by link) to your portfolio. You must be a seller.
        `Location`: the item (its URL removes it)."""
        item = services.add_portfolio_item(
            _current_user(), body["title"], body["description"], link=body["link"]
        )
        return created(item, "accounts_api.MyPortfolioItem", item_id=item.id)


@blp.route("/me/seller-profile/portfolio/<int(max=2147483647):item_id>")
class MyPortfolioItem(MethodView):
    @auth_required
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, item_id):
        """Remove one of your portfolio items."""
        services.delete_portfolio_item(_current_user(), item_id)


# --- public profiles -------------------------------------------------------


@blp.route("/profiles/<string:handle>")
class Profile(MethodView):
    @blp.response(200, PublicProfileSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, handle):
        """A member's public profile, with their seller profile when they have one."""
        user = services.get_user_by_handle(handle)
        if user is None or not user.is_active:
            abort(404, message="No member has this handle.")
        return user
