"""Marshmallow schemas of the console's users and gig-moderation API.

Request schemas check shapes and types only; the rules (reason length, known role,
who may act on whom) are the services', so the web console and the API give the
same answers. Class names carry ``Console`` so the OpenAPI component names never
collide with the public API's.
"""

from __future__ import annotations

from marshmallow import fields

from app.accounts import moderation as user_rules
from app.accounts.models import ROLES, USER_STATUSES
from app.core.schema import Schema
from app.gigs import moderation as gig_rules
from app.gigs.models import GIG_STATUSES
from app.gigs.schemas import CategoryRefSchema, ExtraSchema, FaqSchema, ImageSchema, PackageSchema

# --- users ---------------------------------------------------------------------------


class ConsoleUserListArgsSchema(Schema):
    q = fields.Str(
        metadata={
            "description": "Part of the email, name or handle (case-insensitive); a number also "
            "matches the user id. At most 100 characters.",
            "example": "ada",
        }
    )
    role = fields.Str(metadata={"enum": list(ROLES), "example": "member"})
    status = fields.Str(metadata={"enum": list(USER_STATUSES), "example": "active"})


class ConsoleUserSchema(Schema):
    id = fields.Int(metadata={"example": 42})
    email = fields.Str(metadata={"example": "ada@example.com"})
    display_name = fields.Str(metadata={"example": "Ada Lovelace"})
    handle = fields.Str(allow_none=True, metadata={"example": "ada"})
    role = fields.Str(metadata={"enum": list(ROLES), "example": "member"})
    status = fields.Str(metadata={"enum": list(USER_STATUSES), "example": "suspended"})
    is_seller = fields.Bool(metadata={"example": True})
    email_verified = fields.Bool(attribute="is_verified", metadata={"example": True})
    country = fields.Str(allow_none=True, metadata={"example": "GB"})
    created_at = fields.DateTime(metadata={"example": "2024-05-01T09:30:00+00:00"})
    last_login_at = fields.DateTime(allow_none=True, metadata={"example": "2024-06-02T18:04:11+00:00"})
    suspended_at = fields.DateTime(allow_none=True, metadata={"example": "2024-06-03T10:00:00+00:00"})
    suspended_reason = fields.Str(
        allow_none=True,
        metadata={
            "description": "Why the account is suspended (emailed to the user).",
            "example": "Repeated off-platform payment requests.",
        },
    )


class ConsoleAuditBriefSchema(Schema):
    id = fields.Int(metadata={"example": 310})
    created_at = fields.DateTime(metadata={"example": "2024-06-03T10:00:00+00:00"})
    actor_label = fields.Str(metadata={"example": "Marketplace admin <admin@acme.example>"})
    via = fields.Str(metadata={"enum": ["web", "api", "cli"], "example": "web"})
    action = fields.Str(metadata={"example": "user.suspend"})
    summary = fields.Str(
        metadata={
            "example": "Suspended Ada Lovelace <ada@example.com>: Repeated off-platform payment requests."
        }
    )
    changes = fields.Dict(metadata={"example": {"status": ["active", "suspended"]}})


class ConsoleOrderCountsSchema(Schema):
    as_buyer = fields.Int(attribute="orders_as_buyer", metadata={"example": 3})
    as_seller = fields.Int(attribute="orders_as_seller", metadata={"example": 17})
    active = fields.Int(attribute="active_orders", metadata={"example": 2})


class ConsoleGigBriefSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    title = fields.Str(metadata={"example": "I will design a minimalist logo for your brand"})
    slug = fields.Str(metadata={"example": "i-will-design-a-minimalist-logo-for-your-brand-3fa2c1"})
    status = fields.Str(metadata={"enum": list(GIG_STATUSES), "example": "pending_approval"})
    min_price_minor = fields.Int(allow_none=True, metadata={"example": 5000})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ConsoleUserDetailSchema(ConsoleUserSchema):
    """A user (``people.UserOverview``) with their gigs (every status but archived), order
    counts and the audit entries about them (newest first)."""

    orders = fields.Nested(ConsoleOrderCountsSchema)
    gig_count = fields.Int(metadata={"example": 4})
    gigs = fields.List(fields.Nested(ConsoleGigBriefSchema))
    audit = fields.List(fields.Nested(ConsoleAuditBriefSchema))


