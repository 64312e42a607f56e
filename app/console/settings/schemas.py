"""Schemas of the console API for branding, domains, settings, categories and payments.

Input schemas only check types and sizes; the rules (and their messages) live in the
services, which answer with field errors in the same 422 shape.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema

# --------------------------------------------------------------------------- branding


class BrandingSchema(Schema):
    name = fields.Str(metadata={"example": "Acme Talent"})
    tagline = fields.Str(metadata={"example": "Hand-picked freelancers for growing businesses"})
    hero_text = fields.Str(metadata={"example": "Logos, websites, copy and more, delivered on time."})
    primary_color = fields.Str(metadata={"description": "#rrggbb", "example": "#0f766e"})
    accent_color = fields.Str(metadata={"description": "#rrggbb", "example": "#134e4a"})
    logo_url = fields.Str(
        allow_none=True,
        dump_only=True,
        metadata={
            "description": "Path of the uploaded logo on the marketplace's host",
            "example": "/brand/logo-3f9a1c0d2b7e4a65.png",
        },
    )
    favicon_url = fields.Str(
        allow_none=True,
        dump_only=True,
        metadata={"example": "/brand/favicon-8c2e4f6a0b1d3e57.png"},
    )
    contrast_warnings = fields.List(
        fields.Str(),
        dump_only=True,
        metadata={
            "description": "Advice when white text would be hard to read on a colour (never a refusal)",
            "example": [],
        },
    )


class BrandingPatchSchema(Schema):
    name = fields.Str(validate=validate.Length(max=500), metadata={"example": "Acme Talent"})
    tagline = fields.Str(
        validate=validate.Length(max=1000), metadata={"example": "Freelancers you can trust"}
    )
    hero_text = fields.Str(
        validate=validate.Length(max=10000), metadata={"example": "Find design talent in minutes."}
    )
    primary_color = fields.Str(validate=validate.Length(max=50), metadata={"example": "#0f766e"})
    accent_color = fields.Str(validate=validate.Length(max=50), metadata={"example": "#134e4a"})


class BrandImageUploadSchema(Schema):
    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "PNG, JPEG, WebP or GIF (a favicon may also be ICO), up to 2 MB and "
            "4096 pixels a side. Re-encoded as PNG: the logo fits 800×240, the favicon 64×64.",
        },
    )


# --------------------------------------------------------------------------- domains


class DnsRecordSchema(Schema):
    type = fields.Str(metadata={"example": "TXT"})
    name = fields.Str(metadata={"example": "_gigforge.shop.acme.com"})
    value = fields.Str(metadata={"example": "gigforge-verification=4f1c9e0a7b3d52e8a6c1f0b9d2e4a7c3"})


class DomainSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    hostname = fields.Str(metadata={"example": "shop.acme.com"})
    status = fields.Str(
        metadata={"description": "pending or verified (only verified ones resolve)", "example": "pending"}
    )
    is_primary = fields.Bool(
        metadata={"description": "Links in emails use the primary domain", "example": False}
    )
    is_default = fields.Bool(
        metadata={
            "description": "The marketplace's own <slug>.<platform domain> (never removable)",
            "example": False,
        }
    )
    verified_at = fields.DateTime(allow_none=True, metadata={"example": None})
    last_checked_at = fields.DateTime(allow_none=True, metadata={"example": "2026-11-23T10:15:00+00:00"})
    last_check_error = fields.Str(
        allow_none=True, metadata={"example": "No TXT record found at _gigforge.shop.acme.com."}
    )
    created_at = fields.DateTime(metadata={"example": "2026-11-23T10:00:00+00:00"})
    dns_record = fields.Nested(
        DnsRecordSchema,
        allow_none=True,
        metadata={"description": "Publish this record, then verify (pending only)"},
    )
    cname_target = fields.Str(
        metadata={
            "description": "Point the hostname here (CNAME) so visitors reach the marketplace",
            "example": "acme.gigforge.com",
        }
    )


class DomainCreateSchema(Schema):
    hostname = fields.Str(
        required=True, validate=validate.Length(max=300), metadata={"example": "shop.acme.com"}
    )


# --------------------------------------------------------------------------- settings


class SettingsSchema(Schema):
    currency = fields.Str(
        metadata={"description": "ISO 4217; prices are minor units of it", "example": "USD"}
    )
    locale = fields.Str(
        metadata={
            "description": "How amounts are written and read on the marketplace (CLDR locale)",
            "example": "en_US",
        }
    )
    # A JSON number (a percentage of at most 2 decimals is exact as one), as the schema says.
    commission_percent = fields.Float(
        metadata={"description": "0 to 50, at most 2 decimals", "example": 12.5}
    )
    commission_bps = fields.Int(
        dump_only=True, metadata={"description": "The same in basis points", "example": 1250}
    )
    commission_min_fee_minor = fields.Int(
        metadata={"description": "Minimum commission per order, minor units (cents)", "example": 100}
    )
    auto_complete_days = fields.Int(metadata={"description": "1-60", "example": 3})
    clearance_days = fields.Int(metadata={"description": "0-90", "example": 7})
    cancellation_auto_resolve_days = fields.Int(metadata={"description": "1-30", "example": 2})
    timesheet_review_days = fields.Int(
        metadata={"description": "1-30: an hourly timesheet unanswered this long is approved", "example": 5}
    )
    payout_schedule = fields.Str(metadata={"description": "manual, daily or weekly", "example": "manual"})
    gigs_require_approval = fields.Bool(
        metadata={"description": "New gigs wait in the moderation queue", "example": False}
    )
    require_verified_email = fields.Bool(
        metadata={
            "description": "Ordering, publishing gigs, sending offers and messaging need a verified email",
            "example": True,
        }
    )
    support_email = fields.Str(allow_none=True, metadata={"example": "help@acme.com"})
    location_enabled = fields.Bool(
        metadata={
            "description": "Gigs may be delivered on site; buyers search near a place",
            "example": False,
        }
    )
    default_country = fields.Str(
        allow_none=True,
        metadata={"description": "ISO 3166 code preferred among same-named cities", "example": "US"},
    )
    require_2fa_staff = fields.Bool(
        metadata={
            "description": "Admins and moderators need two-factor sign-in to use the console",
            "example": False,
        }
    )
    bot_protection = fields.Str(
        metadata={
            "description": "off, auto (challenge an IP after suspicious volume) or always",
            "example": "auto",
        }
    )
    currency_locked = fields.Str(
        allow_none=True,
        dump_only=True,
        metadata={"description": "Why the currency can no longer change (null: it can)", "example": None},
    )
    currencies = fields.List(fields.Str(), dump_only=True, metadata={"example": ["EUR", "GBP", "USD"]})


class SettingsPatchSchema(Schema):
    currency = fields.Str(validate=validate.Length(max=10), metadata={"example": "EUR"})
    locale = fields.Str(
        validate=validate.Length(max=32),
        metadata={"description": "A locale like en_US, de_DE or hu_HU", "example": "de_DE"},
    )
    commission_percent = fields.Decimal(
        allow_nan=False, metadata={"description": "0 to 50, at most 2 decimals", "example": 12.5}
    )
    commission_min_fee_minor = fields.Int(strict=True, metadata={"example": 150})
    auto_complete_days = fields.Int(strict=True, metadata={"example": 5})
    clearance_days = fields.Int(strict=True, metadata={"example": 14})
    cancellation_auto_resolve_days = fields.Int(strict=True, metadata={"example": 3})
    timesheet_review_days = fields.Int(strict=True, metadata={"example": 5})
    payout_schedule = fields.Str(validate=validate.Length(max=20), metadata={"example": "weekly"})
    gigs_require_approval = fields.Bool(metadata={"example": True})
    require_verified_email = fields.Bool(metadata={"example": False})
    support_email = fields.Str(
        allow_none=True, validate=validate.Length(max=300), metadata={"example": "help@acme.com"}
    )
    location_enabled = fields.Bool(metadata={"example": True})
    default_country = fields.Str(
        allow_none=True, validate=validate.Length(max=10), metadata={"example": "DE"}
    )
    require_2fa_staff = fields.Bool(metadata={"example": True})
    bot_protection = fields.Str(
        validate=validate.Length(max=10),
        metadata={"description": "off, auto or always", "example": "always"},
    )


# --------------------------------------------------------------------------- categories


class ConsoleSubcategorySchema(Schema):
    id = fields.Int(metadata={"example": 14})
    parent_id = fields.Int(allow_none=True, metadata={"example": 3})
    name = fields.Str(metadata={"example": "Logo Design"})
    slug = fields.Str(metadata={"example": "logo-design"})
    description = fields.Str(metadata={"example": ""})
    position = fields.Int(metadata={"description": "Order among its siblings", "example": 0})
    is_hidden = fields.Bool(metadata={"example": False})
    gig_count = fields.Int(metadata={"description": "Gigs in it (any status)", "example": 4})


class ConsoleCategorySchema(ConsoleSubcategorySchema):
    children = fields.List(
        fields.Nested(ConsoleSubcategorySchema), metadata={"description": "Subcategories, in order"}
    )


class CategoryCreateSchema(Schema):
    name = fields.Str(
        required=True, validate=validate.Length(max=300), metadata={"example": "Packaging Design"}
    )
    parent_id = fields.Int(
        allow_none=True,
        strict=True,
        metadata={"description": "A top-level category (omit for top level)", "example": 3},
    )
    slug = fields.Str(
        validate=validate.Length(max=300),
        metadata={"description": "Default: from the name", "example": "packaging-design"},
    )
    description = fields.Str(
        validate=validate.Length(max=1000), metadata={"example": "Boxes, labels and bags"}
    )


class CategoryPatchSchema(Schema):
    name = fields.Str(validate=validate.Length(max=300), metadata={"example": "Logos & Identity"})
    slug = fields.Str(
        validate=validate.Length(max=300),
        metadata={"description": "Changing it changes the category page's address", "example": "logos"},
    )
    description = fields.Str(validate=validate.Length(max=1000), metadata={"example": "Marks that last"})
    is_hidden = fields.Bool(
        metadata={"description": "Hidden from buyers and sellers' choices", "example": True}
    )
    position = fields.Int(
        strict=True, metadata={"description": "New 0-based place among its siblings", "example": 0}
    )


class CategoryReorderSchema(Schema):
    parent_id = fields.Int(
        allow_none=True, strict=True, metadata={"description": "null: the top level", "example": None}
    )
    ids = fields.List(
        fields.Int(strict=True),
        required=True,
        validate=validate.Length(max=500),
        metadata={"description": "Every category of that level, in the new order", "example": [3, 1, 2]},
    )


# --------------------------------------------------------------------------- payments


class PaymentsSchema(Schema):
    provider = fields.Str(metadata={"description": "sandbox or stripe", "example": "stripe"})
    publishable_key = fields.Str(allow_none=True, metadata={"example": "pk_test_51Hx2bQ"})
    secret_key = fields.Str(
        allow_none=True,
        metadata={"description": "Masked: the kind and last 4 characters", "example": "sk_test_…a1b2"},
    )
    webhook_secret = fields.Str(allow_none=True, metadata={"example": "whsec_…9f3c"})
    stripe_configured = fields.Bool(metadata={"example": True})
    webhook_url = fields.Str(
        metadata={
            "description": "Configure this endpoint in Stripe with the events payment_intent.succeeded, "
            "payment_intent.payment_failed, charge.refunded, account.updated, transfer.created and "
            "transfer.reversed",
            "example": "https://acme.gigforge.com/webhooks/stripe",
        }
    )


class PaymentsPutSchema(Schema):
    provider = fields.Str(
        required=True, validate=validate.OneOf(["sandbox", "stripe"]), metadata={"example": "stripe"}
    )
    publishable_key = fields.Str(validate=validate.Length(max=255), metadata={"example": "pk_test_51Hx2bQ"})
    secret_key = fields.Str(
        load_only=True,
        validate=validate.Length(max=255),
        metadata={"description": "Omit to keep the stored key", "example": "sk_test_51Hx2bQa1b2"},
    )
    webhook_secret = fields.Str(
        load_only=True,
        validate=validate.Length(max=255),
        metadata={
            "description": "Omit to keep the stored secret",
            "example": "whsec_4eC39HqLyjWDarjtT1zdp7dc",
        },
    )
