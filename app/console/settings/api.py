"""Console API for branding, domains, settings, categories and payments (operator admins).

``/api/v1/console/...`` on the marketplace's own host, with an admin's bearer token
(moderators get 403). Thin: parse, call one console action (``branding.py``, ``domains.py``,
``marketplace.py``: the rule plus the audit entry), serialize; the request's unit of work
commits. Refusals are domain errors answered by the central handler: 422 with field errors
``{"errors": {"json": {field: [message]}}}``, 409 for a conflict, 404 for what this
marketplace does not have; the unit of work rolls back, so nothing changes then.
"""

from __future__ import annotations

from flask.views import MethodView

from app.console.access import ADMIN, api_console_required, console_user
from app.console.blueprints import blp
from app.console.errors import ConsoleError
from app.console.settings import branding as branding_actions
from app.console.settings import domains as domain_actions
from app.console.settings import marketplace as marketplace_actions
from app.console.settings.schemas import (
    BrandImageUploadSchema,
    BrandingPatchSchema,
    BrandingSchema,
    CategoryCreateSchema,
    CategoryPatchSchema,
    CategoryReorderSchema,
    ConsoleCategorySchema,
    ConsoleSubcategorySchema,
    DomainCreateSchema,
    DomainSchema,
    PaymentsPutSchema,
    PaymentsSchema,
    SettingsPatchSchema,
    SettingsSchema,
)
from app.core import http
from app.core.http import LOCATION, created
from app.core.urls import tenant_url
from app.gigs import categories
from app.settings import services as settings
from tenants.db import current_tenant

admin_only = api_console_required(ADMIN)


# --------------------------------------------------------------------------- branding


def _branding() -> dict:
    snapshot = settings.branding_snapshot()
    return {
        **snapshot,
        "contrast_warnings": settings.contrast_warnings(snapshot["primary_color"], snapshot["accent_color"]),
    }


@blp.route("/branding")
class Branding(MethodView):
    @admin_only
    @http.conditional(blp)
    @blp.response(200, BrandingSchema)
    def get(self):
        """The marketplace's branding: name, tagline, hero text, colours, logo and favicon."""
        return http.tagged(_branding())

    @admin_only
    @http.conditional(blp)
    @blp.arguments(
        BrandingPatchSchema,
        example={"name": "Acme Talent", "primary_color": "#0f766e", "accent_color": "#134e4a"},
    )
    @blp.response(200, BrandingSchema)
    def patch(self, body):
        """Change branding fields. The site and the next email use them at once.

        Colours are `#rrggbb`; the name is required (at most 120 characters), the tagline
        one line of at most 200, the hero text at most 2000 characters. `If-Match` (optional):
        412 when the branding changed since you read it.
        """
        http.check(_branding())
        branding_actions.update_branding(console_user(), **body)
        return http.tagged(_branding())


def _image_resource(kind: str):
    class BrandImage(MethodView):
        @admin_only
        @blp.arguments(BrandImageUploadSchema, location="files")
        @blp.response(200, BrandingSchema)
        @blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="Not an acceptable image")
        def put(self, files):
            try:
                branding_actions.upload_brand_image(console_user(), kind, files["file"])
            except settings.SettingsError as exc:  # about the upload: the API calls that field "file"
                message = exc.errors.get(kind, str(exc))
                raise ConsoleError(message, {"file": message}) from exc
            return _branding()

        @admin_only
        @blp.response(204)
        def delete(self):
            branding_actions.remove_brand_image(console_user(), kind)

    what = "logo" if kind == "logo" else "favicon (browser tab icon)"
    BrandImage.put.__doc__ = (
        f"Upload the {what} (multipart field `file`). PNG, JPEG, WebP or GIF"
        + (" or ICO" if kind == "favicon" else "")
        + ", at most 2 MB and 4096 pixels a side; stored re-encoded as PNG "
        + ("within 800×240." if kind == "logo" else "of 64×64.")
    )
    BrandImage.delete.__doc__ = f"Remove the {what}."
    BrandImage.__name__ = f"Brand{kind.capitalize()}"
    return BrandImage


blp.route("/branding/logo", endpoint="brand_logo")(_image_resource("logo"))
blp.route("/branding/favicon", endpoint="brand_favicon")(_image_resource("favicon"))


