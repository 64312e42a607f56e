"""Marshmallow schemas of the saved lists API (``app.discovery.saved_api``).

Request schemas check shapes and types only; the rules (a name's length and uniqueness, which
gigs can be saved) are the services', so the web and the API cannot disagree.
"""

from __future__ import annotations

from marshmallow import fields

from app.core.schema import Schema
from app.discovery.models import LIST_NAME_MAX
from app.gigs import services as gig_services
from app.gigs.schemas import CategoryRefSchema, SellerCardSchema


class SavedListSchema(Schema):
    """A list (dumped from ``saved.ListSummary``)."""

    id = fields.Int(metadata={"example": 7})
    name = fields.Str(metadata={"example": "Logo ideas"})
    is_default = fields.Bool(
        metadata={
            "description": "The list a save without a list goes to (cannot be deleted)",
            "example": False,
        }
    )
    gig_count = fields.Int(attribute="count", metadata={"example": 3})
    cover_url = fields.Method(
        "_cover",
        allow_none=True,
        metadata={"description": "Signed URL of the first available gig's cover thumbnail", "example": None},
    )
    created_at = fields.DateTime(attribute="list.created_at")
    updated_at = fields.DateTime(attribute="list.updated_at")

    def _cover(self, summary):
        return gig_services.image_url(summary.cover_key)


class SavedListInputSchema(Schema):
    name = fields.Str(
        required=True,
        metadata={
            "description": f"1 to {LIST_NAME_MAX} characters (trimmed), unique among your lists (any case)",
            "example": "Logo ideas",
        },
    )


class SavedGigCardSchema(Schema):
    """What a list shows of a gig (the gig's own resource is ``GET /gigs/{gig_id}``)."""

    id = fields.Int(metadata={"example": 42})
    slug = fields.Str(metadata={"example": "i-will-design-a-minimalist-logo-3fa2c1"})
    title = fields.Str(metadata={"example": "I will design a minimalist logo"})
    status = fields.Str(metadata={"example": "active"})
    category = fields.Nested(CategoryRefSchema, allow_none=True)
    min_price_minor = fields.Int(allow_none=True, metadata={"example": 5000})
    min_delivery_days = fields.Int(allow_none=True, metadata={"example": 3})
    rating_avg = fields.Float(metadata={"example": 4.8})
    rating_count = fields.Int(metadata={"example": 12})
    cover_url = fields.Method("_cover", allow_none=True, metadata={"example": None})
    seller = fields.Nested(SellerCardSchema)

    def _cover(self, gig):
        return gig_services.image_url(gig.cover.thumb_key) if gig.cover else None


class SavedGigSchema(Schema):
    """A gig in a list (dumped from ``saved.SavedItem``)."""

    gig_id = fields.Int(attribute="gig.id", metadata={"example": 42})
    list_id = fields.Int(metadata={"example": 7})
    saved_at = fields.DateTime()
    available = fields.Bool(
        metadata={"description": "False once the gig is paused or no longer offered (it stays in the list)"}
    )
    gig = fields.Nested(SavedGigCardSchema)


class SaveGigSchema(Schema):
    gig_id = fields.Int(strict=True, required=True, metadata={"description": "An active gig", "example": 42})


class MoveGigSchema(Schema):
    to_list_id = fields.Int(
        strict=True, required=True, metadata={"description": "Another of your lists", "example": 8}
    )
