"""Marshmallow schemas of the catalog API.

Request schemas check shapes and types only (``strict`` integers: a price of
``"10"`` or ``10.5`` is refused); the rules (ranges, markup, the basic package,
the category) are the services', so the web and the API can never disagree.
Their limits are repeated here as OpenAPI ``minimum`` / ``maximum`` for clients.
"""

from __future__ import annotations

import functools

from marshmallow import ValidationError, fields, validate

from app.core.schema import Schema
from app.gigs import services
from app.gigs.models import GIG_STATUSES, MAX_PRICE_MINOR, TIERS

PRICE_DOC = {
    "description": "Integer minor units (cents) of the marketplace currency.",
    "minimum": 1,
    "maximum": MAX_PRICE_MINOR,
}


class SubcategorySchema(Schema):
    id = fields.Int(dump_only=True, metadata={"example": 12})
    name = fields.Str(metadata={"example": "Logo Design"})
    slug = fields.Str(metadata={"example": "logo-design"})
    position = fields.Int()


class CategorySchema(SubcategorySchema):
    """A category of ``GET /api/v1/categories``. The tree comes from the tenant cache as
    immutable values (``services.ApiCategory``), so the dump of each is kept too, keyed by the
    value itself (equal values dump equally, whatever the tenant: nothing of one marketplace can
    reach another's answer). Anything else is dumped as usual. The dumps are shared: read only."""

    description = fields.Str()
    children = fields.List(fields.Nested(SubcategorySchema), dump_only=True)

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        if many and all(type(item) is services.ApiCategory for item in obj):
            return [_dumped_category(item) for item in obj]
        return super().dump(obj, many=many)


@functools.lru_cache(maxsize=4096)
def _dumped_category(category: services.ApiCategory) -> dict:
    return CategorySchema.shared().dump(category)


class CategoryRefSchema(Schema):
    id = fields.Int(metadata={"example": 9})
    name = fields.Str(metadata={"example": "Logo Design"})
    slug = fields.Str(metadata={"example": "logo-design"})


# --- gigs --------------------------------------------------------------------------


class PackageSchema(Schema):
    tier = fields.Str(required=True, validate=validate.OneOf(TIERS), metadata={"example": "basic"})
    title = fields.Str(
        required=True, metadata={"example": "Starter", "maxLength": services.PACKAGE_TITLE_MAX}
    )
    description = fields.Str(
        load_default="",
        metadata={"example": "One logo concept", "maxLength": services.PACKAGE_DESCRIPTION_MAX},
    )
    price_minor = fields.Int(required=True, strict=True, metadata={**PRICE_DOC, "example": 5000})
    delivery_days = fields.Int(
        required=True, strict=True, metadata={"minimum": 1, "maximum": 90, "example": 5}
    )
    revisions = fields.Int(
        strict=True,
        load_default=0,
        metadata={"description": "0-20, or -1 for unlimited", "minimum": -1, "maximum": 20, "example": 2},
    )
    features = fields.List(
        fields.Str(metadata={"maxLength": services.FEATURE_MAX}),
        load_default=list,
        metadata={"maxItems": services.MAX_FEATURES, "example": ["1 concept", "PNG and SVG files"]},
    )


class ExtraSchema(Schema):
    id = fields.Int(dump_only=True, metadata={"example": 3})
    title = fields.Str(required=True, metadata={"example": "Fast delivery"})
    description = fields.Str(load_default="", metadata={"example": "Two days sooner"})
    price_minor = fields.Int(required=True, strict=True, metadata={**PRICE_DOC, "example": 3000})
    extra_days = fields.Int(
        strict=True,
        load_default=0,
        metadata={
            "description": "Days added to the delivery time; negative for faster delivery "
            "(every package must keep at least one day).",
            "example": -2,
        },
    )


class FaqSchema(Schema):
    question = fields.Str(required=True, metadata={"example": "Do I get the source files?"})
    answer = fields.Str(required=True, metadata={"example": "Yes: AI, SVG and PDF."})


class ImageSchema(Schema):
    id = fields.Int(metadata={"example": 4})
    url = fields.Function(
        lambda image: services.image_url(image.key),
        metadata={"description": "Signed URL, valid for an hour", "example": "/files/eyJrIjoi..."},
    )
    thumb_url = fields.Function(lambda image: services.image_url(image.thumb_key))
    width = fields.Int(metadata={"example": 1600})
    height = fields.Int(metadata={"example": 1200})


class SellerCardSchema(Schema):
    handle = fields.Str(metadata={"example": "ada"})
    display_name = fields.Str(metadata={"example": "Ada Lovelace"})
    avatar_url = fields.Method("_avatar", metadata={"example": None})
    level = fields.Method(
        "_level",
        metadata={
            "description": "The seller's level: new, level_1, level_2 or top_rated",
            "example": "level_2",
        },
    )

    def _avatar(self, user):
        from app.accounts.services import avatar_url

        return avatar_url(user)

    def _level(self, user):
        profile = user.seller_profile
        return profile.level if profile is not None else "new"


