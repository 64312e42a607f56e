"""Web forms of the console's settings pages (branding, domains, settings, categories,
payments). They only parse; the rules and their messages are in the services."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.core import money
from app.core.forms import Form
from app.core.geo import country_codes
from app.settings.services import CURRENCIES, DAY_RANGES, LOCALE_CHOICES, PAYOUT_SCHEDULES


def _required_text(label: str, missing: str, description: str) -> StringField:
    """A one-line text field that must be filled in (``missing``: the message when it is not)."""
    return StringField(label, validators=[InputRequired(missing)], description=description)


class BrandingForm(Form):
    name = StringField(
        "Marketplace name", validators=[InputRequired("Enter the marketplace's name."), Length(max=120)]
    )
    tagline = StringField(
        "Tagline", validators=[Optional(), Length(max=200)], description="One line under the name."
    )
    hero_text = TextAreaField(
        "Home page hero text",
        validators=[Optional(), Length(max=2000)],
        description="A few sentences on the home page; a blank line starts a new paragraph.",
    )
    primary_color = _required_text(
        "Primary colour", "Choose a colour.", "Header, buttons and links (#rrggbb)."
    )
    accent_color = _required_text("Accent colour", "Choose a colour.", "Headings and details (#rrggbb).")


class BrandImageForm(Form):
    image = FileField("Image")


class ConfirmForm(Form):
    """A button that only needs the CSRF token (remove, verify, make primary)."""


class DomainForm(Form):
    hostname = StringField(
        "Custom domain",
        validators=[InputRequired("Enter a hostname."), Length(max=253)],
        description="Like shop.example.com. You will publish a DNS record to prove it is yours.",
    )


def _day_field(name: str, label: str) -> IntegerField:
    low, high, hint = DAY_RANGES[name]
    return IntegerField(
        label,
        validators=[
            InputRequired("Enter a number of days."),
            NumberRange(low, high, f"Enter a number of days from {low} to {high}."),
        ],
        description=f"{hint} ({low}-{high} days).",
    )


class SettingsForm(Form):
    currency = SelectField(
        "Currency",
        choices=[SelectChoice(code, f"{code} · {name}") for code, name in sorted(CURRENCIES.items())],
        validate_choice=False,
    )
    locale = SelectField(
        "Number format",
        choices=[SelectChoice(code, f"{money.locale_name(code)} · {code}") for code in LOCALE_CHOICES],
        validate_choice=False,  # the service accepts any locale Babel knows and says so on the field
        description="How prices are written and typed, like 1,234.50 (English) or 1.234,50 (German).",
    )
    commission_percent = _required_text(
        "Commission (%)", "Enter the commission.", "Taken from each order: 0 to 50, up to 2 decimals."
    )
    commission_min_fee = _required_text(
        "Minimum fee",
        "Enter the minimum fee (0 for none).",
        "The commission is never less than this (and never more than the order).",
    )
    auto_complete_days = _day_field("auto_complete_days", "Auto-complete after (days)")
    clearance_days = _day_field("clearance_days", "Clearance delay (days)")
    cancellation_auto_resolve_days = _day_field(
        "cancellation_auto_resolve_days", "Cancellation auto-resolve (days)"
    )
    timesheet_review_days = _day_field("timesheet_review_days", "Timesheet review period (days)")
    payout_schedule = SelectField(
        "Payouts",
        choices=[SelectChoice(value, value.capitalize()) for value in PAYOUT_SCHEDULES],
        validate_choice=False,
        description="Manual: sellers request payouts. Daily or weekly: available balances are paid "
        "out automatically.",
    )
    gigs_require_approval = BooleanField("New gigs need approval before they go live")
    require_verified_email = BooleanField("Members confirm their email before ordering, selling or messaging")
    support_email = StringField(
        "Support email",
        validators=[Optional(), Length(max=254)],
        description="Shown in the footer and used as Reply-To of every email.",
    )
    location_enabled = BooleanField(
        "Local services: gigs can be delivered on site, buyers search near a place"
    )
    default_country = SelectField(
        "Default country",
        choices=[],  # filled in __init__: every country, by name
        validate_choice=False,
        description="Preferred among cities of the same name, and preselected on forms.",
    )

    require_2fa_staff = BooleanField("Require two-factor sign-in for admins and moderators")
    bot_protection = SelectField(
        "Bot protection",
        choices=[
            SelectChoice("off", "Off"),
            SelectChoice("auto", "Automatic: challenge an address after suspicious volume"),
            SelectChoice("always", "Always: every sign-up, login, password reset and checkout"),
        ],
        validate_choice=False,  # the service checks it (one message for web and API)
        description="A small puzzle the browser solves, with no third party; people do not see it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_country.choices = [SelectChoice("", "None")] + [
            SelectChoice(code, name) for code, name in country_codes()
        ]
        current = self.locale.data
        if current and current not in LOCALE_CHOICES:  # set through the API: keep it selectable
            self.locale.choices = [*self.locale.choices, SelectChoice(current, current)]


class CategoryForm(Form):
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=80)])
    parent_id = SelectField("Parent", choices=[], validate_choice=False)
    slug = StringField(
        "Address (slug)",
        validators=[Optional(), Length(max=80)],
        description="Leave blank to derive it from the name.",
    )
    description = StringField("Description", validators=[Optional(), Length(max=300)])


class CategoryEditForm(Form):
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=80)])
    slug = StringField("Address (slug)", validators=[InputRequired("Enter a slug."), Length(max=80)])
    description = StringField("Description", validators=[Optional(), Length(max=300)])


class CategoryActionForm(Form):
    """Hide/show and move up/down (which one: the ``action`` field)."""

    action = HiddenField()


class PaymentsForm(Form):
    provider = SelectField(
        "Payment provider",
        choices=[
            SelectChoice("sandbox", "Sandbox (test mode, no real money)"),
            SelectChoice("stripe", "Stripe"),
        ],
        validate_choice=False,
    )
    publishable_key = StringField("Stripe publishable key", validators=[Optional(), Length(max=255)])
    secret_key = PasswordField(
        "Stripe secret key",
        validators=[Optional(), Length(max=255)],
        description="Stored encrypted. Leave blank to keep the stored key.",
    )
    webhook_secret = PasswordField(
        "Stripe webhook signing secret",
        validators=[Optional(), Length(max=255)],
        description="Stored encrypted. Leave blank to keep the stored secret.",
    )