class ConsoleSuspendSchema(Schema):
    reason = fields.Str(
        required=True,
        metadata={
            "description": f"Told to the user by email; {user_rules.REASON_MIN} to "
            f"{user_rules.REASON_MAX} characters.",
            "minLength": user_rules.REASON_MIN,
            "maxLength": user_rules.REASON_MAX,
            "example": "Repeated off-platform payment requests after two warnings.",
        },
    )


class ConsoleRoleSchema(Schema):
    role = fields.Str(required=True, metadata={"enum": list(ROLES), "example": "moderator"})


# --- gigs ----------------------------------------------------------------------------


class ConsoleGigListArgsSchema(Schema):
    status = fields.Str(
        metadata={
            "enum": list(GIG_STATUSES),
            "description": "`pending_approval` is the moderation queue (oldest first); other "
            "lists are newest first.",
            "example": "pending_approval",
        }
    )
    q = fields.Str(
        metadata={
            "description": "Part of the title or slug, or of the seller's name, email or handle; a "
            "number also matches the gig id. At most 100 characters.",
            "example": "logo",
        }
    )


class ConsoleSellerSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Sally Seller"})
    email = fields.Str(metadata={"example": "sally@example.com"})
    handle = fields.Str(allow_none=True, metadata={"example": "sally"})
    status = fields.Str(metadata={"enum": list(USER_STATUSES), "example": "active"})


class ConsoleGigSchema(ConsoleGigBriefSchema):
    seller = fields.Nested(ConsoleSellerSchema)
    category = fields.Nested(CategoryRefSchema, allow_none=True)
    version = fields.Int(
        metadata={
            "description": "Bumped by every change. Send it back with approve / reject to refuse the "
            "decision when the seller changed the gig since you reviewed it.",
            "example": 4,
        }
    )
    published_at = fields.DateTime(allow_none=True)
    moderation_reason = fields.Str(
        allow_none=True,
        metadata={
            "description": "The reason of the last rejection or operator pause (shown to the seller).",
            "example": "The images show another company's logo.",
        },
    )
    moderated_at = fields.DateTime(allow_none=True)
    moderated_by_id = fields.Int(allow_none=True, metadata={"example": 1})


class ConsoleGigDetailSchema(ConsoleGigSchema):
    """The full content of the gig, as a buyer would see it once it is live."""

    url = fields.Method("_url", metadata={"example": "https://acme.example.com/gigs/i-will-design-3fa2c1"})
    description = fields.Str(attribute="description_source", metadata={"example": "A **clean** logo."})
    description_html = fields.Str(metadata={"example": "<p>A <strong>clean</strong> logo.</p>"})
    tags = fields.List(fields.Str(), metadata={"example": ["logo", "branding"]})
    packages = fields.List(fields.Nested(PackageSchema))
    extras = fields.List(fields.Nested(ExtraSchema))
    faqs = fields.List(fields.Nested(FaqSchema))
    images = fields.List(fields.Nested(ImageSchema))
    incomplete = fields.Method(
        "_incomplete",
        metadata={
            "description": "What the gig lacks before it can go live (empty when complete).",
            "example": {},
        },
    )
    audit = fields.Method("_audit")

    def _url(self, gig):
        from app.core.urls import tenant_url
        from tenants.db import current_tenant

        return tenant_url(current_tenant(), "gigs.gig_page", slug=gig.slug)

    def _incomplete(self, gig):
        from app.gigs.services import completeness_errors

        return completeness_errors(gig)

    def _audit(self, gig):
        from app.console.people.actions import gig_audit

        return ConsoleAuditBriefSchema.shared(many=True).dump(gig_audit(gig.id))


VERSION_DOC = "The version you reviewed (optional): refused with 412 when the gig changed since."


class ConsoleApproveSchema(Schema):
    version = fields.Int(
        strict=True,
        metadata={
            "description": VERSION_DOC,
            "example": 4,
        },
    )


class ConsoleGigReasonSchema(Schema):
    reason = fields.Str(
        required=True,
        metadata={
            "description": f"Told to the seller; {gig_rules.REASON_MIN}-{gig_rules.REASON_MAX} characters.",
            "minLength": gig_rules.REASON_MIN,
            "maxLength": gig_rules.REASON_MAX,
            "example": "The images show another company's logo. Replace them with your own work.",
        },
    )


class ConsoleRejectSchema(ConsoleGigReasonSchema):
    version = fields.Int(
        strict=True,
        metadata={
            "description": VERSION_DOC,
            "example": 4,
        },
    )
