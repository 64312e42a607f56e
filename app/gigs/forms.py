"""Web forms of the seller's gig pages (Flask-WTF: the top-level forms carry a CSRF token).

Forms check shape only; ``to_data`` turns the submitted fields into the dict
the services take (prices typed as "45.50" become minor units through app.core.money; the
services judge the range, so a negative price gets the same message as through the API) and
the aliases from the services' dotted field names to input ids, with which
``app.core.domain_errors.refuse_form`` puts errors back on the matching inputs
(``packages.basic.price_minor`` -> the basic package's price box).
"""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from app.core import geo, money
from app.core.forms import Form as PageForm
from app.gigs import services
from app.gigs.models import TIERS, UNLIMITED_REVISIONS

REVISION_CHOICES = [SelectChoice(str(n), str(n)) for n in range(0, services.REVISIONS_MAX + 1)] + [
    SelectChoice("unlimited", "Unlimited")
]
EXTRA_ROWS, FAQ_ROWS = 3, 3  # blank rows offered below the existing ones


def _int_or_none(raw: str | None) -> int | str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw  # the service refuses it with its own message


class PackageForm(Form):
    title = StringField("Name", validators=[Optional(), Length(max=200)])
    description = TextAreaField("What is included", validators=[Optional(), Length(max=1000)])
    price = StringField("Price", validators=[Optional(), Length(max=20)])
    delivery_days = StringField("Delivery (days)", validators=[Optional(), Length(max=6)])
    revisions = SelectField("Revisions", choices=REVISION_CHOICES, default="1", validate_choice=False)
    features = TextAreaField(
        "Features", validators=[Optional(), Length(max=2000)], description="One per line, up to 10."
    )

    def is_blank(self) -> bool:
        boxes = (self.title, self.description, self.price, self.delivery_days, self.features)
        return not any((f.data or "").strip() for f in boxes)


class ExtraForm(Form):
    title = StringField("Extra", validators=[Optional(), Length(max=200)])
    description = StringField("Description", validators=[Optional(), Length(max=1000)])
    price = StringField("Price", validators=[Optional(), Length(max=20)])
    extra_days = StringField(
        "Extra days", validators=[Optional(), Length(max=6)], description="-2 = 2 days faster"
    )

    def is_blank(self) -> bool:
        return not any(
            (f.data or "").strip() for f in (self.title, self.description, self.price, self.extra_days)
        )


class FaqForm(Form):
    question = StringField("Question", validators=[Optional(), Length(max=500)])
    answer = TextAreaField("Answer", validators=[Optional(), Length(max=2000)])

    def is_blank(self) -> bool:
        return not ((self.question.data or "").strip() or (self.answer.data or "").strip())


class LocationFields:
    """Where the gig is delivered (#18), shown only when the marketplace has location on.

    The city box works without JavaScript ("Berlin" or "Berlin, Germany" is resolved by the
    service); with it, picking a suggestion also fills ``place_id`` (its GeoNames id), so that
    of two towns with one label the one picked is kept."""

    delivery_mode = RadioField(
        "How do you deliver?",
        choices=[SelectChoice("online", "Online"), SelectChoice("on_site", "On site")],
        default="online",
        validate_choice=False,  # the service refuses another value with its own message
    )
    location = StringField(
        "City you work from",
        validators=[Optional(), Length(max=200)],
        description="Type a few letters and pick your city, like “Berlin, Germany”.",
    )
    place_id = HiddenField()
    service_radius_km = StringField(
        "How far you travel (km)",
        validators=[Optional(), Length(max=10)],
        description=f"Buyers within this distance of your city find the gig: 1 to {geo.MAX_RADIUS_KM} km.",
    )

    def fill_location(self, gig) -> None:
        self.delivery_mode.data = gig.delivery_mode
        self.location.data = gig.location_label or ""
        self.service_radius_km.data = str(gig.service_radius_km or "")

    def location_data(self, gig=None) -> dict:
        """The location fields for create_gig/update_gig. Online sends only the mode (the place
        typed before switching is dropped); the city text unchanged from ``gig``'s label keeps
        the stored place (which may be a point the seller gave through the API)."""
        mode = self.delivery_mode.data or "online"
        if mode != "on_site":
            return {"delivery_mode": mode}
        data = {"delivery_mode": mode, "service_radius_km": _int_or_none(self.service_radius_km.data)}
        text = " ".join((self.location.data or "").split())
        if gig is not None and gig.is_on_site and text and text == gig.location_label:
            return data
        picked = geo.city_by_id(self.place_id.data) if (self.place_id.data or "").isdigit() else None
        data["location"] = picked.id if picked is not None and picked.label == text else text
        return data


class GigDetailsForm(LocationFields, PageForm):
    title = StringField(
        "Title",
        validators=[Length(max=200)],
        description="15 to 100 characters, like: I will design a minimalist logo for your brand",
    )
    category_id = SelectField("Category", coerce=str, validate_choice=False)
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=services.DESCRIPTION_MAX + 1000)],
        description="Markdown: **bold**, *italic*, lists with -, links. HTML is shown as text.",
    )
    tags = StringField(
        "Tags", validators=[Optional(), Length(max=300)], description="Up to 5, separated by commas."
    )

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = [SelectChoice("", "— Choose a category —")] + [
            SelectChoice(str(i), label) for i, label in categories
        ]

    def details_data(self) -> dict:
        category = (self.category_id.data or "").strip()
        return {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "category_id": _int_or_none(category) if category else None,
            "tags": self.tags.data or "",
        }


