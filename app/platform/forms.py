"""Web forms of the platform console (Flask-WTF: every POST form carries a CSRF token).

Forms check shape; the rules (slug syntax and reserved words, unique slug, email
syntax, suspension reason) live in ``app.platform.services`` and come back as
PlatformError, which the views put on the matching fields with ``refuse_form``.
"""

from __future__ import annotations

from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.core.forms import Form
from app.platform.services import (
    MAX_QUERY,
    MAX_REASON,
    PlatformError,
    check_admin_email,
    check_slug,
    check_tenant_name,
)
from tenants.models import TENANT_PLANS


def _service_rule(check):
    """A WTForms validator running a service's rule, so every field's problem shows at once."""

    def validator(form, field):
        try:
            check(field.data)
        except PlatformError as exc:
            raise ValidationError(next(iter(exc.errors.values()))) from None

    return validator


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1024)])
    next = HiddenField()


class CodeForm(Form):
    """The second factor: a 6-digit code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired("Enter the code."), Length(max=32)],
        description="The 6-digit code your authenticator app shows, or one of your recovery codes.",
    )


class EnrolForm(Form):
    code = StringField(
        "Code from the app",
        validators=[DataRequired("Enter the code."), Length(max=16)],
        description="After adding the account, enter the 6-digit code the app shows.",
    )


class ContinueForm(Form):
    """Leave the recovery codes page ("I have saved them")."""

    next = HiddenField()


class ConfirmForm(Form):
    """A form with nothing but its CSRF token (log out)."""


class TenantFilterForm(Form):
    """The tenants list's search and filters: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=MAX_QUERY)])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("all", "All"),
            SelectChoice("active", "Active"),
            SelectChoice("suspended", "Suspended"),
        ],
        default="all",
        validate_choice=False,  # the service names a bad value in its own words
    )
    sort = SelectField(
        "Sort",
        choices=[SelectChoice("name", "Name"), SelectChoice("newest", "Newest")],
        default="name",
        validate_choice=False,
    )


class NewTenantForm(Form):
    name = StringField(
        "Marketplace name",
        validators=[DataRequired("Enter the marketplace's name."), _service_rule(check_tenant_name)],
    )
    slug = StringField(
        "Slug",
        validators=[DataRequired("Choose a slug."), _service_rule(check_slug)],
        description="2-31 characters: a lower-case letter, then letters, digits or hyphens. "
        "The marketplace answers at <slug>.<platform domain>; the slug cannot be changed later.",
    )
    admin_email = EmailField(
        "Admin email",
        validators=[
            DataRequired("Enter the email of the marketplace's first admin."),
            Length(max=254),
            _service_rule(check_admin_email),
        ],
        description="The marketplace's first operator admin. They get an email with a link to set "
        "their password.",
    )


class SuspendForm(Form):
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Say why the tenant is suspended."), Length(max=MAX_REASON)],
        description="Kept with the tenant and shown here; the marketplace's visitors see a 503 page.",
    )


class ResumeForm(Form):
    """Resume a suspended tenant: only the CSRF token."""


class PlanForm(Form):
    """The tenant's price plan: its API rate limits (``RATELIMIT_API_PLANS``)."""

    plan = SelectField(
        "Plan",
        choices=[SelectChoice(plan, plan.capitalize()) for plan in TENANT_PLANS],
        validate_choice=False,  # the service names a bad value in its own words
        description="Sets the marketplace's API rate limits (per credential and per IP).",
    )