# --------------------------------------------------------------------------- domains


@blp.route("/domains")
class Domains(MethodView):
    @admin_only
    @blp.response(200, DomainSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """The marketplace's hostnames: the default one and custom domains, with their status
        and, while pending, the DNS record to publish."""
        return domain_actions.list_domains()

    @admin_only
    @blp.arguments(DomainCreateSchema, example={"hostname": "shop.acme.com"})
    @blp.response(201, DomainSchema, headers=LOCATION)
    @blp.alt_response(409, response="CONFLICT", description="Already attached here or to another marketplace")
    def post(self, body):
        """Add a custom domain. It is `pending` (and does not resolve) until its TXT record
        `_gigforge.<hostname>` holds the `dns_record` value and `POST .../verify` succeeds."""
        domain = domain_actions.add_domain(console_user(), body["hostname"])
        return created(domain_actions.domain_view(domain), "console_api.DomainItem", domain_id=domain.id)


DOMAIN_ID = "/domains/<int(max=2147483647):domain_id>"


@blp.route(DOMAIN_ID)
class DomainItem(MethodView):
    @admin_only
    @blp.response(200, DomainSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, domain_id):
        """One of the marketplace's domains."""
        return domain_actions.domain_view(domain_actions.get_domain(domain_id))

    @admin_only
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="The default hostname cannot be removed")
    def delete(self, domain_id):
        """Remove a custom domain (the default hostname takes over as primary if needed)."""
        domain_actions.remove_domain(console_user(), domain_id)


@blp.route(f"{DOMAIN_ID}/verify")
class DomainVerify(MethodView):
    @admin_only
    @blp.response(200, DomainSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, domain_id):
        """Check the domain's DNS record now. Answers the domain either way: `status` is
        `verified` on success, else `pending` with `last_check_error` saying what was found."""
        domain = domain_actions.verify_domain(console_user(), domain_id)
        return domain_actions.domain_view(domain)


@blp.route(f"{DOMAIN_ID}/primary")
class DomainPrimary(MethodView):
    @admin_only
    @blp.response(200, DomainSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="The domain is not verified yet")
    def post(self, domain_id):
        """Make a verified domain the primary one (links in emails and the webhook URL use it)."""
        domain = domain_actions.make_primary(console_user(), domain_id)
        return domain_actions.domain_view(domain)


# --------------------------------------------------------------------------- settings


def _settings() -> dict:
    row = settings.settings_row()
    return {
        **settings.settings_snapshot(row),
        "commission_bps": row.commission_bps,
        "currency_locked": settings.currency_lock_reason(),
        "currencies": sorted(settings.CURRENCIES),
    }


@blp.route("/settings")
class MarketplaceSettings(MethodView):
    @admin_only
    @http.conditional(blp)
    @blp.response(200, SettingsSchema)
    def get(self):
        """Currency, commission, delays, payout schedule, gig approval and support email."""
        return http.tagged(_settings())

    @admin_only
    @http.conditional(blp)
    @blp.arguments(
        SettingsPatchSchema,
        example={"commission_percent": 12.5, "commission_min_fee_minor": 150, "gigs_require_approval": True},
    )
    @blp.response(200, SettingsSchema)
    @blp.alt_response(409, response="CONFLICT", description="The currency cannot change any more")
    def patch(self, body):
        """Change settings; they apply to what happens next (orders placed, earnings released,
        gigs published after the change). The currency cannot change once the marketplace has
        orders (409). `If-Match` (optional): 412 when the settings changed since you read them."""
        http.check(_settings())
        marketplace_actions.update_settings(console_user(), **body)
        return http.tagged(_settings())


# --------------------------------------------------------------------------- categories


def _category_dict(category, counts: dict[int, int], *, with_children: bool = True) -> dict:
    data = {
        "id": category.id,
        "parent_id": category.parent_id,
        "name": category.name,
        "slug": category.slug,
        "description": category.description,
        "position": category.position,
        "is_hidden": category.is_hidden,
        "gig_count": counts.get(category.id, 0),
    }
    if with_children and category.parent_id is None:
        data["children"] = [_category_dict(c, counts, with_children=False) for c in category.children]
    return data


