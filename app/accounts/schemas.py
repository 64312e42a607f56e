"""Marshmallow schemas of the accounts API (requests and responses).

Request schemas reject unknown fields (marshmallow's default), so a typo in a
field name is a 422 rather than a silently ignored value. Length limits here
only bound the input; the rules (unique handle, strong password, valid
timezone...) are the services' and come back as field errors.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.accounts import services
from app.accounts.models import AVAILABILITIES
from app.core.schema import Schema

# --- tokens ----------------------------------------------------------------


class TokenRequestSchema(Schema):
    email = fields.Str(
        required=True, validate=validate.Length(min=1, max=254), metadata={"example": "ada@example.com"}
    )
    password = fields.Str(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"example": "correct-horse-battery"},
    )
    otp = fields.Str(
        load_only=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "description": "For an account with two-factor sign-in: the 6-digit code of its "
            "authenticator app, or one of its recovery codes (used up). Without it such an account "
            "answers 401 with `errors.code` `two_factor_required`; send the same body again with it.",
            "example": "123456",
        },
    )


class TokenPairSchema(Schema):
    access_token = fields.Str(metadata={"example": "gfa_3q2-7wKx0vY8bTq9m1dVn4e5Jr6Zc0sHf7Ll2Pq8Uo4"})
    refresh_token = fields.Str(metadata={"example": "gfr_Xk9pW2m4R7tQ1vB8nC3zL6yH0sJ5dF2gA9eU4iO7wE1"})
    token_type = fields.Str(metadata={"example": "Bearer"})
    expires_in = fields.Int(metadata={"description": "Access token lifetime in seconds", "example": 900})
    refresh_expires_in = fields.Int(
        metadata={"description": "Refresh token lifetime in seconds", "example": 2592000}
    )


class RefreshRequestSchema(Schema):
    refresh_token = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata={"example": "gfr_Xk9pW2m4R7tQ1vB8nC3zL6yH0sJ5dF2gA9eU4iO7wE1"},
    )


class DeleteAccountSchema(Schema):
    password = fields.Str(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={
            "description": "Your password: the confirmation the web page asks for too.",
            "example": "correct-horse-battery",
        },
    )


class RevokeRequestSchema(Schema):
    token = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata={
            "description": "An access or refresh token. Revoking a refresh token also revokes "
            "every token issued with it.",
            "example": "gfr_Xk9pW2m4R7tQ1vB8nC3zL6yH0sJ5dF2gA9eU4iO7wE1",
        },
    )


# --- users and profiles ----------------------------------------------------


class SignupSchema(Schema):
    email = fields.Email(
        required=True, validate=validate.Length(max=254), metadata={"example": "ada@example.com"}
    )
    password = fields.Str(
        required=True,
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={
            "description": "At least 10 characters, not the email, not a common password.",
            "example": "correct-horse-battery",
        },
    )
    display_name = fields.Str(
        required=True, validate=validate.Length(min=1, max=80), metadata={"example": "Ada Lovelace"}
    )
    handle = fields.Str(
        validate=validate.Length(min=1, max=30),
        metadata={"description": "Unique in the marketplace; generated when omitted.", "example": "ada"},
    )


class ProfileFieldsSchema(Schema):
    """The profile fields a user edits (all optional on PATCH)."""

    display_name = fields.Str(validate=validate.Length(min=1, max=80), metadata={"example": "Ada Lovelace"})
    # Null until the user picks one (a handle cannot be cleared: null on PATCH is refused).
    handle = fields.Str(allow_none=True, validate=validate.Length(min=1, max=30), metadata={"example": "ada"})
    country = fields.Str(
        allow_none=True,
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166-1 alpha-2", "example": "GB"},
    )
    timezone = fields.Str(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "IANA time zone", "example": "Europe/London"},
    )
    languages = fields.List(
        fields.Str(validate=validate.Length(min=1, max=8)),
        validate=validate.Length(max=20),
        metadata={"example": ["en", "fr"]},
    )
    bio = fields.Str(
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"example": "Analytical engines, poetical science."},
    )


class PortfolioItemSchema(Schema):
    id = fields.Int(dump_only=True, metadata={"example": 7})
    title = fields.Str(metadata={"example": "Bernoulli numbers program"})
    description = fields.Str(metadata={"example": "Note G, for the Analytical Engine."})
    link = fields.Str(allow_none=True, metadata={"example": "https://example.com/note-g"})
    image_url = fields.Function(
        lambda item: services.image_url(item.image_key),
        allow_none=True,
        metadata={"description": "Signed URL, valid for an hour", "example": "/files/eyJrIjoi..."},
    )


class PortfolioItemCreateSchema(Schema):
    """A portfolio item given by link (upload an image from the web page)."""

    title = fields.Str(
        required=True, validate=validate.Length(min=1, max=120), metadata={"example": "Note G"}
    )
    description = fields.Str(
        load_default="",
        validate=validate.Length(max=1000),
        metadata={"example": "The first published program."},
    )
    link = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"example": "https://example.com/note-g"},
    )


class SellerProfileSchema(Schema):
    """A seller profile: written whole by PUT, read by GET."""

    headline = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"example": "Mathematician and first programmer"},
    )
    description = fields.Str(
        load_default="",
        validate=validate.Length(max=5000),
        metadata={"example": "I write programs for engines that do not exist yet."},
    )
    skills = fields.List(
        fields.Str(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(max=30),
        metadata={"example": ["mathematics", "programming"]},
    )
    hourly_rate_minor = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=100_000_00),
        metadata={"description": "Hourly rate in minor units (cents) of `currency`", "example": 12000},
    )
    currency = fields.Str(
        dump_only=True, metadata={"description": "The marketplace currency (ISO 4217)", "example": "USD"}
    )
    availability = fields.Str(
        load_default="full_time",
        validate=validate.OneOf(AVAILABILITIES),
        metadata={"example": "part_time"},
    )
    portfolio = fields.List(
        fields.Nested(PortfolioItemSchema),
        dump_only=True,
        attribute="user.portfolio_items",
    )
    updated_at = fields.DateTime(dump_only=True)


def _github_login(user_id: int) -> str | None:
    from app.accounts.oauth import github_login

    return github_login(user_id)


class PublicProfileSchema(Schema):
    handle = fields.Str(metadata={"example": "ada"})
    display_name = fields.Str(metadata={"example": "Ada Lovelace"})
    country = fields.Str(allow_none=True, metadata={"example": "GB"})
    languages = fields.List(fields.Str(), metadata={"example": ["en", "fr"]})
    bio = fields.Str(allow_none=True, metadata={"example": "Analytical engines, poetical science."})
    avatar_url = fields.Function(
        services.avatar_url, metadata={"description": "Signed URL, valid for an hour", "example": None}
    )
    member_since = fields.DateTime(attribute="created_at")
    seller_profile = fields.Nested(SellerProfileSchema, allow_none=True)
    github_login = fields.Function(
        lambda user: _github_login(user.id),
        allow_none=True,
        metadata={"description": "The member's linked GitHub username, if any", "example": "ada-l"},
    )


class MeSchema(ProfileFieldsSchema):
    """The signed-in user, as they see themselves."""

    id = fields.Int(dump_only=True, metadata={"example": 42})
    email = fields.Email(dump_only=True, metadata={"example": "ada@example.com"})
    email_verified = fields.Function(lambda user: user.email_verified_at is not None, dump_only=True)
    role = fields.Str(dump_only=True, metadata={"example": "member"})
    is_seller = fields.Function(
        lambda user: getattr(user, "seller_profile", None) is not None, dump_only=True
    )
    avatar_url = fields.Function(
        services.avatar_url,
        dump_only=True,
        metadata={"description": "Signed URL, valid for an hour", "example": "/files/eyJrIjoi..."},
    )
    created_at = fields.DateTime(dump_only=True)


# ETags are computed without signed URLs: those change every second while the
# resource does not, and a changing ETag would make every If-Match fail.
ME_ETAG_SCHEMA = MeSchema(exclude=("avatar_url",))
SELLER_ETAG_SCHEMA = SellerProfileSchema(exclude=("portfolio.image_url",))


# --- two-factor sign-in ----------------------------------------------------


class TwoFactorStatusSchema(Schema):
    enabled = fields.Bool(metadata={"description": "Two-factor sign-in is on", "example": True})
    confirmed_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it was turned on (null: off)"}
    )
    recovery_codes_left = fields.Int(metadata={"description": "Unused recovery codes", "example": 9})


# --- sessions ----------------------------------------------------------------


class SessionSchema(Schema):
    """A signed-in device: a web login or an API token family (app/accounts/sessions.py)."""

    id = fields.Int(metadata={"example": 12})
    kind = fields.Str(
        metadata={"description": "`web` (a browser) or `api` (a token family)", "example": "web"}
    )
    device = fields.Str(metadata={"example": "Firefox on Windows"})
    ip = fields.Str(allow_none=True, metadata={"example": "203.0.113.7"})
    method = fields.Str(
        metadata={"description": "How it signed in: password, github, google, token", "example": "password"}
    )
    created_at = fields.DateTime(metadata={"description": "Signed in"})
    last_seen_at = fields.DateTime(metadata={"description": "Last active (to the minute)"})
    current = fields.Bool(metadata={"description": "The session making this request"})
    active = fields.Bool(metadata={"description": "Still signed in"})
    revoked_at = fields.DateTime(allow_none=True, metadata={"description": "Ended"})
    revoked_reason = fields.Str(
        allow_none=True,
        metadata={
            "description": "Why it ended: logout, ended, password_changed, password_reset, suspended, "
            "token_reuse, revoked, expired",
            "example": None,
        },
    )