class GigEditForm(GigDetailsForm):
    version = HiddenField()
    basic = FormField(PackageForm)
    standard = FormField(PackageForm)
    premium = FormField(PackageForm)
    extras = FieldList(FormField(ExtraForm), min_entries=1, max_entries=services.MAX_EXTRAS + EXTRA_ROWS)
    faqs = FieldList(FormField(FaqForm), min_entries=1, max_entries=services.MAX_FAQS + FAQ_ROWS)

    def fill(self, gig, currency: str) -> None:
        """Put the gig's current values in the form (GET)."""
        self.fill_location(gig)
        self.title.data = gig.title
        self.category_id.data = str(gig.category_id or "")
        self.description.data = gig.description_source
        self.tags.data = ", ".join(gig.tags)
        self.version.data = str(gig.version)
        for tier in TIERS:
            package, sub = gig.package(tier), getattr(self, tier).form
            if package is None:
                continue
            sub.title.data = package.title
            sub.description.data = package.description
            sub.price.data = money.input_value(package.price_minor, currency)
            sub.delivery_days.data = str(package.delivery_days)
            sub.revisions.data = "unlimited" if package.unlimited_revisions else str(package.revisions)
            sub.features.data = "\n".join(package.features)
        self._fill_rows(
            self.extras,
            gig.extras,
            EXTRA_ROWS,
            lambda row, extra: row.process(
                None,
                data={
                    "title": extra.title,
                    "description": extra.description,
                    "price": money.input_value(extra.price_minor, currency),
                    "extra_days": str(extra.extra_days),
                },
            ),
        )
        self._fill_rows(
            self.faqs,
            gig.faqs,
            FAQ_ROWS,
            lambda row, faq: row.process(None, data={"question": faq.question, "answer": faq.answer}),
        )

    @staticmethod
    def _fill_rows(field_list, items, blanks: int, fill) -> None:
        while len(field_list.entries):
            field_list.pop_entry()
        for item in items:
            entry = field_list.append_entry()
            fill(entry.form, item)
        for _ in range(blanks):
            if len(field_list.entries) < field_list.max_entries:
                field_list.append_entry()

    def to_data(self, currency: str) -> tuple[dict, dict[str, str], dict[str, str]]:
        """(data for update_gig, errors found while parsing, service key -> form field id aliases)."""
        data = self.details_data()
        errors: dict[str, str] = {}
        aliases: dict[str, str] = {}
        packages = []
        for tier in TIERS:
            sub = getattr(self, tier).form
            for name, field in (
                ("title", "title"),
                ("description", "description"),
                ("price_minor", "price"),
                ("delivery_days", "delivery_days"),
                ("revisions", "revisions"),
                ("features", "features"),
            ):
                aliases[f"packages.{tier}.{name}"] = f"{tier}-{field}"
            if sub.is_blank():
                continue
            try:
                price = money.parse_optional(sub.price.data, currency, allow_negative=True)
            except money.MoneyError as exc:
                errors[f"packages.{tier}.price_minor"] = str(exc)
                price = None
            revisions = sub.revisions.data
            packages.append(
                {
                    "tier": tier,
                    "title": sub.title.data or "",
                    "description": sub.description.data or "",
                    "price_minor": price,
                    "delivery_days": _int_or_none(sub.delivery_days.data),
                    "revisions": UNLIMITED_REVISIONS
                    if revisions == "unlimited"
                    else _int_or_none(revisions) or 0,
                    "features": (sub.features.data or "").splitlines(),
                }
            )
        data["packages"] = packages
        data["extras"] = self._rows(
            self.extras,
            "extras",
            aliases,
            errors,
            currency,
            lambda row, price: {
                "title": row.title.data or "",
                "description": row.description.data or "",
                "price_minor": price,
                "extra_days": _int_or_none(row.extra_days.data) or 0,
            },
        )
        data["faqs"] = self._rows(
            self.faqs,
            "faqs",
            aliases,
            errors,
            currency,
            lambda row, _price: {"question": row.question.data or "", "answer": row.answer.data or ""},
        )
        return data, errors, aliases

    @staticmethod
    def _rows(field_list, name, aliases, errors, currency, build) -> list[dict]:
        rows = []
        for form_index, entry in enumerate(field_list.entries):
            row = entry.form
            if row.is_blank():
                continue
            index = len(rows)
            for key in row._fields:
                service_key = "price_minor" if key == "price" else key
                aliases[f"{name}.{index}.{service_key}"] = f"{name}-{form_index}-{key}"
            price = None
            if hasattr(row, "price"):
                try:
                    price = money.parse_optional(row.price.data, currency, allow_negative=True)
                except money.MoneyError as exc:
                    errors[f"{name}.{index}.price_minor"] = str(exc)
            rows.append(build(row, price))
        return rows


class ImageForm(PageForm):
    image = FileField("Add an image", description="JPEG, PNG, GIF or WebP; up to 5 images per gig.")