@blp.route("/categories")
class Categories(MethodView):
    @admin_only
    @blp.response(200, ConsoleCategorySchema(many=True))
    @blp.paginate_list()
    def get(self):
        """The whole category tree, hidden categories included, in display order."""
        counts = categories.gig_counts()
        return [_category_dict(c, counts) for c in categories.tree()]

    @admin_only
    @blp.arguments(CategoryCreateSchema, example={"name": "Packaging Design", "parent_id": 3})
    @blp.response(201, ConsoleSubcategorySchema, headers=LOCATION)
    @blp.alt_response(404, response="NOT_FOUND", description="No such parent")
    @blp.alt_response(409, response="CONFLICT", description="The name or slug is taken")
    def post(self, body):
        """Add a category (no `parent_id`) or a subcategory of a top-level one, at the end."""
        category = marketplace_actions.create_category(
            console_user(),
            body["name"],
            parent_id=body.get("parent_id"),
            slug=body.get("slug"),
            description=body.get("description"),
        )
        return created(
            _category_dict(category, {}, with_children=False),
            "console_api.CategoryItem",
            category_id=category.id,
        )


@blp.route("/categories/order")
class CategoryOrder(MethodView):
    @admin_only
    @blp.arguments(CategoryReorderSchema, example={"parent_id": None, "ids": [3, 1, 2, 4, 5, 6, 7, 8]})
    @blp.response(200, ConsoleSubcategorySchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND", description="No such parent")
    def put(self, body):
        """Set the order of one level (the top level, or one category's subcategories) at once."""
        rows = marketplace_actions.reorder_categories(console_user(), body.get("parent_id"), body["ids"])
        return [_category_dict(c, {}, with_children=False) for c in rows]


@blp.route("/categories/<int(max=2147483647):category_id>")
class CategoryItem(MethodView):
    @admin_only
    @http.conditional(blp)
    @blp.response(200, ConsoleCategorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, category_id):
        """One category (with its subcategories when top-level)."""
        return http.tagged(_category_dict(categories.get_category(category_id), categories.gig_counts()))

    @admin_only
    @http.conditional(blp)
    @blp.arguments(
        CategoryPatchSchema, example={"name": "Logos & Identity", "is_hidden": False, "position": 0}
    )
    @blp.response(200, ConsoleCategorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="The name or slug is taken")
    def patch(self, body, category_id):
        """Rename (the slug stays unless given), describe, hide or show, or move a category
        among its siblings (`position`). Hiding a category hides its subcategories too.
        `If-Match` (optional): 412 when the category changed since you read it."""
        http.check(_category_dict(categories.get_category(category_id), categories.gig_counts()))
        category = marketplace_actions.update_category(console_user(), category_id, **body)
        return http.tagged(_category_dict(category, categories.gig_counts()))


# --------------------------------------------------------------------------- payments


def _payments() -> dict:
    return {
        **settings.payment_overview(),
        "webhook_url": tenant_url(current_tenant(), "payment_webhooks.stripe_webhook"),
    }


@blp.route("/payments")
class Payments(MethodView):
    @admin_only
    @blp.response(200, PaymentsSchema)
    def get(self):
        """The payment provider, the Stripe keys (secrets masked) and the webhook URL to configure."""
        return _payments()

    @admin_only
    @blp.arguments(
        PaymentsPutSchema,
        example={
            "provider": "stripe",
            "publishable_key": "pk_test_51Hx2bQ",
            "secret_key": "sk_test_51Hx2bQa1b2",
            "webhook_secret": "whsec_4eC39HqLyjWDarjtT1zdp7dc",
        },
    )
    @blp.response(200, PaymentsSchema)
    def put(self, body):
        """Choose the provider. `sandbox` needs nothing (stored Stripe keys are kept, inactive);
        `stripe` needs a publishable key, a secret key and a webhook signing secret of the same
        mode (test or live); an omitted secret keeps the stored one. Secrets are stored
        encrypted and never returned in full."""
        marketplace_actions.configure_payments(
            console_user(),
            body["provider"],
            publishable_key=body.get("publishable_key"),
            secret_key=body.get("secret_key"),
            webhook_secret=body.get("webhook_secret"),
        )
        return _payments()
