"""Marshmallow schemas of the console API's featured gigs. The input schema checks the shape
(a list of integers); the rules (active gigs of this marketplace, at most 24, no repeats) are
discovery's, so the web console and the API give the same answers."""

from __future__ import annotations

from marshmallow import fields

from app.core.schema import Schema
from app.discovery.models import FEATURED_MAX


class ConsoleFeaturedGigSchema(Schema):
    id = fields.Int(metadata={"example": 42})
    position = fields.Int(metadata={"description": "0 is shown first", "example": 0})
    title = fields.Str(metadata={"example": "I will design a minimalist logo"})
    slug = fields.Str(metadata={"example": "i-will-design-a-minimalist-logo-3fa2c1"})
    status = fields.Str(metadata={"example": "active"})
    shown = fields.Bool(
        metadata={"description": "Whether the home page shows it (only live gigs of active sellers are)"}
    )
    seller = fields.Str(attribute="seller_name", metadata={"example": "Ada Lovelace"})
    category = fields.Str(attribute="category_name", allow_none=True, metadata={"example": "Logo Design"})
    thumb_url = fields.Str(allow_none=True, metadata={"description": "Signed URL of the cover thumbnail"})


class ConsoleFeaturedListSchema(Schema):
    gig_ids = fields.List(fields.Int(), metadata={"description": "In home page order", "example": [42, 7]})
    gigs = fields.List(fields.Nested(ConsoleFeaturedGigSchema))
    max = fields.Int(metadata={"example": FEATURED_MAX})


class ConsoleFeaturedInputSchema(Schema):
    gig_ids = fields.List(
        fields.Int(strict=True),
        required=True,
        metadata={
            "description": f"Active gigs of this marketplace, each once, at most {FEATURED_MAX}; "
            "the order is the home page's. `[]` features none.",
            "example": [42, 7],
        },
    )