class PlaceField(fields.Field):
    """A place as a seller names it: text ("Berlin", "Berlin, Germany") or a GeoNames id."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("Give a city name or a GeoNames id.")
        return value


class LocationSchema(Schema):
    name = fields.Str(allow_none=True, metadata={"example": "Berlin"})
    country = fields.Str(allow_none=True, metadata={"description": "ISO 3166-1 alpha-2", "example": "DE"})
    label = fields.Str(metadata={"example": "Berlin, Germany"})
    latitude = fields.Float(metadata={"example": 52.52437})
    longitude = fields.Float(metadata={"example": 13.41053})


class GigInputSchema(Schema):
    """The fields a seller writes. On PATCH every field is optional; lists are replaced whole."""

    title = fields.Str(
        required=True,
        metadata={
            "description": "15 to 100 characters, plain text",
            "example": "I will design a minimalist logo",
        },
    )
    description = fields.Str(
        metadata={
            "description": "Markdown (no raw HTML); rendered and sanitised into `description_html`.",
            "example": "A **clean** logo for your brand.\n\n- three concepts\n- vector files",
        }
    )
    category_id = fields.Int(strict=True, allow_none=True, metadata={"example": 9})
    tags = fields.List(
        fields.Str(),
        metadata={
            "maxItems": services.MAX_TAGS,
            "description": "2-20 characters each, stored lowercase",
            "example": ["logo", "branding"],
        },
    )
    packages = fields.List(
        fields.Nested(PackageSchema),
        metadata={"description": "basic (required to publish), standard, premium"},
    )
    extras = fields.List(fields.Nested(ExtraSchema), metadata={"maxItems": services.MAX_EXTRAS})
    faqs = fields.List(fields.Nested(FaqSchema), metadata={"maxItems": services.MAX_FAQS})
    delivery_mode = fields.Str(
        metadata={
            "description": "`online` (delivered anywhere, the default) or `on_site` within a service "
            "area (only when the marketplace has location search on)",
            "enum": list(services.DELIVERY_MODES),
            "example": "on_site",
        }
    )
    location = PlaceField(
        allow_none=True,
        metadata={
            "description": "On site: the city the seller works from, as text (`Berlin`, `Berlin, Germany`) "
            "or a GeoNames id; or give `latitude` and `longitude` instead",
            "type": "string",
            "example": "Berlin, Germany",
        },
    )
    latitude = fields.Float(allow_none=True, metadata={"minimum": -90, "maximum": 90, "example": None})
    longitude = fields.Float(allow_none=True, metadata={"minimum": -180, "maximum": 180, "example": None})
    service_radius_km = fields.Int(
        strict=True,
        allow_none=True,
        metadata={
            "description": "On site: how far the seller travels",
            "minimum": 1,
            "maximum": 500,
            "example": 15,
        },
    )


class GigPatchSchema(GigInputSchema):
    """PATCH body: any subset of the fields (use with ``partial=True``)."""


class GigSchema(Schema):
    """A gig as the API returns it (the owner sees every status; others only active gigs)."""

    id = fields.Int(metadata={"example": 42})
    slug = fields.Str(metadata={"example": "i-will-design-a-minimalist-logo-3fa2c1"})
    url = fields.Method(
        "_url", metadata={"example": "https://acme.example.com/gigs/i-will-design-a-minimalist-logo-3fa2c1"}
    )
    title = fields.Str(metadata={"example": "I will design a minimalist logo"})
    description = fields.Str(attribute="description_source", metadata={"example": "A **clean** logo."})
    description_html = fields.Str(metadata={"example": "<p>A <strong>clean</strong> logo.</p>"})
    status = fields.Str(metadata={"example": "active", "enum": list(GIG_STATUSES)})
    moderation_reason = fields.Method(
        "_moderation_reason",
        allow_none=True,
        metadata={
            "description": "Why the marketplace rejected or paused the gig (only while it is rejected or "
            "paused; only the owner sees gigs in those states)",
            "example": None,
        },
    )
    category = fields.Nested(CategoryRefSchema, allow_none=True)
    tags = fields.List(fields.Str(), metadata={"example": ["logo", "branding"]})
    currency = fields.Method("_currency", metadata={"example": "USD"})
    min_price_minor = fields.Int(allow_none=True, metadata={"example": 5000})
    min_delivery_days = fields.Int(allow_none=True, metadata={"example": 3})
    rating_avg = fields.Float(metadata={"example": 0})
    rating_count = fields.Int(metadata={"example": 0})
    version = fields.Int(
        metadata={"description": "Bumped by every change; the ETag follows it", "example": 3}
    )
    packages = fields.List(fields.Nested(PackageSchema))
    extras = fields.List(fields.Nested(ExtraSchema))
    faqs = fields.List(fields.Nested(FaqSchema))
    images = fields.List(fields.Nested(ImageSchema))
    seller = fields.Nested(SellerCardSchema)
    delivery_mode = fields.Str(metadata={"enum": list(services.DELIVERY_MODES), "example": "on_site"})
    location = fields.Nested(
        LocationSchema,
        attribute="place",
        allow_none=True,
        metadata={"description": "Where an on-site gig is based (null when online)"},
    )
    service_radius_km = fields.Int(
        allow_none=True, metadata={"description": "On site: how far the seller travels (km)", "example": 15}
    )
    published_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _moderation_reason(self, gig):
        return gig.moderation_reason if gig.status in ("rejected", "paused") else None

    def _url(self, gig):
        from app.core.urls import tenant_url
        from tenants.db import current_tenant

        return tenant_url(current_tenant(), "gigs.gig_page", slug=gig.slug)

    def _currency(self, gig):
        from app.settings.services import get_branding

        return get_branding().currency


def gig_etag_data(gig) -> dict:
    """What the ETag of a gig is computed from: its id and version (not signed URLs, which change)."""
    return {"id": gig.id, "version": gig.version}
